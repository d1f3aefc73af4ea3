/* Adagrad, step for step as torch.optim.Adagrad (dense gradients):
 *   g = grad + weight_decay * p
 *   sum += g * g                     (sum starts at initial_accumulator_value)
 *   p -= lr / (1 + (step - 1) * lr_decay) * g / (sqrt(sum) + eps) */
#include <math.h>

#include "optim/optimizer.h"

enum { LR, LR_DECAY, WEIGHT_DECAY, INITIAL_ACCUMULATOR_VALUE, EPS };

static const nn_hparam adagrad_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 0.01, 0.0, 1e6},
    [LR_DECAY] = {"lr_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
    [INITIAL_ACCUMULATOR_VALUE] = {"initial_accumulator_value", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
    [EPS] = {"eps", NN_HPARAM_NUMBER, 1e-10, 0.0, 1e6},
};

static const char *const adagrad_state[] = {"sum"};

static void adagrad_init(nn_optimizer *o)
{
    const float v = (float)o->hp[INITIAL_ACCUMULATOR_VALUE];
    float *sum = o->state[0];
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) sum[i] = v;
}

static void adagrad_step(nn_optimizer *o)
{
    const double step = (double)(o->steps + 1);
    const float neg_clr = (float)-(o->lr / (1.0 + (step - 1.0) * o->hp[LR_DECAY]));
    const float wd = (float)o->hp[WEIGHT_DECAY], eps = (float)o->hp[EPS];
    float *p = o->params->values, *sum = o->state[0];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        const float g = fmaf(wd, p[i], grad[i]);
        sum[i] = fmaf(g, g, sum[i]);
        p[i] += neg_clr * g / (sqrtf(sum[i]) + eps);
    }
    o->steps++;
}

const nn_optimizer_def nn_optimizer_adagrad = {
    .name = "adagrad",
    .hparams = adagrad_hparams,
    .n_hparams = (int)(sizeof adagrad_hparams / sizeof adagrad_hparams[0]),
    .state_names = adagrad_state,
    .n_state = 1,
    .init = adagrad_init,
    .step = adagrad_step,
};
