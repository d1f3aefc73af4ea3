#include "ops/conv2d_winograd.h"

#include <omp.h>
#include <string.h>

#include "core/gemm.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Output tile side m of F(m x m, 3 x 3), and the input patch side m + 2. */
#define WM 2
enum { WA = WM + 2, WXI = WA * WA, LANES = 16 };
/* Tiles per block: a multiple of LANES, from the channel count so one
 * block's transformed input stays near BLOCK_FLOATS (in cache) while the
 * GEMMs stay wide enough. Every block repacks the whole transformed kernel
 * (WXI * o * c floats) for its GEMMs, so wide layers need long blocks all
 * the same: 512 channels on 4x4 planes took 20% more time at 32 tiles a
 * block than at 128 (a single-thread benchmark of ResNet-18's shapes). */
enum { BLOCK_FLOATS = 128 * 1024, MIN_BLOCK = 128, MAX_BLOCK = 256 };
/* The weight gradient's blocks are shared by all threads and sized apart:
 * their transforms take WXI * (c + o) floats a tile, up to about
 * WGRAD_FLOATS for a block, and the block's tile count is the GEMMs' inner
 * dimension (the longer, the fewer passes over du; 4x as many floats was
 * slower, out of cache, and a quarter no faster). */
enum { WGRAD_FLOATS = 1 << 20, MAX_WGRAD_BLOCK = 2048 };

/* Transforms work on LANES tiles at once, one tile per lane: GCC's vector
 * extension, one AVX-512 register or two AVX2 ones, the same arithmetic
 * in every lane whatever is built. */
typedef float lanes16 __attribute__((vector_size(LANES * sizeof(float))));
typedef int lanes16i __attribute__((vector_size(LANES * sizeof(int))));

/* F(2x2, 3x3) at the points 0, 1, -1 (Lavin and Gray 2015). */
static const float BT[WA][WA] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const float G[WA][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
static const float AT[WM][WA] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

static lanes16 load16(const float *p)
{
    lanes16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void store16(float *p, lanes16 v) { memcpy(p, &v, sizeof v); }

/* sum_k c[k] v[k] over the nonzero c[k] only, in k order. With the
 * coefficients constant and the loop unrolled, zero terms vanish and unit
 * ones cost no multiply. */
#define LINCOMB(out, n, coef, term)                                  \
    do {                                                              \
        int first_ = 1;                                               \
        for (int k_ = 0; k_ < (n); k_++) {                            \
            float c_ = (coef);                                        \
            if (c_ == 0.0f) continue;                                 \
            lanes16 t_ = (term);                                      \
            lanes16 p_ = c_ == 1.0f ? t_ : c_ == -1.0f ? -t_ : c_ * t_; \
            (out) = first_ ? p_ : (out) + p_;                         \
            first_ = 0;                                               \
        }                                                             \
        if (first_) (out) = (lanes16){0};                             \
    } while (0)

/* v = B^T d B: a WA x WA input patch into the Winograd domain. */
static void input_transform(lanes16 v[WXI], const lanes16 d[WXI])
{
    lanes16 t[WXI];
    for (int i = 0; i < WA; i++)
        for (int j = 0; j < WA; j++) LINCOMB(t[i * WA + j], WA, BT[i][k_], d[k_ * WA + j]);
    for (int i = 0; i < WA; i++)
        for (int j = 0; j < WA; j++) LINCOMB(v[i * WA + j], WA, BT[j][k_], t[i * WA + k_]);
}

/* y = A^T m A: the Winograd domain back to a WM x WM output tile. */
static void output_transform(lanes16 y[WM * WM], const lanes16 m[WXI])
{
    lanes16 t[WM * WA];
    for (int i = 0; i < WM; i++)
        for (int j = 0; j < WA; j++) LINCOMB(t[i * WA + j], WA, AT[i][k_], m[k_ * WA + j]);
    for (int i = 0; i < WM; i++)
        for (int j = 0; j < WM; j++) LINCOMB(y[i * WM + j], WA, AT[j][k_], t[i * WA + k_]);
}

/* dm = A dy A^T: the adjoint of output_transform. */
static void output_adjoint(lanes16 dm[WXI], const lanes16 dy[WM * WM])
{
    lanes16 t[WA * WM];
    for (int i = 0; i < WA; i++)
        for (int j = 0; j < WM; j++) LINCOMB(t[i * WM + j], WM, AT[k_][i], dy[k_ * WM + j]);
    for (int i = 0; i < WA; i++)
        for (int j = 0; j < WA; j++) LINCOMB(dm[i * WA + j], WM, AT[k_][j], t[i * WM + k_]);
}

/* u = G g G^T: a 3x3 kernel into the Winograd domain. */
static void kernel_transform(lanes16 u[WXI], const lanes16 g[9])
{
    lanes16 t[WA * 3];
    for (int i = 0; i < WA; i++)
        for (int j = 0; j < 3; j++) LINCOMB(t[i * 3 + j], 3, G[i][k_], g[k_ * 3 + j]);
    for (int i = 0; i < WA; i++)
        for (int j = 0; j < WA; j++) LINCOMB(u[i * WA + j], 3, G[j][k_], t[i * 3 + k_]);
}

/* dg = G^T du G: the adjoint of kernel_transform. */
static void kernel_adjoint(lanes16 dg[9], const lanes16 du[WXI])
{
    lanes16 t[3 * WA];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < WA; j++) LINCOMB(t[i * WA + j], WA, G[k_][i], du[k_ * WA + j]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) LINCOMB(dg[i * 3 + j], WA, G[k_][j], t[i * WA + k_]);
}

/* One convolution as the tiled transforms see it: in (n, ci, hi, wi) to
 * out (n, co, ho, wo), tiles of WM x WM outputs over (n, ty, tx). */
typedef struct wino_core {
    int n, ci, hi, wi, co, ho, wo, pad_h, pad_w;
    int th, tw;           /* tiles down and across one plane */
    long tiles;
    int block;            /* tiles per block */
    long blocks;
} wino_core;

/* Where one tile lies: its sample and its first output pixel; where its
 * patch starts in channel 0 of the input (in_at, maybe before the plane:
 * only the rows and columns flagged inside are read). */
typedef struct tile_pos {
    int n, oy, ox;
    long in_at;
    unsigned rows, cols;   /* bit i: patch row / column i lies inside the image */
} tile_pos;

static int block_tiles(int channels, long tiles)
{
    int b = BLOCK_FLOATS / (WXI * channels) / LANES * LANES;
    if (b < MIN_BLOCK) b = MIN_BLOCK;
    if (b > MAX_BLOCK) b = MAX_BLOCK;
    long whole = (tiles + LANES - 1) / LANES * LANES;
    return whole < b ? (int)whole : b;
}

static wino_core make_core(int n, int ci, int hi, int wi, int co, int ho, int wo, int pad_h, int pad_w)
{
    wino_core k = {n, ci, hi, wi, co, ho, wo, pad_h, pad_w, (ho + WM - 1) / WM, (wo + WM - 1) / WM, 0, 0, 0};
    k.tiles = (long)n * k.th * k.tw;
    k.block = block_tiles(ci > co ? ci : co, k.tiles);
    k.blocks = (k.tiles + k.block - 1) / k.block;
    return k;
}

/* Positions of tiles [t0, t0 + cnt); lanes past the last tile get n = -1. */
static void tile_positions(tile_pos *pos, const wino_core *k, long t0, int cnt)
{
    const long per_plane = (long)k->th * k->tw;
    for (int l = 0; l < cnt; l++) {
        long t = t0 + l;
        if (t >= k->tiles) {
            pos[l] = (tile_pos){-1, 0, 0, 0, 0, 0};
            continue;
        }
        long r = t % per_plane;
        tile_pos p = {(int)(t / per_plane), (int)(r / k->tw) * WM, (int)(r % k->tw) * WM, 0, 0, 0};
        const int iy0 = p.oy - k->pad_h, ix0 = p.ox - k->pad_w;
        p.in_at = (long)p.n * k->ci * k->hi * k->wi + (long)iy0 * k->wi + ix0;
        for (int i = 0; i < WA; i++) {
            p.rows |= (unsigned)(iy0 + i >= 0 && iy0 + i < k->hi) << i;
            p.cols |= (unsigned)(ix0 + i >= 0 && ix0 + i < k->wi) << i;
        }
        pos[l] = p;
    }
}

#if defined(__AVX512F__) && WM == 2
/* The 4x4 patches of LANES tiles of channel ch, patch element e of tile l
 * in lane l of d[e]: each tile's four rows are four masked 4-float loads
 * (masked-off columns, outside the image, read as zero and are not
 * touched) into one register, then a 16x16 transpose puts the tiles in
 * lanes. 16 scalar loads and stores per tile cost more. */
static void gather_patches_avx512(lanes16 d[WXI], const float *in, const float *mask, int ch,
                                  const wino_core *k, const tile_pos *pos)
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
    for (int e = 0; e < WXI; e++) d[e] = (lanes16)r[e];
}
#endif

#if defined(__AVX512F__) && WM == 2
/* Output tiles move between lanes and planes a run at a time: the lanes
 * of one run are consecutive tiles of one tile row, so row i of their
 * 2x2 outputs is one stretch of the plane, tile l's two pixels at
 * 2l, 2l + 1 of the two registers that interleave outputs (i, 0) and
 * (i, 1). Each stretch is one masked load or store per register half,
 * at an address shifted back by 2 * (the run's first lane) so lanes and
 * columns line up (masked-off elements are not touched). */
static const int INTERLEAVE_LO[LANES] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const int INTERLEAVE_HI[LANES] = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
static const int EVEN[LANES] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const int ODD[LANES] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};

/* The run of lanes from la sharing pos[la]'s tile row: its end (one past)
 * and the mask of its output columns within the plane's width, over the
 * 32 interleaved elements. */
static int tile_run(const tile_pos *pos, int la, int wo, unsigned *cols)
{
    const tile_pos p = pos[la];
    int lb = la + 1;
    while (lb < LANES && pos[lb].n == p.n && pos[lb].oy == p.oy) lb++;
    int width = WM * (lb - la);
    if (p.ox + width > wo) width = wo - p.ox;
    *cols = (unsigned)(((1ull << width) - 1) << (WM * la));
    return lb;
}

/* Writes r (output e of tile l in lane l of r[e]) into channel oc of out
 * for LANES tiles: out = r, or out += r when accumulating. */
static void scatter_tiles_avx512(float *out, int accumulate, const lanes16 r[WM * WM], int oc,
                                 const wino_core *k, const tile_pos *pos)
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
        const int lb = tile_run(pos, la, k->wo, &cols);
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

/* The inverse gather: g[e] lane l = output e of tile l read from channel
 * oc of dy, zero outside the plane and, with y given, where y is not
 * positive (a fused ReLU's mask). */
static void gather_tiles_avx512(lanes16 g[WM * WM], const float *dy, const float *y, int oc,
                                const wino_core *k, const tile_pos *pos)
{
    __m512 rows[WM][2];
    for (int i = 0; i < WM; i++) rows[i][0] = rows[i][1] = _mm512_setzero_ps();
    const long plane = (long)k->ho * k->wo;
    for (int la = 0; la < LANES && pos[la].n >= 0;) {
        const tile_pos p = pos[la];
        unsigned cols;
        const int lb = tile_run(pos, la, k->wo, &cols);
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
        g[i * WM] = (lanes16)_mm512_permutex2var_ps(rows[i][0], even, rows[i][1]);
        g[i * WM + 1] = (lanes16)_mm512_permutex2var_ps(rows[i][0], odd, rows[i][1]);
    }
}
#endif

/* Transforms channel ch of the block's input patches into v (WXI rows of
 * ld floats, the block's tiles along each row). mask, when given, has
 * in's shape: where it is not positive the input reads as zero (a fused
 * ReLU's gradient). */
static void transform_inputs(float *v, long ld, const float *in, const float *mask, int ch,
                             const wino_core *k, const tile_pos *pos, int cnt)
{
    const long plane = (long)k->hi * k->wi;
    for (int l0 = 0; l0 < cnt; l0 += LANES) {
#if defined(__AVX512F__) && WM == 2
        lanes16 dv[WXI], uv[WXI];
        gather_patches_avx512(dv, in, mask, ch, k, pos + l0);
        input_transform(uv, dv);
        for (int e = 0; e < WXI; e++) store16(v + ((long)e * k->ci + ch) * ld + l0, uv[e]);
        continue;
#endif
        float patch[WXI][LANES] __attribute__((aligned(64)));
        for (int l = 0; l < LANES; l++) {
            const tile_pos p = pos[l0 + l];
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
        lanes16 d[WXI], u[WXI];
        for (int e = 0; e < WXI; e++) d[e] = load16(patch[e]);
        input_transform(u, d);
        for (int e = 0; e < WXI; e++) store16(v + ((long)e * k->ci + ch) * ld + l0, u[e]);
    }
}

/* Brings output channel oc of the block back from m (WXI rows of ld)
 * into out: out = result (+ bias, ReLU), or out += result. */
static void transform_outputs(float *out, int accumulate, const float *m, long ld, float bias,
                              int relu, int oc, const wino_core *k, const tile_pos *pos, int cnt)
{
    const long plane = (long)k->ho * k->wo;
    for (int l0 = 0; l0 < cnt; l0 += LANES) {
        lanes16 mv[WXI], r[WM * WM];
        for (int e = 0; e < WXI; e++) mv[e] = load16(m + ((long)e * k->co + oc) * ld + l0);
        output_transform(r, mv);
        for (int e = 0; e < WM * WM && !accumulate; e++) {
            r[e] += bias;
            /* max(v, 0) as conv2d.c's v > 0 ? v : 0: the comparison's
             * all-ones lanes keep v's bits. */
            if (relu) r[e] = (lanes16)((lanes16i)r[e] & (r[e] > 0.0f));
        }
#if defined(__AVX512F__) && WM == 2
        scatter_tiles_avx512(out, accumulate, r, oc, k, pos + l0);
        continue;
#endif
        float res[WM * WM][LANES] __attribute__((aligned(64)));
        for (int e = 0; e < WM * WM; e++) store16(res[e], r[e]);
        for (int l = 0; l < LANES; l++) {
            const tile_pos p = pos[l0 + l];
            if (p.n < 0) continue;
            float *dst = out + ((long)p.n * k->co + oc) * plane;
            for (int i = 0; i < WM && p.oy + i < k->ho; i++)
                for (int j = 0; j < WM && p.ox + j < k->wo; j++) {
                    float *d = dst + (long)(p.oy + i) * k->wo + p.ox + j;
                    *d = accumulate ? *d + res[i * WM + j][l] : res[i * WM + j][l];
                }
        }
    }
}

/* out = conv(in) through u (WXI x co x ci, the transformed kernel), with
 * bias and ReLU, or out += conv(in) when accumulating. mask: see
 * transform_inputs. scratch: per thread, WXI * (ci + co) * block floats. */
static void core_forward(float *out, int accumulate, const float *in, const float *mask,
                         const float *u, const float *bias, int relu, const wino_core *k,
                         float *scratch)
{
    const long ld = k->block, per_thread = (long)WXI * (k->ci + k->co) * ld;
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < k->blocks; b++) {
        float *v = scratch + (long)omp_get_thread_num() * per_thread;
        float *m = v + (long)WXI * k->ci * ld;
        const long t0 = b * k->block;
        const int cnt = (int)((k->tiles - t0 < k->block ? k->tiles - t0 : k->block) + LANES - 1) / LANES * LANES;
        tile_pos pos[MAX_BLOCK];
        tile_positions(pos, k, t0, cnt);
        for (int ch = 0; ch < k->ci; ch++) transform_inputs(v, ld, in, mask, ch, k, pos, cnt);
        for (int e = 0; e < WXI; e++)
            nn_gemm(0, 0, k->co, cnt, k->ci, 1.0f, u + (long)e * k->co * k->ci, k->ci,
                    v + (long)e * k->ci * ld, (int)ld, 0.0f, m + (long)e * k->co * ld, (int)ld);
        for (int oc = 0; oc < k->co; oc++)
            transform_outputs(out, accumulate, m, ld, bias ? bias[oc] : 0.0f, relu, oc, k, pos, cnt);
    }
}

/* u (WXI rows of rows * cols) = G g G^T for the kernels of w (o, c, 3, 3):
 * u row r, column s takes kernel (r, s), or with flip the kernel (s, r)
 * turned by 180 degrees (the input gradient's convolution). */
static void weights_to_domain(float *u, const float *w, int rows, int cols, int flip)
{
    const long count = (long)rows * cols;
    #pragma omp parallel for schedule(static)
    for (long k0 = 0; k0 < count; k0 += LANES) {
        float g[9][LANES] __attribute__((aligned(64)));
        for (int l = 0; l < LANES; l++) {
            const long kk = k0 + l;
            if (kk >= count) {
                for (int e = 0; e < 9; e++) g[e][l] = 0.0f;
                continue;
            }
            const long r = kk / cols, s = kk % cols;
            const float *src = w + (flip ? s * rows + r : kk) * 9;
            for (int e = 0; e < 9; e++) g[e][l] = src[flip ? 8 - e : e];
        }
        lanes16 gv[9], uv[WXI];
        for (int e = 0; e < 9; e++) gv[e] = load16(g[e]);
        kernel_transform(uv, gv);
        const int n = count - k0 < LANES ? (int)(count - k0) : LANES;
        for (int e = 0; e < WXI; e++) {
            float tmp[LANES] __attribute__((aligned(64)));
            store16(tmp, uv[e]);
            memcpy(u + e * count + k0, tmp, sizeof(float) * (size_t)n);
        }
    }
}

static wino_core forward_core(const nn_winograd_geom *q)
{
    return make_core(q->n, q->c, q->h, q->w, q->o, q->oh, q->ow, q->pad_h, q->pad_w);
}

/* The input gradient's convolution: dy with the flipped kernel and the
 * padding that brings it back to x's size. */
static wino_core input_grad_core(const nn_winograd_geom *q)
{
    return make_core(q->n, q->o, q->oh, q->ow, q->c, q->h, q->w, 2 - q->pad_h, 2 - q->pad_w);
}

/* The weight gradient's tiling: the forward's, in blocks of its own size. */
static wino_core weight_grad_core(const nn_winograd_geom *q)
{
    wino_core k = forward_core(q);
    long b = WGRAD_FLOATS / ((long)WXI * (q->c + q->o)) / LANES * LANES;
    if (b < LANES) b = LANES;
    if (b > MAX_WGRAD_BLOCK) b = MAX_WGRAD_BLOCK;
    const long whole = (k.tiles + LANES - 1) / LANES * LANES;
    k.block = (int)(whole < b ? whole : b);
    k.blocks = (k.tiles + k.block - 1) / k.block;
    return k;
}

int nn_conv2d_winograd_fits(int c, int o, int kh, int kw, nn_conv2d_args a)
{
    /* Below 16 channels either way the GEMMs are too thin for the saved
     * flops to pay for the transforms (a network's first conv, C = 3). */
    return kh == 3 && kw == 3 && a.stride_h == 1 && a.stride_w == 1 && a.dilation_h == 1 &&
           a.dilation_w == 1 && a.groups == 1 && a.pad_h >= 0 && a.pad_h <= 2 && a.pad_w >= 0 &&
           a.pad_w <= 2 && c >= 16 && o >= 16;
}

long nn_conv2d_winograd_forward_scratch(const nn_winograd_geom *q, int threads)
{
    const wino_core k = forward_core(q);
    return (long)WXI * q->o * q->c + (long)threads * WXI * (k.ci + k.co) * k.block;
}

void nn_conv2d_winograd_forward(float *y, const float *x, const float *w, const float *b,
                                const nn_winograd_geom *q, float *scratch)
{
    const wino_core k = forward_core(q);
    float *u = scratch;
    weights_to_domain(u, w, q->o, q->c, 0);
    core_forward(y, 0, x, NULL, u, b, q->relu, &k, u + (long)WXI * q->o * q->c);
}

long nn_conv2d_winograd_backward_scratch(const nn_winograd_geom *q, int threads)
{
    const wino_core kx = input_grad_core(q), kw = weight_grad_core(q);
    const long per_dx = (long)threads * WXI * (kx.ci + kx.co) * kx.block;
    const long per_dw = (long)WXI * (kw.ci + kw.co) * kw.block;
    const long du = (long)WXI * q->o * q->c;
    return du + (per_dx > per_dw ? per_dx : per_dw);
}

/* Brings output channel oc's gradient dy (masked by a fused ReLU) of
 * the block's tiles into the Winograd domain: dm = A dy A^T, WXI rows of ld. */
static void transform_output_grads(float *dm, long ld, const float *dy, const float *y, int oc,
                                   const nn_winograd_geom *q, const wino_core *k, const tile_pos *pos,
                                   int cnt)
{
    const long out_plane = (long)q->oh * q->ow;
    for (int l0 = 0; l0 < cnt; l0 += LANES) {
#if defined(__AVX512F__) && WM == 2
        lanes16 dyv[WM * WM], dmv[WXI];
        gather_tiles_avx512(dyv, dy, q->relu ? y : NULL, oc, k, pos + l0);
        output_adjoint(dmv, dyv);
        for (int e = 0; e < WXI; e++) store16(dm + ((long)e * q->o + oc) * ld + l0, dmv[e]);
        continue;
#endif
        (void)k;
        float g[WM * WM][LANES] __attribute__((aligned(64)));
        for (int l = 0; l < LANES; l++) {
            const tile_pos p = pos[l0 + l];
            const long base = ((long)p.n * q->o + oc) * out_plane;
            for (int i = 0; i < WM; i++)
                for (int j = 0; j < WM; j++) {
                    const int oy = p.oy + i, ox = p.ox + j;
                    const long at = base + (long)oy * q->ow + ox;
                    const int live = p.n >= 0 && oy < q->oh && ox < q->ow && (!q->relu || y[at] > 0.0f);
                    g[i * WM + j][l] = live ? dy[at] : 0.0f;
                }
        }
        lanes16 gv[WM * WM], mv[WXI];
        for (int e = 0; e < WM * WM; e++) gv[e] = load16(g[e]);
        output_adjoint(mv, gv);
        for (int e = 0; e < WXI; e++) store16(dm + ((long)e * q->o + oc) * ld + l0, mv[e]);
    }
}

/* The weight gradient in the Winograd domain: du (WXI x o x c) = sum over
 * tiles of dm (A dy A^T) times v (B^T x B). All threads transform one
 * block together (channel by channel), then each point's GEMM adds the
 * block into du[e]: every du[e] sums the blocks in order within one GEMM
 * call at a time, so the result does not depend on the thread count, and
 * no thread needs a du of its own. */
static void weight_grad_domain(float *du, const float *dy, const float *x, const float *y,
                               const nn_winograd_geom *q, float *scratch)
{
    const wino_core k = weight_grad_core(q);
    const long ld = k.block;
    float *v = scratch, *dm = v + (long)WXI * q->c * ld;
    tile_pos pos[MAX_WGRAD_BLOCK];
    for (long b = 0; b < k.blocks; b++) {
        const long t0 = b * k.block;
        const int cnt = (int)((k.tiles - t0 < k.block ? k.tiles - t0 : k.block) + LANES - 1) / LANES * LANES;
        tile_positions(pos, &k, t0, cnt);
        #pragma omp parallel
        {
            #pragma omp for schedule(static)
            for (int ch = 0; ch < q->c; ch++) transform_inputs(v, ld, x, NULL, ch, &k, pos, cnt);
            #pragma omp for schedule(static)
            for (int oc = 0; oc < q->o; oc++) transform_output_grads(dm, ld, dy, y, oc, q, &k, pos, cnt);
            #pragma omp for schedule(static)
            for (int e = 0; e < WXI; e++)
                nn_gemm(0, 1, q->o, q->c, cnt, 1.0f, dm + (long)e * q->o * ld, (int)ld,
                        v + (long)e * q->c * ld, (int)ld, b ? 1.0f : 0.0f, du + (long)e * q->o * q->c, q->c);
        }
    }
}

/* dw (o, c, 3, 3) += G^T du G. */
static void weight_grad_from_domain(float *dw, const float *du, int o, int c)
{
    const long count = (long)o * c;
    #pragma omp parallel for schedule(static)
    for (long k0 = 0; k0 < count; k0 += LANES) {
        const int n = count - k0 < LANES ? (int)(count - k0) : LANES;
        lanes16 uv[WXI], gv[9];
        for (int e = 0; e < WXI; e++) {
            float tmp[LANES] __attribute__((aligned(64))) = {0};
            memcpy(tmp, du + e * count + k0, sizeof(float) * (size_t)n);
            uv[e] = load16(tmp);
        }
        kernel_adjoint(gv, uv);
        float g[9][LANES] __attribute__((aligned(64)));
        for (int e = 0; e < 9; e++) store16(g[e], gv[e]);
        for (int l = 0; l < n; l++)
            for (int e = 0; e < 9; e++) dw[(k0 + l) * 9 + e] += g[e][l];
    }
}

void nn_conv2d_winograd_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const float *y, const nn_winograd_geom *q,
                                 float *scratch)
{
    const long du_size = (long)WXI * q->o * q->c;
    float *u = scratch, *work = u + du_size;
    const float *mask = q->relu ? y : NULL;
    if (db) {
        const long plane = (long)q->oh * q->ow;
        #pragma omp parallel for schedule(static)
        for (int oc = 0; oc < q->o; oc++) {
            float lanes[LANES] = {0};
            for (int n = 0; n < q->n; n++) {
                const long at = ((long)n * q->o + oc) * plane;
                long j = 0;
                for (; j + LANES <= plane; j += LANES)
                    for (int l = 0; l < LANES; l++)
                        lanes[l] += !mask || mask[at + j + l] > 0.0f ? dy[at + j + l] : 0.0f;
                for (int l = 0; j < plane; j++, l++) lanes[l] += !mask || mask[at + j] > 0.0f ? dy[at + j] : 0.0f;
            }
            float sum = 0.0f;
            for (int l = 0; l < LANES; l++) sum += lanes[l];
            db[oc] += sum;
        }
    }
    if (dx) {
        const wino_core k = input_grad_core(q);
        weights_to_domain(u, w, q->c, q->o, 1);
        core_forward(dx, 1, dy, mask, u, NULL, 0, &k, work);
    }
    if (dw) {
        weight_grad_domain(u, dy, x, y, q, work);
        weight_grad_from_domain(dw, u, q->o, q->c);
    }
}
