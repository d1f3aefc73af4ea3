/* Softmax and log-softmax over any axis, stable by subtracting the maximum
 * along the axis. The input is seen as (outer, n, inner) around the axis;
 * work is split into blocks of up to SOFTMAX_COLS columns of inner (one
 * column when the axis is the last), each running down the axis in order,
 * so rows of any layout are read contiguously and the sums (in double) do
 * not depend on the thread count. The backward needs only the output. */
#include "ops/ops.h"

#include <math.h>

enum { SOFTMAX_COLS = 64 };

typedef struct softmax_saved {
    int axis;   /* in [0, ndim) */
} softmax_saved;

/* Splits x's shape around `axis` into (outer, n, inner). */
static void split_at(const nn_tensor *x, int axis, int64_t *outer, int64_t *n, int64_t *inner)
{
    *outer = nn_shape_numel(axis, x->shape);
    *n = x->shape[axis];
    *inner = nn_shape_numel(x->ndim - axis - 1, x->shape + axis + 1);
}

/* y: (outer, n, inner) = softmax (or log-softmax) of x: (outer, n, inner) along n */
static void softmax_forward(float *y, const float *x, int64_t outer, int64_t n, int64_t inner,
                            int log_softmax)
{
    int64_t blocks = (inner + SOFTMAX_COLS - 1) / SOFTMAX_COLS;
    #pragma omp parallel for schedule(static) if (outer * n * inner > 32768)
    for (int64_t u = 0; u < outer * blocks; u++) {
        int64_t o = u / blocks, c0 = (u % blocks) * SOFTMAX_COLS;
        int w = (int)(inner - c0 < SOFTMAX_COLS ? inner - c0 : SOFTMAX_COLS);
        const float *xb = x + o * n * inner + c0;
        float *yb = y + o * n * inner + c0;
        float mx[SOFTMAX_COLS];
        double sum[SOFTMAX_COLS];
        for (int i = 0; i < w; i++) {
            mx[i] = -INFINITY;
            sum[i] = 0.0;
        }
        for (int64_t k = 0; k < n; k++)
            for (int i = 0; i < w; i++) {
                float v = xb[k * inner + i];
                mx[i] = v > mx[i] ? v : mx[i];
            }
        for (int64_t k = 0; k < n; k++)
            for (int i = 0; i < w; i++) {
                float e = expf(xb[k * inner + i] - mx[i]);
                sum[i] += e;
                if (!log_softmax) yb[k * inner + i] = e;
            }
        if (log_softmax) {
            float lse[SOFTMAX_COLS];
            for (int i = 0; i < w; i++) lse[i] = (float)log(sum[i]);
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < w; i++) yb[k * inner + i] = xb[k * inner + i] - mx[i] - lse[i];
        } else {
            float inv[SOFTMAX_COLS];
            for (int i = 0; i < w; i++) inv[i] = (float)(1.0 / sum[i]);
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < w; i++) yb[k * inner + i] *= inv[i];
        }
    }
}

/* Mirrors softmax_forward:
 * softmax:     dx += y (dy - sum_n dy y)
 * log-softmax: dx += dy - exp(y) sum_n dy */
static void softmax_backward(float *dx, const float *dy, const float *y, int64_t outer, int64_t n,
                             int64_t inner, int log_softmax)
{
    int64_t blocks = (inner + SOFTMAX_COLS - 1) / SOFTMAX_COLS;
    #pragma omp parallel for schedule(static) if (outer * n * inner > 32768)
    for (int64_t u = 0; u < outer * blocks; u++) {
        int64_t o = u / blocks, c0 = (u % blocks) * SOFTMAX_COLS;
        int w = (int)(inner - c0 < SOFTMAX_COLS ? inner - c0 : SOFTMAX_COLS);
        int64_t at = o * n * inner + c0;
        const float *yb = y + at, *dyb = dy + at;
        float *dxb = dx + at;
        double dot[SOFTMAX_COLS];
        for (int i = 0; i < w; i++) dot[i] = 0.0;
        for (int64_t k = 0; k < n; k++)
            for (int i = 0; i < w; i++) {
                double d = dyb[k * inner + i];
                dot[i] += log_softmax ? d : d * yb[k * inner + i];
            }
        float s[SOFTMAX_COLS];
        for (int i = 0; i < w; i++) s[i] = (float)dot[i];
        for (int64_t k = 0; k < n; k++)
            for (int i = 0; i < w; i++) {
                int64_t j = k * inner + i;
                dxb[j] += log_softmax ? dyb[j] - expf(yb[j]) * s[i] : yb[j] * (dyb[j] - s[i]);
            }
    }
}

static nn_tensor *softmax(nn_tape *t, nn_op_id op, nn_tensor *x, int axis)
{
    if (!x) return NULL;
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim) {
        char xs[64];
        nn_error(NN_ERR_INPUT, "%s: axis %d is out of range for %s", nn_op_defs[op].name, axis,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    int64_t outer, n, inner;
    split_at(x, a, &outer, &n, &inner);
    softmax_forward(y->data, x->data, outer, n, inner, op == NN_OP_LOG_SOFTMAX);
    softmax_saved *saved = NULL;
    if (y->requires_grad) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        saved->axis = a;
    }
    if (nn_tape_record(t, &nn_op_defs[op], y, &x, 1, saved)) return NULL;
    return y;
}

nn_tensor *nn_softmax(nn_tape *t, nn_tensor *x, int axis)
{
    return softmax(t, NN_OP_SOFTMAX, x, axis);
}

nn_tensor *nn_log_softmax(nn_tape *t, nn_tensor *x, int axis)
{
    return softmax(t, NN_OP_LOG_SOFTMAX, x, axis);
}

nn_status nn_softmax_backward(nn_tape *t, const nn_node *node)
{
    const softmax_saved *s = node->saved;
    const nn_tensor *x = node->in[0], *y = node->out;
    int64_t outer, n, inner;
    split_at(x, s->axis, &outer, &n, &inner);
    softmax_backward(x->grad, y->grad, y->data, outer, n, inner,
                     node->op == &nn_op_defs[NN_OP_LOG_SOFTMAX]);
    (void)t;
    return NN_OK;
}
