/* Reshape: the output shares the input's data; gradients are separate
 * buffers, so the backward copies (adds) dy into dx. */
#include "ops/ops.h"

nn_tensor *nn_reshape(nn_tape *t, nn_tensor *x, int ndim, const int *shape)
{
    if (!x) return NULL;
    int s[NN_MAX_DIMS], infer = -1;
    long known = 1;
    NN_ASSERT(ndim >= 1 && ndim <= NN_MAX_DIMS);
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) infer = i;
        else known *= s[i];
    }
    if (infer >= 0 && known > 0 && x->numel % known == 0) s[infer] = (int)(x->numel / known);
    char xs[64], ys[64];
    if (nn_shape_numel(ndim, s) != x->numel) {
        nn_error(NN_ERR_INPUT, "reshape: cannot view %s as %s",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape), nn_shape_str(ys, sizeof ys, ndim, shape));
        return NULL;
    }
    nn_tensor *y = nn_tensor_view(t->arena, x->data, ndim, s);
    if (!y) return NULL;
    y->requires_grad = t->recording && x->requires_grad;
    if (nn_tape_record(t, &nn_op_defs[NN_OP_RESHAPE], y, &x, 1, NULL)) return NULL;
    return y;
}

nn_tensor *nn_flatten(nn_tape *t, nn_tensor *x)
{
    if (!x) return NULL;
    return nn_reshape(t, x, NN_SHAPE(x->shape[0], -1));
}

nn_status nn_reshape_backward(nn_tape *t, const nn_node *node)
{
    float *dx = node->in[0]->grad;
    const float *dy = node->out->grad;
    long n = node->out->numel;
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (long i = 0; i < n; i++) dx[i] += dy[i];
    (void)t;
    return NN_OK;
}
