/* Depthwise convolution's per-plane kernels, compiled once per CPU level
 * (see core/cpu.h). The plain C is the scalar level, the definition, and
 * the tail of every vector loop. The vector levels share one body written
 * over `vec` (an AVX-512 register of 16 floats or an AVX2 one of 8), so
 * they differ only in width and in the row splits and merges.
 *
 * Why intrinsics and not GCC's generic vectors: a 16-float generic vector
 * held across a loop is lowered for AVX2 through the stack (GPR moves and
 * inserts every tap), several times slower than two ymm registers. */
#include "ops/conv2d_depthwise_kernels.h"

#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

enum { LANES = NN_DEPTHWISE_LANES };

#if defined(__AVX512F__)
typedef __m512 vec;
#define VW 16
static inline vec v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void v_store(float *p, vec v) { _mm512_storeu_ps(p, v); }
static inline vec v_set1(float x) { return _mm512_set1_ps(x); }
static inline vec v_zero(void) { return _mm512_setzero_ps(); }
static inline vec v_add(vec a, vec b) { return _mm512_add_ps(a, b); }
static inline vec v_mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
/* Taps whose weight-gradient sums stay in registers together: 8 x 1 zmm,
 * with the gradient and a load, well inside 32 registers. */
#define DOT_GROUP 8
#elif defined(__AVX2__)
typedef __m256 vec;
#define VW 8
static inline vec v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void v_store(float *p, vec v) { _mm256_storeu_ps(p, v); }
static inline vec v_set1(float x) { return _mm256_set1_ps(x); }
static inline vec v_zero(void) { return _mm256_setzero_ps(); }
static inline vec v_add(vec a, vec b) { return _mm256_add_ps(a, b); }
static inline vec v_mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
/* 4 taps x 2 ymm of sums, 2 of gradient and a load: 11 of 16 registers. */
#define DOT_GROUP 4
#endif

#if defined(VW)
/* Registers per LANES block. */
#define NV (LANES / VW)
/* Vectors of outputs summed side by side in taps_sum: four independent
 * add chains hide the add latency (one chain waits on each add). */
#define SUM_BLOCK 4
#endif

static void zero_run(float *restrict d, long n)
{
    for (long i = 0; i < n; i++) d[i] = 0.0f;
}

/* Where the phase planes keep input column fx's pixels: horizontal phase
 * fx's first pixel is input column *ix0, at the returned offset (from its
 * row's start); the next are sw columns on, one float on. */
static long col_phase(const nn_depthwise_flat *f, const nn_conv2d_args *a, int fx, int *ix0)
{
    int ix = fx - a->pad_w % a->stride_w;
    if (ix < 0) ix += a->stride_w;
    *ix0 = ix;
    const int px = ix + a->pad_w;
    return (long)(px % a->stride_w) * f->stride + px / a->stride_w;
}

/* Input rows' starts in the phase planes, stepped one row at a time: the
 * divisions by the stride are done once per plane, not once per row. */
typedef struct row_walk {
    long at;            /* input row iy's start */
    int fy;             /* its vertical phase */
    long phase_step;    /* from one vertical phase to the next */
    int sh, L;
} row_walk;

static row_walk rows_begin(const nn_depthwise_flat *f, const nn_conv2d_args *a)
{
    const int py = a->pad_h;
    row_walk r = {.fy = py % a->stride_h, .phase_step = (long)a->stride_w * f->stride, .sh = a->stride_h, .L = f->L};
    r.at = r.fy * r.phase_step + (long)(py / a->stride_h) * f->L;
    return r;
}

static void rows_next(row_walk *r)
{
    if (++r->fy < r->sh) {
        r->at += r->phase_step;
    } else {
        r->at += r->L - (long)(r->sh - 1) * r->phase_step;
        r->fy = 0;
    }
}

/* Stride 2: splits a row of w pixels by column parity into `even` (input
 * columns 0, 2, ...) and `odd`, writing nothing past the row's own pixels. */
static void split_row2(float *restrict even, float *restrict odd, const float *restrict src, int w)
{
    int i = 0;
#if defined(__AVX512F__)
    /* 32 at a time, masked at the row's end. */
    const __m512i pick_even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i pick_odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (; i < w; i += 32) {
        const int n = w - i < 32 ? w - i : 32;
        const unsigned long long in = n == 32 ? ~0ull : (1ull << n) - 1;
        const __m512 lo = _mm512_maskz_loadu_ps((__mmask16)in, src + i);
        const __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(in >> 16), src + i + 16);
        const int ne = (n + 1) / 2, no = n / 2;
        _mm512_mask_storeu_ps(even + i / 2, (__mmask16)((1u << ne) - 1u), _mm512_permutex2var_ps(lo, pick_even, hi));
        _mm512_mask_storeu_ps(odd + i / 2, (__mmask16)((1u << no) - 1u), _mm512_permutex2var_ps(lo, pick_odd, hi));
    }
#elif defined(__AVX2__)
    /* 16 at a time: shuffle_ps picks the even (odd) floats of both halves
     * lane by lane, a 64-bit permute puts them in order; the rest below. */
    for (; i + 16 <= w; i += 16) {
        const __m256 lo = _mm256_loadu_ps(src + i), hi = _mm256_loadu_ps(src + i + 8);
        const __m256 e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xd8));
        const __m256 o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xdd)), 0xd8));
        _mm256_storeu_ps(even + i / 2, e);
        _mm256_storeu_ps(odd + i / 2, o);
    }
#endif
    for (; i + 1 < w; i += 2) {
        even[i / 2] = src[i];
        odd[i / 2] = src[i + 1];
    }
    if (i < w) even[i / 2] = src[i];
}

/* The inverse of split_row2, added: dst[2k] += even[k], dst[2k + 1] += odd[k]
 * for the row's w pixels. Each pixel takes one add, so any width gives the
 * same bits. */
static void merge_add_row2(float *restrict dst, const float *restrict even, const float *restrict odd, int w)
{
    int i = 0;
#if defined(__AVX512F__)
    const __m512i mix_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i mix_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (; i < w; i += 32) {
        const int n = w - i < 32 ? w - i : 32;
        const int ne = (n + 1) / 2, no = n / 2;
        const unsigned long long out = n == 32 ? ~0ull : (1ull << n) - 1;
        const __mmask16 m_lo = (__mmask16)out, m_hi = (__mmask16)(out >> 16);
        const __m512 e = _mm512_maskz_loadu_ps((__mmask16)((1u << ne) - 1u), even + i / 2);
        const __m512 o = _mm512_maskz_loadu_ps((__mmask16)((1u << no) - 1u), odd + i / 2);
        const __m512 lo = _mm512_permutex2var_ps(e, mix_lo, o), hi = _mm512_permutex2var_ps(e, mix_hi, o);
        _mm512_mask_storeu_ps(dst + i, m_lo, _mm512_add_ps(_mm512_maskz_loadu_ps(m_lo, dst + i), lo));
        _mm512_mask_storeu_ps(dst + i + 16, m_hi, _mm512_add_ps(_mm512_maskz_loadu_ps(m_hi, dst + i + 16), hi));
    }
#elif defined(__AVX2__)
    /* unpack interleaves within 128-bit halves; permute2f128 orders the halves. */
    for (; i + 16 <= w; i += 16) {
        const __m256 e = _mm256_loadu_ps(even + i / 2), o = _mm256_loadu_ps(odd + i / 2);
        const __m256 a = _mm256_unpacklo_ps(e, o), b = _mm256_unpackhi_ps(e, o);
        _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_permute2f128_ps(a, b, 0x20)));
        _mm256_storeu_ps(dst + i + 8, _mm256_add_ps(_mm256_loadu_ps(dst + i + 8), _mm256_permute2f128_ps(a, b, 0x31)));
    }
#endif
    for (; i + 1 < w; i += 2) {
        dst[i] += even[i / 2];
        dst[i + 1] += odd[i / 2];
    }
    if (i < w) dst[i] += even[i / 2];
}

static void fill_phases(float *buf, const nn_depthwise_flat *f, const float *x, const nn_depthwise_geom *q)
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
    const nn_conv2d_args *a = &q->a;
    int ix0, ix1;
    /* Input column 0 is in phase pad_w % sw; at stride 2, column 1 in the other. */
    const long col0 = col_phase(f, a, a->pad_w % sw, &ix0), col1 = col_phase(f, a, (a->pad_w + 1) % sw, &ix1);
    row_walk r = rows_begin(f, a);
    for (int iy = 0; iy < q->h; iy++, rows_next(&r)) {
        const float *src = x + (long)iy * q->w;
        if (sw == 1) {
            memcpy(buf + r.at + col0, src, sizeof(float) * (size_t)q->w);
        } else if (sw == 2) {
            split_row2(buf + r.at + col0, buf + r.at + col1, src, q->w);
        } else {
            for (int fx = 0; fx < sw; fx++) {
                const long col = col_phase(f, a, fx, &ix0);
                float *restrict dst = buf + r.at + col;
                for (int ix = ix0, k = 0; ix < q->w; ix += sw, k++) dst[k] = src[ix];
            }
        }
    }
}

static void add_phases(float *dx, const float *buf, const nn_depthwise_flat *f, const nn_depthwise_geom *q)
{
    const nn_conv2d_args *a = &q->a;
    const int sw = a->stride_w;
    int ix0, ix1;
    const long col0 = col_phase(f, a, a->pad_w % sw, &ix0), col1 = col_phase(f, a, (a->pad_w + 1) % sw, &ix1);
    row_walk r = rows_begin(f, a);
    for (int iy = 0; iy < q->h; iy++, rows_next(&r)) {
        float *restrict dst = dx + (long)iy * q->w;
        if (sw == 2) {
            merge_add_row2(dst, buf + r.at + col0, buf + r.at + col1, q->w);
            continue;
        }
        for (int fx = 0; fx < sw; fx++) {
            const long col = col_phase(f, a, fx, &ix0);
            const float *restrict src = buf + r.at + col;
            for (int ix = ix0, k = 0; ix < q->w; ix += sw, k++) dst[ix] += src[k];
        }
    }
}

static void taps_sum(float *restrict out, const float *base, const long *off, const float *w, int taps, long n)
{
    long i = 0;
#if defined(VW)
    for (; i + SUM_BLOCK * VW <= n; i += SUM_BLOCK * VW) {
        vec acc[SUM_BLOCK];
        for (int b = 0; b < SUM_BLOCK; b++) acc[b] = v_zero();
        for (int t = 0; t < taps; t++) {
            const vec wt = v_set1(w[t]);
            const float *p = base + off[t] + i;
            for (int b = 0; b < SUM_BLOCK; b++) acc[b] = v_add(acc[b], v_mul(wt, v_load(p + b * VW)));
        }
        for (int b = 0; b < SUM_BLOCK; b++) v_store(out + i + b * VW, acc[b]);
    }
    for (; i < n; i += VW) {
        vec acc = v_zero();
        for (int t = 0; t < taps; t++) acc = v_add(acc, v_mul(v_set1(w[t]), v_load(base + off[t] + i)));
        v_store(out + i, acc);
    }
#endif
    for (; i < n; i++) {
        float acc = 0.0f;
        for (int t = 0; t < taps; t++) acc += w[t] * base[off[t] + i];
        out[i] = acc;
    }
}

static void taps_scatter(float *d, const float *restrict g, const long *off, const float *w, int taps, long n)
{
    /* Tap after tap, never outputs first: the planes of two taps overlap,
     * and each pixel must take its adds in tap order. */
    for (int t = 0; t < taps; t++) {
        float *dt = d + off[t];
        const float wt = w[t];
        long i = 0;
#if defined(VW)
        const vec wv = v_set1(wt);
        for (; i + 2 * VW <= n; i += 2 * VW) {
            const vec a = v_add(v_load(dt + i), v_mul(wv, v_load(g + i)));
            const vec b = v_add(v_load(dt + i + VW), v_mul(wv, v_load(g + i + VW)));
            v_store(dt + i, a);
            v_store(dt + i + VW, b);
        }
        for (; i < n; i += VW) v_store(dt + i, v_add(v_load(dt + i), v_mul(wv, v_load(g + i))));
#endif
        for (; i < n; i++) dt[i] += wt * g[i];
    }
}

#if defined(VW)
/* taps_dot for G taps at once (G a constant after inlining): their sums
 * stay in registers and each gradient block is loaded once for all G. */
static inline __attribute__((always_inline)) void dot_group(float *restrict lanes, const float *g,
                                                            const float *base, const long *off, int G,
                                                            long n)
{
    vec acc[DOT_GROUP][NV];
    const float *p[DOT_GROUP];
    for (int k = 0; k < G; k++) {
        p[k] = base + off[k];
        for (int v = 0; v < NV; v++) acc[k][v] = v_load(lanes + k * LANES + v * VW);
    }
    for (long i = 0; i < n; i += LANES) {
        vec gv[NV];
        for (int v = 0; v < NV; v++) gv[v] = v_load(g + i + v * VW);
        for (int k = 0; k < G; k++)
            for (int v = 0; v < NV; v++) acc[k][v] = v_add(acc[k][v], v_mul(gv[v], v_load(p[k] + i + v * VW)));
    }
    for (int k = 0; k < G; k++)
        for (int v = 0; v < NV; v++) v_store(lanes + k * LANES + v * VW, acc[k][v]);
}
#endif

static void taps_dot(float *restrict lanes, const float *g, const float *base, const long *off, int taps, long n)
{
#if defined(VW)
    /* Groups as even as the register budget allows (9 taps: 3 x 3 on AVX2,
     * 5 + 4 on AVX-512): a group of 1 would wait on its one add chain. */
    const int groups = (taps + DOT_GROUP - 1) / DOT_GROUP;
    for (int t = 0, k = 0; k < groups; k++) {
        const int G = (taps - t) / (groups - k) + ((taps - t) % (groups - k) != 0);
        switch (G) {
#define DOT_CASE(c) case c: dot_group(lanes + t * LANES, g, base, off + t, c, n); break;
        DOT_CASE(1) DOT_CASE(2) DOT_CASE(3) DOT_CASE(4)
#if DOT_GROUP > 4
        DOT_CASE(5) DOT_CASE(6) DOT_CASE(7) DOT_CASE(8)
#endif
#undef DOT_CASE
        }
        t += G;
    }
#else
    for (int t = 0; t < taps; t++) {
        const float *v = base + off[t];
        float *l = lanes + t * LANES;
        for (long i = 0; i < n; i += LANES)
            for (int j = 0; j < LANES; j++) l[j] += g[i + j] * v[i + j];
    }
#endif
}

static void lane_sums(float *restrict lanes, const float *g, long n)
{
#if defined(VW)
    vec acc[NV];
    for (int v = 0; v < NV; v++) acc[v] = v_load(lanes + v * VW);
    for (long i = 0; i < n; i += LANES)
        for (int v = 0; v < NV; v++) acc[v] = v_add(acc[v], v_load(g + i + v * VW));
    for (int v = 0; v < NV; v++) v_store(lanes + v * VW, acc[v]);
#else
    for (long i = 0; i < n; i += LANES)
        for (int j = 0; j < LANES; j++) lanes[j] += g[i + j];
#endif
}

static void out_rows(float *restrict y, const float *restrict out, float bias, int relu, int oh, int ow, int L)
{
    for (int oy = 0; oy < oh; oy++) {
        const float *restrict src = out + (long)oy * L;
        float *restrict dst = y + (long)oy * ow;
        if (relu)
            for (int ox = 0; ox < ow; ox++) dst[ox] = src[ox] + bias > 0.0f ? src[ox] + bias : 0.0f;
        else
            for (int ox = 0; ox < ow; ox++) dst[ox] = src[ox] + bias;
    }
}

static void grad_rows(float *restrict g, const float *restrict dy, const float *restrict y, int relu, int oh,
                      int ow, int L)
{
    /* Written front to back once: each row, then its zeros. */
    for (int oy = 0; oy < oh; oy++) {
        const float *restrict dyr = dy + (long)oy * ow, *restrict yr = y + (long)oy * ow;
        float *restrict gr = g + (long)oy * L;
        if (relu)
            for (int ox = 0; ox < ow; ox++) gr[ox] = yr[ox] > 0.0f ? dyr[ox] : 0.0f;
        else
            for (int ox = 0; ox < ow; ox++) gr[ox] = dyr[ox];
        zero_run(gr + ow, L - ow);
    }
}

const nn_depthwise_kernels NN_LEVEL_NAME(nn_depthwise_kernels) = {
    .fill_phases = fill_phases,
    .add_phases = add_phases,
    .taps_sum = taps_sum,
    .taps_scatter = taps_scatter,
    .taps_dot = taps_dot,
    .lane_sums = lane_sums,
    .out_rows = out_rows,
    .grad_rows = grad_rows,
};
