/* 2-d average pooling: fixed windows (avg_pool2d, with torch's padding and
 * ceil_mode rules) and adaptive windows (adaptive_avg_pool2d, global
 * average pooling). Both are "mean over a rectangular window per output",
 * and the windows are separable: each output row oy has an input row range
 * [ylo, yhi) and a divisor factor, each output column likewise; the divisor
 * of an output is the product of its row and column factors. The forward
 * keeps that geometry for the backward, which spreads dy / divisor evenly
 * over the window. */
#include "ops/ops.h"

typedef struct avg_geom {
    int planes, h, w, oh, ow;
    /* lo, hi, cnt for rows (oh of each) then columns (ow of each), after
     * this header in the same arena block */
} avg_geom;

static int *geom_rows(avg_geom *g) { return (int *)(g + 1); }
static int *geom_cols(avg_geom *g) { return (int *)(g + 1) + 3 * g->oh; }

/* One axis of avg_pool2d, as torch's kernel: the window starts at
 * o * stride - pad and ends at min(start + kernel, size + pad); with
 * count_include_pad the divisor counts that (padded) extent, else only the
 * part inside the input. */
static void fixed_axis(int *lo, int *hi, int *cnt, int out, int size, int kernel, int stride, int pad,
                       int count_include_pad)
{
    for (int o = 0; o < out; o++) {
        int s = o * stride - pad, e = s + kernel;
        if (e > size + pad) e = size + pad;
        int padded = e - s;
        if (s < 0) s = 0;
        if (e > size) e = size;
        lo[o] = s;
        hi[o] = e;
        cnt[o] = count_include_pad ? padded : e - s;
    }
}

/* One axis of adaptive_avg_pool2d: start = floor(o size / out),
 * end = ceil((o + 1) size / out), as torch. */
static void adaptive_axis(int *lo, int *hi, int *cnt, int out, int size)
{
    for (int o = 0; o < out; o++) {
        lo[o] = (int)((long)o * size / out);
        hi[o] = (int)(((long)(o + 1) * size + out - 1) / out);
        cnt[o] = hi[o] - lo[o];
    }
}

/* y: (planes, oh, ow) = window means of x: (planes, h, w). */
static void avgpool_forward(float *y, const float *x, avg_geom *g)
{
    const int *r = geom_rows(g), *c = geom_cols(g);
    const int oh = g->oh, ow = g->ow;
    #pragma omp parallel for schedule(static) if ((int64_t)g->planes * g->h * g->w > (1 << 15))
    for (int pl = 0; pl < g->planes; pl++) {
        const float *xp = x + (long)pl * g->h * g->w;
        float *yp = y + (long)pl * oh * ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float s = 0.0f;
                for (int iy = r[oy]; iy < r[oh + oy]; iy++)
                    for (int ix = c[ox]; ix < c[ow + ox]; ix++) s += xp[iy * g->w + ix];
                int div = r[2 * oh + oy] * c[2 * ow + ox];
                yp[oy * ow + ox] = div > 0 ? s / (float)div : 0.0f;
            }
    }
}

/* Mirrors avgpool_forward: dx += dy / divisor over each window. Planes are
 * independent, so threads never write the same dx. */
static void avgpool_backward(float *dx, const float *dy, avg_geom *g)
{
    const int *r = geom_rows(g), *c = geom_cols(g);
    const int oh = g->oh, ow = g->ow;
    #pragma omp parallel for schedule(static) if ((int64_t)g->planes * g->h * g->w > (1 << 15))
    for (int pl = 0; pl < g->planes; pl++) {
        float *xp = dx + (long)pl * g->h * g->w;
        const float *yp = dy + (long)pl * oh * ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int div = r[2 * oh + oy] * c[2 * ow + ox];
                if (div <= 0) continue;
                float v = yp[oy * ow + ox] / (float)div;
                for (int iy = r[oy]; iy < r[oh + oy]; iy++)
                    for (int ix = c[ox]; ix < c[ow + ox]; ix++) xp[iy * g->w + ix] += v;
            }
    }
}

/* The geometry block in the step arena (kept for the backward). */
static avg_geom *geom_new(nn_tape *t, const nn_tensor *x, int oh, int ow)
{
    avg_geom *g = nn_arena_alloc(t->arena, sizeof *g + sizeof(int) * 3 * (size_t)(oh + ow));
    if (!g) return NULL;
    *g = (avg_geom){x->shape[0] * x->shape[1], x->shape[2], x->shape[3], oh, ow};
    return g;
}

static nn_tensor *avgpool_run(nn_tape *t, nn_op_id op, nn_tensor *x, avg_geom *g)
{
    nn_tensor *y = nn_tape_output(t, 4, (int[]){x->shape[0], x->shape[1], g->oh, g->ow}, &x, 1);
    if (!y) return NULL;
    avgpool_forward(y->data, x->data, g);
    if (nn_tape_record(t, &nn_op_defs[op], y, &x, 1, g)) return NULL;
    return y;
}

/* Output size of one axis, as torch's pooling_output_shape. */
static int pooled_size(int size, int kernel, int stride, int pad, int ceil_mode)
{
    int out = (size + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0)) / stride + 1;
    /* The last window must start inside the input or its left padding. */
    if (ceil_mode && (out - 1) * stride >= size + pad) out--;
    return out;
}

nn_tensor *nn_avgpool2d(nn_tape *t, nn_tensor *x, int kernel, int stride, int pad, int ceil_mode,
                        int count_include_pad)
{
    if (!x) return NULL;
    char xs[64];
    if (x->ndim != 4 || kernel < 1 || stride < 1 || pad < 0 || 2 * pad > kernel ||
        x->shape[2] + 2 * pad < kernel || x->shape[3] + 2 * pad < kernel) {
        nn_error(NN_ERR_INPUT, "avgpool2d: input %s does not fit kernel %d, stride %d, padding %d",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape), kernel, stride, pad);
        return NULL;
    }
    int oh = pooled_size(x->shape[2], kernel, stride, pad, ceil_mode);
    int ow = pooled_size(x->shape[3], kernel, stride, pad, ceil_mode);
    avg_geom *g = geom_new(t, x, oh, ow);
    if (!g) return NULL;
    int *r = geom_rows(g), *c = geom_cols(g);
    fixed_axis(r, r + oh, r + 2 * oh, oh, g->h, kernel, stride, pad, count_include_pad);
    fixed_axis(c, c + ow, c + 2 * ow, ow, g->w, kernel, stride, pad, count_include_pad);
    return avgpool_run(t, NN_OP_AVGPOOL2D, x, g);
}

nn_tensor *nn_adaptive_avgpool2d(nn_tape *t, nn_tensor *x, int out_h, int out_w)
{
    if (!x) return NULL;
    char xs[64];
    if (x->ndim != 4 || out_h < 1 || out_w < 1) {
        nn_error(NN_ERR_INPUT, "adaptive_avgpool2d: cannot pool %s to %d x %d",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape), out_h, out_w);
        return NULL;
    }
    avg_geom *g = geom_new(t, x, out_h, out_w);
    if (!g) return NULL;
    int *r = geom_rows(g), *c = geom_cols(g);
    adaptive_axis(r, r + out_h, r + 2 * out_h, out_h, g->h);
    adaptive_axis(c, c + out_w, c + 2 * out_w, out_w, g->w);
    return avgpool_run(t, NN_OP_ADAPTIVE_AVGPOOL2D, x, g);
}

nn_tensor *nn_global_avgpool2d(nn_tape *t, nn_tensor *x) { return nn_adaptive_avgpool2d(t, x, 1, 1); }

nn_status nn_avgpool2d_backward(nn_tape *t, const nn_node *node)
{
    avgpool_backward(node->in[0]->grad, node->out->grad, node->saved);
    (void)t;
    return NN_OK;
}
