#include "ops/conv2d_depthwise.h"

#include <omp.h>
#include <string.h>

#include "ops/conv2d_depthwise_kernels.h"

/* Flat phase planes.
 *
 * Each (sample, channel) plane is copied, zero-padded, into stride_h x
 * stride_w "phase" planes: phase (fy, fx) holds the padded pixels (r sh +
 * fy, c sw + fx) at r L + c, every phase with the same row length L. Then
 * tap (ki, kj) of output (oy, ox) is in phase ((ki dh) % sh, (kj dw) % sw)
 * at (oy L + ox) + off, off = (ki dh / sh) L + kj dw / sw: for any stride
 * the outputs are one flat run, oy L + ox, in blocks of sixteen (one
 * AVX-512 register, two AVX2 ones) whatever the width (a 4x4 plane takes
 * 2 blocks, not 4 rows each a block mostly empty). Lanes with ox >= ow are computed and
 * dropped; a valid output never reads past its own row, and the planes
 * carry zeroed slack for the vectors that run past the last row.
 *
 * The weight gradient is, per tap, a dot product of the flat gradient
 * plane (zero at ox >= ow) with the shifted phase plane. The input
 * gradient adds w[t] times the gradient plane into phase planes, tap by
 * tap, and copies them back out; at stride 1 with "same"-like padding it
 * is instead gathered, as a correlation of the gradient plane with the
 * flipped kernel, straight into registers.
 *
 * This file keeps the geometry, the threads and the scratch; the work on
 * each plane is in conv2d_depthwise_kernels.c, built once per CPU level. */
enum { LANES = NN_DEPTHWISE_LANES };

typedef nn_depthwise_flat flat_geom;

static long round_lanes(long n) { return (n + LANES - 1) / LANES * LANES; }

static flat_geom flat_shape(const nn_depthwise_geom *q)
{
    const nn_conv2d_args *a = &q->a;
    const int sh = a->stride_h, sw = a->stride_w;
    const int padded_h = q->h + 2 * a->pad_h, padded_w = q->w + 2 * a->pad_w;
    flat_geom f = {.L = (padded_w + sw - 1) / sw, .rows = (padded_h + sh - 1) / sh, .phases = sh * sw};
    f.stride = round_lanes((long)f.rows * f.L + f.L + LANES);
    f.outputs = round_lanes((long)q->oh * f.L);
    for (int ki = 0; ki < q->kh; ki++)
        for (int kj = 0; kj < q->kw; kj++) {
            const int dy = ki * a->dilation_h, dx = kj * a->dilation_w;
            f.tap[ki * q->kw + kj] = (long)((dy % sh) * sw + dx % sw) * f.stride + (long)(dy / sh) * f.L + dx / sw;
        }
    return f;
}

/* The stride-1 gather of dx needs the flipped kernel's taps to stay inside
 * a row of L = w + 2 pad_w: pad <= span (the gradient plane starts at or
 * after the buffer's start) and span <= 2 pad (no tap wraps a row). */
static int gather_fits(const nn_depthwise_geom *q)
{
    const nn_conv2d_args *a = &q->a;
    const int span_h = (q->kh - 1) * a->dilation_h, span_w = (q->kw - 1) * a->dilation_w;
    return a->stride_h == 1 && a->stride_w == 1 && a->pad_h <= span_h && a->pad_w <= span_w &&
           span_w <= 2 * a->pad_w;
}

/* For the gather: dy's flat plane starts `shift` floats into a buffer of
 * `len`, so that dx's flat position iy L + ix reads tap t at + flipped[t]. */
typedef struct gather_geom {
    long shift, len, inputs;
    long flipped[NN_DEPTHWISE_MAX_TAPS];
} gather_geom;

static gather_geom gather_shape(const nn_depthwise_geom *q, const flat_geom *f)
{
    const nn_conv2d_args *a = &q->a;
    const int span_h = (q->kh - 1) * a->dilation_h, span_w = (q->kw - 1) * a->dilation_w;
    gather_geom g = {.shift = (long)(span_h - a->pad_h) * f->L + span_w - a->pad_w,
                     .inputs = round_lanes((long)q->h * f->L)};
    g.len = g.inputs + (long)span_h * f->L + span_w + LANES;
    if (g.len < g.shift + f->outputs) g.len = g.shift + f->outputs;
    for (int ki = 0; ki < q->kh; ki++)
        for (int kj = 0; kj < q->kw; kj++)
            g.flipped[ki * q->kw + kj] = (long)(q->kh - 1 - ki) * a->dilation_h * f->L + (long)(q->kw - 1 - kj) * a->dilation_w;
    return g;
}

long nn_conv2d_depthwise_scratch(const nn_depthwise_geom *q)
{
    const flat_geom f = flat_shape(q);
    const long phases = (long)f.phases * f.stride;
    /* x's phases, dx's phases or the gather's plane, and one flat output. */
    long second = phases;
    if (gather_fits(q)) {
        const gather_geom g = gather_shape(q, &f);
        if (g.len > second) second = g.len;
    }
    const long out = f.outputs > round_lanes((long)q->h * f.L) ? f.outputs : round_lanes((long)q->h * f.L);
    return phases + second + out;
}

void nn_conv2d_depthwise_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_depthwise_geom *q, float *scratch)
{
    const nn_depthwise_kernels *k = NN_KERNELS(nn_depthwise_kernels);
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const flat_geom f = flat_shape(q);
    const long per_thread = nn_conv2d_depthwise_scratch(q);
    const int taps = q->kh * q->kw;
    #pragma omp parallel for schedule(static) collapse(2)
    for (int ch = 0; ch < q->c; ch++)
        for (int n = 0; n < q->n; n++) {
            float *buf = scratch + (long)omp_get_thread_num() * per_thread;
            float *out = buf + 2 * (long)f.phases * f.stride;
            const long at = (long)n * q->c + ch;
            k->fill_phases(buf, &f, x + at * in_plane, q);
            k->taps_sum(out, buf, f.tap, w + (long)ch * taps, taps, f.outputs);
            k->out_rows(y + at * out_plane, out, b ? b[ch] : 0.0f, q->a.relu, q->oh, q->ow, f.L);
        }
}

void nn_conv2d_depthwise_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, const float *y, const nn_depthwise_geom *q,
                                  float *scratch)
{
    const nn_depthwise_kernels *k = NN_KERNELS(nn_depthwise_kernels);
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const flat_geom f = flat_shape(q);
    const int gather = gather_fits(q);
    const gather_geom gg = gather ? gather_shape(q, &f) : (gather_geom){0};
    const int taps = q->kh * q->kw;
    const long per_thread = nn_conv2d_depthwise_scratch(q), phases = (long)f.phases * f.stride;
    /* One channel per iteration: its weight and bias gradients are summed
     * over the samples in order, by the one thread that owns it, in
     * LANES partial sums per tap (the same lanes on any thread count and
     * CPU level), added up lane by lane at the end. */
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < q->c; ch++) {
        float *xbuf = scratch + (long)omp_get_thread_num() * per_thread;
        float *second = xbuf + phases;      /* dx's phases, or the gather's plane */
        float *g = second + phases;         /* flat dy; the gather's dx after it */
        if (gather && gg.len > phases) g = second + gg.len;
        float lanes[taps * LANES], blanes[LANES];
        const float *wk = w + (long)ch * taps;
        memset(lanes, 0, sizeof lanes);
        memset(blanes, 0, sizeof blanes);
        for (int n = 0; n < q->n; n++) {
            const long at = (long)n * q->c + ch;
            /* The flat gradient plane, through a fused ReLU's mask, zero at
             * ox >= ow; inside the gather's buffer when gathering. */
            float *gf = g, *end = g + f.outputs;
            if (gather && dx) {
                gf = second + gg.shift;
                end = second + gg.len;
                memset(second, 0, sizeof(float) * (size_t)gg.shift);
            }
            k->grad_rows(gf, dy + at * out_plane, y + at * out_plane, q->a.relu, q->oh, q->ow, f.L);
            memset(gf + (long)q->oh * f.L, 0, sizeof(float) * (size_t)(end - (gf + (long)q->oh * f.L)));
            if (db) k->lane_sums(blanes, gf, f.outputs);
            if (dw) {
                k->fill_phases(xbuf, &f, x + at * in_plane, q);
                k->taps_dot(lanes, gf, xbuf, f.tap, taps, f.outputs);
            }
            if (!dx) continue;
            float *dxp = dx + at * in_plane;
            if (gather) {
                /* g, after the gather's plane, takes the flat dx. */
                k->taps_sum(g, second, gg.flipped, wk, taps, gg.inputs);
                for (int iy = 0; iy < q->h; iy++) {
                    const float *restrict src = g + (long)iy * f.L;
                    float *restrict dst = dxp + (long)iy * q->w;
                    for (int ix = 0; ix < q->w; ix++) dst[ix] += src[ix];
                }
            } else {
                memset(second, 0, sizeof(float) * (size_t)phases);
                k->taps_scatter(second, gf, f.tap, wk, taps, f.outputs);
                k->add_phases(dxp, second, &f, q);
            }
        }
        if (dw)
            for (int t = 0; t < taps; t++) {
                float sum = 0.0f;
                for (int j = 0; j < LANES; j++) sum += lanes[t * LANES + j];
                dw[(long)ch * taps + t] += sum;
            }
        if (db) {
            float sum = 0.0f;
            for (int j = 0; j < LANES; j++) sum += blanes[j];
            db[ch] += sum;
        }
    }
}
