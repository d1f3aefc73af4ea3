#include "nn/params.h"

#include <math.h>
#include <string.h>

nn_init nn_init_torch_default(int fan_in)
{
    return (nn_init){NN_INIT_UNIFORM, fan_in > 0 ? 1.0f / sqrtf((float)fan_in) : 0.0f};
}

void nn_params_init(nn_params *p, nn_arena *persistent)
{
    memset(p, 0, sizeof *p);
    p->arena = persistent;
}

static int grow(nn_params *p)
{
    int cap = p->capacity ? 2 * p->capacity : 32;
    nn_tensor **items = NN_ARENA_NEW(p->arena, nn_tensor *, cap);
    nn_init *inits = NN_ARENA_NEW(p->arena, nn_init, cap);
    if (!items || !inits) return -1;
    if (p->count) {
        memcpy(items, p->items, sizeof *items * (size_t)p->count);
        memcpy(inits, p->inits, sizeof *inits * (size_t)p->count);
    }
    p->items = items;
    p->inits = inits;
    p->capacity = cap;
    return 0;
}

nn_tensor *nn_params_add(nn_params *p, const char *name, int ndim, const int *shape, nn_init init)
{
    NN_ASSERT(!p->values && "nn_params_add after finalize");
    NN_ASSERT(!nn_params_find(p, name));
    if (p->count == p->capacity && grow(p)) return NULL;
    nn_tensor *t = nn_tensor_view(p->arena, NULL, ndim, shape);
    char *copy = nn_arena_alloc(p->arena, strlen(name) + 1);
    if (!t || !copy) return NULL;
    strcpy(copy, name);
    t->name = copy;
    t->requires_grad = 1;
    p->inits[p->count] = init;
    p->items[p->count++] = t;
    p->total += t->numel;
    return t;
}

static void fill(float *x, int64_t n, nn_init init, nn_rng *rng)
{
    for (int64_t i = 0; i < n; i++) {
        switch (init.kind) {
        case NN_INIT_ZEROS: x[i] = 0.0f; break;
        case NN_INIT_ONES: x[i] = 1.0f; break;
        case NN_INIT_UNIFORM: x[i] = init.bound * (2.0f * nn_rng_uniform(rng) - 1.0f); break;
        case NN_INIT_NORMAL: x[i] = init.bound * nn_rng_normal(rng); break;
        }
    }
}

nn_status nn_params_finalize(nn_params *p, nn_rng *rng)
{
    p->values = NN_ARENA_NEW(p->arena, float, p->total);
    p->grads = nn_arena_calloc(p->arena, sizeof(float) * (size_t)p->total);
    if (!p->values || !p->grads) return NN_ERR_RUNTIME;
    int64_t off = 0;
    for (int i = 0; i < p->count; i++) {
        nn_tensor *t = p->items[i];
        t->data = p->values + off;
        t->grad = p->grads + off;
        fill(t->data, t->numel, p->inits[i], rng);
        off += t->numel;
    }
    return NN_OK;
}

void nn_params_zero_grad(nn_params *p) { memset(p->grads, 0, sizeof(float) * (size_t)p->total); }

nn_tensor *nn_params_find(const nn_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->items[i]->name, name)) return p->items[i];
    return NULL;
}
