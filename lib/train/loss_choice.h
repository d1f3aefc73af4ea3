/* train.loss: the loss the trainer minimizes, named and keyed as PyTorch's.
 *
 *   "loss": {"name": "cross_entropy", "label_smoothing": 0.0, "weight": null,
 *            "ignore_index": -100}
 *   "loss": {"name": "nll", "weight": null, "ignore_index": -100}
 *   "loss": {"name": "bce_with_logits", "weight": null, "pos_weight": null}
 *   "loss": {"name": "mse"}
 *
 * All take the model's logits (N, C) and class indices, and reduce by the
 * mean (torch's default). nll is NLLLoss of log_softmax(logits);
 * bce_with_logits and mse compare the logits with one-hot targets of the
 * labels. weight and pos_weight are null or one number per class, in
 * [0, 1e6]. The default, cross_entropy without options, is
 * nn_softmax_cross_entropy bit for bit. */
#ifndef NN_TRAIN_LOSS_CHOICE_H
#define NN_TRAIN_LOSS_CHOICE_H

#include "ops/ops.h"

struct nn_config;

typedef enum nn_train_loss_kind {
    NN_TRAIN_LOSS_CROSS_ENTROPY,
    NN_TRAIN_LOSS_NLL,
    NN_TRAIN_LOSS_BCE_WITH_LOGITS,
    NN_TRAIN_LOSS_MSE,
    NN_TRAIN_LOSS_COUNT
} nn_train_loss_kind;

/* A train.loss.name: the name and its keys with their defaults, as
 * `nnzoo list` shows them. */
typedef struct nn_train_loss_def {
    const char *name;
    const char *options;
} nn_train_loss_def;

extern const nn_train_loss_def nn_train_losses[NN_TRAIN_LOSS_COUNT];

typedef struct nn_train_loss {
    nn_train_loss_kind kind;
    int num_classes;
    int ignore_index;         /* cross_entropy, nll */
    float label_smoothing;    /* cross_entropy */
    const float *weight;      /* (num_classes) or NULL: cross_entropy, nll, bce_with_logits */
    const float *pos_weight;  /* (num_classes) or NULL: bce_with_logits */
} nn_train_loss;

/* Reads train.loss.* (all optional) for a model of num_classes outputs;
 * the weights go into `persistent`. A bad name or value is NN_ERR_INPUT
 * with a message naming the config file and key, what was found and what
 * was expected ("<file>: train.loss.weight: expected null or an array of
 * 10 numbers in [0, 1e+06], found [1,2,3]"). */
nn_status nn_train_loss_read(nn_train_loss *l, struct nn_config *cfg, int num_classes,
                             nn_arena *persistent);

/* The mean loss of logits (N, num_classes) against labels (N class indices
 * in [0, num_classes), outliving the backward), as a scalar on tape t; the
 * one-hot targets come from t's arena. NULL with a message on a bad shape
 * or label (or a NULL logits). */
nn_tensor *nn_train_loss_forward(const nn_train_loss *l, nn_tape *t, nn_tensor *logits,
                                 const int32_t *labels);

#endif
