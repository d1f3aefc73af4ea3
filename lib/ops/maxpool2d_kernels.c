/* Max-pooling row kernels, compiled once per CPU level (see core/cpu.h):
 * the scalar code is the definition and the tail of every vector loop. */
#include "ops/maxpool2d_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* Is v the new maximum over best? Larger, or NaN over a number: PyTorch
 * lets NaN win so a diverging network shows at the loss. An int, not a
 * branch: on real activations the winner is unpredictable. */
static inline int beats(float v, float best) { return (v > best) | ((v != v) & (best == best)); }

/* Outputs [ox, ow) of the 2x2 row: pairwise tournaments written as
 * `x > y ? x : y` (one max instruction) and integer compare results for
 * the index, so there is no branch. */
static void row2x2_from(float *restrict y, int32_t *restrict argmax, const float *restrict r0,
                        const float *restrict r1, int base, int w, int ox, int ow)
{
    for (; ox < ow; ox++) {
        float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
        float top = b > a ? b : a, bottom = d > c ? d : c;
        y[ox] = bottom > top ? bottom : top;
        if (argmax) {
            int ab = b > a, cd = d > c, down = bottom > top;
            argmax[ox] = base + 2 * ox + down * (w + cd) + (1 - down) * ab;
        }
    }
}

static void row2x2(float *restrict y, int32_t *restrict argmax, const float *restrict r0,
                   const float *restrict r1, int base, int w, int ow)
{
    int ox = 0;
#if defined(__AVX512F__)
    /* 16 outputs at a time: split 32 inputs of each row into even and odd
     * columns, then the same tournament with compare masks and blends. */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
    for (; ox < ow; ox += 16) {
        int n = ow - ox < 16 ? ow - ox : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1u);
        /* 2n inputs per row, as two 16-lane halves. */
        __mmask16 lo = (__mmask16)(n >= 8 ? 0xffffu : (1u << (2 * n)) - 1u);
        __mmask16 hi = (__mmask16)(n > 8 ? (1u << (2 * n - 16)) - 1u : 0u);
        __m512 p0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ox), p1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ox + 16);
        __m512 q0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ox), q1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ox + 16);
        __m512 a = _mm512_permutex2var_ps(p0, even, p1), b = _mm512_permutex2var_ps(p0, odd, p1);
        __m512 c = _mm512_permutex2var_ps(q0, even, q1), d = _mm512_permutex2var_ps(q0, odd, q1);
        __mmask16 ab = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ), cd = _mm512_cmp_ps_mask(d, c, _CMP_GT_OQ);
        __m512 top = _mm512_mask_blend_ps(ab, a, b), bottom = _mm512_mask_blend_ps(cd, c, d);
        __mmask16 down = _mm512_cmp_ps_mask(bottom, top, _CMP_GT_OQ);
        _mm512_mask_storeu_ps(y + ox, m, _mm512_mask_blend_ps(down, top, bottom));
        if (argmax) {
            __m512i at = _mm512_add_epi32(_mm512_set1_epi32(base + 2 * ox), lane2);
            __mmask16 right = (__mmask16)((down & cd) | (~down & ab));
            at = _mm512_mask_add_epi32(at, right, at, _mm512_set1_epi32(1));
            at = _mm512_mask_add_epi32(at, down, at, _mm512_set1_epi32(w));
            _mm512_mask_storeu_epi32(argmax + ox, m, at);
        }
    }
#elif defined(__AVX2__)
    /* 8 outputs at a time from 16 inputs of each row: shuffle_ps picks the
     * even (or odd) floats of both halves lane by lane, and a 64-bit
     * permute puts them in order. Compares give all-ones lanes, which are
     * blend masks and, as integers, -1 for the index arithmetic. */
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (; ox + 8 <= ow; ox += 8) {
        __m256 p0 = _mm256_loadu_ps(r0 + 2 * ox), p1 = _mm256_loadu_ps(r0 + 2 * ox + 8);
        __m256 q0 = _mm256_loadu_ps(r1 + 2 * ox), q1 = _mm256_loadu_ps(r1 + 2 * ox + 8);
        __m256 a = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(p0, p1, 0x88)), 0xd8));
        __m256 b = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(p0, p1, 0xdd)), 0xd8));
        __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(q0, q1, 0x88)), 0xd8));
        __m256 d = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(q0, q1, 0xdd)), 0xd8));
        __m256 ab = _mm256_cmp_ps(b, a, _CMP_GT_OQ), cd = _mm256_cmp_ps(d, c, _CMP_GT_OQ);
        __m256 top = _mm256_blendv_ps(a, b, ab), bottom = _mm256_blendv_ps(c, d, cd);
        __m256 down = _mm256_cmp_ps(bottom, top, _CMP_GT_OQ);
        _mm256_storeu_ps(y + ox, _mm256_blendv_ps(top, bottom, down));
        if (argmax) {
            __m256i at = _mm256_add_epi32(_mm256_set1_epi32(base + 2 * ox), lane2);
            __m256i right = _mm256_castps_si256(_mm256_blendv_ps(ab, cd, down));
            at = _mm256_sub_epi32(at, right);
            at = _mm256_add_epi32(at, _mm256_and_si256(_mm256_castps_si256(down), _mm256_set1_epi32(w)));
            _mm256_storeu_si256((__m256i *)(argmax + ox), at);
        }
    }
#endif
    row2x2_from(y, argmax, r0, r1, base, w, ox, ow);
}

/* Outputs [ox, ow) of a general row, one at a time. The window is clipped
 * to the image once per output, so the inner loops have no bounds tests. */
static void row_from(float *y, int32_t *argmax, const float *xp, const nn_pool_geom *q, int oy, int ox)
{
    int y0 = oy * q->stride - q->pad, y1 = y0 + q->kernel;
    if (y0 < 0) y0 = 0;
    if (y1 > q->h) y1 = q->h;
    for (; ox < q->ow; ox++) {
        int x0 = ox * q->stride - q->pad, x1 = x0 + q->kernel;
        if (x0 < 0) x0 = 0;
        if (x1 > q->w) x1 = q->w;
        int at = y0 * q->w + x0;
        float best = xp[at];
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) {
                float v = xp[iy * q->w + ix];
                int take = beats(v, best);
                best = take ? v : best;
                at += take * (iy * q->w + ix - at);
            }
        y[ox] = best;
        if (argmax) argmax[ox] = at;
    }
}

/* Vector levels: a block of outputs at a time, each tap a gather of one
 * pixel per lane, visited in the scalar loop's order with its rule (the
 * first in-image pixel, then `beats`), lane by lane, so the results are the
 * same. */
static void row(float *y, int32_t *argmax, const float *xp, const nn_pool_geom *q, int oy)
{
    int ox = 0;
#if defined(__AVX512F__)
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; ox < q->ow; ox += 16) {
        const int n = q->ow - ox < 16 ? q->ow - ox : 16;
        const __mmask16 live = (__mmask16)((1u << n) - 1u);
        /* Input column of kernel column 0, per lane. */
        const __m512i col0 = _mm512_sub_epi32(_mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(ox)),
                                                                 _mm512_set1_epi32(q->stride)),
                                              _mm512_set1_epi32(q->pad));
        __m512 best = _mm512_setzero_ps();
        __m512i at = _mm512_setzero_si512();
        __mmask16 have = 0;
        for (int ki = 0; ki < q->kernel; ki++) {
            const int iy = oy * q->stride - q->pad + ki;
            if (iy < 0 || iy >= q->h) continue;
            for (int kj = 0; kj < q->kernel; kj++) {
                const __m512i col = _mm512_add_epi32(col0, _mm512_set1_epi32(kj));
                const __mmask16 in = live & _mm512_cmpge_epi32_mask(col, _mm512_setzero_si512()) &
                                     _mm512_cmplt_epi32_mask(col, _mm512_set1_epi32(q->w));
                const __m512i idx = _mm512_add_epi32(col, _mm512_set1_epi32(iy * q->w));
                const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, idx, xp, 4);
                /* beats(v, best): v > best, or v is NaN and best is not. */
                const __mmask16 wins = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                       (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) &
                                        _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
                const __mmask16 take = in & (__mmask16)(~have | wins);
                best = _mm512_mask_mov_ps(best, take, v);
                at = _mm512_mask_mov_epi32(at, take, idx);
                have |= in;
            }
        }
        _mm512_mask_storeu_ps(y + ox, live, best);
        if (argmax) _mm512_mask_storeu_epi32(argmax + ox, live, at);
    }
#elif defined(__AVX2__)
    /* Masks are all-ones lanes; gathers read only the lanes inside. */
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i width = _mm256_set1_epi32(q->w);
    for (; ox + 8 <= q->ow; ox += 8) {
        const __m256i col0 = _mm256_sub_epi32(_mm256_mullo_epi32(_mm256_add_epi32(lane, _mm256_set1_epi32(ox)),
                                                                 _mm256_set1_epi32(q->stride)),
                                              _mm256_set1_epi32(q->pad));
        __m256 best = _mm256_setzero_ps();
        __m256i at = _mm256_setzero_si256();
        __m256i have = _mm256_setzero_si256();
        for (int ki = 0; ki < q->kernel; ki++) {
            const int iy = oy * q->stride - q->pad + ki;
            if (iy < 0 || iy >= q->h) continue;
            for (int kj = 0; kj < q->kernel; kj++) {
                const __m256i col = _mm256_add_epi32(col0, _mm256_set1_epi32(kj));
                /* 0 <= col < w */
                const __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), col),
                                                       _mm256_cmpgt_epi32(width, col));
                const __m256i idx = _mm256_add_epi32(col, _mm256_set1_epi32(iy * q->w));
                const __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xp, idx, _mm256_castsi256_ps(in), 4);
                const __m256 wins = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                                 _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                                                               _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
                const __m256i take = _mm256_and_si256(in, _mm256_or_si256(_mm256_xor_si256(have, _mm256_set1_epi32(-1)),
                                                                          _mm256_castps_si256(wins)));
                best = _mm256_blendv_ps(best, v, _mm256_castsi256_ps(take));
                at = _mm256_blendv_epi8(at, idx, take);
                have = _mm256_or_si256(have, in);
            }
        }
        _mm256_storeu_ps(y + ox, best);
        if (argmax) _mm256_storeu_si256((__m256i *)(argmax + ox), at);
    }
#endif
    row_from(y, argmax, xp, q, oy, ox);
}

const nn_maxpool_kernels NN_LEVEL_NAME(nn_maxpool_kernels) = {.row2x2 = row2x2, .row = row};
