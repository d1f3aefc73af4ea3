#include "core/threads.h"

#include <cblas.h>
#include <omp.h>
#include <pmmintrin.h>
#include <xmmintrin.h>

void nn_threads_set(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
    /* Flush denormals to zero on every thread: arithmetic on them takes a
     * slow microcode path on x86 (a network that fits its data well is full
     * of them) and at float32 they carry nothing a model can use. */
    #pragma omp parallel
    {
        _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
        _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
    }
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}

int nn_threads_get(void) { return omp_get_max_threads(); }
