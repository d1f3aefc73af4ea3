/* SGD with momentum, dampening, Nesterov and weight decay, step for step
 * as torch.optim.SGD:
 *   g = grad + weight_decay * p
 *   buf = g on the first step, else momentum * buf + (1 - dampening) * g
 *   g = g + momentum * buf (Nesterov) or buf
 *   p -= lr * g */
#include "optim/optimizer.h"

enum { LR, MOMENTUM, DAMPENING, WEIGHT_DECAY, NESTEROV };

static const nn_hparam sgd_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 0.01, 0.0, 1e6},
    [MOMENTUM] = {"momentum", NN_HPARAM_NUMBER, 0.0, 0.0, 1.0},
    [DAMPENING] = {"dampening", NN_HPARAM_NUMBER, 0.0, 0.0, 1.0},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
    [NESTEROV] = {"nesterov", NN_HPARAM_BOOL, 0, 0, 1},
};

static const char *const sgd_state[] = {"momentum_buffer"};

static void sgd_step(nn_optimizer *o)
{
    const float lr = (float)o->lr, momentum = (float)o->hp[MOMENTUM];
    const float dampening = (float)o->hp[DAMPENING], wd = (float)o->hp[WEIGHT_DECAY];
    const int nesterov = o->hp[NESTEROV] != 0.0, first = o->steps == 0;
    float *p = o->params->values, *buf = o->state[0];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] + wd * p[i];
        if (momentum != 0.0f) {
            buf[i] = first ? g : momentum * buf[i] + (1.0f - dampening) * g;
            g = nesterov ? g + momentum * buf[i] : buf[i];
        }
        p[i] -= lr * g;
    }
    o->steps++;
}

const nn_optimizer_def nn_optimizer_sgd = {
    .name = "sgd",
    .hparams = sgd_hparams,
    .n_hparams = (int)(sizeof sgd_hparams / sizeof sgd_hparams[0]),
    .state_names = sgd_state,
    .n_state = 1,
    .step = sgd_step,
};
