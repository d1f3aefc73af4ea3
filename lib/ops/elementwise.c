/* Binary elementwise ops with broadcasting: add, sub, mul, div. One
 * broadcast kernel computes all four; the backward forms each input's
 * elementwise gradient and sums it over the dims that input was broadcast
 * on (broadcast.h), in a fixed order. */
#include "ops/ops.h"

#include "ops/broadcast.h"

static nn_tensor *binary(nn_tape *t, nn_op_id op, nn_bcast_fn fn, nn_tensor *a, nn_tensor *b)
{
    if (!a || !b) return NULL;
    int ndim, shape[NN_MAX_DIMS];
    if (!nn_bcast_shape(&ndim, shape, a->ndim, a->shape, b->ndim, b->shape)) {
        char as[64], bs[64];
        nn_error(NN_ERR_INPUT, "%s: shapes %s and %s do not broadcast", nn_op_defs[op].name,
                 nn_shape_str(as, sizeof as, a->ndim, a->shape),
                 nn_shape_str(bs, sizeof bs, b->ndim, b->shape));
        return NULL;
    }
    nn_tensor *in[2] = {a, b};
    nn_tensor *y = nn_tape_output(t, ndim, shape, in, 2);
    if (!y) return NULL;
    nn_bcast l;
    nn_bcast_init(&l, ndim, shape, a->ndim, a->shape, b->ndim, b->shape);
    nn_bcast_map(&l, fn, 0, y->data, a->data, b->data);
    if (nn_tape_record(t, &nn_op_defs[op], y, in, 2, NULL)) return NULL;
    return y;
}

nn_tensor *nn_add(nn_tape *t, nn_tensor *a, nn_tensor *b)
{
    return binary(t, NN_OP_ADD, NN_BCAST_ADD, a, b);
}

nn_tensor *nn_sub(nn_tape *t, nn_tensor *a, nn_tensor *b)
{
    return binary(t, NN_OP_SUB, NN_BCAST_SUB, a, b);
}

nn_tensor *nn_mul(nn_tape *t, nn_tensor *a, nn_tensor *b)
{
    return binary(t, NN_OP_MUL, NN_BCAST_MUL, a, b);
}

nn_tensor *nn_div(nn_tape *t, nn_tensor *a, nn_tensor *b)
{
    return binary(t, NN_OP_DIV, NN_BCAST_DIV, a, b);
}

/* dx += alpha * (g summed over the dims x was broadcast on); g: y's shape. */
static void reduce_into(float *dx, const nn_tensor *x, const nn_tensor *y, const float *g,
                        float alpha)
{
    nn_bcast l;
    nn_bcast_init(&l, y->ndim, y->shape, x->ndim, x->shape, 0, NULL);
    nn_bcast_reduce(&l, 0, NN_BCAST_REDUCE_SUM, alpha, 1, dx, g);
}

/* dx += alpha * reduce(fn(p, q)): p has y's shape, q broadcasts to it.
 * When x has y's shape (nothing to reduce) and alpha is 1 the map adds
 * straight into dx; otherwise it goes through scratch. */
static nn_status grad_term(nn_tape *t, const nn_tensor *x, const nn_tensor *y, nn_bcast_fn fn,
                           const float *p, const nn_tensor *q, float alpha)
{
    nn_bcast l;
    nn_bcast_init(&l, y->ndim, y->shape, y->ndim, y->shape, q->ndim, q->shape);
    if (alpha == 1.0f && x->numel == y->numel) {
        nn_bcast_map(&l, fn, 1, x->grad, p, q->data);
        return NN_OK;
    }
    float *g = NN_ARENA_NEW(t->arena, float, y->numel);
    if (!g) return NN_ERR_RUNTIME;
    nn_bcast_map(&l, fn, 0, g, p, q->data);
    reduce_into(x->grad, x, y, g, alpha);
    return NN_OK;
}

nn_status nn_binary_backward(nn_tape *t, const nn_node *node)
{
    nn_op_id op = (nn_op_id)(node->op - nn_op_defs);
    nn_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    const float *dy = y->grad;
    for (int k = 0; k < 2; k++) {
        nn_tensor *x = node->in[k];
        if (!x->requires_grad) continue;
        switch (op) {
        case NN_OP_ADD:
        case NN_OP_SUB:
            reduce_into(x->grad, x, y, dy, op == NN_OP_SUB && k == 1 ? -1.0f : 1.0f);
            break;
        case NN_OP_MUL: /* da = dy b, db = dy a */
            NN_TRY(grad_term(t, x, y, NN_BCAST_MUL, dy, k == 0 ? b : a, 1.0f));
            break;
        case NN_OP_DIV:
            if (k == 0) { /* da = dy / b */
                NN_TRY(grad_term(t, x, y, NN_BCAST_DIV, dy, b, 1.0f));
            } else {      /* db = -dy a / b^2 = -(dy y) / b */
                float *dyy = NN_ARENA_NEW(t->arena, float, y->numel);
                if (!dyy) return NN_ERR_RUNTIME;
                nn_bcast l;
                nn_bcast_init(&l, y->ndim, y->shape, y->ndim, y->shape, y->ndim, y->shape);
                nn_bcast_map(&l, NN_BCAST_MUL, 0, dyy, dy, y->data);
                NN_TRY(grad_term(t, x, y, NN_BCAST_DIV, dyy, b, -1.0f));
            }
            break;
        default:
            NN_ASSERT(!"not a binary op");
        }
    }
    return NN_OK;
}
