/* Thread settings. nnzoo threads with OpenMP only; OpenBLAS is kept at one
 * thread so the two pools never oversubscribe the cores. */
#ifndef NN_CORE_THREADS_H
#define NN_CORE_THREADS_H

/* Uses n threads for everything after this call (n <= 0: one per core). */
void nn_threads_set(int n);

/* Threads in use. */
int nn_threads_get(void);

#endif
