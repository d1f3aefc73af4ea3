#include "core/gemm.h"

#include <cblas.h>
#include <omp.h>

/* Tile sizes: large enough that each sgemm call amortizes its packing, small
 * enough that a layer of a small CNN still yields a tile per thread. Changing
 * them changes rounding, so they are constants, never derived from threads. */
enum { TILE_M = 64, TILE_N = 256 };
/* Below this many multiply-adds a product runs as one call. */
#define SMALL_GEMM_MACS (1L << 17)

static void gemm_tile(int trans_a, int trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta,
                      float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
                beta, c, ldc);
}

void nn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    /* Inside a parallel region (active or not, so 1 and 2 threads agree) the
     * caller already shares out the work: one call. */
    if (omp_get_level() > 0 || (long)m * n * k <= SMALL_GEMM_MACS ||
        (m <= TILE_M && n <= TILE_N)) {
        gemm_tile(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int tiles_m = (m + TILE_M - 1) / TILE_M;
    int tiles_n = (n + TILE_N - 1) / TILE_N;
    int tiles = tiles_m * tiles_n;
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < tiles; t++) {
        int i0 = (t / tiles_n) * TILE_M, j0 = (t % tiles_n) * TILE_N;
        int mm = m - i0 < TILE_M ? m - i0 : TILE_M;
        int nn = n - j0 < TILE_N ? n - j0 : TILE_N;
        /* Row i0 of op(A): A[i0][0] untransposed, A[0][i0] transposed. */
        const float *at = trans_a ? a + i0 : a + (long)i0 * lda;
        const float *bt = trans_b ? b + (long)j0 * ldb : b + j0;
        gemm_tile(trans_a, trans_b, mm, nn, k, alpha, at, lda, bt, ldb, beta,
                  c + (long)i0 * ldc + j0, ldc);
    }
}
