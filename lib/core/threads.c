#include "core/threads.h"

#include <cblas.h>
#include <omp.h>
#include <pmmintrin.h>
#include <xmmintrin.h>

/* Cores the governor may use; 0 while the caller's count holds. */
static int automatic;

void nn_threads_use(int n)
{
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
    /* Flush denormals to zero on every thread: arithmetic on them takes a
     * slow microcode path on x86 (a network that fits its data well is full
     * of them) and at float32 they carry nothing a model can use. Done at
     * every change of the count, so a thread libgomp starts for a larger
     * team gets it before any op runs (results must not depend on which
     * thread computed them). */
    #pragma omp parallel
    {
        _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
        _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
    }
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}

void nn_threads_set(int n)
{
    automatic = n <= 0 ? omp_get_num_procs() : 0;
    nn_threads_use(n <= 0 ? omp_get_num_procs() : n);
}

int nn_threads_get(void) { return omp_get_max_threads(); }

int nn_threads_automatic(void) { return automatic; }
