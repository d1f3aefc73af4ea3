/* Inverted dropout with a counter-based mask: element i is kept when
 * u(seed, i) >= p, u a uniform in [0, 1) from a hash of (seed, i). No
 * generator state is advanced inside the op, so the mask depends only on
 * the seed and the element's index: not on the thread count nor on the
 * order of evaluation, and the backward recomputes it instead of storing
 * it. */
#include "ops/ops.h"

typedef struct dropout_saved {
    uint64_t seed;
    float p, scale;
} dropout_saved;

/* splitmix64's finalizer over seed and counter: 24 high bits as [0, 1). */
static inline float counter_uniform(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * 0x1.0p-24f;
}

/* out = in * scale where kept, 0 elsewhere; forward and backward alike. */
static void apply_mask(float *restrict out, const float *restrict in, int64_t n, const dropout_saved *s,
                       int accumulate)
{
    #pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; i++) {
        float v = counter_uniform(s->seed, (uint64_t)i) >= s->p ? in[i] * s->scale : 0.0f;
        out[i] = accumulate ? out[i] + v : v;
    }
}

int nn_dropout_keep(uint64_t seed, int64_t i, float p) { return counter_uniform(seed, (uint64_t)i) >= p; }

nn_tensor *nn_dropout(nn_tape *t, nn_tensor *x, float p, uint64_t seed)
{
    if (!x) return NULL;
    if (!(p >= 0.0f && p <= 1.0f)) {
        nn_error(NN_ERR_INPUT, "dropout: probability %g is not in [0, 1]", (double)p);
        return NULL;
    }
    /* Evaluation, or nothing to drop: the identity, x itself (as torch). */
    if (!t->training || p == 0.0f) return x;
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, &x, 1);
    dropout_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    if (!y || !s) return NULL;
    /* p = 1 drops everything; torch's output is then all zeros. */
    *s = (dropout_saved){seed, p, p < 1.0f ? 1.0f / (1.0f - p) : 0.0f};
    apply_mask(y->data, x->data, x->numel, s, 0);
    if (nn_tape_record(t, &nn_op_defs[NN_OP_DROPOUT], y, &x, 1, s)) return NULL;
    return y;
}

nn_status nn_dropout_backward(nn_tape *t, const nn_node *node)
{
    apply_mask(node->in[0]->grad, node->out->grad, node->out->numel, node->saved, 1);
    (void)t;
    return NN_OK;
}
