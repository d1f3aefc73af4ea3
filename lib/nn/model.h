/* What a model is, as the trainer sees it. Families in models/ implement
 * nn_model_def and register it in their table by name. */
#ifndef NN_NN_MODEL_H
#define NN_NN_MODEL_H

#include "autograd/tape.h"
#include "nn/params.h"

struct nn_config;

/* The input a model is built for, from the dataset. */
typedef struct nn_model_input {
    int channels, height, width;
    int num_classes;
} nn_model_input;

typedef struct nn_model {
    const struct nn_model_def *def;
    nn_params params;
    nn_model_input input;
    void *impl;               /* the family's own struct, in the persistent arena */
} nn_model;

typedef struct nn_model_def {
    const char *name;
    const char *summary;
    /* Reads its `model.*` options from the config, declares its parameters
     * in m->params (not finalized) and sets m->impl. */
    nn_status (*build)(nn_model *m, struct nn_config *cfg);
    /* Logits (N, classes) for a batch x (N, C, H, W); NULL with a message. */
    nn_tensor *(*forward)(nn_model *m, nn_tape *t, nn_tensor *x);
} nn_model_def;

#endif
