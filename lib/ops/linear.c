/* Linear layer op: y = x w^T + b over the last dimension. */
#include "ops/ops.h"

#include <string.h>

#include "core/gemm.h"



/* y: (rows, out) = x: (rows, in) w^T + b */
static void linear_forward(float *y, const float *x, const float *w, const float *b, int rows,
                           int in, int out)
{
    nn_gemm(0, 1, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (!b) return;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) y[(long)r * out + o] += b[o];
}

/* Mirrors linear_forward; each of dx, dw, db may be NULL (not needed). */
static void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, int rows, int in, int out)
{
    if (dx) nn_gemm(0, 0, rows, in, out, 1.0f, dy, out, w, in, 1.0f, dx, in);
    if (dw) nn_gemm(1, 0, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db) {
        /* Column sums in row order, whatever the thread count. */
        #pragma omp parallel for schedule(static)
        for (int o = 0; o < out; o++) {
            float s = 0.0f;
            for (int r = 0; r < rows; r++) s += dy[(long)r * out + o];
            db[o] += s;
        }
    }
}

nn_tensor *nn_linear(nn_tape *t, nn_tensor *x, nn_tensor *w, nn_tensor *b)
{
    if (!x || !w) return NULL;
    int in = x->shape[x->ndim - 1], out = w->shape[0];
    char xs[64], ws[64];
    if (w->ndim != 2 || w->shape[1] != in || (b && (b->ndim != 1 || b->shape[0] != out))) {
        nn_error(NN_ERR_INPUT, "linear: input %s does not fit weight %s",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape),
                 nn_shape_str(ws, sizeof ws, w->ndim, w->shape));
        return NULL;
    }
    int shape[NN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out;
    nn_tensor *in_list[3] = {x, w, b};
    nn_tensor *y = nn_tape_output(t, x->ndim, shape, in_list, 3);
    if (!y) return NULL;
    int rows = (int)(x->numel / in);
    linear_forward(y->data, x->data, w->data, b ? b->data : NULL, rows, in, out);
    if (nn_tape_record(t, &nn_op_defs[NN_OP_LINEAR], y, in_list, 3, NULL)) return NULL;
    return y;
}

nn_status nn_linear_backward(nn_tape *t, const nn_node *node)
{
    nn_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2], *y = node->out;
    int in = w->shape[1], out = w->shape[0];
    int rows = (int)(x->numel / in);
    linear_backward(x->requires_grad ? x->grad : NULL, w->requires_grad ? w->grad : NULL,
                    b && b->requires_grad ? b->grad : NULL, y->grad, x->data, w->data, rows, in,
                    out);
    (void)t;
    return NN_OK;
}
