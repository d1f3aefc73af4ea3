/* A training run: a model, its optimizer, the data and the loop.
 *
 * nn_run_setup() reads everything it needs from the config (train.*,
 * data.*, model options through the model's build), so after it the caller
 * can call nn_config_check_unknown(). The hot path, nn_run_step(), takes
 * all its memory from the step arena, reset at its top. */
#ifndef NN_TRAIN_RUN_H
#define NN_TRAIN_RUN_H

#include <signal.h>
#include <stdio.h>

#include "core/governor.h"
#include "data/loader.h"
#include "data/options.h"
#include "nn/model.h"
#include "optim/optimizer.h"
#include "train/checkpoint.h"
#include "train/loss_choice.h"

struct nn_config;

typedef struct nn_run_settings {
    int epochs;
    int batch_size;
    int eval_batch_size;
    int64_t max_steps;        /* 0: no limit */
    int log_every;            /* steps between loss lines in metrics.jsonl */
    uint64_t seed;
    int64_t val_size;         /* samples carved from train for validation */
    int64_t train_limit;      /* 0: all; else use the first N training samples */
    int shuffle;
    nn_data_options data;     /* data.*: channels, transforms, normalization, workers */
    double l1;                /* L1 penalty on all parameters; 0: off */
    double clip_grad_value;   /* clamp gradients to [-v, v]; 0: off */
    double clip_grad_norm;    /* rescale gradients to this L2 norm at most; 0: off */
    char data_root[4096];
    /* train.early_stopping: stop when `metric` has not improved by more than
     * min_delta for `patience` epochs in a row (patience 0: off). */
    int early_metric;         /* an nn_run_metric */
    int early_patience;
    double early_min_delta;
} nn_run_settings;

/* What early stopping watches; losses improve downwards, accuracies up. */
typedef enum nn_run_metric {
    NN_RUN_METRIC_VAL_LOSS,
    NN_RUN_METRIC_VAL_ACCURACY,
    NN_RUN_METRIC_TRAIN_LOSS,
    NN_RUN_METRIC_TRAIN_ACCURACY,
} nn_run_metric;

typedef struct nn_run {
    nn_run_settings set;
    const nn_dataset_def *dataset;
    nn_arena persistent, step_arena;
    nn_model model;
    nn_optimizer opt;
    nn_schedule sched;        /* train.schedule: sets opt.lr (and momentum) each tick */
    int sched_momentum;       /* index in opt.hp that a cycled momentum sets, or -1 */
    nn_image_split train_split, test_split;
    int have_data;
    nn_loader train, val, test;
    nn_prefetch *prefetch;    /* makes the loaders' batches in the background */
    float *x;                 /* batch buffer, max(batch sizes) images */
    int32_t *y;
    nn_train_state state;
    char *config_json;        /* resolved config, for checkpoints */
    nn_profile *profile;      /* NULL, or op timings of every step */
    nn_governor governor;     /* threads per step, when the count is left to nnzoo */
    nn_train_loss loss;       /* train.loss: what the step minimizes */
} nn_run;

/* What to do with the data: load it, or not (benchmarks on random input,
 * writing initial weights). */
typedef enum { NN_RUN_NO_DATA, NN_RUN_LOAD_DATA } nn_run_data;

/* Reads the config, loads the data, builds and initializes the model and
 * the optimizer. The caller frees with nn_run_deinit (also on failure). */
nn_status nn_run_setup(nn_run *r, struct nn_config *cfg, const nn_model_def *model,
                       const nn_dataset_def *dataset, nn_run_data data);
void nn_run_deinit(nn_run *r);

/* Takes the resolved config text (call after nn_config_check_unknown). */
void nn_run_set_config_json(nn_run *r, char *json);

/* One training step on x (n images) and labels y: forward, backward,
 * update. *loss gets the batch's mean loss; *correct how many argmax hits.
 * A non-finite loss returns NN_ERR_RUNTIME before the update. When the
 * thread count is nnzoo's to choose (nn_threads_automatic), r->governor
 * picks it for this step from the times of the earlier ones; the results
 * are the same whatever it picks. */
nn_status nn_run_step(nn_run *r, const float *x, const int32_t *y, int n, float *loss, int *correct);

/* Mean loss and accuracy over all of a loader's samples, in eval mode. */
nn_status nn_run_evaluate(nn_run *r, nn_loader *l, double *loss, double *accuracy);

/* How the loop reports: progress to a terminal, or plain lines. */
typedef struct nn_run_io {
    const char *dir;                   /* RUNDIR: checkpoints and metrics.jsonl */
    FILE *progress;                    /* stderr; a progress bar if it is a tty */
    const volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM: save and return */
} nn_run_io;

/* Status of nn_run_train when it stopped on request (not an error). */
#define NN_RUN_STOPPED 130

/* Trains from r->state to the configured number of epochs (or max_steps, or
 * until early stopping ends it),
 * evaluating on val and test after each epoch, appending to metrics.jsonl,
 * saving last.safetensors (each epoch, at the end, and when stopped) and
 * best.safetensors (best val accuracy). Returns NN_OK, NN_RUN_STOPPED, or an
 * error; a non-finite loss stops with an error naming the step and leaves
 * the last checkpoint as it was. */
int nn_run_train(nn_run *r, const nn_run_io *io);

#endif
