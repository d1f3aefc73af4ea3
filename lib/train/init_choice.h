/* model.init: the config's override of a model's initializers.
 *
 *   "model": {"init": {"weight": {"name": "xavier_uniform", "gain": 1.0},
 *                      "bias":   {"name": "zeros"}}}
 *
 * `weight` replaces the initializer of every trainable parameter of at
 * least 2 dims (the weights of linear, conv, embedding and recurrent
 * layers); `bias` that of every 1-d `<layer>.bias` whose `<layer>.weight`
 * has at least 2 dims (so normalization layers keep their ones and zeros).
 * Names and arguments are torch.nn.init's (see `nnzoo list`). */
#ifndef NN_TRAIN_INIT_CHOICE_H
#define NN_TRAIN_INIT_CHOICE_H

#include "nn/params.h"

struct nn_config;

/* Reads model.init.weight and model.init.bias (both optional) and applies
 * them to the declared, not yet finalized parameters of p. NN_ERR_INPUT
 * naming the config file and key on an unknown name or a bad argument. */
nn_status nn_init_choice_apply(nn_params *p, struct nn_config *cfg);

#endif
