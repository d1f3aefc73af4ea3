/* The one place nnzoo calls BLAS.
 *
 * C = alpha * op(A) * op(B) + beta * C with row-major matrices, where op(X)
 * is X or its transpose. op(A) is m x k, op(B) is k x n, C is m x n.
 *
 * Results do not depend on the thread count: C is cut into tiles of a fixed
 * size, each tile is one single-threaded sgemm over the whole k, and OpenMP
 * spreads the tiles over the threads. (OpenBLAS's own threading splits work
 * by thread count and so changes rounding between 1 and 2 threads.) Called
 * inside a parallel region it is one single-threaded call. */
#ifndef NN_CORE_GEMM_H
#define NN_CORE_GEMM_H

void nn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc);

/* The BLAS behind nn_gemm and the kernels it picked for this CPU, e.g.
 * "OpenBLAS 0.3.21, Haswell kernels" (a static string). */
const char *nn_gemm_backend(void);

/* The OPENBLAS_CORETYPE to ask for when OpenBLAS took kernels below the
 * CPU level in use (core/cpu.h), as 0.3.21 does on CPUs newer than itself
 * (SSE3 "Prescott" kernels on a 2023 Xeon: GEMMs several times slower);
 * NULL when its choice is fine. OpenBLAS reads the variable as it loads, so
 * only a program that starts again can act on it. */
const char *nn_gemm_better_coretype(void);

#endif
