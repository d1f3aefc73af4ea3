/* Short-row copies for the data movement around GEMMs (im2col, col2im,
 * gathers), whose rows are often 10 to 100 floats: too short for a memcpy
 * call or a compiler-vectorized loop with its prologue and tail to pay off.
 * With AVX-512 a row is full 16-float moves plus one masked move; with
 * AVX2, full 8-float moves and a plain tail (AVX2's masked store is slow on
 * AMD); otherwise plain loops. All copy exactly, so results do not depend
 * on which is built: these are inline in ordinary files and in the
 * per-level kernels alike. (No vector add-into: where rows overlap, as in
 * col2im, vector read-modify-writes stall on store forwarding.) */
#ifndef NN_CORE_ROWS_H
#define NN_CORE_ROWS_H

#if defined(__AVX2__)
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
#elif defined(__AVX2__)
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_loadu_ps(s + i));
    for (; i < n; i++) d[i] = s[i];
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

/* d[0..n) = 0 */
static inline void nn_row_zero(float *d, int n)
{
#if defined(__AVX512F__)
    __m512 z = _mm512_setzero_ps();
    for (; n >= 16; n -= 16, d += 16) _mm512_storeu_ps(d, z);
    if (n > 0) _mm512_mask_storeu_ps(d, (__mmask16)((1u << n) - 1u), z);
#elif defined(__AVX2__)
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_setzero_ps());
    for (; i < n; i++) d[i] = 0.0f;
#else
    for (int i = 0; i < n; i++) d[i] = 0.0f;
#endif
}

#endif
