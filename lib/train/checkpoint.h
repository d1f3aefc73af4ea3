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
    double early_best;         /* early stopping: the best metric so far, NaN before one */
    int early_bad_epochs;      /* epochs since it last improved */
    nn_schedule *schedule;     /* NULL, or the lr schedule whose state to keep */
} nn_train_state;

/* Writes params and, when given, the optimizer state and train state. */
nn_status nn_checkpoint_save(const char *path, const nn_params *p, const nn_optimizer *o,
                             const nn_train_state *s, const char *config_json);

/* Reads params from `path` (every parameter must be there with its exact
 * shape). With `o`, also the optimizer state (same optimizer name); with
 * `s`, the train state. Errors name the file and what is missing or wrong. */
nn_status nn_checkpoint_load(const char *path, nn_params *p, nn_optimizer *o, nn_train_state *s);

/* Exported weights: the model's state_dict alone, as PyTorch saves it. */
#define NN_STATE_DICT_FORMAT "pt"

/* 1 if parameter `name` is one that PyTorch keeps as a 0-d int64 (BatchNorm's
 * `*.num_batches_tracked`); nnzoo holds it as a float. */
int nn_checkpoint_is_int_buffer(const char *name);

/* Writes the model's state_dict only: every parameter and buffer under its
 * key, in declaration order, F32, except the counters of
 * nn_checkpoint_is_int_buffer as 0-d I64 (torch's dtype); __metadata__
 * format "pt" (as torch's own safetensors files), nnzoo_model and, when
 * given, nnzoo_config. Written atomically. A counter that is not a whole
 * number >= 0 is an NN_ERR_INPUT naming the key, and nothing is written. */
nn_status nn_checkpoint_save_state_dict(const char *path, const nn_params *p, const char *model_name,
                                        const char *config_json);

/* Loads the model's tensors only, from any file that has them: an nnzoo
 * checkpoint (its `optimizer.*` state is skipped), an exported state_dict,
 * or a PyTorch state_dict saved as safetensors. Strict, as torch's
 * load_state_dict(strict=True): a key of the model missing from the file, a
 * key in the file that the model does not have, a shape or dtype that is not
 * the model's are NN_ERR_INPUT errors naming the file and the key. Every
 * tensor must be F32, but counters (nn_checkpoint_is_int_buffer) may also be
 * I64 >= 0 (rounded to the nearest float above 2^24). Missing and
 * unexpected keys are found before anything is copied; on a shape or dtype
 * error p may be partly loaded. */
nn_status nn_checkpoint_load_weights(const char *path, nn_params *p);

#endif
