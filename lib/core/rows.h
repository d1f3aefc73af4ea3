/* Short-row copies for the data movement around GEMMs (im2col, col2im,
 * gathers), whose rows are often 10 to 100 floats: too short for a memcpy
 * call or a compiler-vectorized loop with its prologue and tail to pay off.
 * With AVX-512 a row is full 16-float moves plus one masked move; otherwise
 * plain loops. Both paths copy exactly, so results do not depend on which
 * is built. (No vector add-into: where rows overlap, as in col2im, vector
 * read-modify-writes stall on store forwarding.) */
#ifndef NN_CORE_ROWS_H
#define NN_CORE_ROWS_H

#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* d[0..n) = s[0..n) */
static inline void nn_row_copy(float *restrict d, const float *restrict s, int n)
{
#if defined(__AVX512F__)
    for (; n >= 16; n -= 16, d += 16, s += 16) _mm512_storeu_ps(d, _mm512_loadu_ps(s));
    if (n > 0) {
        __mmask16 m = (__mmask16)((1u << n) - 1u);
        _mm512_mask_storeu_ps(d, m, _mm512_maskz_loadu_ps(m, s));
    }
#else
    for (int i = 0; i < n; i++) d[i] = s[i];
#endif
}

/* The sum of s[0..n), in 16 interleaved partial sums added in lane order:
 * vectorizable (a single running sum is a chain of dependent adds), and the
 * same with or without AVX-512. */
static inline float nn_row_sum(const float *s, long n)
{
    float lanes[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) lanes[l] += s[i + l];
    for (int l = 0; i + l < n; l++) lanes[l] += s[i + l];
    float sum = 0.0f;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    return sum;
}

/* Sums in double over float rows, in 8 double lanes added in lane order at
 * the end: vectorized (a single double accumulator is a chain of dependent
 * adds, 4 cycles an element), and the same bits on any thread count. The
 * vector types only ever pass by pointer: by value, their ABI would depend
 * on the target (-Wpsabi). */
typedef double nn_f64x8 __attribute__((vector_size(8 * sizeof(double))));
typedef float nn_f32x8 __attribute__((vector_size(8 * sizeof(float))));

/* *d = p[0..8) in double. */
static inline void nn_load_f64x8(nn_f64x8 *d, const float *p)
{
    nn_f32x8 v;
    memcpy(&v, p, sizeof v);
    *d = __builtin_convertvector(v, nn_f64x8);
}

static inline double nn_f64x8_total(const nn_f64x8 *v)
{
    double sum = 0.0;
    for (int l = 0; l < 8; l++) sum += (*v)[l];
    return sum;
}

/* The sum of s[0..n), added to *lanes (start them at zero). */
static inline void nn_row_sum_f64(nn_f64x8 *lanes, const float *s, long n)
{
    long i = 0;
    nn_f64x8 acc = *lanes;
    for (; i + 8 <= n; i += 8) {
        nn_f64x8 v;
        nn_load_f64x8(&v, s + i);
        acc += v;
    }
    for (int l = 0; i < n; i++, l++) acc[l] += s[i];
    *lanes = acc;
}

/* The sum of (s[i] - mean)^2 over [0, n), added to *lanes. */
static inline void nn_row_sqdev_f64(nn_f64x8 *lanes, const float *s, long n, double mean)
{
    long i = 0;
    nn_f64x8 acc = *lanes;
    for (; i + 8 <= n; i += 8) {
        nn_f64x8 d;
        nn_load_f64x8(&d, s + i);
        d -= mean;
        acc += d * d;
    }
    for (int l = 0; i < n; i++, l++) acc[l] += (s[i] - mean) * (s[i] - mean);
    *lanes = acc;
}

/* d[0..n) = 0 */
static inline void nn_row_zero(float *d, int n)
{
#if defined(__AVX512F__)
    __m512 z = _mm512_setzero_ps();
    for (; n >= 16; n -= 16, d += 16) _mm512_storeu_ps(d, z);
    if (n > 0) _mm512_mask_storeu_ps(d, (__mmask16)((1u << n) - 1u), z);
#else
    for (int i = 0; i < n; i++) d[i] = 0.0f;
#endif
}

#endif
