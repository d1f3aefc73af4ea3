/* Reductions over a set of axes: sum, mean, max (as torch.sum, torch.mean
 * and torch.amax with dim and keepdim). The forward is the broadcast sum or
 * max of broadcast.h, with the output laid out as the input with the
 * reduced axes kept at extent 1; the backward broadcasts dy back.
 *
 * max spreads the gradient evenly over the elements equal to the maximum,
 * as torch.amax does (torch.max(x, dim) instead gives it all to the first). */
#include "ops/ops.h"

#include <math.h>

#include "ops/broadcast.h"

typedef struct reduce_saved {
    unsigned axes;   /* bit d: axis d was reduced */
} reduce_saved;

/* x's shape with the axes in `mask` at extent 1, and the number of elements
 * reduced into each output. */
static int64_t kept_shape(int *shape, const nn_tensor *x, unsigned mask)
{
    int64_t count = 1;
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = mask >> d & 1 ? 1 : x->shape[d];
        if (mask >> d & 1) count *= x->shape[d];
    }
    return count;
}

static nn_tensor *reduce(nn_tape *t, nn_op_id op, nn_tensor *x, int n_axes, const int *axes,
                         int keepdim)
{
    if (!x) return NULL;
    const char *name = nn_op_defs[op].name;
    char xs[64];
    unsigned mask = n_axes == 0 ? (1u << x->ndim) - 1u : 0u;
    for (int i = 0; i < n_axes; i++) {
        int a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim) {
            nn_error(NN_ERR_INPUT, "%s: axis %d is out of range for %s", name, axes[i],
                     nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
            return NULL;
        }
        if (mask >> a & 1) {
            nn_error(NN_ERR_INPUT, "%s: axis %d is given twice", name, axes[i]);
            return NULL;
        }
        mask |= 1u << a;
    }
    int kshape[NN_MAX_DIMS], shape[NN_MAX_DIMS], ndim = 0;
    int64_t count = kept_shape(kshape, x, mask);
    if (op == NN_OP_MAX && count == 0) {
        nn_error(NN_ERR_INPUT, "max: cannot reduce %s over an empty axis",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    for (int d = 0; d < x->ndim; d++)
        if (keepdim || !(mask >> d & 1)) shape[ndim++] = kshape[d];
    nn_tensor *y = nn_tape_output(t, ndim, shape, &x, 1);
    if (!y) return NULL;
    if (x->numel == 0) {
        /* The sum of nothing is 0 (so the mean 0 / 0). */
        for (int64_t j = 0; j < y->numel; j++) y->data[j] = op == NN_OP_MEAN ? NAN : 0.0f;
    } else {
        nn_bcast l;
        nn_bcast_init(&l, x->ndim, x->shape, x->ndim, kshape, 0, NULL);
        nn_bcast_reduce(&l, 0, op == NN_OP_MAX ? NN_BCAST_REDUCE_MAX : NN_BCAST_REDUCE_SUM, 1.0f,
                        0, y->data, x->data);
        /* Divided, not multiplied by 1/count: the same rounding as torch.mean. */
        if (op == NN_OP_MEAN)
            for (int64_t j = 0; j < y->numel; j++) y->data[j] /= (float)count;
    }
    reduce_saved *saved = NULL;
    if (y->requires_grad) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        saved->axes = mask;
    }
    if (nn_tape_record(t, &nn_op_defs[op], y, &x, 1, saved)) return NULL;
    return y;
}

nn_tensor *nn_sum(nn_tape *t, nn_tensor *x, int n_axes, const int *axes, int keepdim)
{
    return reduce(t, NN_OP_SUM, x, n_axes, axes, keepdim);
}

nn_tensor *nn_mean(nn_tape *t, nn_tensor *x, int n_axes, const int *axes, int keepdim)
{
    return reduce(t, NN_OP_MEAN, x, n_axes, axes, keepdim);
}

nn_tensor *nn_max(nn_tape *t, nn_tensor *x, int n_axes, const int *axes, int keepdim)
{
    return reduce(t, NN_OP_MAX, x, n_axes, axes, keepdim);
}

nn_status nn_reduce_backward(nn_tape *t, const nn_node *node)
{
    const reduce_saved *s = node->saved;
    const nn_tensor *x = node->in[0], *y = node->out;
    nn_op_id op = (nn_op_id)(node->op - nn_op_defs);
    if (x->numel == 0) return NN_OK;
    int kshape[NN_MAX_DIMS];
    float count = (float)kept_shape(kshape, x, s->axes);
    nn_bcast l;
    if (op != NN_OP_MAX) {
        /* dx += dy broadcast (sum), or dy / count (mean, as torch divides) */
        static const float one = 1.0f;
        nn_bcast_init(&l, x->ndim, x->shape, x->ndim, kshape, 0, NULL);
        nn_bcast_map(&l, op == NN_OP_MEAN ? NN_BCAST_DIV : NN_BCAST_MUL, 1, x->grad, y->grad,
                     op == NN_OP_MEAN ? &count : &one);
        return NN_OK;
    }
    /* max: mask = (x == y), ties = sum of the mask over the reduced axes,
     * dx += mask * dy / ties */
    float *mask = NN_ARENA_NEW(t->arena, float, x->numel);
    float *g = NN_ARENA_NEW(t->arena, float, y->numel);
    if (!mask || !g) return NN_ERR_RUNTIME;
    nn_bcast_init(&l, x->ndim, x->shape, x->ndim, x->shape, x->ndim, kshape);
    nn_bcast_map(&l, NN_BCAST_EQ, 0, mask, x->data, y->data);
    nn_bcast_reduce(&l, 1, NN_BCAST_REDUCE_SUM, 1.0f, 0, g, mask);
    /* No element equals a NaN maximum: those get no gradient. */
    for (int64_t j = 0; j < y->numel; j++) g[j] = g[j] > 0.0f ? y->grad[j] / g[j] : 0.0f;
    nn_bcast_map(&l, NN_BCAST_MUL, 1, x->grad, mask, g);
    return NN_OK;
}
