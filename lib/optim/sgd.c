/* SGD with momentum, dampening, Nesterov and weight decay, step for step
 * as torch.optim.SGD:
 *   g = grad + weight_decay * p
 *   buf = g on the first step, else momentum * buf + (1 - dampening) * g
 *   g = g + momentum * buf (Nesterov) or buf
 *   p -= lr * g */
#include <math.h>

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

static int sgd_check(const double *hp, const char **why)
{
    if (hp[NESTEROV] != 0.0 && (hp[MOMENTUM] <= 0.0 || hp[DAMPENING] != 0.0)) {
        *why = "Nesterov momentum needs momentum > 0 and dampening 0 (as in torch.optim.SGD)";
        return NESTEROV;
    }
    return -1;
}

static void sgd_step(nn_optimizer *o)
{
    /* Scalars are rounded to float32 as ATen does, 1 - dampening first. */
    const float lr = (float)o->lr, momentum = (float)o->hp[MOMENTUM];
    const float keep = (float)(1.0 - o->hp[DAMPENING]), wd = (float)o->hp[WEIGHT_DECAY];
    const int nesterov = o->hp[NESTEROV] != 0.0, first = o->steps == 0;
    float *p = o->params->values, *buf = o->state[0];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        float g = fmaf(wd, p[i], grad[i]);
        if (momentum != 0.0f) {
            buf[i] = first ? g : fmaf(keep, g, buf[i] * momentum);
            g = nesterov ? fmaf(momentum, buf[i], g) : buf[i];
        }
        p[i] = fmaf(-lr, g, p[i]);
    }
    o->steps++;
}

const nn_optimizer_def nn_optimizer_sgd = {
    .name = "sgd",
    .hparams = sgd_hparams,
    .n_hparams = (int)(sizeof sgd_hparams / sizeof sgd_hparams[0]),
    .state_names = sgd_state,
    .n_state = 1,
    .check = sgd_check,
    .step = sgd_step,
};
