/* Optimizers over a model's flat parameter buffer.
 *
 * An optimizer family describes its hyperparameters (PyTorch's names,
 * defaults and ranges) in a table, so the trainer can read them from the
 * config without this module knowing about configs, and keeps its state
 * (momentum buffers, moments) as whole flat buffers parallel to the
 * parameters, so saving or restoring it is one copy per buffer. State that
 * is one number for the whole model (NAdam's product of momenta, ASGD's
 * eta and mu) is a named scalar, saved in the checkpoint's metadata.
 *
 * Every update is elementwise and written in PyTorch's operation order, in
 * float32, with fmaf() where ATen's CPU kernels fuse a multiply-add (add
 * with alpha, addcmul): on the problem of tests/test_optim.c, 20 steps of
 * each are bit-identical to torch.optim's (PyTorch 1.13, CPU). */
#ifndef NN_OPTIM_OPTIMIZER_H
#define NN_OPTIM_OPTIMIZER_H

#include <stdint.h>

#include "nn/params.h"

#define NN_OPTIM_MAX_HPARAMS 8
#define NN_OPTIM_MAX_STATE 4
#define NN_OPTIM_MAX_SCALARS 8
/* Loops over fewer floats stay on one thread: a parallel region would cost more. */
#define NN_OPTIM_MIN_PARALLEL 32768

typedef enum {
    NN_HPARAM_NUMBER,
    NN_HPARAM_BOOL,
    /* A PyTorch tuple of two numbers ("betas": [0.9, 0.999]) takes two
     * entries of the table, and so two values: the NN_HPARAM_PAIR entry
     * (the first element's default and range) and right after it an
     * NN_HPARAM_PAIR_SECOND entry of the same name (the second's). */
    NN_HPARAM_PAIR,
    NN_HPARAM_PAIR_SECOND,
    /* One of the names in `choices` (L-BFGS's line_search_fn); the value is
     * its index, def the default's. */
    NN_HPARAM_CHOICE,
} nn_hparam_type;

/* nn_hparam.open: ends of a pair's ranges that are excluded, as in
 * Adam's 0 <= beta < 1 (NN_HPARAM_OPEN_MAX). */
enum { NN_HPARAM_OPEN_MIN = 1, NN_HPARAM_OPEN_MAX = 2 };

typedef struct nn_hparam {
    const char *name;        /* as in torch.optim: "lr", "momentum", "betas", ... */
    nn_hparam_type type;
    double def, min, max;    /* bools: 0 or 1 */
    int open;                /* pairs only, on the NN_HPARAM_PAIR entry */
    const char *const *choices;   /* NN_HPARAM_CHOICE: NULL-terminated names */
} nn_hparam;

/* Evaluates the loss at the current parameters into *loss and its gradient
 * into params->grads (zeroed first); for optimizers that evaluate several
 * times per step (L-BFGS). A status other than NN_OK stops the step. */
typedef nn_status (*nn_optim_closure)(void *ctx, float *loss);

/* State that is not one buffer of params->total floats (L-BFGS's history),
 * saved in checkpoints as `optimizer.<name>`. */
typedef struct nn_optim_extra {
    const char *name;
    float *data;
    int ndim;
    int shape[2];
} nn_optim_extra;

typedef struct nn_optimizer {
    const struct nn_optimizer_def *def;
    nn_params *params;
    double hp[NN_OPTIM_MAX_HPARAMS];   /* in the order of def->hparams */
    double lr;                          /* current learning rate (schedules change it) */
    float *state[NN_OPTIM_MAX_STATE];   /* each params->total floats */
    double scalar[NN_OPTIM_MAX_SCALARS]; /* named by def->scalar_names */
    int64_t steps;                      /* updates made so far */
    void *impl;                         /* a family's own state (L-BFGS), persistent arena */
} nn_optimizer;

typedef struct nn_optimizer_def {
    const char *name;
    const nn_hparam *hparams;           /* hparams[0] is always "lr" */
    int n_hparams;
    const char *const *state_names;     /* checkpoint names of the state buffers */
    int n_state;
    const char *const *scalar_names;    /* checkpoint names of the scalars */
    int n_scalars;
    /* Optional: a combination of values PyTorch refuses (SGD's Nesterov
     * without momentum). Returns the index of the hyperparameter to blame
     * and sets *why ("needs momentum > 0 and dampening 0"), or -1. */
    int (*check)(const double *hp, const char **why);
    /* Optional: state that does not start at zero (Adagrad's
     * initial_accumulator_value, Rprop's step sizes, the scalars). */
    void (*init)(nn_optimizer *o);
    /* One update from params->grads; increments o->steps. NULL for the
     * optimizers that need a closure. */
    void (*step)(nn_optimizer *o);
    /* Optional: allocations beyond the state buffers (o->impl). */
    nn_status (*setup)(nn_optimizer *o);
    /* Optional, instead of step: one update that calls `closure` as often
     * as it needs; *loss gets the loss at the starting point. */
    nn_status (*step_closure)(nn_optimizer *o, nn_optim_closure closure, void *ctx, float *loss);
    /* Optional: n_extra more state arrays, described by extra(o, i, out). */
    int n_extra;
    void (*extra)(const nn_optimizer *o, int i, nn_optim_extra *out);
} nn_optimizer_def;

/* Sets up `o` for `params` with hyperparameter values `hp` (def->n_hparams
 * of them, one per table entry: two for a pair); state buffers are
 * allocated in the persistent arena and set to their initial values. The
 * values must pass def->check (the config reader checks first). */
nn_status nn_optimizer_init(nn_optimizer *o, const nn_optimizer_def *def, nn_params *params,
                            const double *hp);

/* The optimizer family named `name`, or NULL; the table is NULL-terminated. */
extern const nn_optimizer_def *const nn_optimizers[];
const nn_optimizer_def *nn_optimizer_find(const char *name);

/* Sum of a[i] * b[i] over n floats, accumulated in double in blocks whose
 * size depends on n alone and added in order: the same bits for any thread
 * count. For clipping norms and L-BFGS. */
double nn_optim_dot(const float *a, const float *b, int64_t n);

/* Sum of |a[i]|, in the same deterministic way. */
double nn_optim_sum_abs(const float *a, int64_t n);

extern const nn_optimizer_def nn_optimizer_sgd;
extern const nn_optimizer_def nn_optimizer_adagrad;
extern const nn_optimizer_def nn_optimizer_adadelta;
extern const nn_optimizer_def nn_optimizer_rmsprop;
extern const nn_optimizer_def nn_optimizer_adam;
extern const nn_optimizer_def nn_optimizer_adamw;
extern const nn_optimizer_def nn_optimizer_adamax;
extern const nn_optimizer_def nn_optimizer_nadam;
extern const nn_optimizer_def nn_optimizer_rprop;
extern const nn_optimizer_def nn_optimizer_asgd;
extern const nn_optimizer_def nn_optimizer_lbfgs;

#endif
