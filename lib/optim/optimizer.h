/* Optimizers over a model's flat parameter buffer.
 *
 * An optimizer family describes its hyperparameters (PyTorch's names,
 * defaults and ranges) in a table, so the trainer can read them from the
 * config without this module knowing about configs, and keeps its state
 * (momentum buffers, moments) as whole flat buffers parallel to the
 * parameters, so saving or restoring it is one copy per buffer. */
#ifndef NN_OPTIM_OPTIMIZER_H
#define NN_OPTIM_OPTIMIZER_H

#include <stdint.h>

#include "nn/params.h"

#define NN_OPTIM_MAX_HPARAMS 8
#define NN_OPTIM_MAX_STATE 4

typedef enum { NN_HPARAM_NUMBER, NN_HPARAM_BOOL } nn_hparam_type;

typedef struct nn_hparam {
    const char *name;        /* as in torch.optim: "lr", "momentum", ... */
    nn_hparam_type type;
    double def, min, max;
} nn_hparam;

typedef struct nn_optimizer {
    const struct nn_optimizer_def *def;
    nn_params *params;
    double hp[NN_OPTIM_MAX_HPARAMS];   /* in the order of def->hparams */
    double lr;                          /* current learning rate (schedules change it) */
    float *state[NN_OPTIM_MAX_STATE];   /* each params->total floats */
    int64_t steps;                      /* updates made so far */
} nn_optimizer;

typedef struct nn_optimizer_def {
    const char *name;
    const nn_hparam *hparams;           /* hparams[0] is always "lr" */
    int n_hparams;
    const char *const *state_names;     /* checkpoint names of the state buffers */
    int n_state;
    /* One update from params->grads; increments o->steps. */
    void (*step)(nn_optimizer *o);
} nn_optimizer_def;

/* Sets up `o` for `params` with hyperparameter values `hp` (def->n_hparams
 * of them); state buffers are zeroed in the persistent arena. */
nn_status nn_optimizer_init(nn_optimizer *o, const nn_optimizer_def *def, nn_params *params,
                            const double *hp);

/* The optimizer family named `name`, or NULL; the table is NULL-terminated. */
extern const nn_optimizer_def *const nn_optimizers[];
const nn_optimizer_def *nn_optimizer_find(const char *name);

extern const nn_optimizer_def nn_optimizer_sgd;

#endif
