#include "ops/conv2d_depthwise.h"

#include <omp.h>
#include <string.h>

/* Each plane is first copied into a zero-padded "phase" layout: padded
 * row r holds stride_w phases, phase f holding the padded columns f,
 * f + sw, f + 2 sw, ... So the tap (ki, kj) of output row oy reads padded
 * row oy * sh + ki * dh, phase (kj * dw) % sw, from index (kj * dw) / sw
 * on: ow contiguous floats for any stride, no bounds tests in the loops,
 * and loops the compiler vectorizes. Rows carry slack past ow (rounded up
 * to LANES) so the gradient's dot products run over whole vectors. */
enum { LANES = 16 };

/* LANES floats as one value: GCC's vector extension, which becomes one
 * AVX-512 register or two AVX2 ones, and keeps the lane sums' order fixed. */
typedef float lanes16 __attribute__((vector_size(LANES * sizeof(float))));

static lanes16 load16(const float *p)
{
    lanes16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

typedef struct phase_plane {
    int rows, phases, len;   /* h + 2 pad_h, stride_w, floats per phase row */
} phase_plane;

static phase_plane plane_shape(const nn_depthwise_geom *q)
{
    const int sw = q->a.stride_w, padded_w = q->w + 2 * q->a.pad_w;
    const int owp = (q->ow + LANES - 1) / LANES * LANES;
    int len = (padded_w + sw - 1) / sw;
    const int need = owp + (q->kw - 1) * q->a.dilation_w / sw + 1;
    if (len < need) len = need;
    return (phase_plane){q->h + 2 * q->a.pad_h, sw, len};
}

static long plane_floats(phase_plane s) { return (long)s.rows * s.phases * s.len; }

static float *phase_row(float *buf, phase_plane s, int r, int f) { return buf + ((long)r * s.phases + f) * s.len; }

/* Copies plane x (h, w) into buf, zero-padded. */
static void fill_plane(float *buf, phase_plane s, const float *x, const nn_depthwise_geom *q)
{
    memset(buf, 0, sizeof(float) * (size_t)plane_floats(s));
    for (int iy = 0; iy < q->h; iy++) {
        const float *src = x + (long)iy * q->w;
        for (int f = 0; f < s.phases; f++) {
            /* Padded columns f, f + sw, ...: input columns from ix0 on. */
            int ix0 = f - q->a.pad_w, k0 = 0;
            while (ix0 < 0) ix0 += s.phases, k0++;
            float *dst = phase_row(buf, s, iy + q->a.pad_h, f) + k0;
            for (int ix = ix0, k = 0; ix < q->w; ix += s.phases, k++) dst[k] = src[ix];
        }
    }
}

/* Adds the interior of buf back onto plane dx (h, w). */
static void add_plane(float *dx, float *buf, phase_plane s, const nn_depthwise_geom *q)
{
    for (int iy = 0; iy < q->h; iy++) {
        float *dst = dx + (long)iy * q->w;
        for (int f = 0; f < s.phases; f++) {
            int ix0 = f - q->a.pad_w, k0 = 0;
            while (ix0 < 0) ix0 += s.phases, k0++;
            const float *src = phase_row(buf, s, iy + q->a.pad_h, f) + k0;
            for (int ix = ix0, k = 0; ix < q->w; ix += s.phases, k++) dst[ix] += src[k];
        }
    }
}

/* The taps' contiguous rows: tap (ki, kj) of output row oy. */
static const float *tap_row(float *buf, phase_plane s, const nn_depthwise_geom *q, int oy, int ki, int kj)
{
    const int r = oy * q->a.stride_h + ki * q->a.dilation_h, c = kj * q->a.dilation_w;
    return phase_row(buf, s, r, c % s.phases) + c / s.phases;
}

long nn_conv2d_depthwise_scratch(const nn_depthwise_geom *q)
{
    const int owp = (q->ow + LANES - 1) / LANES * LANES;
    return 2 * plane_floats(plane_shape(q)) + owp;
}

void nn_conv2d_depthwise_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_depthwise_geom *q, float *scratch)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const phase_plane s = plane_shape(q);
    const long per_thread = nn_conv2d_depthwise_scratch(q);
    #pragma omp parallel for schedule(static) collapse(2)
    for (int ch = 0; ch < q->c; ch++)
        for (int n = 0; n < q->n; n++) {
            float *buf = scratch + (long)omp_get_thread_num() * per_thread;
            const long at = (long)n * q->c + ch;
            fill_plane(buf, s, x + at * in_plane, q);
            const float *wk = w + (long)ch * q->kh * q->kw;
            const float bias = b ? b[ch] : 0.0f;
            float *yp = y + at * out_plane;
            for (int oy = 0; oy < q->oh; oy++) {
                float *restrict acc = yp + (long)oy * q->ow;
                for (int ox = 0; ox < q->ow; ox++) acc[ox] = 0.0f;
                for (int ki = 0; ki < q->kh; ki++)
                    for (int kj = 0; kj < q->kw; kj++) {
                        const float *restrict v = tap_row(buf, s, q, oy, ki, kj);
                        const float wv = wk[ki * q->kw + kj];
                        for (int ox = 0; ox < q->ow; ox++) acc[ox] += wv * v[ox];
                    }
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) acc[ox] = acc[ox] + bias > 0.0f ? acc[ox] + bias : 0.0f;
                else
                    for (int ox = 0; ox < q->ow; ox++) acc[ox] += bias;
            }
        }
}

void nn_conv2d_depthwise_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, const float *y, const nn_depthwise_geom *q,
                                  float *scratch)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const phase_plane s = plane_shape(q);
    const int taps = q->kh * q->kw, owp = (q->ow + LANES - 1) / LANES * LANES;
    const long per_thread = nn_conv2d_depthwise_scratch(q);
    /* One channel per iteration: its weight and bias gradients are summed
     * over the samples in order, by the one thread that owns it, in
     * LANES partial sums per tap (the same lanes on any thread count). */
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < q->c; ch++) {
        float *xbuf = scratch + (long)omp_get_thread_num() * per_thread;
        float *dxbuf = xbuf + plane_floats(s);
        float *restrict g = dxbuf + plane_floats(s);
        lanes16 lanes[taps], blanes = {0};   /* on the stack: vector-aligned */
        const float *wk = w + (long)ch * taps;
        memset(lanes, 0, sizeof lanes);
        for (int ox = q->ow; ox < owp; ox++) g[ox] = 0.0f;
        for (int n = 0; n < q->n; n++) {
            const long at = (long)n * q->c + ch;
            const float *dyp = dy + at * out_plane, *yp = y + at * out_plane;
            if (dw) fill_plane(xbuf, s, x + at * in_plane, q);
            if (dx) memset(dxbuf, 0, sizeof(float) * (size_t)plane_floats(s));
            for (int oy = 0; oy < q->oh; oy++) {
                /* This output row's gradient, through a fused ReLU's mask. */
                const float *dyr = dyp + (long)oy * q->ow, *yr = yp + (long)oy * q->ow;
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) g[ox] = yr[ox] > 0.0f ? dyr[ox] : 0.0f;
                else
                    memcpy(g, dyr, sizeof(float) * (size_t)q->ow);
                for (int o0 = 0; o0 < owp; o0 += LANES) blanes += load16(g + o0);
                for (int ki = 0; ki < q->kh; ki++)
                    for (int kj = 0; kj < q->kw; kj++) {
                        const int t = ki * q->kw + kj;
                        if (dw) {
                            const float *v = tap_row(xbuf, s, q, oy, ki, kj);
                            lanes16 l = lanes[t];
                            for (int o0 = 0; o0 < owp; o0 += LANES) l += load16(g + o0) * load16(v + o0);
                            lanes[t] = l;
                        }
                        if (dx) {
                            float *restrict d = (float *)tap_row(dxbuf, s, q, oy, ki, kj);
                            const float wv = wk[t];
                            for (int ox = 0; ox < q->ow; ox++) d[ox] += wv * g[ox];
                        }
                    }
            }
            if (dx) add_plane(dx + at * in_plane, dxbuf, s, q);
        }
        if (dw)
            for (int t = 0; t < taps; t++) {
                float sum = 0.0f;
                for (int j = 0; j < LANES; j++) sum += lanes[t][j];
                dw[(long)ch * taps + t] += sum;
            }
        if (db) {
            float sum = 0.0f;
            for (int j = 0; j < LANES; j++) sum += blanes[j];
            db[ch] += sum;
        }
    }
}
