/* Winograd F(2x2, 3x3) tile kernels, compiled once per CPU level (see
 * core/cpu.h). The transforms are written once on a GCC vector of VL
 * tiles, VL being what one register of the level holds; moving tiles
 * between planes and lanes is plain code at the scalar level (the
 * reference) and intrinsics at the others, which only load, store, mask
 * and shuffle, so every level does the same arithmetic on each tile. */
#include "ops/conv2d_winograd_kernels.h"

#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

typedef nn_winograd_core wino_core;
typedef nn_winograd_tile tile_pos;

/* Output tile side, input patch side, points of the Winograd domain. */
enum { WM = 2, WA = 4, WXI = WA * WA, LANES = NN_WINOGRAD_LANES };

/* Tiles per vector: one register of the level (SSE2's 4 at the scalar
 * level, which every x86-64 has). Functions take these by pointer only, so
 * no vector crosses a call whatever it is compiled for (-Wpsabi). */
#if defined(__AVX512F__)
enum { VL = 16 };
#elif defined(__AVX2__)
enum { VL = 8 };
#else
enum { VL = 4 };
#endif
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int vi __attribute__((vector_size(VL * sizeof(int))));

static inline void loadv(vf *v, const float *p) { memcpy(v, p, sizeof *v); }
static inline void storev(float *p, const vf *v) { memcpy(p, v, sizeof *v); }

/* The transforms, one 1-d pass at a time: each line is one row of the
 * matrix, its terms summed left to right. That order is the definition
 * every level follows (the build has no FMA contraction); -x + y is
 * written y - x, the same bits. */

/* (o0..o3) = B^T (a0..a3), B^T's rows (1 0 -1 0), (0 1 1 0), (0 -1 1 0), (0 1 0 -1). */
#define BT_PASS(o0, o1, o2, o3, a0, a1, a2, a3) \
    do {                                        \
        o0 = (a0) - (a2);                       \
        o1 = (a1) + (a2);                       \
        o2 = (a2) - (a1);                       \
        o3 = (a1) - (a3);                       \
    } while (0)

/* (o0, o1) = A^T (a0..a3), A^T's rows (1 1 1 0), (0 1 -1 -1). */
#define AT_PASS(o0, o1, a0, a1, a2, a3) \
    do {                                \
        o0 = (a0) + (a1) + (a2);        \
        o1 = (a1) - (a2) - (a3);        \
    } while (0)

/* (o0..o3) = A (a0, a1), A's rows (1 0), (1 1), (1 -1), (0 -1). */
#define A_PASS(o0, o1, o2, o3, a0, a1) \
    do {                               \
        o0 = (a0);                     \
        o1 = (a0) + (a1);              \
        o2 = (a0) - (a1);              \
        o3 = -(a1);                    \
    } while (0)

/* (o0..o3) = G (a0..a2), G's rows (1 0 0), (.5 .5 .5), (.5 -.5 .5), (0 0 1):
 * F(2x2, 3x3) at the points 0, 1, -1 (Lavin and Gray 2015). */
#define G_PASS(o0, o1, o2, o3, a0, a1, a2)                 \
    do {                                                   \
        o0 = (a0);                                         \
        o1 = 0.5f * (a0) + 0.5f * (a1) + 0.5f * (a2);      \
        o2 = 0.5f * (a0) - 0.5f * (a1) + 0.5f * (a2);      \
        o3 = (a2);                                         \
    } while (0)

/* (o0..o2) = G^T (a0..a3). */
#define GT_PASS(o0, o1, o2, a0, a1, a2, a3)                \
    do {                                                   \
        o0 = (a0) + 0.5f * (a1) + 0.5f * (a2);             \
        o1 = 0.5f * (a1) - 0.5f * (a2);                    \
        o2 = 0.5f * (a1) + 0.5f * (a2) + (a3);             \
    } while (0)

/* v = B^T d B: a 4x4 input patch into the Winograd domain. */
static inline void input_transform(vf v[WXI], const vf d[WXI])
{
    vf t[WXI];
    for (int j = 0; j < WA; j++) BT_PASS(t[j], t[4 + j], t[8 + j], t[12 + j], d[j], d[4 + j], d[8 + j], d[12 + j]);
    for (int i = 0; i < WA; i++)
        BT_PASS(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3], t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
}

/* y = A^T m A: the Winograd domain back to a 2x2 output tile. */
static inline void output_transform(vf y[WM * WM], const vf m[WXI])
{
    vf t[WM * WA];
    for (int j = 0; j < WA; j++) AT_PASS(t[j], t[4 + j], m[j], m[4 + j], m[8 + j], m[12 + j]);
    for (int i = 0; i < WM; i++) AT_PASS(y[2 * i], y[2 * i + 1], t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
}

/* dm = A dy A^T: the adjoint of output_transform. */
static inline void output_adjoint(vf dm[WXI], const vf dy[WM * WM])
{
    vf t[WA * WM];
    for (int j = 0; j < WM; j++) A_PASS(t[j], t[2 + j], t[4 + j], t[6 + j], dy[j], dy[2 + j]);
    for (int i = 0; i < WA; i++) A_PASS(dm[4 * i], dm[4 * i + 1], dm[4 * i + 2], dm[4 * i + 3], t[2 * i], t[2 * i + 1]);
}

/* u = G g G^T: a 3x3 kernel into the Winograd domain. */
static inline void kernel_transform(vf u[WXI], const vf g[9])
{
    vf t[WA * 3];
    for (int j = 0; j < 3; j++) G_PASS(t[j], t[3 + j], t[6 + j], t[9 + j], g[j], g[3 + j], g[6 + j]);
    for (int i = 0; i < WA; i++) G_PASS(u[4 * i], u[4 * i + 1], u[4 * i + 2], u[4 * i + 3], t[3 * i], t[3 * i + 1], t[3 * i + 2]);
}

/* dg = G^T du G: the adjoint of kernel_transform. */
static inline void kernel_adjoint(vf dg[9], const vf du[WXI])
{
    vf t[3 * WA];
    for (int j = 0; j < WA; j++) GT_PASS(t[j], t[4 + j], t[8 + j], du[j], du[4 + j], du[8 + j], du[12 + j]);
    for (int i = 0; i < 3; i++) GT_PASS(dg[3 * i], dg[3 * i + 1], dg[3 * i + 2], t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
}

#if defined(__AVX2__)
/* Output tiles move between lanes and planes a run at a time: the lanes
 * of one run are consecutive tiles of one tile row, so row i of their 2x2
 * outputs is one stretch of the plane, tile l's two pixels at 2l, 2l + 1
 * of the registers that interleave outputs (i, 0) and (i, 1). Each stretch
 * is one masked load or store per register, at an address shifted back by
 * 2 * (the run's first lane) so lanes and columns line up (masked-off
 * elements are not touched). */

/* The run of lanes from la (of nl) sharing pos[la]'s tile row: its end
 * (one past) and the mask of its output columns within the plane's width,
 * over the 2 * nl interleaved elements. */
static int tile_run(const tile_pos *pos, int la, int nl, int wo, unsigned *cols)
{
    const tile_pos p = pos[la];
    int lb = la + 1;
    while (lb < nl && pos[lb].n == p.n && pos[lb].oy == p.oy) lb++;
    int width = WM * (lb - la);
    if (p.ox + width > wo) width = wo - p.ox;
    *cols = (unsigned)(((1ull << width) - 1) << (WM * la));
    return lb;
}
#endif

#if defined(__AVX512F__)
/* The 4x4 patches of 16 tiles of channel ch, patch element e of tile l in
 * lane l of d[e]: each tile's four rows are four masked 4-float loads
 * (masked-off columns, outside the image, read as zero and are not
 * touched) into one register, then a 16x16 transpose puts the tiles in
 * lanes. 16 scalar loads and stores per tile cost more. */
static void gather_patches(vf d[WXI], const float *in, const float *mask, int ch, const wino_core *k,
                           const tile_pos *pos)
{
    const long ch_at = (long)ch * k->hi * k->wi;
    __m512 r[LANES];
    #pragma GCC unroll 16
    for (int l = 0; l < LANES; l++) {
        const tile_pos p = pos[l];
        __m128 row[WA];
        /* Lanes past the last tile have no rows inside. */
        #pragma GCC unroll 4
        for (int i = 0; i < WA; i++) {
            row[i] = _mm_setzero_ps();
            if (!(p.rows >> i & 1u)) continue;
            const long at = p.in_at + ch_at + (long)i * k->wi;
            row[i] = _mm_maskz_loadu_ps((__mmask8)p.cols, in + at);
            if (mask)
                row[i] = _mm_maskz_mov_ps(_mm_cmp_ps_mask(_mm_maskz_loadu_ps((__mmask8)p.cols, mask + at),
                                                          _mm_setzero_ps(), _CMP_GT_OQ), row[i]);
        }
        __m512 v = _mm512_castps128_ps512(row[0]);
        v = _mm512_insertf32x4(v, row[1], 1);
        v = _mm512_insertf32x4(v, row[2], 2);
        v = _mm512_insertf32x4(v, row[3], 3);
        r[l] = v;
    }
    /* Transpose by swapping off-diagonal blocks of 8, 4, 2, 1. */
    #pragma GCC unroll 4
    for (int h = 8; h >= 1; h /= 2) {
        int lo_idx[LANES], hi_idx[LANES];
        for (int j = 0; j < LANES; j++) {
            lo_idx[j] = j & h ? LANES + j - h : j;
            hi_idx[j] = j & h ? LANES + j : j + h;
        }
        const __m512i lo = _mm512_loadu_si512(lo_idx), hi = _mm512_loadu_si512(hi_idx);
        #pragma GCC unroll 16
        for (int a = 0; a < LANES; a++) {
            if (a & h) continue;
            const __m512 x = r[a], y = r[a + h];
            r[a] = _mm512_permutex2var_ps(x, lo, y);
            r[a + h] = _mm512_permutex2var_ps(x, hi, y);
        }
    }
    for (int e = 0; e < WXI; e++) d[e] = (vf)r[e];
}

static const int INTERLEAVE_LO[LANES] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const int INTERLEAVE_HI[LANES] = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
static const int EVEN[LANES] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const int ODD[LANES] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};

/* Writes r (output e of tile l in lane l of r[e]) into channel oc of out
 * for 16 tiles: out = r, or out += r when accumulating. */
static void scatter_tiles(float *out, int accumulate, const vf r[WM * WM], int oc, const wino_core *k,
                          const tile_pos *pos)
{
    const __m512i lo = _mm512_loadu_si512(INTERLEAVE_LO), hi = _mm512_loadu_si512(INTERLEAVE_HI);
    __m512 rows[WM][2];
    for (int i = 0; i < WM; i++) {
        rows[i][0] = _mm512_permutex2var_ps((__m512)r[i * WM], lo, (__m512)r[i * WM + 1]);
        rows[i][1] = _mm512_permutex2var_ps((__m512)r[i * WM], hi, (__m512)r[i * WM + 1]);
    }
    const long plane = (long)k->ho * k->wo;
    /* Lanes past the last tile (n < 0) come last. */
    for (int la = 0; la < LANES && pos[la].n >= 0;) {
        const tile_pos p = pos[la];
        unsigned cols;
        const int lb = tile_run(pos, la, LANES, k->wo, &cols);
        float *row = out + ((long)p.n * k->co + oc) * plane + (long)p.oy * k->wo + p.ox - WM * la;
        for (int i = 0; i < WM && p.oy + i < k->ho; i++, row += k->wo)
            for (int h = 0; h < 2; h++) {
                const __mmask16 m = (__mmask16)(cols >> (LANES * h));
                if (!m) continue;
                __m512 v = rows[i][h];
                if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, row + LANES * h), v);
                _mm512_mask_storeu_ps(row + LANES * h, m, v);
            }
        la = lb;
    }
}

/* The 2x2 tiles of channel oc of dy for 16 tiles, output e of tile l in
 * lane l of g[e]; zero where y (when given) is not positive and past the
 * plane's edges. */
static void gather_tiles(vf g[WM * WM], const float *dy, const float *y, int oc, const wino_core *k,
                         const tile_pos *pos)
{
    __m512 rows[WM][2];
    for (int i = 0; i < WM; i++) rows[i][0] = rows[i][1] = _mm512_setzero_ps();
    const long plane = (long)k->ho * k->wo;
    for (int la = 0; la < LANES && pos[la].n >= 0;) {
        const tile_pos p = pos[la];
        unsigned cols;
        const int lb = tile_run(pos, la, LANES, k->wo, &cols);
        const long at = ((long)p.n * k->co + oc) * plane + (long)p.oy * k->wo + p.ox - WM * la;
        for (int i = 0; i < WM && p.oy + i < k->ho; i++)
            for (int h = 0; h < 2; h++) {
                __mmask16 m = (__mmask16)(cols >> (LANES * h));
                if (!m) continue;
                const long a = at + (long)i * k->wo + LANES * h;
                if (y) m = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + a), _mm512_setzero_ps(), _CMP_GT_OQ);
                rows[i][h] = _mm512_mask_loadu_ps(rows[i][h], m, dy + a);
            }
        la = lb;
    }
    const __m512i even = _mm512_loadu_si512(EVEN), odd = _mm512_loadu_si512(ODD);
    for (int i = 0; i < WM; i++) {
        g[i * WM] = (vf)_mm512_permutex2var_ps(rows[i][0], even, rows[i][1]);
        g[i * WM + 1] = (vf)_mm512_permutex2var_ps(rows[i][0], odd, rows[i][1]);
    }
}

#elif defined(__AVX2__)
/* AVX2 has no mask registers: masks are all-ones lanes, and masked loads
 * read masked-off lanes as zero without touching them. */

/* All-ones in lane l where bit l of m is set, for 8 (4) lanes. */
static inline __m256i lane_mask8(unsigned m)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bit), bit);
}

static inline __m128i lane_mask4(unsigned m)
{
    const __m128i bit = _mm_setr_epi32(1, 2, 4, 8);
    return _mm_cmpeq_epi32(_mm_and_si128(_mm_set1_epi32((int)m), bit), bit);
}

/* The 4x4 patches of 8 tiles of channel ch, patch element e of tile l in
 * lane l of d[e]: row i of each tile is one 4-float load (masked where it
 * crosses the image's edge), and a 4x4 transpose in each 128-bit half of
 * tiles (l, l + 4) puts the tiles in lanes. */
static void gather_patches(vf d[WXI], const float *in, const float *mask, int ch, const wino_core *k,
                           const tile_pos *pos)
{
    const long ch_at = (long)ch * k->hi * k->wi;
    for (int i = 0; i < WA; i++) {
        __m128 r[8];
        for (int l = 0; l < 8; l++) {
            const tile_pos p = pos[l];
            r[l] = _mm_setzero_ps();
            /* Lanes past the last tile have no rows inside. */
            if (!(p.rows >> i & 1u)) continue;
            const long at = p.in_at + ch_at + (long)i * k->wi;
            __m128 mk = _mm_setzero_ps();
            if (p.cols == 0xfu) {
                r[l] = _mm_loadu_ps(in + at);
                if (mask) mk = _mm_loadu_ps(mask + at);
            } else {
                const __m128i cols = lane_mask4(p.cols);
                r[l] = _mm_maskload_ps(in + at, cols);
                if (mask) mk = _mm_maskload_ps(mask + at, cols);
            }
            if (mask) r[l] = _mm_and_ps(r[l], _mm_cmp_ps(mk, _mm_setzero_ps(), _CMP_GT_OQ));
        }
        __m256 a[4];
        for (int l = 0; l < 4; l++) a[l] = _mm256_insertf128_ps(_mm256_castps128_ps256(r[l]), r[l + 4], 1);
        const __m256 t0 = _mm256_unpacklo_ps(a[0], a[1]), t1 = _mm256_unpackhi_ps(a[0], a[1]);
        const __m256 t2 = _mm256_unpacklo_ps(a[2], a[3]), t3 = _mm256_unpackhi_ps(a[2], a[3]);
        d[WA * i] = (vf)_mm256_shuffle_ps(t0, t2, 0x44);
        d[WA * i + 1] = (vf)_mm256_shuffle_ps(t0, t2, 0xee);
        d[WA * i + 2] = (vf)_mm256_shuffle_ps(t1, t3, 0x44);
        d[WA * i + 3] = (vf)_mm256_shuffle_ps(t1, t3, 0xee);
    }
}

/* Writes r (output e of tile l in lane l of r[e]) into channel oc of out
 * for 8 tiles: out = r, or out += r when accumulating. Row i's 16
 * interleaved outputs are two registers, tiles 0-3 and 4-7. */
static void scatter_tiles(float *out, int accumulate, const vf r[WM * WM], int oc, const wino_core *k,
                          const tile_pos *pos)
{
    __m256 rows[WM][2];
    for (int i = 0; i < WM; i++) {
        const __m256 a = (__m256)r[i * WM], b = (__m256)r[i * WM + 1];
        const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
        rows[i][0] = _mm256_permute2f128_ps(lo, hi, 0x20);
        rows[i][1] = _mm256_permute2f128_ps(lo, hi, 0x31);
    }
    const long plane = (long)k->ho * k->wo;
    /* Lanes past the last tile (n < 0) come last. */
    for (int la = 0; la < VL && pos[la].n >= 0;) {
        const tile_pos p = pos[la];
        unsigned cols;
        const int lb = tile_run(pos, la, VL, k->wo, &cols);
        float *row = out + ((long)p.n * k->co + oc) * plane + (long)p.oy * k->wo + p.ox - WM * la;
        for (int i = 0; i < WM && p.oy + i < k->ho; i++, row += k->wo)
            for (int h = 0; h < 2; h++) {
                const unsigned m = cols >> (8 * h) & 0xffu;
                if (!m) continue;
                float *at = row + 8 * h;
                __m256 v = rows[i][h];
                if (m == 0xffu) {
                    if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(at), v);
                    _mm256_storeu_ps(at, v);
                } else {
                    const __m256i mk = lane_mask8(m);
                    if (accumulate) v = _mm256_add_ps(_mm256_maskload_ps(at, mk), v);
                    _mm256_maskstore_ps(at, mk, v);
                }
            }
        la = lb;
    }
}

/* The 2x2 tiles of channel oc of dy for 8 tiles, output e of tile l in
 * lane l of g[e]; zero where y (when given) is not positive and past the
 * plane's edges. Runs cover disjoint lanes and masked loads give +0
 * elsewhere, so OR merges them. */
static void gather_tiles(vf g[WM * WM], const float *dy, const float *y, int oc, const wino_core *k,
                         const tile_pos *pos)
{
    __m256 rows[WM][2];
    for (int i = 0; i < WM; i++) rows[i][0] = rows[i][1] = _mm256_setzero_ps();
    const long plane = (long)k->ho * k->wo;
    for (int la = 0; la < VL && pos[la].n >= 0;) {
        const tile_pos p = pos[la];
        unsigned cols;
        const int lb = tile_run(pos, la, VL, k->wo, &cols);
        const long at = ((long)p.n * k->co + oc) * plane + (long)p.oy * k->wo + p.ox - WM * la;
        for (int i = 0; i < WM && p.oy + i < k->ho; i++)
            for (int h = 0; h < 2; h++) {
                const unsigned m = cols >> (8 * h) & 0xffu;
                if (!m) continue;
                const long a = at + (long)i * k->wo + 8 * h;
                __m256 v;
                if (m == 0xffu && !y) {
                    v = _mm256_loadu_ps(dy + a);
                } else {
                    __m256i mk = lane_mask8(m);
                    if (y)
                        mk = _mm256_and_si256(mk, _mm256_castps_si256(_mm256_cmp_ps(
                                                      _mm256_maskload_ps(y + a, mk), _mm256_setzero_ps(), _CMP_GT_OQ)));
                    v = _mm256_maskload_ps(dy + a, mk);
                }
                rows[i][h] = _mm256_or_ps(rows[i][h], v);
            }
        la = lb;
    }
    /* Even and odd elements of each row: shuffle_ps picks them from both
     * registers lane by lane, a 64-bit permute puts them in order. */
    for (int i = 0; i < WM; i++) {
        const __m256 a = rows[i][0], b = rows[i][1];
        g[i * WM] = (vf)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
        g[i * WM + 1] = (vf)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
    }
}

#else
/* The scalar level: the definitions, element by element, for VL tiles. */

/* The 4x4 patches of VL tiles of channel ch, patch element e of tile l in
 * lane l of d[e]; zero outside the image and where mask is not positive. */
static void gather_patches(vf d[WXI], const float *in, const float *mask, int ch, const wino_core *k,
                           const tile_pos *pos)
{
    const long plane = (long)k->hi * k->wi;
    float patch[WXI][VL];
    for (int l = 0; l < VL; l++) {
        const tile_pos p = pos[l];
        const int iy0 = p.oy - k->pad_h, ix0 = p.ox - k->pad_w;
        if (p.n < 0) {
            for (int e = 0; e < WXI; e++) patch[e][l] = 0.0f;
            continue;
        }
        const long base = ((long)p.n * k->ci + ch) * plane;
        const float *src = in + base, *msk = mask ? mask + base : NULL;
        if (!msk && iy0 >= 0 && ix0 >= 0 && iy0 + WA <= k->hi && ix0 + WA <= k->wi) {
            for (int i = 0; i < WA; i++)
                for (int j = 0; j < WA; j++) patch[i * WA + j][l] = src[(long)(iy0 + i) * k->wi + ix0 + j];
            continue;
        }
        for (int i = 0; i < WA; i++)
            for (int j = 0; j < WA; j++) {
                const int iy = iy0 + i, ix = ix0 + j;
                const long at = (long)iy * k->wi + ix;
                const int inside = iy >= 0 && iy < k->hi && ix >= 0 && ix < k->wi;
                patch[i * WA + j][l] = inside && (!msk || msk[at] > 0.0f) ? src[at] : 0.0f;
            }
    }
    for (int e = 0; e < WXI; e++) loadv(&d[e], patch[e]);
}

/* Writes r (output e of tile l in lane l of r[e]) into channel oc of out
 * for VL tiles: out = r, or out += r when accumulating. */
static void scatter_tiles(float *out, int accumulate, const vf r[WM * WM], int oc, const wino_core *k,
                          const tile_pos *pos)
{
    const long plane = (long)k->ho * k->wo;
    float res[WM * WM][VL];
    for (int e = 0; e < WM * WM; e++) storev(res[e], &r[e]);
    for (int l = 0; l < VL; l++) {
        const tile_pos p = pos[l];
        if (p.n < 0) continue;
        float *dst = out + ((long)p.n * k->co + oc) * plane;
        for (int i = 0; i < WM && p.oy + i < k->ho; i++)
            for (int j = 0; j < WM && p.ox + j < k->wo; j++) {
                float *d = dst + (long)(p.oy + i) * k->wo + p.ox + j;
                *d = accumulate ? *d + res[i * WM + j][l] : res[i * WM + j][l];
            }
    }
}

/* The 2x2 tiles of channel oc of dy for VL tiles, output e of tile l in
 * lane l of g[e]; zero where y (when given) is not positive and past the
 * plane's edges. */
static void gather_tiles(vf g[WM * WM], const float *dy, const float *y, int oc, const wino_core *k,
                         const tile_pos *pos)
{
    const long plane = (long)k->ho * k->wo;
    float t[WM * WM][VL];
    for (int l = 0; l < VL; l++) {
        const tile_pos p = pos[l];
        const long base = ((long)p.n * k->co + oc) * plane;
        for (int i = 0; i < WM; i++)
            for (int j = 0; j < WM; j++) {
                const int oy = p.oy + i, ox = p.ox + j;
                const long at = base + (long)oy * k->wo + ox;
                const int live = p.n >= 0 && oy < k->ho && ox < k->wo && (!y || y[at] > 0.0f);
                t[i * WM + j][l] = live ? dy[at] : 0.0f;
            }
    }
    for (int e = 0; e < WM * WM; e++) loadv(&g[e], t[e]);
}
#endif

static void inputs(float *v, long ld, const float *in, const float *mask, int ch, const wino_core *k,
                   const tile_pos *pos, int cnt)
{
    for (int l0 = 0; l0 < cnt; l0 += VL) {
        vf d[WXI], u[WXI];
        gather_patches(d, in, mask, ch, k, pos + l0);
        input_transform(u, d);
        for (int e = 0; e < WXI; e++) storev(v + ((long)e * k->ci + ch) * ld + l0, &u[e]);
    }
}

static void outputs(float *out, int accumulate, const float *m, long ld, float bias, int relu, int oc,
                    const wino_core *k, const tile_pos *pos, int cnt)
{
    for (int l0 = 0; l0 < cnt; l0 += VL) {
        vf mv[WXI], r[WM * WM];
        for (int e = 0; e < WXI; e++) loadv(&mv[e], m + ((long)e * k->co + oc) * ld + l0);
        output_transform(r, mv);
        for (int e = 0; e < WM * WM && !accumulate; e++) {
            r[e] += bias;
            /* max(v, 0) as conv2d.c's v > 0 ? v : 0: the comparison's
             * all-ones lanes keep v's bits. */
            if (relu) r[e] = (vf)((vi)r[e] & (r[e] > 0.0f));
        }
        scatter_tiles(out, accumulate, r, oc, k, pos + l0);
    }
}

static void output_grads(float *dm, long ld, const float *dy, const float *y, int oc, const wino_core *k,
                         const tile_pos *pos, int cnt)
{
    for (int l0 = 0; l0 < cnt; l0 += VL) {
        vf g[WM * WM], mv[WXI];
        gather_tiles(g, dy, y, oc, k, pos + l0);
        output_adjoint(mv, g);
        for (int e = 0; e < WXI; e++) storev(dm + ((long)e * k->co + oc) * ld + l0, &mv[e]);
    }
}

static void weights(float *u, const float *w, int rows, int cols, int flip, long k0)
{
    const long count = (long)rows * cols;
    const int n = count - k0 < LANES ? (int)(count - k0) : LANES;
    float g[9][LANES], res[WXI][LANES];
    for (int l = 0; l < LANES; l++) {
        const long kk = k0 + l;
        if (l >= n) {
            for (int e = 0; e < 9; e++) g[e][l] = 0.0f;
            continue;
        }
        const long r = kk / cols, s = kk % cols;
        const float *src = w + (flip ? s * rows + r : kk) * 9;
        for (int e = 0; e < 9; e++) g[e][l] = src[flip ? 8 - e : e];
    }
    for (int l0 = 0; l0 < LANES; l0 += VL) {
        vf gv[9], uv[WXI];
        for (int e = 0; e < 9; e++) loadv(&gv[e], g[e] + l0);
        kernel_transform(uv, gv);
        for (int e = 0; e < WXI; e++) storev(res[e] + l0, &uv[e]);
    }
    for (int e = 0; e < WXI; e++) memcpy(u + e * count + k0, res[e], sizeof(float) * (size_t)n);
}

static void weight_grads(float *dw, const float *du, long count, long k0)
{
    const int n = count - k0 < LANES ? (int)(count - k0) : LANES;
    float dus[WXI][LANES] = {{0}}, g[9][LANES];
    for (int e = 0; e < WXI; e++) memcpy(dus[e], du + e * count + k0, sizeof(float) * (size_t)n);
    for (int l0 = 0; l0 < LANES; l0 += VL) {
        vf uv[WXI], gv[9];
        for (int e = 0; e < WXI; e++) loadv(&uv[e], dus[e] + l0);
        kernel_adjoint(gv, uv);
        for (int e = 0; e < 9; e++) storev(g[e] + l0, &gv[e]);
    }
    for (int l = 0; l < n; l++)
        for (int e = 0; e < 9; e++) dw[(k0 + l) * 9 + e] += g[e][l];
}

const nn_winograd_kernels NN_LEVEL_NAME(nn_winograd_kernels) = {
    .inputs = inputs,
    .outputs = outputs,
    .output_grads = output_grads,
    .weights = weights,
    .weight_grads = weight_grads,
};
