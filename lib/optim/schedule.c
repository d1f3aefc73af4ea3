#include "optim/schedule.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

const char *const nn_schedule_interval_names[] = {[NN_SCHEDULE_EPOCH] = "epoch", [NN_SCHEDULE_STEP] = "step", NULL};

#define BIG 1e9
#define COUNT(x) (int)(sizeof x / sizeof x[0])

/* The common tail of every table (see NN_SCHEDULE_N_COMMON). */
#define COMMON(interval)                                                                        \
    {"interval", NN_SCHEDULE_HPARAM_CHOICE, interval, 0, 0, nn_schedule_interval_names, 0},     \
    {"warmup_steps", NN_SCHEDULE_HPARAM_INT, 0, 0, BIG, NULL, 0},                               \
    {"start_factor", NN_SCHEDULE_HPARAM_NUMBER, 1.0 / 3.0, 0, 1, NULL, 0}

/* ---- constant: the optimizer's lr throughout ---- */

static const nn_schedule_hparam constant_hparams[] = {COMMON(NN_SCHEDULE_EPOCH)};

static double constant_lr(const nn_schedule *s, int64_t u)
{
    (void)u;
    return s->base_lr;
}

const nn_schedule_def nn_schedule_constant = {
    .name = "constant",
    .summary = "the optimizer's lr (with warm-up: LinearLR alone)",
    .hparams = constant_hparams,
    .n_hparams = COUNT(constant_hparams),
    .lr = constant_lr,
};

/* ---- step: StepLR, lr = base_lr * gamma^floor(u / step_size) ---- */

enum { STEP_SIZE, STEP_GAMMA };
static const nn_schedule_hparam step_hparams[] = {
    [STEP_SIZE] = {"step_size", NN_SCHEDULE_HPARAM_INT, 1, 1, BIG, NULL, 1},
    [STEP_GAMMA] = {"gamma", NN_SCHEDULE_HPARAM_NUMBER, 0.1, 0, BIG, NULL, 0},
    COMMON(NN_SCHEDULE_EPOCH),
};

static double step_lr(const nn_schedule *s, int64_t u)
{
    return s->base_lr * pow(s->hp[STEP_GAMMA], (double)(u / (int64_t)s->hp[STEP_SIZE]));
}

const nn_schedule_def nn_schedule_step = {
    .name = "step",
    .summary = "StepLR: times gamma every step_size",
    .hparams = step_hparams,
    .n_hparams = COUNT(step_hparams),
    .lr = step_lr,
};

/* ---- multistep: MultiStepLR, lr = base_lr * gamma^(milestones <= u) ---- */

enum { MULTI_MILESTONES, MULTI_GAMMA };
static const nn_schedule_hparam multistep_hparams[] = {
    [MULTI_MILESTONES] = {"milestones", NN_SCHEDULE_HPARAM_LIST, 0, 0, BIG, NULL, 1},
    [MULTI_GAMMA] = {"gamma", NN_SCHEDULE_HPARAM_NUMBER, 0.1, 0, BIG, NULL, 0},
    COMMON(NN_SCHEDULE_EPOCH),
};

static double multistep_lr(const nn_schedule *s, int64_t u)
{
    /* PyTorch keeps a Counter: a milestone given twice multiplies twice. */
    int passed = 0;
    for (int i = 0; i < s->n_list; i++) passed += s->list[i] <= (double)u;
    return s->base_lr * pow(s->hp[MULTI_GAMMA], passed);
}

const nn_schedule_def nn_schedule_multistep = {
    .name = "multistep",
    .summary = "MultiStepLR: times gamma at each milestone",
    .hparams = multistep_hparams,
    .n_hparams = COUNT(multistep_hparams),
    .lr = multistep_lr,
};

/* ---- exponential: ExponentialLR, lr = base_lr * gamma^u ---- */

enum { EXP_GAMMA };
static const nn_schedule_hparam exponential_hparams[] = {
    [EXP_GAMMA] = {"gamma", NN_SCHEDULE_HPARAM_NUMBER, 0.1, 0, BIG, NULL, 1},
    COMMON(NN_SCHEDULE_EPOCH),
};

static double exponential_lr(const nn_schedule *s, int64_t u)
{
    return s->base_lr * pow(s->hp[EXP_GAMMA], (double)u);
}

const nn_schedule_def nn_schedule_exponential = {
    .name = "exponential",
    .summary = "ExponentialLR: times gamma every tick",
    .hparams = exponential_hparams,
    .n_hparams = COUNT(exponential_hparams),
    .lr = exponential_lr,
};

/* ---- cosine: CosineAnnealingLR ----
 * lr = eta_min + (base_lr - eta_min) (1 + cos(pi u / T_max)) / 2, PyTorch's
 * closed form; past T_max it rises again (period 2 T_max), as PyTorch's
 * recursive form does. */

enum { COS_T_MAX, COS_ETA_MIN };
static const nn_schedule_hparam cosine_hparams[] = {
    [COS_T_MAX] = {"T_max", NN_SCHEDULE_HPARAM_INT, 1, 1, BIG, NULL, 1},
    [COS_ETA_MIN] = {"eta_min", NN_SCHEDULE_HPARAM_NUMBER, 0, 0, BIG, NULL, 0},
    COMMON(NN_SCHEDULE_EPOCH),
};

static double cosine_lr(const nn_schedule *s, int64_t u)
{
    const double eta_min = s->hp[COS_ETA_MIN], t_max = s->hp[COS_T_MAX];
    return eta_min + (s->base_lr - eta_min) * (1.0 + cos(M_PI * (double)u / t_max)) / 2.0;
}

const nn_schedule_def nn_schedule_cosine = {
    .name = "cosine",
    .summary = "CosineAnnealingLR: half a cosine from lr to eta_min over T_max",
    .hparams = cosine_hparams,
    .n_hparams = COUNT(cosine_hparams),
    .lr = cosine_lr,
};

/* ---- onecycle: OneCycleLR (three_phase false) ----
 * Phase 1, ticks 0 .. pct_start * total_steps - 1: lr from max_lr / div_factor
 * up to max_lr, momentum from max_momentum down to base_momentum; phase 2,
 * to total_steps - 1: lr down to max_lr / div_factor / final_div_factor,
 * momentum back up. Each by anneal_strategy, in PyTorch's operation order. */

enum { OC_MAX_LR, OC_TOTAL_STEPS, OC_PCT_START, OC_ANNEAL, OC_CYCLE_MOMENTUM, OC_BASE_MOMENTUM,
       OC_MAX_MOMENTUM, OC_DIV_FACTOR, OC_FINAL_DIV_FACTOR };
static const char *const anneal_names[] = {"cos", "linear", NULL};
static const nn_schedule_hparam onecycle_hparams[] = {
    [OC_MAX_LR] = {"max_lr", NN_SCHEDULE_HPARAM_NUMBER, 0.1, 0, BIG, NULL, 1},
    [OC_TOTAL_STEPS] = {"total_steps", NN_SCHEDULE_HPARAM_INT, 1, 1, BIG, NULL, 1},
    [OC_PCT_START] = {"pct_start", NN_SCHEDULE_HPARAM_NUMBER, 0.3, 0, 1, NULL, 0},
    [OC_ANNEAL] = {"anneal_strategy", NN_SCHEDULE_HPARAM_CHOICE, 0, 0, 0, anneal_names, 0},
    [OC_CYCLE_MOMENTUM] = {"cycle_momentum", NN_SCHEDULE_HPARAM_BOOL, 1, 0, 1, NULL, 0},
    [OC_BASE_MOMENTUM] = {"base_momentum", NN_SCHEDULE_HPARAM_NUMBER, 0.85, 0, 1, NULL, 0},
    [OC_MAX_MOMENTUM] = {"max_momentum", NN_SCHEDULE_HPARAM_NUMBER, 0.95, 0, 1, NULL, 0},
    [OC_DIV_FACTOR] = {"div_factor", NN_SCHEDULE_HPARAM_NUMBER, 25, 0, BIG, NULL, 0},
    [OC_FINAL_DIV_FACTOR] = {"final_div_factor", NN_SCHEDULE_HPARAM_NUMBER, 1e4, 0, BIG, NULL, 0},
    COMMON(NN_SCHEDULE_STEP),
};

static int onecycle_check(const double *hp, const double *list, const char **why)
{
    (void)list;
    if (hp[OC_DIV_FACTOR] <= 0.0) {
        *why = "div_factor must be > 0";
        return OC_DIV_FACTOR;
    }
    if (hp[OC_FINAL_DIV_FACTOR] <= 0.0) {
        *why = "final_div_factor must be > 0";
        return OC_FINAL_DIV_FACTOR;
    }
    /* The first phase ends at tick pct_start * total_steps - 1; at 0 it has
     * no length and PyTorch divides by zero at tick 0. */
    if (hp[OC_PCT_START] * hp[OC_TOTAL_STEPS] - 1.0 == 0.0) {
        *why = "pct_start * total_steps must not be 1 (a warm-up phase of no length)";
        return OC_PCT_START;
    }
    return -1;
}

static double anneal(const nn_schedule *s, double start, double end, double pct)
{
    if (s->hp[OC_ANNEAL] == 0.0) {
        const double cos_out = cos(M_PI * pct) + 1.0;
        return end + (start - end) / 2.0 * cos_out;
    }
    return (end - start) * pct + start;
}

/* Phase and position in it at tick u; returns 0 or 1 and sets *pct. */
static int onecycle_phase(const nn_schedule *s, int64_t u, double *pct)
{
    const double total = s->hp[OC_TOTAL_STEPS];
    if ((double)u > total - 1.0) u = (int64_t)total - 1;
    const double end1 = s->hp[OC_PCT_START] * total - 1.0, end2 = total - 1.0;
    if ((double)u <= end1) {
        *pct = (double)u / end1;
        return 0;
    }
    *pct = end2 - end1 != 0.0 ? ((double)u - end1) / (end2 - end1) : 1.0;
    return 1;
}

static double onecycle_lr(const nn_schedule *s, int64_t u)
{
    const double initial = s->hp[OC_MAX_LR] / s->hp[OC_DIV_FACTOR];
    const double min_lr = initial / s->hp[OC_FINAL_DIV_FACTOR];
    double pct;
    if (onecycle_phase(s, u, &pct) == 0) return anneal(s, initial, s->hp[OC_MAX_LR], pct);
    return anneal(s, s->hp[OC_MAX_LR], min_lr, pct);
}

static double onecycle_momentum(const nn_schedule *s, int64_t u)
{
    if (s->hp[OC_CYCLE_MOMENTUM] == 0.0) return -1.0;
    const double lo = s->hp[OC_BASE_MOMENTUM], hi = s->hp[OC_MAX_MOMENTUM];
    double pct;
    if (onecycle_phase(s, u, &pct) == 0) return anneal(s, hi, lo, pct);
    return anneal(s, lo, hi, pct);
}

const nn_schedule_def nn_schedule_onecycle = {
    .name = "onecycle",
    .summary = "OneCycleLR: up to max_lr and down, momentum the other way",
    .hparams = onecycle_hparams,
    .n_hparams = COUNT(onecycle_hparams),
    .check = onecycle_check,
    .lr = onecycle_lr,
    .momentum = onecycle_momentum,
};

/* ---- noam: the Transformer's inverse square root ----
 * lr = base_lr * factor * d_model^-0.5 * min(n^-0.5, n * warmup^-1.5) with
 * n = max(u, 1): LambdaLR with the Annotated Transformer's rate(), which
 * counts tick 0 as 1 (its optimizer lr is 1). */

enum { NOAM_D_MODEL, NOAM_WARMUP, NOAM_FACTOR };
static const nn_schedule_hparam noam_hparams[] = {
    [NOAM_D_MODEL] = {"d_model", NN_SCHEDULE_HPARAM_INT, 512, 1, BIG, NULL, 0},
    [NOAM_WARMUP] = {"warmup", NN_SCHEDULE_HPARAM_INT, 4000, 1, BIG, NULL, 0},
    [NOAM_FACTOR] = {"factor", NN_SCHEDULE_HPARAM_NUMBER, 1, 0, BIG, NULL, 0},
    COMMON(NN_SCHEDULE_STEP),
};

static double noam_lr(const nn_schedule *s, int64_t u)
{
    const double n = u < 1 ? 1.0 : (double)u;
    const double a = pow(n, -0.5), b = n * pow(s->hp[NOAM_WARMUP], -1.5);
    return s->base_lr * (s->hp[NOAM_FACTOR] * (pow(s->hp[NOAM_D_MODEL], -0.5) * (a < b ? a : b)));
}

const nn_schedule_def nn_schedule_noam = {
    .name = "noam",
    .summary = "Noam: linear up for warmup steps, then 1/sqrt(step), scaled by d_model^-0.5",
    .hparams = noam_hparams,
    .n_hparams = COUNT(noam_hparams),
    .lr = noam_lr,
};

/* ---- plateau: ReduceLROnPlateau ----
 * After each epoch's metric: a better one (by threshold, relative or
 * absolute) becomes `best`, a worse one counts as bad; in cooldown bad
 * epochs are not counted; more than `patience` bad epochs multiply the lr by
 * factor (not below min_lr, and only if that changes it by more than eps)
 * and start a cooldown. */

enum { PL_MODE, PL_FACTOR, PL_PATIENCE, PL_THRESHOLD, PL_THRESHOLD_MODE, PL_COOLDOWN, PL_MIN_LR,
       PL_EPS, PL_INTERVAL };
enum { PL_LR, PL_BEST, PL_BAD, PL_COOLDOWN_COUNTER };
static const char *const mode_names[] = {"min", "max", NULL};
static const char *const threshold_mode_names[] = {"rel", "abs", NULL};
static const nn_schedule_hparam plateau_hparams[] = {
    [PL_MODE] = {"mode", NN_SCHEDULE_HPARAM_CHOICE, 0, 0, 0, mode_names, 0},
    [PL_FACTOR] = {"factor", NN_SCHEDULE_HPARAM_NUMBER, 0.1, 0, 1, NULL, 0},
    [PL_PATIENCE] = {"patience", NN_SCHEDULE_HPARAM_INT, 10, 0, BIG, NULL, 0},
    [PL_THRESHOLD] = {"threshold", NN_SCHEDULE_HPARAM_NUMBER, 1e-4, 0, BIG, NULL, 0},
    [PL_THRESHOLD_MODE] = {"threshold_mode", NN_SCHEDULE_HPARAM_CHOICE, 0, 0, 0, threshold_mode_names, 0},
    [PL_COOLDOWN] = {"cooldown", NN_SCHEDULE_HPARAM_INT, 0, 0, BIG, NULL, 0},
    [PL_MIN_LR] = {"min_lr", NN_SCHEDULE_HPARAM_NUMBER, 0, 0, BIG, NULL, 0},
    [PL_EPS] = {"eps", NN_SCHEDULE_HPARAM_NUMBER, 1e-8, 0, BIG, NULL, 0},
    [PL_INTERVAL] = COMMON(NN_SCHEDULE_EPOCH),
};
static const char *const plateau_state[] = {
    [PL_LR] = "lr", [PL_BEST] = "best", [PL_BAD] = "num_bad_epochs", [PL_COOLDOWN_COUNTER] = "cooldown_counter",
};

static int plateau_check(const double *hp, const double *list, const char **why)
{
    (void)list;
    if (hp[PL_FACTOR] >= 1.0) {
        *why = "factor should be < 1.0";
        return PL_FACTOR;
    }
    if (hp[PL_INTERVAL] != NN_SCHEDULE_EPOCH) {
        *why = "plateau is stepped once per epoch, with that epoch's metric";
        return PL_INTERVAL;
    }
    return -1;
}

static void plateau_init(nn_schedule *s)
{
    s->state[PL_LR] = s->base_lr;
    s->state[PL_BEST] = s->hp[PL_MODE] != 0.0 ? -INFINITY : INFINITY;
}

static double plateau_lr(const nn_schedule *s, int64_t u)
{
    (void)u;
    return s->state[PL_LR];
}

static int is_better(const nn_schedule *s, double a, double best)
{
    const double th = s->hp[PL_THRESHOLD];
    const int max = s->hp[PL_MODE] != 0.0, abs_mode = s->hp[PL_THRESHOLD_MODE] != 0.0;
    if (!max) return abs_mode ? a < best - th : a < best * (1.0 - th);
    return abs_mode ? a > best + th : a > best * (th + 1.0);
}

static void plateau_observe(nn_schedule *s, double metric)
{
    double *st = s->state;
    if (is_better(s, metric, st[PL_BEST])) {
        st[PL_BEST] = metric;
        st[PL_BAD] = 0;
    } else {
        st[PL_BAD] += 1;
    }
    if (st[PL_COOLDOWN_COUNTER] > 0) {
        st[PL_COOLDOWN_COUNTER] -= 1;
        st[PL_BAD] = 0;
    }
    if (st[PL_BAD] > s->hp[PL_PATIENCE]) {
        const double old_lr = st[PL_LR];
        const double new_lr = fmax(old_lr * s->hp[PL_FACTOR], s->hp[PL_MIN_LR]);
        if (old_lr - new_lr > s->hp[PL_EPS]) st[PL_LR] = new_lr;
        st[PL_COOLDOWN_COUNTER] = s->hp[PL_COOLDOWN];
        st[PL_BAD] = 0;
    }
}

const nn_schedule_def nn_schedule_plateau = {
    .name = "plateau",
    .summary = "ReduceLROnPlateau: times factor when the metric stops improving",
    .hparams = plateau_hparams,
    .n_hparams = COUNT(plateau_hparams),
    .state_names = plateau_state,
    .n_state = COUNT(plateau_state),
    .needs_metric = 1,
    .check = plateau_check,
    .init = plateau_init,
    .lr = plateau_lr,
    .observe = plateau_observe,
};

/* ---- the table and the driver ---- */

const nn_schedule_def *const nn_schedules[] = {
    &nn_schedule_constant, &nn_schedule_step, &nn_schedule_multistep, &nn_schedule_exponential,
    &nn_schedule_cosine, &nn_schedule_onecycle, &nn_schedule_noam, &nn_schedule_plateau, NULL,
};

const nn_schedule_def *nn_schedule_find(const char *name)
{
    for (int i = 0; nn_schedules[i]; i++)
        if (!strcmp(nn_schedules[i]->name, name)) return nn_schedules[i];
    return NULL;
}

/* A table our own code got wrong: the common tail missing or out of order,
 * more than one list. */
static int table_is_valid(const nn_schedule_def *def)
{
    const int n = def->n_hparams;
    if (n < NN_SCHEDULE_N_COMMON || n > NN_SCHEDULE_MAX_HPARAMS || def->n_state > NN_SCHEDULE_MAX_STATE)
        return 0;
    if (strcmp(def->hparams[n - 3].name, "interval") || strcmp(def->hparams[n - 2].name, "warmup_steps") ||
        strcmp(def->hparams[n - 1].name, "start_factor"))
        return 0;
    int lists = 0;
    for (int i = 0; i < n; i++) lists += def->hparams[i].type == NN_SCHEDULE_HPARAM_LIST;
    return lists <= 1;
}

int nn_schedule_check(const nn_schedule_def *def, const double *hp, const double *list, const char **why)
{
    return def->check ? def->check(hp, list, why) : -1;
}

void nn_schedule_init(nn_schedule *s, const nn_schedule_def *def, const double *hp,
                      const double *list, double base_lr)
{
    const char *why;
    NN_ASSERT(table_is_valid(def) && nn_schedule_check(def, hp, list, &why) < 0);
    memset(s, 0, sizeof *s);
    s->def = def;
    const int n = def->n_hparams;
    for (int i = 0; i < n; i++) {
        s->hp[i] = hp[i];
        if (def->hparams[i].type == NN_SCHEDULE_HPARAM_LIST) {
            NN_ASSERT(hp[i] >= 0 && hp[i] <= NN_SCHEDULE_MAX_LIST && (hp[i] == 0 || list));
            s->n_list = (int)hp[i];
            for (int k = 0; k < s->n_list; k++) s->list[k] = list[k];
        }
    }
    s->base_lr = base_lr;
    s->interval = (int)hp[n - 3];
    s->warmup_steps = (int64_t)hp[n - 2];
    s->start_factor = hp[n - 1];
    if (def->init) def->init(s);
}

double nn_schedule_lr(const nn_schedule *s, int64_t t)
{
    NN_ASSERT(t >= 0);
    const int64_t w = s->warmup_steps;
    if (t < w) return s->base_lr * (s->start_factor + (1.0 - s->start_factor) * (double)t / (double)w);
    return s->def->lr(s, t - w);
}

int nn_schedule_momentum(const nn_schedule *s, int64_t t, double *momentum)
{
    if (!s->def->momentum) return 0;
    /* During warm-up PyTorch leaves the momentum OneCycleLR set when it was
     * made: that of its tick 0. */
    const int64_t u = t > s->warmup_steps ? t - s->warmup_steps : 0;
    const double m = s->def->momentum(s, u);
    if (m < 0.0) return 0;
    *momentum = m;
    return 1;
}

void nn_schedule_observe(nn_schedule *s, int64_t t, double metric)
{
    if (s->def->observe && t >= s->warmup_steps) s->def->observe(s, metric);
}
