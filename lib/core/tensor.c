#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

int64_t nn_shape_numel(int ndim, const int *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

nn_tensor *nn_tensor_view(nn_arena *a, float *data, int ndim, const int *shape)
{
    NN_ASSERT(ndim >= 0 && ndim <= NN_MAX_DIMS);
    nn_tensor *t = nn_arena_alloc(a, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        NN_ASSERT(shape[i] >= 0);
        t->shape[i] = shape[i];
    }
    t->numel = nn_shape_numel(ndim, shape);
    t->data = data;
    return t;
}

nn_tensor *nn_tensor_new(nn_arena *a, int ndim, const int *shape)
{
    float *data = nn_arena_alloc(a, sizeof(float) * (size_t)nn_shape_numel(ndim, shape));
    if (!data) return NULL;
    return nn_tensor_view(a, data, ndim, shape);
}

int nn_tensor_same_shape(const nn_tensor *x, const nn_tensor *y)
{
    if (x->ndim != y->ndim) return 0;
    for (int i = 0; i < x->ndim; i++)
        if (x->shape[i] != y->shape[i]) return 0;
    return 1;
}

char *nn_shape_str(char *buf, size_t size, int ndim, const int *shape)
{
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %d" : "%d", shape[i]);
    if (n < size) snprintf(buf + n, size - n, ")");
    return buf;
}
