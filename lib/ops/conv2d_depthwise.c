#include "ops/conv2d_depthwise.h"

/* The output columns [lo, hi) of a kernel column whose first input column
 * is ix0: those that read inside [0, w) (the others read padding). */
static void inside_columns(int ix0, int stride, int ow, int w, int *lo, int *hi)
{
    *lo = ix0 >= 0 ? 0 : (-ix0 + stride - 1) / stride;
    *hi = ix0 >= w ? 0 : (w - 1 - ix0) / stride + 1;
    if (*hi > ow) *hi = ow;
    if (*lo > *hi) *lo = *hi;
}

/* Adds one kernel row's taps over input row `src` into acc (ow floats). */
static void accumulate_row(float *restrict acc, const float *restrict src, const float *restrict wrow,
                           const nn_depthwise_geom *q)
{
    const int sw = q->a.stride_w;
    for (int kj = 0; kj < q->kw; kj++) {
        const int ix0 = kj * q->a.dilation_w - q->a.pad_w;
        int lo, hi;
        inside_columns(ix0, sw, q->ow, q->w, &lo, &hi);
        const float wv = wrow[kj];
        const float *s = src + ix0;
        if (sw == 1)
            for (int ox = lo; ox < hi; ox++) acc[ox] += wv * s[ox];
        else
            for (int ox = lo; ox < hi; ox++) acc[ox] += wv * s[ox * sw];
    }
}

void nn_conv2d_depthwise_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_depthwise_geom *q)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    #pragma omp parallel for schedule(static) collapse(2)
    for (int ch = 0; ch < q->c; ch++)
        for (int n = 0; n < q->n; n++) {
            const float *xp = x + ((long)n * q->c + ch) * in_plane;
            const float *wk = w + (long)ch * q->kh * q->kw;
            float *yp = y + ((long)n * q->c + ch) * out_plane;
            const float bias = b ? b[ch] : 0.0f;
            for (int oy = 0; oy < q->oh; oy++) {
                float *acc = yp + (long)oy * q->ow;
                for (int ox = 0; ox < q->ow; ox++) acc[ox] = 0.0f;
                for (int ki = 0; ki < q->kh; ki++) {
                    const int iy = oy * q->a.stride_h - q->a.pad_h + ki * q->a.dilation_h;
                    if (iy < 0 || iy >= q->h) continue;
                    accumulate_row(acc, xp + (long)iy * q->w, wk + ki * q->kw, q);
                }
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) acc[ox] = acc[ox] + bias > 0.0f ? acc[ox] + bias : 0.0f;
                else
                    for (int ox = 0; ox < q->ow; ox++) acc[ox] += bias;
            }
        }
}

void nn_conv2d_depthwise_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, const float *y, const nn_depthwise_geom *q)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const int sw = q->a.stride_w, taps = q->kh * q->kw;
    /* One channel per iteration: its weight and bias gradients are summed
     * over the samples in order, by the one thread that owns it. */
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < q->c; ch++) {
        const float *wk = w + (long)ch * taps;
        float gw[taps], gb = 0.0f;   /* taps <= 32 * 32: checked by the caller */
        for (int t = 0; t < taps; t++) gw[t] = 0.0f;
        float g[q->ow];
        for (int n = 0; n < q->n; n++) {
            const long at = (long)n * q->c + ch;
            const float *xp = x + at * in_plane, *dyp = dy + at * out_plane, *yp = y + at * out_plane;
            float *dxp = dx ? dx + at * in_plane : NULL;
            for (int oy = 0; oy < q->oh; oy++) {
                /* This output row's gradient, through a fused ReLU's mask. */
                const float *dyr = dyp + (long)oy * q->ow;
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) g[ox] = yp[(long)oy * q->ow + ox] > 0.0f ? dyr[ox] : 0.0f;
                else
                    for (int ox = 0; ox < q->ow; ox++) g[ox] = dyr[ox];
                float rs = 0.0f;
                for (int ox = 0; ox < q->ow; ox++) rs += g[ox];
                gb += rs;
                for (int ki = 0; ki < q->kh; ki++) {
                    const int iy = oy * q->a.stride_h - q->a.pad_h + ki * q->a.dilation_h;
                    if (iy < 0 || iy >= q->h) continue;
                    const float *src = xp + (long)iy * q->w;
                    float *dst = dxp ? dxp + (long)iy * q->w : NULL;
                    for (int kj = 0; kj < q->kw; kj++) {
                        const int ix0 = kj * q->a.dilation_w - q->a.pad_w;
                        int lo, hi;
                        inside_columns(ix0, sw, q->ow, q->w, &lo, &hi);
                        const float wv = wk[ki * q->kw + kj];
                        float s = 0.0f;
                        if (sw == 1) {
                            for (int ox = lo; ox < hi; ox++) s += g[ox] * src[ix0 + ox];
                            if (dst)
                                for (int ox = lo; ox < hi; ox++) dst[ix0 + ox] += wv * g[ox];
                        } else {
                            for (int ox = lo; ox < hi; ox++) s += g[ox] * src[ix0 + ox * sw];
                            if (dst)
                                for (int ox = lo; ox < hi; ox++) dst[ix0 + ox * sw] += wv * g[ox];
                        }
                        gw[ki * q->kw + kj] += s;
                    }
                }
            }
        }
        if (dw)
            for (int t = 0; t < taps; t++) dw[(long)ch * taps + t] += gw[t];
        if (db) db[ch] += gb;
    }
}
