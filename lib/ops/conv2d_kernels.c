/* conv2d's data movement, compiled once per CPU level (see core/cpu.h and
 * conv2d_kernels.h): the plain code is the definition and the tail of
 * every vector loop. im2col only moves floats, so any vector form gives the
 * same bits; col2im's vector forms add the same terms per pixel in the same
 * order as the plain code. */
#include "ops/conv2d_kernels.h"

#include <string.h>

#include "core/rows.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* The output columns [lo, hi) whose input column ix0 + ox * stride falls
 * inside [0, w): outside it, the taps read padding. */
static void valid_columns(int ix0, int stride, int ow, int w, int *lo, int *hi)
{
    *lo = ix0 >= 0 ? 0 : (-ix0 + stride - 1) / stride;
    *hi = ix0 >= w ? 0 : (w - 1 - ix0) / stride + 1;
    if (*hi > ow) *hi = ow;
    if (*lo > *hi) *lo = *hi;
}

/* A 1x1 convolution with stride 1 and no padding: each cols row is one
 * input plane as it is (several samples side by side when the planes are
 * small, which is why it is not `direct`). */
static int plain_1x1(const nn_conv_geom *q)
{
    return q->kh == 1 && q->kw == 1 && q->a.stride_h == 1 && q->a.stride_w == 1 &&
           q->a.pad_h == 0 && q->a.pad_w == 0;
}

/* The input row of output row oy for kernel row ki, or -1 if it is padding. */
static inline int input_row(const nn_conv_geom *q, int oy, int ki)
{
    const int iy = oy * q->a.stride_h - q->a.pad_h + ki * q->a.dilation_h;
    return iy >= 0 && iy < q->h ? iy : -1;
}

/* One cols row (one tap): for each output row, zeros, the in-image pixels
 * [lo, hi) (every stride-th from plane row iy, column ix0 on), zeros. */
static void im2col_row_plain(float *dst, const float *plane, const nn_conv_geom *q, int ki, int ix0,
                             int lo, int hi)
{
    const int stride = q->a.stride_w;
    for (int oy = 0; oy < q->oh; oy++) {
        const int iy = input_row(q, oy, ki);
        float *d = dst + oy * q->ow;
        if (iy < 0) {
            nn_row_zero(d, q->ow);
            continue;
        }
        const float *src = plane + (long)iy * q->w + ix0;
        nn_row_zero(d, lo);
        if (stride == 1)
            nn_row_copy(d + lo, src + lo, hi - lo);
        else
            for (int ox = lo; ox < hi; ox++) d[ox] = src[ox * stride];
        nn_row_zero(d + hi, q->ow - hi);
    }
}

#if defined(__AVX512F__)
/* Horizontal stride 1 and rows of at most 32 outputs: each output row is
 * one or two masked loads of the pixels inside the image and full-width
 * masked stores, so the padding lanes come out zero with no separate fill. */
static void im2col_row_avx512(float *dst, const float *plane, const nn_conv_geom *q, int ki, int ix0,
                              int lo, int hi)
{
    /* lanes inside, of 32 (in 64 bits: hi - lo may be 32) */
    unsigned in = lo < hi ? (unsigned)(((1ull << (hi - lo)) - 1u) << lo) : 0u;
    unsigned out = q->ow == 32 ? 0xffffffffu : (1u << q->ow) - 1u;
    __mmask16 in0 = (__mmask16)in, in1 = (__mmask16)(in >> 16);
    __mmask16 out0 = (__mmask16)out, out1 = (__mmask16)(out >> 16);
    for (int oy = 0; oy < q->oh; oy++) {
        const int iy = input_row(q, oy, ki);
        float *d = dst + oy * q->ow;
        /* Masked-off lanes are not read, so src may point before the row. */
        const float *src = plane + (iy >= 0 ? (long)iy * q->w : 0) + ix0;
        _mm512_mask_storeu_ps(d, out0, _mm512_maskz_loadu_ps(iy >= 0 ? in0 : 0, src));
        if (out1) _mm512_mask_storeu_ps(d + 16, out1, _mm512_maskz_loadu_ps(iy >= 0 ? in1 : 0, src + 16));
    }
}
#endif

#if defined(__AVX2__)
/* The 8 floats of p[0..stride) (8 stride pixels) at every stride-th place
 * from the first, for stride 1, 2 or 4: shuffle_ps keeps the even floats of
 * two registers lane by lane, and a cross-lane permute puts them in order. */
static inline __attribute__((always_inline)) void every_stride(__m256 *v, const __m256 *p, int stride)
{
    if (stride == 1) {
        *v = p[0];
        return;
    }
    if (stride == 2) {
        const __m256 e = _mm256_shuffle_ps(p[0], p[1], 0x88);   /* 0 2 8 10 | 4 6 12 14 */
        *v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
        return;
    }
    const __m256 e0 = _mm256_shuffle_ps(p[0], p[1], 0x88), e1 = _mm256_shuffle_ps(p[2], p[3], 0x88);
    const __m256 e = _mm256_shuffle_ps(e0, e1, 0x88);   /* 0 8 16 24 | 4 12 20 28 */
    *v = _mm256_permutevar8x32_ps(e, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Horizontal stride 1, 2 or 4, rows of at least 8 outputs: each output row
 * is blocks of 8 outputs at 0, 8, 16, ... and a last one ending at ow (it
 * overlaps the one before, writing the same values twice), so every store
 * is a full unmasked one (AVX2's masked store is slow on AMD). A block
 * reads the 8 stride pixels from its first one: plain loads when they all
 * lie inside the image; at the edges, loads with a lane mask that keeps the
 * pixels from the first output inside to the last (the ones between lie
 * inside too), whose masked-off lanes are neither read nor nonzero. */
static inline __attribute__((always_inline)) void
im2col_row_avx2_by(float *dst, const float *plane, const nn_conv_geom *q, int ki, int ix0, int lo, int hi,
                   const int stride)
{
    const int ow = q->ow;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    /* pixels (from src) the outputs inside need: [from, to] */
    const __m256i from = _mm256_set1_epi32(stride * lo - 1), to = _mm256_set1_epi32(stride * (hi - 1) + 1);
    for (int oy = 0; oy < q->oh; oy++) {
        const int iy = input_row(q, oy, ki);
        float *d = dst + oy * ow;
        if (iy < 0) {
            for (int o = 0; o < ow; o += 8) _mm256_storeu_ps(d + (o + 8 <= ow ? o : ow - 8), _mm256_setzero_ps());
            continue;
        }
        const float *src = plane + (long)iy * q->w + ix0;
        for (int b = 0; b < ow; b += 8) {
            const int o = b + 8 <= ow ? b : ow - 8;
            const int first = ix0 + o * stride;   /* the block's first input column */
            __m256 p[4], v;
            if (first >= 0 && first + 8 * stride <= q->w) {
                for (int r = 0; r < stride; r++) p[r] = _mm256_loadu_ps(src + o * stride + 8 * r);
                every_stride(&v, p, stride);
            } else if (o >= hi || o + 8 <= lo) {
                v = _mm256_setzero_ps();
            } else {
                for (int r = 0; r < stride; r++) {
                    const __m256i at = _mm256_add_epi32(lane, _mm256_set1_epi32(o * stride + 8 * r));
                    const __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(at, from), _mm256_cmpgt_epi32(to, at));
                    p[r] = _mm256_maskload_ps(src + o * stride + 8 * r, in);
                }
                every_stride(&v, p, stride);
            }
            _mm256_storeu_ps(d + o, v);
        }
    }
}

/* One copy per stride, so that the loads unroll and stay in registers. */
static void im2col_row_avx2(float *dst, const float *plane, const nn_conv_geom *q, int ki, int ix0,
                            int lo, int hi)
{
    switch (q->a.stride_w) {
    case 1: im2col_row_avx2_by(dst, plane, q, ki, ix0, lo, hi, 1); break;
    case 2: im2col_row_avx2_by(dst, plane, q, ki, ix0, lo, hi, 2); break;
    default: im2col_row_avx2_by(dst, plane, q, ki, ix0, lo, hi, 4); break;
    }
}
#endif

static void im2col(float *cols, int ld, const float *x, const nn_conv_geom *q, int n0, int s, int g)
{
    const nn_conv2d_args *a = &q->a;
    for (int i = 0; i < s; i++) {
        const float *xs = x + ((long)(n0 + i) * q->c + (long)g * q->cg) * q->h * q->w;
        if (plain_1x1(q)) {
            for (int ci = 0; ci < q->cg; ci++)
                memcpy(cols + (long)ci * ld + (long)i * q->p, xs + (long)ci * q->p, sizeof(float) * (size_t)q->p);
            continue;
        }
        for (int ci = 0; ci < q->cg; ci++)
            for (int ki = 0; ki < q->kh; ki++)
                for (int kj = 0; kj < q->kw; kj++) {
                    const int row = (ci * q->kh + ki) * q->kw + kj;
                    float *dst = cols + (long)row * ld + (long)i * q->p;
                    const float *plane = xs + (long)ci * q->h * q->w;
                    int ix0 = -a->pad_w + kj * a->dilation_w, lo, hi;
                    valid_columns(ix0, a->stride_w, q->ow, q->w, &lo, &hi);
#if defined(__AVX512F__)
                    if (a->stride_w == 1 && q->ow <= 32) {
                        im2col_row_avx512(dst, plane, q, ki, ix0, lo, hi);
                        continue;
                    }
#endif
#if defined(__AVX2__)
                    if ((a->stride_w == 1 || a->stride_w == 2 || a->stride_w == 4) && q->ow >= 8) {
                        im2col_row_avx2(dst, plane, q, ki, ix0, lo, hi);
                        continue;
                    }
#endif
                    im2col_row_plain(dst, plane, q, ki, ix0, lo, hi);
                }
    }
}

/* col2im, horizontal stride 1, is a gather: one dx row and a block of
 * pixels at a time, the taps of each kernel row summed in a register of
 * their own (so the kernel rows are independent chains of adds), those
 * sums added in kernel-row order, and the total added into dx once. Adding
 * tap by tap into dx instead means read-modify-writes at places shifted by
 * one pixel, which stall on store forwarding. A block is as wide as the
 * level's vectors; each pixel's sum does not depend on it. */
#if defined(__AVX512F__)
enum { BLOCK = 16 };
#elif defined(__AVX2__)
enum { BLOCK = 8 };
#else
enum { BLOCK = 16 };
#endif

/* For one block of pixels [x0, x0 + BLOCK) of a row: per kernel column kj,
 * which pixels have a tap (mask) and where their column entries start. */
typedef struct tap_lanes {
    unsigned mask[32];
    int shift[32];     /* column entry of pixel x0 is at oy * ow + shift */
#if defined(__AVX2__) && !defined(__AVX512F__)
    int32_t lanes[32][8];   /* mask as maskload's lanes (all bits set where taken) */
#endif
} tap_lanes;

static int tap_lanes_fit(const nn_conv_geom *q) { return q->kw <= 32 && q->kh <= 32; }

static void tap_lanes_init(tap_lanes *t, const nn_conv_geom *q, int x0)
{
    const nn_conv2d_args *a = &q->a;
    for (int kj = 0; kj < q->kw; kj++) {
        /* Pixel x takes output column x - ix0 of this tap's row. */
        int ix0 = -a->pad_w + kj * a->dilation_w;
        int lo = x0 > ix0 ? x0 : ix0, hi = x0 + BLOCK;
        if (hi > ix0 + q->ow) hi = ix0 + q->ow;
        if (hi > q->w) hi = q->w;
        t->mask[kj] = lo < hi ? ((1u << (hi - lo)) - 1u) << (lo - x0) : 0u;
        t->shift[kj] = x0 - ix0;
#if defined(__AVX2__) && !defined(__AVX512F__)
        for (int l = 0; l < 8; l++) t->lanes[kj][l] = -(int32_t)(t->mask[kj] >> l & 1u);
#endif
    }
}

static void col2im_row(float *d, const float *cols, int ld, const nn_conv_geom *q, int ci, int iy,
                       long col0, int x0, const tap_lanes *t)
{
    const nn_conv2d_args *a = &q->a;
    const float *taps = cols + (long)ci * q->kh * q->kw * ld + col0;
    const int n = q->w - x0 < BLOCK ? q->w - x0 : BLOCK;
#if defined(__AVX512F__)
    __m512 acc[32];
    int rows = 0;
    for (int ki = 0; ki < q->kh; ki++) {
        int oy = iy + a->pad_h - ki * a->dilation_h;
        if (oy < 0 || oy % a->stride_h || (oy /= a->stride_h) >= q->oh) continue;
        __m512 sum = _mm512_setzero_ps();
        for (int kj = 0; kj < q->kw; kj++) {
            const float *sr = taps + (long)(ki * q->kw + kj) * ld + (long)oy * q->ow + t->shift[kj];
            /* Masked-off lanes are not read, so sr may point outside. */
            sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps((__mmask16)t->mask[kj], sr));
        }
        acc[rows++] = sum;
    }
    __m512 total = _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) total = _mm512_add_ps(total, acc[r]);
    __mmask16 m = (__mmask16)((1u << n) - 1u);
    _mm512_mask_storeu_ps(d + x0, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + x0), total));
#elif defined(__AVX2__)
    /* A sum starts at +0 and never becomes -0, so adding the zeros of
     * masked-off lanes (or skipping a tap no lane takes) changes nothing. */
    __m256 acc[32];
    int rows = 0;
    for (int ki = 0; ki < q->kh; ki++) {
        int oy = iy + a->pad_h - ki * a->dilation_h;
        if (oy < 0 || oy % a->stride_h || (oy /= a->stride_h) >= q->oh) continue;
        __m256 sum = _mm256_setzero_ps();
        for (int kj = 0; kj < q->kw; kj++) {
            const float *sr = taps + (long)(ki * q->kw + kj) * ld + (long)oy * q->ow + t->shift[kj];
            if (t->mask[kj] == 0xffu)
                sum = _mm256_add_ps(sum, _mm256_loadu_ps(sr));
            else if (t->mask[kj])   /* masked-off lanes are not read, so sr may point outside */
                sum = _mm256_add_ps(sum, _mm256_maskload_ps(sr, _mm256_loadu_si256((const __m256i *)t->lanes[kj])));
        }
        acc[rows++] = sum;
    }
    __m256 total = _mm256_setzero_ps();
    for (int r = 0; r < rows; r++) total = _mm256_add_ps(total, acc[r]);
    if (n == 8) {
        _mm256_storeu_ps(d + x0, _mm256_add_ps(_mm256_loadu_ps(d + x0), total));
    } else {
        float part[8];
        _mm256_storeu_ps(part, total);
        for (int l = 0; l < n; l++) d[x0 + l] += part[l];
    }
#else
    for (int l = 0; l < n; l++) {
        float total = 0.0f;
        for (int ki = 0; ki < q->kh; ki++) {
            int oy = iy + a->pad_h - ki * a->dilation_h;
            if (oy < 0 || oy % a->stride_h || (oy /= a->stride_h) >= q->oh) continue;
            float sum = 0.0f;
            for (int kj = 0; kj < q->kw; kj++)
                if (t->mask[kj] >> l & 1u)
                    sum += taps[(long)(ki * q->kw + kj) * ld + (long)oy * q->ow + t->shift[kj] + l];
            total += sum;
        }
        d[x0 + l] += total;
    }
#endif
}

/* col2im for any horizontal stride: tap by tap, in scalar adds. */
static void col2im_strided(float *plane, const float *cols, int ld, const nn_conv_geom *q, int ci,
                           long col0)
{
    const nn_conv2d_args *a = &q->a;
    for (int ki = 0; ki < q->kh; ki++)
        for (int kj = 0; kj < q->kw; kj++) {
            const float *src = cols + (long)((ci * q->kh + ki) * q->kw + kj) * ld + col0;
            int ix0 = -a->pad_w + kj * a->dilation_w, lo, hi;
            valid_columns(ix0, a->stride_w, q->ow, q->w, &lo, &hi);
            for (int oy = 0; oy < q->oh; oy++) {
                const int iy = input_row(q, oy, ki);
                if (iy < 0) continue;
                const float *sr = src + oy * q->ow;
                float *d = plane + (long)iy * q->w + ix0;
                for (int ox = lo; ox < hi; ox++) d[ox * a->stride_w] += sr[ox];
            }
        }
}

static void col2im(float *dx, const float *cols, int ld, const nn_conv_geom *q, int n0, int s, int g)
{
    for (int i = 0; i < s; i++) {
        float *xs = dx + ((long)(n0 + i) * q->c + (long)g * q->cg) * q->h * q->w;
        long col0 = (long)i * q->p;
        if (plain_1x1(q)) {
            for (int ci = 0; ci < q->cg; ci++) {
                float *restrict d = xs + (long)ci * q->p;
                const float *restrict src = cols + (long)ci * ld + col0;
                for (int j = 0; j < q->p; j++) d[j] += src[j];
            }
            continue;
        }
        for (int ci = 0; ci < q->cg; ci++) {
            float *plane = xs + (long)ci * q->h * q->w;
            if (q->a.stride_w != 1 || !tap_lanes_fit(q)) {
                col2im_strided(plane, cols, ld, q, ci, col0);
                continue;
            }
            for (int x0 = 0; x0 < q->w; x0 += BLOCK) {
                tap_lanes t;
                tap_lanes_init(&t, q, x0);
                for (int iy = 0; iy < q->h; iy++)
                    col2im_row(plane + (long)iy * q->w, cols, ld, q, ci, iy, col0, x0, &t);
            }
        }
    }
}

/* max(v, 0) is `v > 0 ? v : 0` for every v, NaN included: maxps returns
 * its second operand unless the first is larger. */
static void bias_act(float *y, const float *src, float bias, int relu, long n)
{
    long j = 0;
#if defined(__AVX2__)
    const __m256 b = _mm256_set1_ps(bias), zero = _mm256_setzero_ps();
    if (relu)
        for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_max_ps(_mm256_add_ps(_mm256_loadu_ps(src + j), b), zero));
    else
        for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_add_ps(_mm256_loadu_ps(src + j), b));
#endif
    if (relu)
        for (; j < n; j++) y[j] = src[j] + bias > 0.0f ? src[j] + bias : 0.0f;
    else
        for (; j < n; j++) y[j] = src[j] + bias;
}

static void relu_mask(float *restrict d, const float *dy, const float *y, long n)
{
    long j = 0;
#if defined(__AVX2__)
    for (; j + 8 <= n; j += 8) {
        const __m256 live = _mm256_cmp_ps(_mm256_loadu_ps(y + j), _mm256_setzero_ps(), _CMP_GT_OQ);
        _mm256_storeu_ps(d + j, _mm256_and_ps(live, _mm256_loadu_ps(dy + j)));
    }
#endif
    for (; j < n; j++) d[j] = y[j] > 0.0f ? dy[j] : 0.0f;
}

static float row_sum(const float *s, long n)
{
    float lanes[16] = {0};
    long i = 0;
#if defined(__AVX2__)
    /* lanes 0-7 and 8-15 */
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(s + i));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(s + i + 8));
    }
    _mm256_storeu_ps(lanes, lo);
    _mm256_storeu_ps(lanes + 8, hi);
#else
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) lanes[l] += s[i + l];
#endif
    for (int l = 0; i + l < n; l++) lanes[l] += s[i + l];
    float sum = 0.0f;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    return sum;
}

const nn_conv2d_kernels NN_LEVEL_NAME(nn_conv2d_kernels) = {
    .im2col = im2col, .col2im = col2im, .bias_act = bias_act, .relu_mask = relu_mask, .row_sum = row_sum};
