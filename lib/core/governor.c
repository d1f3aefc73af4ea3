#include "core/governor.h"

#include <math.h>
#include <string.h>

/* Steps on all cores before any judging: the first sizes the step arena
 * (and grows it chunk by chunk), the second faults in the pages of the one
 * block that replaces the chunks; neither says how fast a step is. */
#define SETTLE_STEPS 2
/* Steps on all cores, after settling, before the first probe. */
#define FIRST_STEPS 2
/* A probe runs the other setting this many steps and keeps its fastest: the
 * first step after a switch can pay for waking threads and cold caches. */
#define PROBE_STEPS 2
/* ...but one probe step this much slower than the chosen setting ends the
 * probe: on a busy machine a step on all cores can cost several steps. */
#define PROBE_ABORT 1.25
/* The other setting must be this much faster to be chosen, so that noise
 * between two near-equal settings does not make the choice flap. */
#define MARGIN 0.03
/* Two steps in a row this much slower than the fastest since the last
 * decision: the machine changed (another process started), probe now. */
#define SLOWDOWN 1.25
/* Steps between probes: from BASE, times GROWTH each time a probe confirms
 * the choice, up to CAP. On all cores a probe costs up to one step at one
 * thread (about twice a step on a quiet 2-core machine) and a slowdown brings
 * one anyway, so probes there are a safety net and rare. On one thread the
 * probes are how the governor sees the other process go (the one thread's
 * own time does not change), so they stay frequent enough to come back to
 * all cores within ~100 steps. */
#define BASE_MANY 16
#define CAP_MANY 1024
#define BASE_ONE 16
#define CAP_ONE 128
#define GROWTH 4

static int64_t base_interval(nn_governor_setting s) { return s == NN_GOVERNOR_MANY ? BASE_MANY : BASE_ONE; }
static int64_t cap_interval(nn_governor_setting s) { return s == NN_GOVERNOR_MANY ? CAP_MANY : CAP_ONE; }

void nn_governor_init(nn_governor *g, int many)
{
    memset(g, 0, sizeof *g);
    g->many = many;
    g->phase = NN_GOVERNOR_SETTLE;
    g->choice = NN_GOVERNOR_MANY;
    g->interval = FIRST_STEPS;
    g->best = INFINITY;
}

static nn_governor_setting running(const nn_governor *g)
{
    return g->phase == NN_GOVERNOR_PROBE ? !g->choice : g->choice;
}

int nn_governor_threads(const nn_governor *g)
{
    if (g->many <= 1) return g->many < 1 ? 1 : g->many;
    return running(g) == NN_GOVERNOR_MANY ? g->many : 1;
}

/* The fastest of the latest steps at the chosen setting: the reference a
 * probe is held against (the fastest, since noise only ever adds time). */
static double recent_best(const nn_governor *g)
{
    double m = INFINITY;
    for (int i = 0; i < g->n_recent; i++) m = fmin(m, g->recent[i]);
    return m;
}

static void push_recent(nn_governor *g, double cost)
{
    memmove(g->recent + 1, g->recent, sizeof g->recent[0] * (NN_GOVERNOR_RECENT - 1));
    g->recent[0] = cost;
    if (g->n_recent < NN_GOVERNOR_RECENT) g->n_recent++;
}

/* Starts a probe, held against the chosen setting's latest speed: after a
 * slowdown, the faster of the two slow steps (older, faster ones are gone). */
static void start_probe(nn_governor *g, int forced)
{
    g->phase = NN_GOVERNOR_PROBE;
    g->probe_steps = 0;
    g->probe_forced = forced;
    g->reference = forced ? fmin(g->recent[0], g->recent[1]) : recent_best(g);
    g->probe_best = INFINITY;
    g->probes++;
}

/* The probe is over: keep the faster setting. */
static void decide(nn_governor *g)
{
    if (g->probe_best < g->reference * (1.0 - MARGIN)) {
        g->choice = !g->choice;
        g->switches++;
        g->n_recent = 0;
        push_recent(g, g->probe_best);
        g->best = g->probe_best;
        g->interval = base_interval(g->choice);
    } else {
        g->best = g->reference;
        /* A probe brought by a slowdown says the machine is changing:
         * look again soon; a routine one that confirms: look less often. */
        int64_t next = g->probe_forced ? base_interval(g->choice) : g->interval * GROWTH;
        if (next < base_interval(g->choice)) next = base_interval(g->choice);
        g->interval = next < cap_interval(g->choice) ? next : cap_interval(g->choice);
    }
    g->since = 0;
    g->phase = NN_GOVERNOR_RUN;
}

void nn_governor_observe(nn_governor *g, double cost)
{
    if (g->many <= 1) return;
    g->steps++;
    g->at[running(g)]++;
    switch (g->phase) {
    case NN_GOVERNOR_SETTLE:
        if (g->steps >= SETTLE_STEPS) g->phase = NN_GOVERNOR_RUN;
        return;
    case NN_GOVERNOR_RUN:
        push_recent(g, cost);
        g->best = fmin(g->best, cost);
        g->since++;
        if (g->since >= g->interval)
            start_probe(g, 0);
        else if (g->n_recent >= 2 && g->recent[0] > g->best * SLOWDOWN && g->recent[1] > g->best * SLOWDOWN)
            start_probe(g, 1);
        return;
    case NN_GOVERNOR_PROBE:
        g->probe_steps++;
        g->probe_best = fmin(g->probe_best, cost);
        if (g->probe_steps >= PROBE_STEPS || cost > g->reference * PROBE_ABORT) decide(g);
        return;
    }
}
