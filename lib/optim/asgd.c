/* Averaged SGD, step for step as torch.optim.ASGD. The average `ax` of the
 * iterates starts after t0 steps; eta and mu are one number each for the
 * whole model (float32 tensors in PyTorch), kept as scalars:
 *   g = grad + weight_decay * p
 *   p = p * (1 - lambd * eta) - eta * g
 *   ax = mu == 1 ? p : ax + mu * (p - ax)
 *   eta = lr / (1 + lambd * lr * t)^alpha,  mu = 1 / max(1, t - t0) */
#include <math.h>

#include "optim/optimizer.h"

enum { LR, LAMBD, ALPHA, T0, WEIGHT_DECAY };
enum { ETA, MU };

static const nn_hparam asgd_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 0.01, 0.0, 1e6},
    [LAMBD] = {"lambd", NN_HPARAM_NUMBER, 1e-4, 0.0, 1e6},
    [ALPHA] = {"alpha", NN_HPARAM_NUMBER, 0.75, 0.0, 1e6},
    [T0] = {"t0", NN_HPARAM_NUMBER, 1e6, 0.0, 1e15},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
};

static const char *const asgd_state[] = {"ax"};
static const char *const asgd_scalars[] = {[ETA] = "eta", [MU] = "mu"};

static void asgd_init(nn_optimizer *o)
{
    o->scalar[ETA] = (float)o->lr;
    o->scalar[MU] = 1.0;
}

static void asgd_step(nn_optimizer *o)
{
    const double t = (double)(o->steps + 1), eta = o->scalar[ETA], lambd = o->hp[LAMBD];
    const float shrink = (float)(1.0 - lambd * eta), neg_eta = (float)-eta;
    const float mu = (float)o->scalar[MU], wd = (float)o->hp[WEIGHT_DECAY];
    float *p = o->params->values, *ax = o->state[0];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        const float g = fmaf(wd, p[i], grad[i]);
        p[i] = fmaf(neg_eta, g, p[i] * shrink);
        ax[i] = mu != 1.0f ? ax[i] + (p[i] - ax[i]) * mu : p[i];
    }
    o->scalar[ETA] = (float)(o->lr / pow(1.0 + lambd * o->lr * t, o->hp[ALPHA]));
    o->scalar[MU] = (float)(1.0 / fmax(1.0, t - o->hp[T0]));
    o->steps++;
}

const nn_optimizer_def nn_optimizer_asgd = {
    .name = "asgd",
    .hparams = asgd_hparams,
    .n_hparams = (int)(sizeof asgd_hparams / sizeof asgd_hparams[0]),
    .state_names = asgd_state,
    .n_state = 1,
    .scalar_names = asgd_scalars,
    .n_scalars = 2,
    .init = asgd_init,
    .step = asgd_step,
};
