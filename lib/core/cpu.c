#include "core/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[NN_CPU_LEVEL_COUNT] = {
    [NN_CPU_SCALAR] = "scalar", [NN_CPU_AVX2] = "avx2", [NN_CPU_AVX512] = "avx512"};

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static nn_cpu_level best_level, level_in_use;

/* What the CPU (and the OS, which must save the wide registers: libgcc's
 * check covers that) supports, capped at what is built in. */
static nn_cpu_level supported(void)
{
    __builtin_cpu_init();
    nn_cpu_level level = NN_CPU_SCALAR;
    if (NN_HAVE_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        level = NN_CPU_AVX2;
    if (NN_HAVE_AVX512 && level == NN_CPU_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
        level = NN_CPU_AVX512;
    return level;
}

static void detect(void)
{
    best_level = level_in_use = supported();
    /* NNZOO_KERNELS lowers the level (to compare levels on one machine);
     * it never raises it past what runs here. */
    const char *want = getenv("NNZOO_KERNELS");
    if (!want || !*want) return;
    for (int l = 0; l < NN_CPU_LEVEL_COUNT; l++)
        if (!strcmp(want, level_names[l])) {
            if ((nn_cpu_level)l < best_level) level_in_use = (nn_cpu_level)l;
            return;
        }
    fprintf(stderr, "nnzoo: warning: NNZOO_KERNELS=\"%s\" is not scalar, avx2 or avx512; using %s\n",
            want, level_names[best_level]);
}

nn_cpu_level nn_cpu_level_get(void)
{
    pthread_once(&detect_once, detect);
    return level_in_use;
}

nn_cpu_level nn_cpu_level_best(void)
{
    pthread_once(&detect_once, detect);
    return best_level;
}

int nn_cpu_level_set(nn_cpu_level level)
{
    pthread_once(&detect_once, detect);
    if ((int)level < 0 || level > best_level) return -1;
    level_in_use = level;
    return 0;
}

const char *nn_cpu_level_name(nn_cpu_level level)
{
    return (int)level >= 0 && level < NN_CPU_LEVEL_COUNT ? level_names[level] : "unknown";
}
