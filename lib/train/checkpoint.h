/* Checkpoints: a safetensors file with the model's parameters under their
 * state_dict names, the optimizer's state buffers as
 * `optimizer.<state>.<param>` (e.g. optimizer.momentum_buffer.conv1.weight),
 * and in __metadata__ the resolved config, the position in training, the
 * optimizer's name, step count and scalar state (`optimizer.<scalar>`, e.g.
 * optimizer.mu_product for NAdam), and the RNG state: everything --resume
 * needs to continue bit for bit. Written atomically. */
#ifndef NN_TRAIN_CHECKPOINT_H
#define NN_TRAIN_CHECKPOINT_H

#include "core/rng.h"
#include "nn/params.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

#define NN_CHECKPOINT_FORMAT "nnzoo-checkpoint-1"

/* Where training stands. */
typedef struct nn_train_state {
    int epoch;                 /* the epoch in progress (0-based) */
    int64_t epoch_step;        /* batches of that epoch already taken */
    int64_t step;              /* optimizer steps taken in all */
    double best_val_accuracy;  /* -1 before the first evaluation */
    nn_rng rng;                /* for stochastic ops (dropout) */
    nn_schedule *schedule;     /* NULL, or the lr schedule whose state to keep */
} nn_train_state;

/* Writes params and, when given, the optimizer state and train state. */
nn_status nn_checkpoint_save(const char *path, const nn_params *p, const nn_optimizer *o,
                             const nn_train_state *s, const char *config_json);

/* Reads params from `path` (every parameter must be there with its exact
 * shape). With `o`, also the optimizer state (same optimizer name); with
 * `s`, the train state. Errors name the file and what is missing or wrong. */
nn_status nn_checkpoint_load(const char *path, nn_params *p, nn_optimizer *o, nn_train_state *s);

#endif
