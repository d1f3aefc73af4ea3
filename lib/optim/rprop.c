/* Rprop, step for step as torch.optim.Rprop: each element has its own step
 * size (starting at lr), multiplied by etaplus while the gradient keeps its
 * sign and by etaminus when it flips, clamped to step_sizes; after a flip
 * the gradient counts as 0 (no move, and no flip seen next step):
 *   s = sign(grad * prev)
 *   step_size = clamp(step_size * (s > 0 ? etaplus : s < 0 ? etaminus : 1), min, max)
 *   g = s < 0 ? 0 : grad
 *   p -= sign(g) * step_size; prev = g */
#include <math.h>

#include "optim/optimizer.h"

enum { LR, ETAMINUS, ETAPLUS, STEP_MIN, STEP_MAX };

static const nn_hparam rprop_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 0.01, 0.0, 1e6},
    /* PyTorch: 0 < etaminus < 1 < etaplus. */
    [ETAMINUS] = {"etas", NN_HPARAM_PAIR, 0.5, 0.0, 1.0, NN_HPARAM_OPEN_MIN | NN_HPARAM_OPEN_MAX},
    [ETAPLUS] = {"etas", NN_HPARAM_PAIR_SECOND, 1.2, 1.0, 1e6},
    [STEP_MIN] = {"step_sizes", NN_HPARAM_PAIR, 1e-6, 0.0, 1e6},
    [STEP_MAX] = {"step_sizes", NN_HPARAM_PAIR_SECOND, 50.0, 0.0, 1e6},
};

static const char *const rprop_state[] = {"prev", "step_size"};

static void rprop_init(nn_optimizer *o)
{
    const float lr = (float)o->lr;
    float *step_size = o->state[1];
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) step_size[i] = lr;
}

static void rprop_step(nn_optimizer *o)
{
    const float etaminus = (float)o->hp[ETAMINUS], etaplus = (float)o->hp[ETAPLUS];
    const float lo = (float)o->hp[STEP_MIN], hi = (float)o->hp[STEP_MAX];
    float *p = o->params->values, *prev = o->state[0], *step_size = o->state[1];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        const float s = grad[i] * prev[i];
        float size = step_size[i] * (s > 0.0f ? etaplus : s < 0.0f ? etaminus : 1.0f);
        size = size < lo ? lo : size;
        size = size > hi ? hi : size;
        step_size[i] = size;
        const float g = s < 0.0f ? 0.0f : grad[i];
        const float sign = (float)((g > 0.0f) - (g < 0.0f));
        p[i] = fmaf(-sign, size, p[i]);
        prev[i] = g;
    }
    o->steps++;
}

const nn_optimizer_def nn_optimizer_rprop = {
    .name = "rprop",
    .hparams = rprop_hparams,
    .n_hparams = (int)(sizeof rprop_hparams / sizeof rprop_hparams[0]),
    .state_names = rprop_state,
    .n_state = 2,
    .init = rprop_init,
    .step = rprop_step,
};
