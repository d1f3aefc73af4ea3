/* Adadelta, step for step as torch.optim.Adadelta:
 *   g = grad + weight_decay * p
 *   square_avg = rho * square_avg + (1 - rho) * g * g
 *   delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
 *   acc_delta = rho * acc_delta + (1 - rho) * delta * delta
 *   p -= lr * delta */
#include <math.h>

#include "optim/optimizer.h"

enum { LR, RHO, EPS, WEIGHT_DECAY };

static const nn_hparam adadelta_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 1.0, 0.0, 1e6},
    [RHO] = {"rho", NN_HPARAM_NUMBER, 0.9, 0.0, 1.0},
    [EPS] = {"eps", NN_HPARAM_NUMBER, 1e-6, 0.0, 1e6},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
};

static const char *const adadelta_state[] = {"square_avg", "acc_delta"};

static void adadelta_step(nn_optimizer *o)
{
    const float neg_lr = (float)-o->lr, rho = (float)o->hp[RHO];
    const float keep = (float)(1.0 - o->hp[RHO]), eps = (float)o->hp[EPS];
    const float wd = (float)o->hp[WEIGHT_DECAY];
    float *p = o->params->values, *square_avg = o->state[0], *acc_delta = o->state[1];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        const float g = fmaf(wd, p[i], grad[i]);
        square_avg[i] = fmaf(keep * g, g, square_avg[i] * rho);
        const float std = sqrtf(square_avg[i] + eps);
        const float delta = sqrtf(acc_delta[i] + eps) / std * g;
        acc_delta[i] = fmaf(keep * delta, delta, acc_delta[i] * rho);
        p[i] = fmaf(neg_lr, delta, p[i]);
    }
    o->steps++;
}

const nn_optimizer_def nn_optimizer_adadelta = {
    .name = "adadelta",
    .hparams = adadelta_hparams,
    .n_hparams = (int)(sizeof adadelta_hparams / sizeof adadelta_hparams[0]),
    .state_names = adadelta_state,
    .n_state = 2,
    .step = adadelta_step,
};
