/* Thread governor: chooses, step by step, between all cores and one thread
 * from the measured time of training steps.
 *
 * Why: nnzoo's ops split their work evenly between the threads and wait for
 * the slowest at the end of each of the many parallel regions of a step. When
 * another CPU-bound process shares a core, the thread on that core gets half
 * of it (and waits for time slices), so every region takes as long as that
 * thread does and all cores together are slower than one thread alone on the
 * free core (LeNet-5 and MobileNetV3-Small: 1.4x to 15x slower). Results do
 * not depend on the thread count (a tested promise), so the governor may pick
 * whichever is faster now: timing decides the thread count, never a number.
 *
 * How: the first steps run on all cores (they size the step arena for the
 * largest thread count, so a later switch never grows it). Then, now and
 * then, it runs a short probe of the other setting and keeps the faster
 * (by a margin), probing less often each time the choice is confirmed. A
 * sudden slowdown of the chosen setting (another process started) brings a
 * probe at once. This file is only the decision: it takes step times and
 * says how many threads the next step should use; it never reads a clock or
 * touches OpenMP, so tests can feed it timings. */
#ifndef NN_CORE_GOVERNOR_H
#define NN_CORE_GOVERNOR_H

#include <stdint.h>

/* The two settings it chooses between. */
typedef enum nn_governor_setting {
    NN_GOVERNOR_MANY, /* all cores */
    NN_GOVERNOR_ONE,  /* one thread */
} nn_governor_setting;

typedef enum nn_governor_phase {
    NN_GOVERNOR_SETTLE, /* first steps: on all cores, not judged */
    NN_GOVERNOR_RUN,    /* steps at the chosen setting */
    NN_GOVERNOR_PROBE,  /* steps at the other setting, to compare */
} nn_governor_phase;

enum { NN_GOVERNOR_RECENT = 3 };

typedef struct nn_governor {
    int many;                 /* threads of NN_GOVERNOR_MANY; <= 1: nothing to choose */
    nn_governor_phase phase;
    nn_governor_setting choice;
    int64_t steps;            /* steps observed */
    int64_t at[2];            /* steps observed at each setting */
    int64_t since;            /* steps at `choice` since the last decision */
    int64_t interval;         /* steps at `choice` between probes */
    double recent[NN_GOVERNOR_RECENT]; /* latest step costs at `choice`, newest first */
    int n_recent;
    double best;              /* fastest cost at `choice` since the last decision */
    int probe_steps;          /* steps of the current probe so far */
    int probe_forced;         /* the probe was brought by a slowdown */
    double reference;         /* the chosen setting's cost the probe is held against */
    double probe_best;        /* its fastest step */
    int64_t probes, switches; /* counts, for reports and tests */
} nn_governor;

/* Starts choosing between `many` threads and one; many <= 1 makes a governor
 * that always says `many` (or 1) and never probes. */
void nn_governor_init(nn_governor *g, int many);

/* Threads the next step should use: `many` or 1. */
int nn_governor_threads(const nn_governor *g);

/* Takes the cost of the step just run at nn_governor_threads(g) threads
 * (seconds per sample, so a short last batch compares fairly; any positive
 * unit that is the same for every step works) and decides the next one. */
void nn_governor_observe(nn_governor *g, double cost);

#endif
