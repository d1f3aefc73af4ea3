/* Thread settings. nnzoo threads with OpenMP only; OpenBLAS is kept at one
 * thread so the two pools never oversubscribe the cores. */
#ifndef NN_CORE_THREADS_H
#define NN_CORE_THREADS_H

/* Uses n threads for everything after this call. n <= 0 leaves the count to
 * nnzoo: one per core to start with, and the training step's governor
 * (core/governor.h) may move between that and one thread. */
void nn_threads_set(int n);

/* Threads in use now. */
int nn_threads_get(void);

/* The number of cores the governor may use (> 0) if the last nn_threads_set
 * left the count to nnzoo, else 0 (the caller chose a count: keep it). */
int nn_threads_automatic(void);

/* Uses n >= 1 threads from now on without changing who chose: the governor's
 * switch between steps (results do not depend on the count). */
void nn_threads_use(int n);

#endif
