#include "core/gemm.h"

#include "core/cpu.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Tiles start at TILE_M x TILE_N (large enough that each sgemm call
 * amortizes its packing) and are halved, down to MIN_TILE_M x MIN_TILE_N,
 * until a product has MIN_TILES of them to share out. They depend on the
 * shape alone, never on the thread count, so rounding does not either. */
enum { TILE_M = 64, TILE_N = 256, MIN_TILE_M = 16, MIN_TILE_N = 32, MIN_TILES = 4 };
/* Below this many multiply-adds a product runs as one call. */
#define SMALL_GEMM_MACS (1L << 17)

static void choose_tiles(int m, int n, int *tm, int *tn)
{
    *tm = TILE_M;
    *tn = TILE_N;
    for (;;) {
        int tiles = ((m + *tm - 1) / *tm) * ((n + *tn - 1) / *tn);
        if (tiles >= MIN_TILES) return;
        /* Halve the dimension that gives more tiles back. */
        if (*tn > MIN_TILE_N && n > *tn / 2 && (n >= m || *tm <= MIN_TILE_M)) *tn /= 2;
        else if (*tm > MIN_TILE_M && m > *tm / 2) *tm /= 2;
        else if (*tn > MIN_TILE_N && n > *tn / 2) *tn /= 2;
        else return;
    }
}

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
    int tm, tn;
    choose_tiles(m, n, &tm, &tn);
    if (omp_get_level() > 0 || (long)m * n * k <= SMALL_GEMM_MACS || (m <= tm && n <= tn)) {
        gemm_tile(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int tiles_m = (m + tm - 1) / tm;
    int tiles_n = (n + tn - 1) / tn;
    int tiles = tiles_m * tiles_n;
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < tiles; t++) {
        int i0 = (t / tiles_n) * tm, j0 = (t % tiles_n) * tn;
        int mm = m - i0 < tm ? m - i0 : tm;
        int nn = n - j0 < tn ? n - j0 : tn;
        /* Row i0 of op(A): A[i0][0] untransposed, A[0][i0] transposed. */
        const float *at = trans_a ? a + i0 : a + (long)i0 * lda;
        const float *bt = trans_b ? b + (long)j0 * ldb : b + j0;
        gemm_tile(trans_a, trans_b, mm, nn, k, alpha, at, lda, bt, ldb, beta,
                  c + (long)i0 * ldc + j0, ldc);
    }
}

const char *nn_gemm_backend(void)
{
    static char text[96];
    if (!text[0]) {
        /* The config starts "OpenBLAS 0.3.21 DYNAMIC_ARCH ...": keep the
         * first two words, then the core OpenBLAS chose for this CPU (or
         * was told to take by OPENBLAS_CORETYPE). */
        const char *config = openblas_get_config(), *space = strchr(config, ' ');
        int len = space ? (int)(space - config) + 1 + (int)strcspn(space + 1, " ") : (int)strlen(config);
        snprintf(text, sizeof text, "%.*s, %s kernels", len, config, openblas_get_corename());
    }
    return text;
}

const char *nn_gemm_better_coretype(void)
{
    /* OpenBLAS's names for kernels that use AVX-512, and AVX2 + FMA. */
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const avx2[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
    const nn_cpu_level level = nn_cpu_level_best();
    if (level == NN_CPU_SCALAR) return NULL;
    const char *const *good = level == NN_CPU_AVX512 ? avx512 : avx2;
    const int n = level == NN_CPU_AVX512 ? 3 : 5;
    const char *core = openblas_get_corename();
    for (int i = 0; i < n; i++)
        if (!strcasecmp(core, good[i])) return NULL;
    return good[0];
}
