/* Threads: the step governor's decisions from fed-in step costs (no clock,
 * so every case is deterministic), and the promise it rests on: changing the
 * thread count between the steps of a run changes no bit of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/governor.h"
#include "core/rng.h"
#include "core/threads.h"
#include "datasets/datasets.h"
#include "io/config.h"
#include "models/models.h"
#include "train/run.h"

/* ---- the governor, on simulated machines ---- */

/* A machine: what a step costs on all cores and on one thread, from step
 * `from` on (the first phase starts at 0). */
typedef struct phase {
    long from;
    double many, one;
} phase;

/* Runs `steps` steps of a governor for `many` threads on the machine
 * `phases` (n of them, in order); counts the steps on one thread within
 * [count_from, steps) into *at_one and returns the thread count of the last
 * step. `trace`, if not NULL, gets each step's thread count. */
static int simulate(nn_governor *g, int many, const phase *phases, int n, long steps, long count_from,
                    long *at_one, int *trace)
{
    nn_governor_init(g, many);
    *at_one = 0;
    int threads = many;
    for (long s = 0; s < steps; s++) {
        const phase *p = phases;
        for (int i = 0; i < n; i++)
            if (s >= phases[i].from) p = &phases[i];
        threads = nn_governor_threads(g);
        ck_assert(threads == many || threads == 1);
        if (trace) trace[s] = threads;
        if (threads == 1 && s >= count_from) ++*at_one;
        nn_governor_observe(g, threads == 1 ? p->one : p->many);
    }
    return threads;
}

START_TEST(quiet_machine_stays_on_all_cores_and_probes_ever_less)
{
    /* One thread takes 1.8x as long: every probe ends after its first step. */
    const phase quiet = {0, 1.0, 1.8};
    nn_governor g;
    int trace[5000];
    long at_one;
    ck_assert_int_eq(simulate(&g, 2, &quiet, 1, 5000, 0, &at_one, trace), 2);
    /* Two steps sizing the arena, two measured, then the first probe. */
    for (int s = 0; s < 4; s++) ck_assert_int_eq(trace[s], 2);
    ck_assert_int_eq(trace[4], 1);
    ck_assert_int_eq(trace[5], 2);
    ck_assert_int_eq(g.switches, 0);
    /* Probes 16, 64, 256, 1024, 1024... steps apart: few, and each one step. */
    ck_assert_int_eq(at_one, g.probes);
    ck_assert_int_le(g.probes, 9);
    ck_assert_int_ge(g.probes, 6);
    ck_assert_int_eq(g.interval, 1024);
    /* The probe steps cost 0.8 of a step each: < 0.2% of 5000 steps. */
    ck_assert_double_lt(0.8 * (double)at_one / 5000.0, 0.002);
}
END_TEST

START_TEST(busy_machine_moves_to_one_thread_within_a_few_steps)
{
    /* The MobileNetV3-Small: 879 ms on all cores, 313 on one. */
    const phase busy = {0, 879.0, 313.0};
    nn_governor g;
    int trace[2000];
    long at_one;
    ck_assert_int_eq(simulate(&g, 2, &busy, 1, 2000, 0, &at_one, trace), 1);
    /* The probe at step 4 finds one thread faster and keeps it. */
    ck_assert_int_eq(trace[4], 1);
    ck_assert_int_eq(trace[5], 1);
    ck_assert_int_eq(trace[6], 1);
    ck_assert_int_eq(g.switches, 1);
    ck_assert_int_eq(g.choice, NN_GOVERNOR_ONE);
    /* Four steps before the switch, then one-step probes back at most
     * 129 steps apart: the cost over 2000 steps stays under 3% of one
     * thread's time (the goal is 15%). */
    long at_many = 2000 - at_one;
    double total = 879.0 * (double)at_many + 313.0 * (double)at_one, ideal = 313.0 * 2000;
    ck_assert_double_lt(total / ideal, 1.03);
    ck_assert_int_le(g.interval, 128);
}
END_TEST

START_TEST(slowdown_on_all_cores_brings_a_probe_at_once)
{
    /* Quiet for 500 steps (probes now 256 apart), then another process
     * starts: all cores become 3x slower than one thread. */
    const phase machine[] = {{0, 1.0, 1.7}, {500, 5.1, 1.7}};
    nn_governor g;
    int trace[600];
    long at_one;
    simulate(&g, 2, machine, 2, 600, 0, &at_one, trace);
    /* Two slow steps, then the probe, which stays. */
    ck_assert_int_eq(trace[500], 2);
    ck_assert_int_eq(trace[501], 2);
    for (int s = 502; s < 502 + 18; s++) ck_assert_msg(trace[s] == 1, "step %d", s);
    ck_assert_int_eq(g.choice, NN_GOVERNOR_ONE);
}
END_TEST

START_TEST(back_to_all_cores_when_the_machine_frees)
{
    /* Busy, then the other process ends at step 1000: one thread's time does
     * not change, so only the governor's probes of all cores can see it. */
    const phase machine[] = {{0, 3.0, 1.0}, {1000, 0.55, 1.0}};
    nn_governor g;
    int trace[1400];
    long at_one;
    simulate(&g, 2, machine, 2, 1400, 0, &at_one, trace);
    ck_assert_int_eq(trace[999], 1);
    int back = -1;
    for (int s = 1000; s < 1399 && back < 0; s++)
        if (trace[s] == 2 && trace[s + 1] == 2) back = s;
    ck_assert_int_ge(back, 1000);
    ck_assert_int_le(back, 1000 + 128 + 2);
    ck_assert_int_eq(g.choice, NN_GOVERNOR_MANY);
    for (int s = back; s < 1400; s++) ck_assert_msg(trace[s] == 2 || trace[s - 1] == 2, "step %d", s);
}
END_TEST

START_TEST(near_equal_settings_do_not_flap)
{
    /* One thread 2% faster: inside the margin, the choice stays. */
    const phase even = {0, 1.0, 0.98};
    nn_governor g;
    long at_one;
    simulate(&g, 2, &even, 1, 3000, 0, &at_one, NULL);
    ck_assert_int_eq(g.switches, 0);
    ck_assert_int_le(at_one, 2 * 9);
}
END_TEST

START_TEST(one_slow_step_is_noise_not_a_change)
{
    nn_governor g;
    nn_governor_init(&g, 2);
    for (long s = 0; s < 100; s++) {
        int threads = nn_governor_threads(&g);
        /* Slow steps on all cores, but never two in a row. */
        int spike = s == 40 || s == 60 || s == 62;
        nn_governor_observe(&g, threads == 1 ? 1.8 : spike ? 9.0 : 1.0);
    }
    /* The first probe and the routine one after 16 steps: no others. */
    ck_assert_int_eq(g.probes, 3);
    ck_assert_int_eq(g.switches, 0);
}
END_TEST

START_TEST(one_core_or_a_fixed_count_never_probes)
{
    nn_governor g;
    nn_governor_init(&g, 1);
    for (int s = 0; s < 100; s++) {
        ck_assert_int_eq(nn_governor_threads(&g), 1);
        nn_governor_observe(&g, s % 2 ? 1.0 : 50.0);
    }
    ck_assert_int_eq(g.probes, 0);
    ck_assert_int_eq(g.steps, 0);
    /* The count the caller fixed: nn_threads_automatic() is 0. */
    nn_threads_set(3);
    ck_assert_int_eq(nn_threads_automatic(), 0);
    ck_assert_int_eq(nn_threads_get(), 3);
    nn_threads_use(1);
    ck_assert_int_eq(nn_threads_automatic(), 0);
    nn_threads_set(0);
    ck_assert_int_gt(nn_threads_automatic(), 0);
    ck_assert_int_eq(nn_threads_get(), nn_threads_automatic());
}
END_TEST

/* ---- results do not depend on when the count changes ---- */

static nn_config *cfg;
static nn_run run;

enum { BATCH = 8 };

/* A run of `model` with the model and data options `extra` on a fixed
 * random batch, built at `threads` threads (0: nnzoo's choice). */
static void setup(const char *model, const char *extra, int threads)
{
    char text[768];
    snprintf(text, sizeof text,
             "{\"model\": {\"name\": \"%s\"%s}, \"train\": {\"batch_size\": %d, \"seed\": 5, "
             "\"optimizer\": {\"name\": \"sgd\", \"lr\": 0.02, \"momentum\": 0.9, \"weight_decay\": 0.0005}}%s}",
             model, strstr(model, "mobilenet") ? ", \"stem\": \"cifar\"" : "", BATCH, extra);
    ck_assert_int_eq(nn_config_parse(&cfg, text, "test"), NN_OK);
    const char *name;
    ck_assert_int_eq(nn_config_string(cfg, "model.name", NULL, NULL, &name), NN_OK);
    nn_threads_set(threads);
    nn_status st = nn_run_setup(&run, cfg, nn_model_find(name), &nn_dataset_fashion_mnist, NN_RUN_NO_DATA);
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(nn_config_check_unknown(cfg), NN_OK);
    const nn_model_input *in = &run.model.input;
    long per = (long)in->channels * in->height * in->width;
    nn_rng r;
    nn_rng_seed(&r, 3, 3);
    for (long i = 0; i < per * BATCH; i++) run.x[i] = nn_rng_normal(&r);
    for (int i = 0; i < BATCH; i++) run.y[i] = (int32_t)nn_rng_below(&r, (uint32_t)in->num_classes);
}

static void teardown(void)
{
    nn_run_deinit(&run);
    nn_config_free(cfg);
}

enum { STEPS = 12 };

/* Trains STEPS steps; before step s, nn_threads_use(counts[s]) unless
 * counts is NULL. Returns the parameters and buffers after (malloc'd) and
 * each step's loss in losses. */
static float *train(const int *counts, float *losses)
{
    for (int s = 0; s < STEPS; s++) {
        if (counts) nn_threads_use(counts[s]);
        int correct;
        ck_assert_int_eq(nn_run_step(&run, run.x, run.y, BATCH, &losses[s], &correct), NN_OK);
    }
    const nn_params *p = &run.model.params;
    size_t n = (size_t)(p->total + p->buffer_total);
    float *out = malloc(n * sizeof *out);
    ck_assert_ptr_nonnull(out);
    memcpy(out, p->values, n * sizeof *out);
    return out;
}

/* Cores nnzoo may use; with one, there is nothing to switch. */
static int cores(void)
{
    nn_threads_set(0);
    return nn_threads_automatic();
}

/* Steps at a fixed count against steps whose count changes between them,
 * both directions and more threads than cores included, and against the
 * governor's own choices: the same losses and the same bits. */
static void same_bits_whatever_the_count(const char *model, const char *extra)
{
    static const int fixed1[STEPS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* Starting small: the step arena grows when a larger count first comes. */
    static const int changing[STEPS] = {1, 2, 1, 1, 2, 3, 1, 2, 2, 1, 3, 1};
    float loss_ref[STEPS], loss[STEPS];

    setup(model, extra, 1);
    float *ref = train(fixed1, loss_ref);
    const int64_t n = run.model.params.total + run.model.params.buffer_total;
    teardown();

    setup(model, extra, 1);
    float *got = train(changing, loss);
    ck_assert_msg(memcmp(loss, loss_ref, sizeof loss) == 0, "%s: losses differ when the count changes", model);
    ck_assert_msg(memcmp(got, ref, (size_t)n * sizeof *got) == 0, "%s: weights differ when the count changes", model);
    teardown();
    free(got);

    /* nnzoo's choice: the governor probes one thread at step 4. */
    setup(model, extra, 0);
    got = train(NULL, loss);
    ck_assert_int_ge(run.governor.probes, 1);
    ck_assert_int_gt(run.governor.at[NN_GOVERNOR_ONE], 0);
    ck_assert_int_gt(run.governor.at[NN_GOVERNOR_MANY], 0);
    printf("%s: %d steps, %lld on all %d cores and %lld on one thread (governor), same bits as 1 thread\n",
           model, STEPS, (long long)run.governor.at[NN_GOVERNOR_MANY], run.governor.many,
           (long long)run.governor.at[NN_GOVERNOR_ONE]);
    ck_assert_msg(memcmp(loss, loss_ref, sizeof loss) == 0, "%s: losses differ under the governor", model);
    ck_assert_msg(memcmp(got, ref, (size_t)n * sizeof *got) == 0, "%s: weights differ under the governor", model);
    teardown();
    free(got);
    free(ref);
    nn_threads_set(0);
}

START_TEST(lenet5_same_bits_when_the_count_changes)
{
    if (cores() < 2) return;
    same_bits_whatever_the_count("lenet5", "");
}
END_TEST

START_TEST(mobilenet_v3_small_same_bits_when_the_count_changes)
{
    if (cores() < 2) return;
    /* Depthwise convolutions, BatchNorm, squeeze-excitation, dropout. */
    same_bits_whatever_the_count("mobilenet_v3_small", ", \"data\": {\"channels\": 3, \"pad\": 2}");
}
END_TEST

START_TEST(arena_sized_on_all_cores_never_grows_after)
{
    /* nnzoo's choice: the first steps run on all cores and size the step
     * arena for them; switching to one thread and back takes no memory. */
    if (cores() < 2) return;
    setup("lenet5", "", 0);
    float loss;
    int correct;
    ck_assert_int_eq(nn_run_step(&run, run.x, run.y, BATCH, &loss, &correct), NN_OK);
    ck_assert_int_eq(nn_run_step(&run, run.x, run.y, BATCH, &loss, &correct), NN_OK);
    uint64_t chunks = run.step_arena.chunk_allocs;
    size_t high = run.step_arena.high_water;
    for (int s = 0; s < 40; s++) ck_assert_int_eq(nn_run_step(&run, run.x, run.y, BATCH, &loss, &correct), NN_OK);
    ck_assert_int_ge(run.governor.at[NN_GOVERNOR_ONE], 1);
    ck_assert_uint_eq(run.step_arena.chunk_allocs, chunks);
    ck_assert_uint_eq(run.step_arena.high_water, high);
    teardown();
    nn_threads_set(0);
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *gov = tcase_create("governor");
    tcase_add_test(gov, quiet_machine_stays_on_all_cores_and_probes_ever_less);
    tcase_add_test(gov, busy_machine_moves_to_one_thread_within_a_few_steps);
    tcase_add_test(gov, slowdown_on_all_cores_brings_a_probe_at_once);
    tcase_add_test(gov, back_to_all_cores_when_the_machine_frees);
    tcase_add_test(gov, near_equal_settings_do_not_flap);
    tcase_add_test(gov, one_slow_step_is_noise_not_a_change);
    tcase_add_test(gov, one_core_or_a_fixed_count_never_probes);
    suite_add_tcase(s, gov);
    TCase *bits = tcase_create("bits");
    tcase_set_timeout(bits, 120);
    tcase_add_test(bits, lenet5_same_bits_when_the_count_changes);
    tcase_add_test(bits, mobilenet_v3_small_same_bits_when_the_count_changes);
    tcase_add_test(bits, arena_sized_on_all_cores_never_grows_after);
    suite_add_tcase(s, bits);
    return s;
}

NN_TEST_MAIN(threads_suite)
