#include "ops/conv2d_depthwise.h"

#include <omp.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Flat phase planes.
 *
 * Each (sample, channel) plane is copied, zero-padded, into stride_h x
 * stride_w "phase" planes: phase (fy, fx) holds the padded pixels (r sh +
 * fy, c sw + fx) at r L + c, every phase with the same row length L. Then
 * tap (ki, kj) of output (oy, ox) is in phase ((ki dh) % sh, (kj dw) % sw)
 * at (oy L + ox) + off, off = (ki dh / sh) L + kj dw / sw: for any stride
 * the outputs are one flat run, oy L + ox, and sixteen of them are one
 * vector whatever the width (a 4x4 plane takes 2 vectors, not 4 rows
 * each a vector mostly empty). Lanes with ox >= ow are computed and
 * dropped; a valid output never reads past its own row, and the planes
 * carry zeroed slack for the vectors that run past the last row.
 *
 * The weight gradient is, per tap, a dot product of the flat gradient
 * plane (zero at ox >= ow) with the shifted phase plane. The input
 * gradient adds w[t] times the gradient plane into phase planes, tap by
 * tap, and copies them back out; at stride 1 with "same"-like padding it
 * is instead gathered, as a correlation of the gradient plane with the
 * flipped kernel, straight into registers. */
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

static void store16(float *p, lanes16 v) { memcpy(p, &v, sizeof v); }

static long round_lanes(long n) { return (n + LANES - 1) / LANES * LANES; }

/* The phase planes' shape, and where each tap reads. */
typedef struct flat_geom {
    int L;              /* row length of every phase plane */
    int rows;           /* rows of every phase plane */
    long stride;        /* floats from one phase plane to the next */
    int phases;         /* stride_h * stride_w */
    long outputs;       /* oh L rounded up to whole vectors */
    long tap[NN_DEPTHWISE_MAX_TAPS];   /* phase plane base + offset of each tap */
} flat_geom;

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

/* Where padded pixel (py, px) lives in the phase planes. */
static long phase_at(const flat_geom *f, const nn_conv2d_args *a, int py, int px)
{
    return (long)((py % a->stride_h) * a->stride_w + px % a->stride_w) * f->stride +
           (long)(py / a->stride_h) * f->L + px / a->stride_w;
}

/* Input row iy's pixels of horizontal phase fx: the first is input column
 * *ix0, at *at in the phase planes; the next are sw columns on, at + 1. */
static void row_phase(const flat_geom *f, const nn_depthwise_geom *q, int iy, int fx, int *ix0, long *at)
{
    const nn_conv2d_args *a = &q->a;
    int ix = fx - a->pad_w % a->stride_w;
    if (ix < 0) ix += a->stride_w;
    *ix0 = ix;
    *at = phase_at(f, a, iy + a->pad_h, ix + a->pad_w);
}

#if defined(__AVX512F__)
/* Stride 2: splits a row's pixels by column parity, 32 at a time, into
 * `even` (input columns 0, 2, ...) and `odd`; masked, so nothing past the
 * row's own pixels is written. */
static void split_row2(float *even, float *odd, const float *src, int w)
{
    const __m512i pick_even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i pick_odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int i = 0; i < w; i += 32) {
        const int n = w - i < 32 ? w - i : 32;
        const unsigned long long in = n == 32 ? ~0ull : (1ull << n) - 1;
        const __m512 lo = _mm512_maskz_loadu_ps((__mmask16)in, src + i);
        const __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(in >> 16), src + i + 16);
        const int ne = (n + 1) / 2, no = n / 2;
        _mm512_mask_storeu_ps(even + i / 2, (__mmask16)((1u << ne) - 1u), _mm512_permutex2var_ps(lo, pick_even, hi));
        _mm512_mask_storeu_ps(odd + i / 2, (__mmask16)((1u << no) - 1u), _mm512_permutex2var_ps(lo, pick_odd, hi));
    }
}
#endif

static void zero_run(float *restrict d, long n)
{
    for (long i = 0; i < n; i++) d[i] = 0.0f;
}

/* Copies plane x (h, w) into the phase planes at buf, zero-padded. */
static void fill_phases(float *buf, const flat_geom *f, const float *x, const nn_depthwise_geom *q)
{
    const int sw = q->a.stride_w;
    if (sw == 1 && q->a.stride_h == 1) {
        /* One phase: write it front to back once, padding and all (a
         * memset first, then the rows, would pass over it twice). */
        const int pw = q->a.pad_w;
        float *restrict d = buf;
        zero_run(d, (long)q->a.pad_h * f->L + pw);
        d += (long)q->a.pad_h * f->L + pw;
        for (int iy = 0; iy < q->h; iy++, d += f->L) {
            const float *restrict src = x + (long)iy * q->w;
            for (int ix = 0; ix < q->w; ix++) d[ix] = src[ix];
            zero_run(d + q->w, f->L - q->w);
        }
        zero_run(d, buf + f->stride - d);
        return;
    }
    memset(buf, 0, sizeof(float) * (size_t)(f->phases * f->stride));
    for (int iy = 0; iy < q->h; iy++) {
        const float *src = x + (long)iy * q->w;
        if (sw == 1) {
            int ix0;
            long at;
            row_phase(f, q, iy, 0, &ix0, &at);
            memcpy(buf + at, src, sizeof(float) * (size_t)q->w);
            continue;
        }
#if defined(__AVX512F__)
        if (sw == 2) {
            /* Input column 0 is in phase pad_w % 2, column 1 in the other. */
            int ix0;
            long at_even, at_odd;
            row_phase(f, q, iy, q->a.pad_w % 2, &ix0, &at_even);
            row_phase(f, q, iy, 1 - q->a.pad_w % 2, &ix0, &at_odd);
            split_row2(buf + at_even, buf + at_odd, src, q->w);
            continue;
        }
#endif
        for (int fx = 0; fx < sw; fx++) {
            int ix0;
            long at;
            row_phase(f, q, iy, fx, &ix0, &at);
            float *restrict dst = buf + at;
            for (int ix = ix0, k = 0; ix < q->w; ix += sw, k++) dst[k] = src[ix];
        }
    }
}

/* Adds the phase planes' interior back onto plane dx (h, w). */
static void add_phases(float *dx, const float *buf, const flat_geom *f, const nn_depthwise_geom *q)
{
    const int sw = q->a.stride_w;
    for (int iy = 0; iy < q->h; iy++) {
        float *restrict dst = dx + (long)iy * q->w;
        for (int fx = 0; fx < sw; fx++) {
            int ix0;
            long at;
            row_phase(f, q, iy, fx, &ix0, &at);
            const float *restrict src = buf + at;
            for (int ix = ix0, k = 0; ix < q->w; ix += sw, k++) dst[ix] += src[k];
        }
    }
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
            fill_phases(buf, &f, x + at * in_plane, q);
            const float *wk = w + (long)ch * taps;
            /* The taps summed in tap order from zero. */
            for (long f0 = 0; f0 < f.outputs; f0 += LANES) {
                lanes16 acc = {0};
                for (int t = 0; t < taps; t++) acc += wk[t] * load16(buf + f.tap[t] + f0);
                store16(out + f0, acc);
            }
            const float bias = b ? b[ch] : 0.0f;
            float *yp = y + at * out_plane;
            for (int oy = 0; oy < q->oh; oy++) {
                const float *src = out + (long)oy * f.L;
                float *dst = yp + (long)oy * q->ow;
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) dst[ox] = src[ox] + bias > 0.0f ? src[ox] + bias : 0.0f;
                else
                    for (int ox = 0; ox < q->ow; ox++) dst[ox] = src[ox] + bias;
            }
        }
}

void nn_conv2d_depthwise_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, const float *y, const nn_depthwise_geom *q,
                                  float *scratch)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const flat_geom f = flat_shape(q);
    const int gather = gather_fits(q);
    const gather_geom gg = gather ? gather_shape(q, &f) : (gather_geom){0};
    const int taps = q->kh * q->kw;
    const long per_thread = nn_conv2d_depthwise_scratch(q), phases = (long)f.phases * f.stride;
    /* One channel per iteration: its weight and bias gradients are summed
     * over the samples in order, by the one thread that owns it, in
     * LANES partial sums per tap (the same lanes on any thread count). */
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < q->c; ch++) {
        float *xbuf = scratch + (long)omp_get_thread_num() * per_thread;
        float *second = xbuf + phases;      /* dx's phases, or the gather's plane */
        float *g = second + phases;         /* flat dy; the gather's dx after it */
        if (gather && gg.len > phases) g = second + gg.len;
        lanes16 lanes[taps], blanes = {0};   /* on the stack: vector-aligned */
        const float *wk = w + (long)ch * taps;
        memset(lanes, 0, sizeof lanes);
        for (int n = 0; n < q->n; n++) {
            const long at = (long)n * q->c + ch;
            const float *dyp = dy + at * out_plane, *yp = y + at * out_plane;
            /* The flat gradient plane, through a fused ReLU's mask, zero at
             * ox >= ow; inside the gather's buffer when gathering. */
            float *gf = g, *end = g + f.outputs;
            if (gather && dx) {
                gf = second + gg.shift;
                end = second + gg.len;
                zero_run(second, gg.shift);
            }
            /* Written front to back once: each row, then its zeros. */
            for (int oy = 0; oy < q->oh; oy++) {
                const float *restrict dyr = dyp + (long)oy * q->ow, *restrict yr = yp + (long)oy * q->ow;
                float *restrict gr = gf + (long)oy * f.L;
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) gr[ox] = yr[ox] > 0.0f ? dyr[ox] : 0.0f;
                else
                    for (int ox = 0; ox < q->ow; ox++) gr[ox] = dyr[ox];
                zero_run(gr + q->ow, f.L - q->ow);
            }
            zero_run(gf + (long)q->oh * f.L, end - (gf + (long)q->oh * f.L));
            if (db)
                for (long f0 = 0; f0 < f.outputs; f0 += LANES) blanes += load16(gf + f0);
            if (dw) {
                fill_phases(xbuf, &f, x + at * in_plane, q);
                for (int t = 0; t < taps; t++) {
                    const float *v = xbuf + f.tap[t];
                    lanes16 l = lanes[t];
                    for (long f0 = 0; f0 < f.outputs; f0 += LANES) l += load16(gf + f0) * load16(v + f0);
                    lanes[t] = l;
                }
            }
            if (!dx) continue;
            float *dxp = dx + at * in_plane;
            if (gather) {
                float *out = g;
                for (long f0 = 0; f0 < gg.inputs; f0 += LANES) {
                    lanes16 acc = {0};
                    for (int t = 0; t < taps; t++) acc += wk[t] * load16(second + gg.flipped[t] + f0);
                    store16(out + f0, acc);
                }
                for (int iy = 0; iy < q->h; iy++) {
                    const float *restrict src = out + (long)iy * f.L;
                    float *restrict dst = dxp + (long)iy * q->w;
                    for (int ix = 0; ix < q->w; ix++) dst[ix] += src[ix];
                }
            } else {
                memset(second, 0, sizeof(float) * (size_t)phases);
                for (int t = 0; t < taps; t++) {
                    float *d = second + f.tap[t];
                    const float wv = wk[t];
                    for (long f0 = 0; f0 < f.outputs; f0 += LANES)
                        store16(d + f0, load16(d + f0) + wv * load16(gf + f0));
                }
                add_phases(dxp, second, &f, q);
            }
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
