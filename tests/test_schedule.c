/* Learning-rate schedules against PyTorch: the lr (and OneCycle's momentum)
 * at every tick of each variant, compared with
 * tests/golden/schedules.safetensors, which tests/golden/schedule_reference.py
 * writes with Debian's python3-torch from torch.optim.lr_scheduler; plus the
 * table, the checks, resuming plateau from its saved state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "io/safetensors.h"
#include "optim/schedule.h"
#include "testutil.h"

#define GOLDEN "tests/golden/schedules.safetensors"
enum { MAX_TICKS = 64 };

/* name -> "schedule base_lr ticks key=value ...": VARIANTS in
 * schedule_reference.py, the same strings (the test checks the file's). */
static const struct { const char *name, *line; } variants[] = {
    {"constant", "constant 0.1 30"},
    {"step", "step 0.1 30 step_size=7 gamma=0.5"},
    {"step_default_gamma", "step 1.0 30 step_size=3"},
    {"multistep", "multistep 0.2 30 milestones=12,5,20,12 gamma=0.3"},
    {"exponential", "exponential 0.05 30 gamma=0.9"},
    {"cosine", "cosine 0.1 30 T_max=20 eta_min=0.001"},
    {"cosine_zero", "cosine 0.5 30 T_max=10"},
    {"warmup_constant", "constant 0.3 30 warmup_steps=5"},
    {"warmup_cosine", "cosine 0.1 30 T_max=20 warmup_steps=5 start_factor=0.1"},
    {"warmup_step", "step 0.1 30 step_size=4 gamma=0.5 warmup_steps=3 start_factor=0.25"},
    {"warmup_exponential", "exponential 0.02 30 gamma=0.8 warmup_steps=10 start_factor=0.05"},
    {"onecycle", "onecycle 0.01 30 max_lr=0.5 total_steps=30"},
    {"onecycle_linear", "onecycle 0.01 40 max_lr=1.0 total_steps=40 pct_start=0.25 anneal_strategy=linear "
                        "div_factor=10 final_div_factor=100 base_momentum=0.8 max_momentum=0.9"},
    {"noam", "noam 1.0 30 d_model=512 warmup=10 factor=2"},
    {"noam_scaled", "noam 0.5 30 d_model=64 warmup=8"},
    {"plateau", "plateau 0.1 30 mode=min factor=0.5 patience=2 threshold=0.01 threshold_mode=rel "
                "cooldown=1 min_lr=0.01"},
    {"plateau_max_abs", "plateau 0.1 30 mode=max factor=0.2 patience=1 threshold=0.05 threshold_mode=abs "
                        "min_lr=0.0001"},
    {"warmup_plateau", "plateau 0.1 30 factor=0.5 patience=1 warmup_steps=4 start_factor=0.2"},
};
enum { N_VARIANTS = (int)(sizeof variants / sizeof variants[0]) };

/* A schedule from a variant line: defaults, then the key=value overrides
 * (choices by name, lists comma-separated). Sets *ticks. */
static void schedule_from(nn_schedule *s, const char *line, int *ticks)
{
    char buf[512], def_name[32];
    snprintf(buf, sizeof buf, "%s", line);
    double base_lr;
    int used;
    ck_assert_int_eq(sscanf(buf, "%31s %lf %d%n", def_name, &base_lr, ticks, &used), 3);
    ck_assert(*ticks <= MAX_TICKS);
    const nn_schedule_def *def = nn_schedule_find(def_name);
    ck_assert_msg(def, "no schedule %s", def_name);
    double hp[NN_SCHEDULE_MAX_HPARAMS], list[NN_SCHEDULE_MAX_LIST];
    int given[NN_SCHEDULE_MAX_HPARAMS] = {0};
    for (int i = 0; i < def->n_hparams; i++) hp[i] = def->hparams[i].def;
    for (char *save, *word = strtok_r(buf + used, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(word, '=');
        ck_assert(eq);
        *eq = '\0';
        int i = 0;
        while (i < def->n_hparams && strcmp(def->hparams[i].name, word)) i++;
        ck_assert_msg(i < def->n_hparams, "%s has no hyperparameter %s", def_name, word);
        const nn_schedule_hparam *h = &def->hparams[i];
        given[i] = 1;
        if (h->type == NN_SCHEDULE_HPARAM_CHOICE) {
            int k = 0;
            while (h->choices[k] && strcmp(h->choices[k], eq + 1)) k++;
            ck_assert_msg(h->choices[k], "%s: no choice %s", word, eq + 1);
            hp[i] = k;
        } else if (h->type == NN_SCHEDULE_HPARAM_LIST) {
            int n = 0;
            for (char *s2, *v = strtok_r(eq + 1, ",", &s2); v; v = strtok_r(NULL, ",", &s2)) list[n++] = atof(v);
            hp[i] = n;
        } else {
            hp[i] = atof(eq + 1);
        }
        ck_assert(h->type == NN_SCHEDULE_HPARAM_CHOICE || (hp[i] >= h->min && hp[i] <= h->max));
    }
    for (int i = 0; i < def->n_hparams; i++)
        ck_assert_msg(given[i] || !def->hparams[i].required, "%s needs %s", def_name, def->hparams[i].name);
    const char *why;
    ck_assert_int_eq(nn_schedule_check(def, hp, list, &why), -1);
    nn_schedule_init(s, def, hp, list, base_lr);
}

static nn_safetensors *golden;

static float *load(const char *kind, const char *variant, long want_n)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s", kind, variant);
    long n;
    float *v = tu_golden(golden, name, &n);
    ck_assert_int_eq(n, want_n);
    return v;
}

static double max_rel(const double *got, const double *want, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++) {
        const double d = fabs(got[i] - want[i]);
        m = fmax(m, want[i] != 0.0 ? d / fabs(want[i]) : d);
    }
    return m;
}

START_TEST(trajectories_match_pytorch)
{
    const char *name = variants[_i].name;
    golden = tu_golden_open(GOLDEN);
    char key[128];
    snprintf(key, sizeof key, "args.%s", name);
    const char *line = nn_safetensors_meta(golden, key);
    ck_assert_msg(line, "%s: no %s in the metadata", GOLDEN, key);
    ck_assert_str_eq(line, variants[_i].line);

    nn_schedule s;
    int ticks;
    schedule_from(&s, variants[_i].line, &ticks);
    float *want = load("lr", name, ticks), *want_lo = load("lr_lo", name, ticks);
    float *metrics = NULL, *want_m = NULL, *want_mlo = NULL;
    if (s.def->needs_metric) metrics = load("metrics", name, ticks);
    if (s.def->momentum) {
        want_m = load("momentum", name, ticks);
        want_mlo = load("momentum_lo", name, ticks);
    }

    float got[MAX_TICKS], got_m[MAX_TICKS];
    double got_d[MAX_TICKS], want_d[MAX_TICKS], got_md[MAX_TICKS], want_md[MAX_TICKS];
    for (int t = 0; t < ticks; t++) {
        got_d[t] = nn_schedule_lr(&s, t);
        got[t] = (float)got_d[t];
        want_d[t] = (double)want[t] + (double)want_lo[t];
        double m;
        if (want_m) {
            ck_assert(nn_schedule_momentum(&s, t, &m));
            got_m[t] = (float)m;
            got_md[t] = m;
            want_md[t] = (double)want_m[t] + (double)want_mlo[t];
        }
        if (metrics) nn_schedule_observe(&s, t, metrics[t]);
    }
    /* In float32 as the brief asks, and in double against hi + lo, where
     * only the closed forms' and PyTorch's recursions' roundings differ. */
    int ok = tu_close(name, got, want, ticks, 0.0, 1e-6);
    const double err = max_rel(got_d, want_d, ticks);
    double merr = 0.0;
    printf("  %-20s %2d ticks  lr max rel. error %.2g (double)", name, ticks, err);
    if (want_m) {
        ok &= tu_close(name, got_m, want_m, ticks, 0.0, 1e-6);
        merr = max_rel(got_md, want_md, ticks);
        printf("  momentum %.2g", merr);
    }
    printf("\n");
    fflush(stdout);
    ck_assert_msg(ok, "%s differs from PyTorch", name);
    ck_assert_msg(err <= 1e-12, "%s: lr differs from PyTorch's double by %.3g relative", name, err);
    ck_assert_msg(merr <= 1e-12, "%s: momentum differs from PyTorch's double by %.3g relative", name, merr);
    free(want);
    free(want_lo);
    free(metrics);
    free(want_m);
    free(want_mlo);
    nn_safetensors_close(golden);
}
END_TEST

START_TEST(every_schedule_has_a_golden_trajectory)
{
    golden = tu_golden_open(GOLDEN);
    int lrs = 0;
    for (int i = 0; i < nn_safetensors_count(golden); i++) lrs += !strncmp(nn_safetensors_name(golden, i), "lr.", 3);
    ck_assert_int_eq(lrs, N_VARIANTS);
    for (int i = 0; nn_schedules[i]; i++) {
        int found = 0;
        const size_t len = strlen(nn_schedules[i]->name);
        for (int j = 0; j < N_VARIANTS; j++)
            found |= !strncmp(variants[j].line, nn_schedules[i]->name, len) && variants[j].line[len] == ' ';
        ck_assert_msg(found, "schedule %s has no golden trajectory", nn_schedules[i]->name);
    }
    ck_assert_ptr_null(nn_schedule_find("cosine_annealing"));
    nn_safetensors_close(golden);
}
END_TEST

/* Each schedule advances per epoch or per step as PyTorch is used: epochs
 * for StepLR and the like, steps for OneCycleLR and Noam. */
START_TEST(default_intervals_are_pytorchs)
{
    static const struct { const char *name; int interval; } want[] = {
        {"constant", NN_SCHEDULE_EPOCH}, {"step", NN_SCHEDULE_EPOCH}, {"multistep", NN_SCHEDULE_EPOCH},
        {"exponential", NN_SCHEDULE_EPOCH}, {"cosine", NN_SCHEDULE_EPOCH}, {"onecycle", NN_SCHEDULE_STEP},
        {"noam", NN_SCHEDULE_STEP}, {"plateau", NN_SCHEDULE_EPOCH},
    };
    int n = 0;
    for (; nn_schedules[n]; n++) continue;
    ck_assert_int_eq(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n; i++) {
        const nn_schedule_def *def = nn_schedule_find(want[i].name);
        ck_assert_msg(def, "no schedule %s", want[i].name);
        const nn_schedule_hparam *h = &def->hparams[def->n_hparams - NN_SCHEDULE_N_COMMON];
        ck_assert_str_eq(h->name, "interval");
        ck_assert_msg((int)h->def == want[i].interval, "%s: interval %s", want[i].name,
                      nn_schedule_interval_names[(int)h->def]);
        nn_schedule s;
        int ticks;
        char line[64];
        snprintf(line, sizeof line, "%s 0.1 1%s", want[i].name,
                 !strcmp(want[i].name, "step") ? " step_size=2"
                 : !strcmp(want[i].name, "multistep") ? " milestones=3"
                 : !strcmp(want[i].name, "exponential") ? " gamma=0.5"
                 : !strcmp(want[i].name, "cosine") ? " T_max=5"
                 : !strcmp(want[i].name, "onecycle") ? " max_lr=1 total_steps=10" : "");
        schedule_from(&s, line, &ticks);
        ck_assert_int_eq(s.interval, want[i].interval);
    }
}
END_TEST

/* What PyTorch refuses (or divides by zero on) is refused, naming the key. */
START_TEST(checks_name_the_hyperparameter)
{
    const nn_schedule_def *pl = &nn_schedule_plateau, *oc = &nn_schedule_onecycle;
    double hp[NN_SCHEDULE_MAX_HPARAMS];
    const char *why = NULL;
    for (int i = 0; i < pl->n_hparams; i++) hp[i] = pl->hparams[i].def;
    ck_assert_int_eq(nn_schedule_check(pl, hp, NULL, &why), -1);
    hp[1] = 1.0;   /* factor */
    ck_assert_int_eq(nn_schedule_check(pl, hp, NULL, &why), 1);
    ck_assert_str_eq(pl->hparams[1].name, "factor");
    ck_assert_str_eq(why, "factor should be < 1.0");
    hp[1] = 0.5;
    hp[pl->n_hparams - 3] = NN_SCHEDULE_STEP;
    ck_assert_int_eq(nn_schedule_check(pl, hp, NULL, &why), pl->n_hparams - 3);
    ck_assert_ptr_nonnull(strstr(why, "once per epoch"));

    for (int i = 0; i < oc->n_hparams; i++) hp[i] = oc->hparams[i].def;
    hp[0] = 1.0;    /* max_lr */
    hp[1] = 10.0;   /* total_steps */
    hp[2] = 0.1;    /* pct_start: a first phase ending at tick 0 */
    ck_assert_int_eq(nn_schedule_check(oc, hp, NULL, &why), 2);
    ck_assert_str_eq(oc->hparams[2].name, "pct_start");
    hp[2] = 0.3;
    ck_assert_int_eq(nn_schedule_check(oc, hp, NULL, &why), -1);
    hp[7] = 0.0;    /* div_factor */
    ck_assert_int_eq(nn_schedule_check(oc, hp, NULL, &why), 7);
    ck_assert_str_eq(oc->hparams[7].name, "div_factor");
}
END_TEST

/* Plateau's state saved after 12 epochs and restored into a fresh schedule
 * continues to the same lrs as a run that never stopped. */
START_TEST(plateau_resumes_from_its_state)
{
    static const char line[] = "plateau 0.1 30 factor=0.5 patience=1 cooldown=1 threshold=0.01";
    static const double metric[30] = {1, .9, .9, .9, .8, .8, .8, .8, .7, .71, .72, .73, .6, .6, .6,
                                      .61, .5, .5, .5, .5, .4, .41, .42, .43, .44, .3, .3, .3, .3, .3};
    nn_schedule a, b;
    int ticks;
    schedule_from(&a, line, &ticks);
    schedule_from(&b, line, &ticks);
    ck_assert_int_eq(a.def->n_state, 4);
    ck_assert_str_eq(a.def->state_names[0], "lr");
    ck_assert_str_eq(a.def->state_names[1], "best");
    ck_assert_str_eq(a.def->state_names[2], "num_bad_epochs");
    ck_assert_str_eq(a.def->state_names[3], "cooldown_counter");
    ck_assert(isinf(a.state[1]) && a.state[1] > 0);
    double want[30];
    for (int t = 0; t < 30; t++) {
        want[t] = nn_schedule_lr(&a, t);
        nn_schedule_observe(&a, t, metric[t]);
    }
    ck_assert(want[29] < want[0]);   /* it did reduce */
    for (int t = 0; t < 12; t++) {
        ck_assert(nn_schedule_lr(&b, t) == want[t]);
        nn_schedule_observe(&b, t, metric[t]);
    }
    double saved[NN_SCHEDULE_MAX_STATE];
    memcpy(saved, b.state, sizeof saved);
    schedule_from(&b, line, &ticks);
    memcpy(b.state, saved, sizeof saved);
    for (int t = 12; t < 30; t++) {
        ck_assert_msg(nn_schedule_lr(&b, t) == want[t], "tick %d: %g, want %g", t, nn_schedule_lr(&b, t), want[t]);
        nn_schedule_observe(&b, t, metric[t]);
    }
}
END_TEST

/* Past total_steps (where PyTorch raises) OneCycle holds its final lr;
 * without cycle_momentum it sets no momentum; other schedules set none. */
START_TEST(onecycle_ends_and_momentum)
{
    nn_schedule s;
    int ticks;
    schedule_from(&s, "onecycle 0.1 1 max_lr=1 total_steps=20", &ticks);
    const double last = nn_schedule_lr(&s, 19);
    ck_assert(fabs(last - 1.0 / 25 / 1e4) < 1e-15);
    ck_assert(nn_schedule_lr(&s, 20) == last && nn_schedule_lr(&s, 1000) == last);
    double m;
    ck_assert(nn_schedule_momentum(&s, 0, &m) && m == 0.95);
    schedule_from(&s, "onecycle 0.1 1 max_lr=1 total_steps=20 cycle_momentum=0", &ticks);
    ck_assert(!nn_schedule_momentum(&s, 3, &m));
    schedule_from(&s, "cosine 0.1 1 T_max=5", &ticks);
    ck_assert(!nn_schedule_momentum(&s, 3, &m));
    /* Warm-up in front of onecycle keeps its tick-0 momentum. */
    schedule_from(&s, "onecycle 0.1 1 max_lr=1 total_steps=20 warmup_steps=3", &ticks);
    ck_assert(nn_schedule_momentum(&s, 1, &m) && m == 0.95);
    ck_assert(fabs(nn_schedule_lr(&s, 1) - 0.1 * (1.0 / 3 + 2.0 / 3 / 3)) < 1e-15);
    ck_assert(fabs(nn_schedule_lr(&s, 3) - 1.0 / 25) < 1e-15);
}
END_TEST

static Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    printf("schedules vs PyTorch (%s), max relative error per trajectory:\n", GOLDEN);
    fflush(stdout);
    tcase_add_loop_test(tc, trajectories_match_pytorch, 0, N_VARIANTS);
    tcase_add_test(tc, every_schedule_has_a_golden_trajectory);
    tcase_add_test(tc, default_intervals_are_pytorchs);
    tcase_add_test(tc, checks_name_the_hyperparameter);
    tcase_add_test(tc, plateau_resumes_from_its_state);
    tcase_add_test(tc, onecycle_ends_and_momentum);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(schedule_suite)
