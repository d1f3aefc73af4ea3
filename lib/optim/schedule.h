/* Learning-rate schedules, as torch.optim.lr_scheduler, with PyTorch's
 * hyperparameter names and defaults.
 *
 * A schedule advances in ticks, either once per epoch or once per optimizer
 * step (its `interval`, Lightning's name for it): tick t is the number of
 * scheduler.step() calls PyTorch would have made, so
 *   per epoch: the lr of epoch e (0-based) is nn_schedule_lr(s, e),
 *   per step:  the lr of update k (0-based, k updates made before it) is
 *              nn_schedule_lr(s, k).
 * The default interval is PyTorch's usual one: per epoch for step,
 * multistep, exponential, cosine and plateau; per step for onecycle and
 * noam; the config may change it (plateau is per epoch only).
 *
 * Apart from plateau, the lr is a pure function of t (the closed forms of
 * PyTorch's recursive updates, equal to them to double rounding), so
 * resuming needs nothing but the epoch or step count. Plateau's lr depends
 * on the metrics it was shown; its state is s->state[], named by
 * def->state_names ("lr", "best", "num_bad_epochs", "cooldown_counter"), to
 * be saved in a checkpoint and restored into s->state after
 * nn_schedule_init. "best" starts at +inf (mode min) or -inf (max).
 *
 * Linear warm-up composes with every schedule, as
 *   SequentialLR([LinearLR(start_factor, total_iters=warmup_steps), S],
 *                milestones=[warmup_steps]):
 * for t < warmup_steps the lr is base_lr * (start_factor + (1 - start_factor)
 * * t / warmup_steps); from then on it is the schedule's, started at its own
 * tick 0 (lr(t) = S(t - warmup_steps)). warmup_steps counts ticks of the
 * schedule's interval. Plateau ignores metrics observed during warm-up.
 *
 * The 30- and 40-tick trajectories in tests/test_schedule.c agree with
 * torch.optim.lr_scheduler's (Python doubles) to about 1e-15 relative. */
#ifndef NN_OPTIM_SCHEDULE_H
#define NN_OPTIM_SCHEDULE_H

#include <stdint.h>

#define NN_SCHEDULE_MAX_HPARAMS 16
#define NN_SCHEDULE_MAX_LIST 32
#define NN_SCHEDULE_MAX_STATE 4

typedef enum {
    NN_SCHEDULE_HPARAM_NUMBER,
    NN_SCHEDULE_HPARAM_INT,     /* an integer: step_size, T_max, patience, ... */
    NN_SCHEDULE_HPARAM_BOOL,
    NN_SCHEDULE_HPARAM_CHOICE,  /* one of `choices` ("min", "max"); the value is its index */
    /* A list of up to NN_SCHEDULE_MAX_LIST integers in [min, max] (MultiStepLR's
     * milestones, in any order, repeats counting twice as in PyTorch). Its value
     * in hp[] is the list's length; the elements go in nn_schedule_init's `list`.
     * A table has at most one. */
    NN_SCHEDULE_HPARAM_LIST,
} nn_schedule_hparam_type;

typedef struct nn_schedule_hparam {
    const char *name;             /* as in torch: "step_size", "T_max", "milestones", ... */
    nn_schedule_hparam_type type;
    double def, min, max;         /* bools 0/1; a choice: def is the default's index */
    const char *const *choices;   /* NN_SCHEDULE_HPARAM_CHOICE: NULL-terminated names */
    int required;                 /* PyTorch has no default: the config must give it */
} nn_schedule_hparam;

/* The last NN_SCHEDULE_N_COMMON entries of every table, in this order:
 *   interval      choice "epoch" | "step", the schedule's usual one by default
 *   warmup_steps  int >= 0, default 0 (no warm-up); ticks of the interval
 *   start_factor  number in [0, 1], default 1/3 (LinearLR's) */
#define NN_SCHEDULE_N_COMMON 3
enum { NN_SCHEDULE_EPOCH, NN_SCHEDULE_STEP };
extern const char *const nn_schedule_interval_names[];   /* "epoch", "step", NULL */

struct nn_schedule;

typedef struct nn_schedule_def {
    const char *name;                   /* "cosine" */
    const char *summary;                /* "CosineAnnealingLR: ..." for `nnzoo list` */
    const nn_schedule_hparam *hparams;  /* own ones, then the common ones */
    int n_hparams;
    const char *const *state_names;     /* checkpoint names of s->state[] */
    int n_state;
    int needs_metric;                   /* plateau: call nn_schedule_observe each epoch */
    /* Optional: combinations PyTorch refuses or divides by zero on. Returns
     * the index of the hyperparameter to blame and sets *why, or -1. */
    int (*check)(const double *hp, const double *list, const char **why);
    /* Optional: sets s->state to its start (plateau: lr = base_lr, best = the worst). */
    void (*init)(struct nn_schedule *s);
    /* The lr at tick u of the schedule proper (after warm-up). */
    double (*lr)(const struct nn_schedule *s, int64_t u);
    /* Optional: the momentum at tick u, or a negative number if none is set. */
    double (*momentum)(const struct nn_schedule *s, int64_t u);
    /* Optional: takes one epoch's metric (plateau). */
    void (*observe)(struct nn_schedule *s, double metric);
} nn_schedule_def;

typedef struct nn_schedule {
    const nn_schedule_def *def;
    double hp[NN_SCHEDULE_MAX_HPARAMS];   /* in the order of def->hparams */
    double list[NN_SCHEDULE_MAX_LIST];    /* the LIST hyperparameter's elements */
    int n_list;
    double base_lr;                       /* the optimizer's lr (PyTorch's initial_lr) */
    int interval;                         /* NN_SCHEDULE_EPOCH or NN_SCHEDULE_STEP */
    int64_t warmup_steps;
    double start_factor;
    double state[NN_SCHEDULE_MAX_STATE];  /* named by def->state_names; checkpoint these */
} nn_schedule;

/* The schedules, NULL-terminated: constant, step, multistep, exponential,
 * cosine, onecycle, noam, plateau. */
extern const nn_schedule_def *const nn_schedules[];

/* The schedule named `name`, or NULL. */
const nn_schedule_def *nn_schedule_find(const char *name);

/* Checks values that their ranges alone do not (onecycle's phases, plateau's
 * factor < 1, plateau per step). Returns the index of the hyperparameter to
 * blame and sets *why ("factor should be < 1.0"), or -1. `list` holds the
 * LIST hyperparameter's elements (NULL if the table has none). */
int nn_schedule_check(const nn_schedule_def *def, const double *hp, const double *list,
                      const char **why);

/* Sets up `s`: hyperparameter values `hp` (def->n_hparams, in table order,
 * a choice as its index, a list as its length, with its elements in
 * `list`), and the optimizer's learning rate `base_lr`. The values must be
 * in range and pass nn_schedule_check (the config reader checks first). */
void nn_schedule_init(nn_schedule *s, const nn_schedule_def *def, const double *hp,
                      const double *list, double base_lr);

/* The learning rate at tick t >= 0 (see the top of this file). onecycle
 * ignores base_lr (its lr runs from max_lr / div_factor); past total_steps,
 * where PyTorch raises, it stays at its last value. plateau returns its
 * current lr (s->state[0]) once warm-up is over. */
double nn_schedule_lr(const nn_schedule *s, int64_t t);

/* onecycle with cycle_momentum: sets *momentum to the momentum at tick t
 * and returns 1; otherwise returns 0. PyTorch sets it as the optimizer's
 * `momentum` (SGD, RMSprop) or the first of its `betas` (Adam family),
 * and refuses optimizers that have neither. */
int nn_schedule_momentum(const nn_schedule *s, int64_t t, double *momentum);

/* Gives plateau the metric measured in the epoch at tick t (call it after
 * that epoch's validation, before asking for the lr of tick t + 1).
 * Ignored during warm-up and by schedules that take no metric. */
void nn_schedule_observe(nn_schedule *s, int64_t t, double metric);

extern const nn_schedule_def nn_schedule_constant;
extern const nn_schedule_def nn_schedule_step;
extern const nn_schedule_def nn_schedule_multistep;
extern const nn_schedule_def nn_schedule_exponential;
extern const nn_schedule_def nn_schedule_cosine;
extern const nn_schedule_def nn_schedule_onecycle;
extern const nn_schedule_def nn_schedule_noam;
extern const nn_schedule_def nn_schedule_plateau;

#endif
