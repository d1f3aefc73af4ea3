/* Batch-norm channel kernels, compiled once per CPU level (see core/cpu.h
 * and norm_kernels.h): the plain code is the definition and the tail of
 * every vector loop. The vector paths take 8 floats at a time, convert
 * them to double where the sums are in double, and add lane l into lane l,
 * so each lane sees the same additions in the same order. No fused
 * multiply-adds: the build contracts nothing and no fmadd is written. */
#include "ops/norm_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* The activation's value, as nn_relu and nn_relu6 compute it. */
static inline float act_value(nn_bn_act act, float z)
{
    switch (act) {
    case NN_BN_ACT_RELU: return z > 0.0f ? z : 0.0f;
    case NN_BN_ACT_RELU6: return z > 0.0f ? (z < 6.0f ? z : 6.0f) : 0.0f;
    default: return z;
    }
}

/* dy through the activation's mask at input z (0 where the activation is flat). */
static inline float act_grad(nn_bn_act act, float z, float dy)
{
    switch (act) {
    case NN_BN_ACT_RELU: return z > 0.0f ? dy : 0.0f;
    case NN_BN_ACT_RELU6: return z > 0.0f && z < 6.0f ? dy : 0.0f;
    default: return dy;
    }
}

static inline float xhat_of(const nn_bn_channel *k, float x) { return (x - k->mean) * k->rstd; }

/* Vector forms of act_value and act_grad, in place. max(z, 0) is `z > 0 ?
 * z : 0` (maxps returns its second operand unless the first is larger,
 * NaN included), and min(that, 6) then gives relu6's value for every z. */
#if defined(__AVX512F__)
static inline void act_value16(__m512 *z, nn_bn_act act)
{
    if (act == NN_BN_ACT_NONE) return;
    *z = _mm512_max_ps(*z, _mm512_setzero_ps());
    if (act == NN_BN_ACT_RELU6) *z = _mm512_min_ps(*z, _mm512_set1_ps(6.0f));
}

static inline void act_grad16(__m512 *g, nn_bn_act act, const __m512 *z)
{
    if (act == NN_BN_ACT_NONE) return;
    __mmask16 live = _mm512_cmp_ps_mask(*z, _mm512_setzero_ps(), _CMP_GT_OQ);
    if (act == NN_BN_ACT_RELU6) live &= _mm512_cmp_ps_mask(*z, _mm512_set1_ps(6.0f), _CMP_LT_OQ);
    *g = _mm512_maskz_mov_ps(live, *g);
}
#endif
#if defined(__AVX2__)
static inline void act_value8(__m256 *z, nn_bn_act act)
{
    if (act == NN_BN_ACT_NONE) return;
    *z = _mm256_max_ps(*z, _mm256_setzero_ps());
    if (act == NN_BN_ACT_RELU6) *z = _mm256_min_ps(*z, _mm256_set1_ps(6.0f));
}

static inline void act_grad8(__m256 *g, nn_bn_act act, const __m256 *z)
{
    if (act == NN_BN_ACT_NONE) return;
    __m256 live = _mm256_cmp_ps(*z, _mm256_setzero_ps(), _CMP_GT_OQ);
    if (act == NN_BN_ACT_RELU6) live = _mm256_and_ps(live, _mm256_cmp_ps(*z, _mm256_set1_ps(6.0f), _CMP_LT_OQ));
    *g = _mm256_and_ps(live, *g);
}
#endif

static void sum(double lanes[8], const float *x, long stride, int n, long inner)
{
    for (int i = 0; i < n; i++) {
        const float *s = x + i * stride;
        long j = 0;
#if defined(__AVX512F__)
        __m512d acc = _mm512_loadu_pd(lanes);
        for (; j + 8 <= inner; j += 8) acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_loadu_ps(s + j)));
        _mm512_storeu_pd(lanes, acc);
#elif defined(__AVX2__)
        __m256d lo = _mm256_loadu_pd(lanes), hi = _mm256_loadu_pd(lanes + 4);
        for (; j + 8 <= inner; j += 8) {
            lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm_loadu_ps(s + j)));
            hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm_loadu_ps(s + j + 4)));
        }
        _mm256_storeu_pd(lanes, lo);
        _mm256_storeu_pd(lanes + 4, hi);
#else
        for (; j + 8 <= inner; j += 8)
            for (int l = 0; l < 8; l++) lanes[l] += s[j + l];
#endif
        for (int l = 0; j < inner; j++, l++) lanes[l] += s[j];
    }
}

static void sqdev(double lanes[8], const float *x, long stride, int n, long inner, double mean)
{
    for (int i = 0; i < n; i++) {
        const float *s = x + i * stride;
        long j = 0;
#if defined(__AVX512F__)
        const __m512d vmean = _mm512_set1_pd(mean);
        __m512d acc = _mm512_loadu_pd(lanes);
        for (; j + 8 <= inner; j += 8) {
            __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(s + j)), vmean);
            acc = _mm512_add_pd(acc, _mm512_mul_pd(d, d));
        }
        _mm512_storeu_pd(lanes, acc);
#elif defined(__AVX2__)
        const __m256d vmean = _mm256_set1_pd(mean);
        __m256d lo = _mm256_loadu_pd(lanes), hi = _mm256_loadu_pd(lanes + 4);
        for (; j + 8 <= inner; j += 8) {
            __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(s + j)), vmean);
            __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(s + j + 4)), vmean);
            lo = _mm256_add_pd(lo, _mm256_mul_pd(d0, d0));
            hi = _mm256_add_pd(hi, _mm256_mul_pd(d1, d1));
        }
        _mm256_storeu_pd(lanes, lo);
        _mm256_storeu_pd(lanes + 4, hi);
#else
        for (; j + 8 <= inner; j += 8)
            for (int l = 0; l < 8; l++) {
                const double d = s[j + l] - mean;
                lanes[l] += d * d;
            }
#endif
        for (int l = 0; j < inner; j++, l++) {
            const double d = s[j] - mean;
            lanes[l] += d * d;
        }
    }
}

static void normalize(float *y, const float *x, long stride, int n, long inner, const nn_bn_channel *k)
{
    const nn_bn_act act = k->act;
    for (int i = 0; i < n; i++) {
        const float *s = x + i * stride;
        float *d = y + i * stride;
        long j = 0;
#if defined(__AVX512F__)
        const __m512 m = _mm512_set1_ps(k->mean), r = _mm512_set1_ps(k->rstd);
        const __m512 g = _mm512_set1_ps(k->weight), b = _mm512_set1_ps(k->bias);
        for (; j + 16 <= inner; j += 16) {
            __m512 z = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(s + j), m), r), g), b);
            act_value16(&z, act);
            _mm512_storeu_ps(d + j, z);
        }
#elif defined(__AVX2__)
        const __m256 m = _mm256_set1_ps(k->mean), r = _mm256_set1_ps(k->rstd);
        const __m256 g = _mm256_set1_ps(k->weight), b = _mm256_set1_ps(k->bias);
        for (; j + 8 <= inner; j += 8) {
            __m256 z = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), m), r), g), b);
            act_value8(&z, act);
            _mm256_storeu_ps(d + j, z);
        }
#endif
        for (; j < inner; j++) d[j] = act_value(act, xhat_of(k, s[j]) * k->weight + k->bias);
    }
}

static void grad_sums(double dy_lanes[8], double dyx_lanes[8], const float *dy, const float *x,
                      long stride, int n, long inner, const nn_bn_channel *k)
{
    const nn_bn_act act = k->act;
    for (int i = 0; i < n; i++) {
        const float *s = x + i * stride, *e = dy + i * stride;
        long j = 0;
#if defined(__AVX512F__)
        const __m256 m = _mm256_set1_ps(k->mean), r = _mm256_set1_ps(k->rstd);
        const __m256 g = _mm256_set1_ps(k->weight), b = _mm256_set1_ps(k->bias);
        __m512d sdy = _mm512_loadu_pd(dy_lanes), sdyx = _mm512_loadu_pd(dyx_lanes);
        for (; j + 8 <= inner; j += 8) {
            /* 8 floats at a time: the lanes are 8 doubles wide. */
            const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), m), r);
            const __m256 z = _mm256_add_ps(_mm256_mul_ps(xh, g), b);
            __m256 gv = _mm256_loadu_ps(e + j);
            act_grad8(&gv, act, &z);
            const __m512d gd = _mm512_cvtps_pd(gv);
            sdy = _mm512_add_pd(sdy, gd);
            sdyx = _mm512_add_pd(sdyx, _mm512_mul_pd(gd, _mm512_cvtps_pd(xh)));
        }
        _mm512_storeu_pd(dy_lanes, sdy);
        _mm512_storeu_pd(dyx_lanes, sdyx);
#elif defined(__AVX2__)
        const __m256 m = _mm256_set1_ps(k->mean), r = _mm256_set1_ps(k->rstd);
        const __m256 g = _mm256_set1_ps(k->weight), b = _mm256_set1_ps(k->bias);
        __m256d sdy_lo = _mm256_loadu_pd(dy_lanes), sdy_hi = _mm256_loadu_pd(dy_lanes + 4);
        __m256d sdyx_lo = _mm256_loadu_pd(dyx_lanes), sdyx_hi = _mm256_loadu_pd(dyx_lanes + 4);
        for (; j + 8 <= inner; j += 8) {
            const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), m), r);
            const __m256 z = _mm256_add_ps(_mm256_mul_ps(xh, g), b);
            __m256 gv = _mm256_loadu_ps(e + j);
            act_grad8(&gv, act, &z);
            const __m256d g0 = _mm256_cvtps_pd(_mm256_castps256_ps128(gv));
            const __m256d g1 = _mm256_cvtps_pd(_mm256_extractf128_ps(gv, 1));
            sdy_lo = _mm256_add_pd(sdy_lo, g0);
            sdy_hi = _mm256_add_pd(sdy_hi, g1);
            sdyx_lo = _mm256_add_pd(sdyx_lo, _mm256_mul_pd(g0, _mm256_cvtps_pd(_mm256_castps256_ps128(xh))));
            sdyx_hi = _mm256_add_pd(sdyx_hi, _mm256_mul_pd(g1, _mm256_cvtps_pd(_mm256_extractf128_ps(xh, 1))));
        }
        _mm256_storeu_pd(dy_lanes, sdy_lo);
        _mm256_storeu_pd(dy_lanes + 4, sdy_hi);
        _mm256_storeu_pd(dyx_lanes, sdyx_lo);
        _mm256_storeu_pd(dyx_lanes + 4, sdyx_hi);
#else
        for (; j + 8 <= inner; j += 8)
            for (int l = 0; l < 8; l++) {
                const float xh = xhat_of(k, s[j + l]), gv = act_grad(act, xh * k->weight + k->bias, e[j + l]);
                dy_lanes[l] += gv;
                dyx_lanes[l] += (double)gv * xh;
            }
#endif
        for (int l = 0; j < inner; j++, l++) {
            const float xh = xhat_of(k, s[j]), gv = act_grad(act, xh * k->weight + k->bias, e[j]);
            dy_lanes[l] += gv;
            dyx_lanes[l] += (double)gv * xh;
        }
    }
}

static void grad_input(float *dx, const float *dy, const float *x, long stride, int n, long inner,
                       const nn_bn_channel *k, float mg, float mgx)
{
    const nn_bn_act act = k->act;
    const float rg = k->rstd * k->weight;
    for (int i = 0; i < n; i++) {
        const float *s = x + i * stride, *e = dy + i * stride;
        float *d = dx + i * stride;
        long j = 0;
#if defined(__AVX512F__)
        const __m512 m = _mm512_set1_ps(k->mean), r = _mm512_set1_ps(k->rstd);
        const __m512 g = _mm512_set1_ps(k->weight), b = _mm512_set1_ps(k->bias);
        const __m512 vrg = _mm512_set1_ps(rg), vmg = _mm512_set1_ps(mg), vmgx = _mm512_set1_ps(mgx);
        for (; j + 16 <= inner; j += 16) {
            const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(s + j), m), r);
            const __m512 z = _mm512_add_ps(_mm512_mul_ps(xh, g), b);
            __m512 gv = _mm512_loadu_ps(e + j);
            act_grad16(&gv, act, &z);
            const __m512 t = _mm512_sub_ps(_mm512_sub_ps(gv, vmg), _mm512_mul_ps(xh, vmgx));
            _mm512_storeu_ps(d + j, _mm512_add_ps(_mm512_loadu_ps(d + j), _mm512_mul_ps(vrg, t)));
        }
#elif defined(__AVX2__)
        const __m256 m = _mm256_set1_ps(k->mean), r = _mm256_set1_ps(k->rstd);
        const __m256 g = _mm256_set1_ps(k->weight), b = _mm256_set1_ps(k->bias);
        const __m256 vrg = _mm256_set1_ps(rg), vmg = _mm256_set1_ps(mg), vmgx = _mm256_set1_ps(mgx);
        for (; j + 8 <= inner; j += 8) {
            const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), m), r);
            const __m256 z = _mm256_add_ps(_mm256_mul_ps(xh, g), b);
            __m256 gv = _mm256_loadu_ps(e + j);
            act_grad8(&gv, act, &z);
            const __m256 t = _mm256_sub_ps(_mm256_sub_ps(gv, vmg), _mm256_mul_ps(xh, vmgx));
            _mm256_storeu_ps(d + j, _mm256_add_ps(_mm256_loadu_ps(d + j), _mm256_mul_ps(vrg, t)));
        }
#endif
        for (; j < inner; j++) {
            const float xh = xhat_of(k, s[j]), gv = act_grad(act, xh * k->weight + k->bias, e[j]);
            d[j] += rg * (gv - mg - xh * mgx);
        }
    }
}

const nn_bn_kernels NN_LEVEL_NAME(nn_bn_kernels) = {
    .sum = sum, .sqdev = sqdev, .normalize = normalize, .grad_sums = grad_sums, .grad_input = grad_input};
