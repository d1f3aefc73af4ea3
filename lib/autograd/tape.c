#include "autograd/tape.h"

#include <string.h>

#include "core/clock.h"

void nn_tape_init(nn_tape *t, nn_arena *arena, int recording, int training)
{
    memset(t, 0, sizeof *t);
    t->arena = arena;
    t->recording = recording;
    t->training = training;
}

uint64_t nn_tape_next_seed(nn_tape *t)
{
    /* splitmix64's finalizer over the base plus a Weyl step per draw. */
    uint64_t z = t->seed + ++t->seeds_drawn * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

nn_tensor *nn_tape_output(nn_tape *t, int ndim, const int *shape, nn_tensor *const *in, int n)
{
    nn_tensor *out = nn_tensor_new(t->arena, ndim, shape);
    if (!out) return NULL;
    if (t->recording)
        for (int i = 0; i < n; i++)
            if (in[i] && in[i]->requires_grad) out->requires_grad = 1;
    return out;
}

void nn_tape_profile(nn_tape *t, nn_profile *p)
{
    t->profile = p;
    p->mark = nn_now();
}

/* The profile row of op, made on first use. */
static int profile_row(nn_profile *p, const nn_op_def *op)
{
    for (int i = 0; i < p->n; i++)
        if (p->op[i] == op) return i;
    NN_ASSERT(p->n < NN_PROFILE_MAX_OPS);
    p->op[p->n] = op;
    return p->n++;
}

void nn_profile_add(nn_profile *p, const nn_op_def *op, double forward, double backward)
{
    int row = profile_row(p, op);
    p->forward[row] += forward;
    p->backward[row] += backward;
    p->calls[row]++;
}

int nn_tape_record(nn_tape *t, const nn_op_def *op, nn_tensor *out, nn_tensor *const *in, int n,
                   void *saved)
{
    NN_ASSERT(n <= NN_NODE_MAX_INPUTS);
    if (t->profile) {
        double now = nn_now();
        int row = profile_row(t->profile, op);
        t->profile->forward[row] += now - t->profile->mark;
        t->profile->calls[row]++;
        t->profile->mark = now;
    }
    if (!out->requires_grad) return 0;
    nn_node *node = nn_arena_alloc(t->arena, sizeof *node);
    if (!node) return -1;
    node->op = op;
    node->out = out;
    node->n_in = n;
    for (int i = 0; i < n; i++) node->in[i] = in[i];
    node->saved = saved;
    node->prev = t->last;
    t->last = node;
    t->n_nodes++;
    out->node = node;
    return 0;
}

static nn_status ensure_grad(nn_tape *t, nn_tensor *x)
{
    if (x->grad) return NN_OK;
    float *g = NN_ARENA_NEW(t->arena, float, x->numel);
    if (!g) return NN_ERR_RUNTIME;
    /* Activation gradients run to megabytes: zero them on all threads. */
    const int64_t n = x->numel, block = 1 << 14;
    #pragma omp parallel for schedule(static) if (n > 4 * block)
    for (int64_t at = 0; at < n; at += block)
        memset(g + at, 0, sizeof(float) * (size_t)(n - at < block ? n - at : block));
    x->grad = g;
    return NN_OK;
}

nn_status nn_tape_backward(nn_tape *t, nn_tensor *loss)
{
    NN_ASSERT(loss->numel == 1);
    const float one = 1.0f;
    return nn_tape_backward_from(t, loss, &one);
}

nn_status nn_tape_backward_from(nn_tape *t, nn_tensor *y, const float *dy)
{
    if (!y->requires_grad)
        return nn_error(NN_ERR_RUNTIME, "backward: the output does not depend on anything that needs a gradient");
    NN_TRY(ensure_grad(t, y));
    for (int64_t i = 0; i < y->numel; i++) y->grad[i] += dy[i];
    for (nn_node *node = t->last; node; node = node->prev) {
        /* A node whose output received no gradient is not on a path to the
         * loss (e.g. an auxiliary output): nothing to propagate. */
        if (!node->out->grad) continue;
        for (int i = 0; i < node->n_in; i++)
            if (node->in[i] && node->in[i]->requires_grad) NN_TRY(ensure_grad(t, node->in[i]));
        double t0 = t->profile ? nn_now() : 0.0;
        NN_TRY(node->op->backward(t, node));
        if (t->profile) t->profile->backward[profile_row(t->profile, node->op)] += nn_now() - t0;
    }
    return NN_OK;
}
