/* CPU levels and the choice of hand-vectorised kernels.
 *
 * Every hand-vectorised kernel is built once per level from one source
 * (a `*_kernels.c` file, compiled with that level's -march and named with
 * NN_LEVEL_NAME): the scalar level is the reference, the others must give
 * the same bits. Which levels are built is the Makefile's choice: a native
 * build has every level up to its target's, a portable build (PORTABLE=1)
 * has all three and picks at run time. Callers never test the CPU: they
 * take a kernel table through NN_KERNELS, which follows nn_cpu_level_get(). */
#ifndef NN_CORE_CPU_H
#define NN_CORE_CPU_H

typedef enum nn_cpu_level {
    NN_CPU_SCALAR,  /* x86-64-v2: no hand-written vector code */
    NN_CPU_AVX2,    /* x86-64-v3: AVX2, FMA, BMI2, F16C */
    NN_CPU_AVX512,  /* x86-64-v4: AVX-512 F, BW, CD, DQ, VL */
    NN_CPU_LEVEL_COUNT
} nn_cpu_level;

/* Which levels this binary was built with (the Makefile defines these). */
#ifndef NN_HAVE_AVX2
#define NN_HAVE_AVX2 0
#endif
#ifndef NN_HAVE_AVX512
#define NN_HAVE_AVX512 0
#endif

/* The level in use: the best one built in and supported by this CPU, or
 * lower if NNZOO_KERNELS (scalar, avx2, avx512) or nn_cpu_level_set asks.
 * Decided once, at first use; cheap to call. */
nn_cpu_level nn_cpu_level_get(void);

/* The best level this binary can run here (built in and supported). */
nn_cpu_level nn_cpu_level_best(void);

/* Uses `level` from now on (tests run every level against the scalar
 * reference). Returns 0, or -1 and changes nothing when `level` is not
 * built in or this CPU lacks it. Not for use while kernels run. */
int nn_cpu_level_set(nn_cpu_level level);

/* "scalar", "avx2" or "avx512". */
const char *nn_cpu_level_name(nn_cpu_level level);

/* Inside a `*_kernels.c` file: NAME with the level it is being compiled
 * for appended (NN_LEVEL is defined by the Makefile for those files). */
#define NN_LEVEL_CAT_(name, level) name##_##level
#define NN_LEVEL_CAT(name, level) NN_LEVEL_CAT_(name, level)
#define NN_LEVEL_NAME(name) NN_LEVEL_CAT(name, NN_LEVEL)

/* Declares the per-level kernel tables `name_scalar`, `name_avx2` and
 * `name_avx512` of type `type` (a struct of function pointers). */
#define NN_DECLARE_KERNELS(type, name) \
    extern const type name##_scalar, name##_avx2, name##_avx512

#if NN_HAVE_AVX2
#define NN_KERNELS_AVX2_(name) &name##_avx2
#else
#define NN_KERNELS_AVX2_(name) &name##_scalar
#endif
#if NN_HAVE_AVX512
#define NN_KERNELS_AVX512_(name) &name##_avx512
#else
#define NN_KERNELS_AVX512_(name) NN_KERNELS_AVX2_(name)
#endif

/* The kernel table `name` for the level in use. */
#define NN_KERNELS(name)                                                         \
    ((const __typeof__(name##_scalar) *const[NN_CPU_LEVEL_COUNT]){               \
        &name##_scalar, NN_KERNELS_AVX2_(name), NN_KERNELS_AVX512_(name)}[nn_cpu_level_get()])

#endif
