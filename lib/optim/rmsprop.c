/* RMSprop, centered or not, with momentum, step for step as
 * torch.optim.RMSprop:
 *   g = grad + weight_decay * p
 *   square_avg = alpha * square_avg + (1 - alpha) * g * g
 *   centered: grad_avg = alpha * grad_avg + (1 - alpha) * g,
 *             avg = sqrt(square_avg - grad_avg^2) + eps
 *   else:     avg = sqrt(square_avg) + eps
 *   momentum > 0: buf = momentum * buf + g / avg, p -= lr * buf
 *   else:         p -= lr * g / avg */
#include <math.h>

#include "optim/optimizer.h"

enum { LR, ALPHA, EPS, WEIGHT_DECAY, MOMENTUM, CENTERED };

static const nn_hparam rmsprop_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 0.01, 0.0, 1e6},
    [ALPHA] = {"alpha", NN_HPARAM_NUMBER, 0.99, 0.0, 1.0},
    [EPS] = {"eps", NN_HPARAM_NUMBER, 1e-8, 0.0, 1e6},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
    [MOMENTUM] = {"momentum", NN_HPARAM_NUMBER, 0.0, 0.0, 1.0},
    [CENTERED] = {"centered", NN_HPARAM_BOOL, 0, 0, 1},
};

static const char *const rmsprop_state[] = {"square_avg", "momentum_buffer", "grad_avg"};

static void rmsprop_step(nn_optimizer *o)
{
    const float neg_lr = (float)-o->lr, alpha = (float)o->hp[ALPHA];
    const float keep = (float)(1.0 - o->hp[ALPHA]), eps = (float)o->hp[EPS];
    const float wd = (float)o->hp[WEIGHT_DECAY], momentum = (float)o->hp[MOMENTUM];
    const int centered = o->hp[CENTERED] != 0.0;
    float *p = o->params->values, *square_avg = o->state[0], *buf = o->state[1];
    float *grad_avg = o->state[2];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        const float g = fmaf(wd, p[i], grad[i]);
        square_avg[i] = fmaf(keep * g, g, square_avg[i] * alpha);
        float avg;
        if (centered) {
            grad_avg[i] = fmaf(keep, g, grad_avg[i] * alpha);
            avg = sqrtf(fmaf(-grad_avg[i], grad_avg[i], square_avg[i])) + eps;
        } else {
            avg = sqrtf(square_avg[i]) + eps;
        }
        if (momentum > 0.0f) {
            buf[i] = buf[i] * momentum + g / avg;
            p[i] = fmaf(neg_lr, buf[i], p[i]);
        } else {
            p[i] += neg_lr * g / avg;
        }
    }
    o->steps++;
}

const nn_optimizer_def nn_optimizer_rmsprop = {
    .name = "rmsprop",
    .hparams = rmsprop_hparams,
    .n_hparams = (int)(sizeof rmsprop_hparams / sizeof rmsprop_hparams[0]),
    .state_names = rmsprop_state,
    .n_state = 3,
    .step = rmsprop_step,
};
