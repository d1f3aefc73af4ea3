/* The Adam family, step for step as torch.optim's Adam, AdamW, Adamax and
 * NAdam (m, v: exp_avg, exp_avg_sq; t: the step, from 1):
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 * Adam:   g = grad + weight_decay * p; v' = max(v', v) with amsgrad, else v;
 *         p -= lr / (1 - beta1^t) * m / (sqrt(v') / sqrt(1 - beta2^t) + eps)
 * AdamW:  p *= 1 - lr * weight_decay first (decoupled), then as Adam on grad
 * Adamax: u = max(beta2 * u, |g| + eps); p -= lr / (1 - beta1^t) * m / u
 * NAdam:  mu_t = beta1 (1 - 0.5 * 0.96^(t momentum_decay)), prod_t = mu_1 ... mu_t,
 *         d = sqrt(v) / sqrt(1 - beta2^t) + eps,
 *         p -= lr (1 - mu_t) / (1 - prod_t) * g / d
 *              + lr mu_{t+1} / (1 - prod_t mu_{t+1}) * m / d
 * Scalars that PyTorch computes in double (bias corrections, step sizes) are
 * computed in double here and rounded to float32 where ATen rounds them. */
#include <math.h>

#include "optim/optimizer.h"

/* The sixth slot is Adam's and AdamW's amsgrad, NAdam's momentum_decay. */
enum { LR, BETA1, BETA2, EPS, WEIGHT_DECAY, AMSGRAD, MOMENTUM_DECAY = AMSGRAD };

#define BETAS(b1, b2)                                                              \
    [BETA1] = {"betas", NN_HPARAM_PAIR, b1, 0.0, 1.0, NN_HPARAM_OPEN_MAX},         \
    [BETA2] = {"betas", NN_HPARAM_PAIR_SECOND, b2, 0.0, 1.0, NN_HPARAM_OPEN_MAX}

static const nn_hparam adam_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 1e-3, 0.0, 1e6},
    BETAS(0.9, 0.999),
    [EPS] = {"eps", NN_HPARAM_NUMBER, 1e-8, 0.0, 1e6},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
    [AMSGRAD] = {"amsgrad", NN_HPARAM_BOOL, 0, 0, 1},
};

/* AdamW: Adam's table with PyTorch's default weight decay of 0.01. */
static const nn_hparam adamw_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 1e-3, 0.0, 1e6},
    BETAS(0.9, 0.999),
    [EPS] = {"eps", NN_HPARAM_NUMBER, 1e-8, 0.0, 1e6},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.01, 0.0, 1e6},
    [AMSGRAD] = {"amsgrad", NN_HPARAM_BOOL, 0, 0, 1},
};

static const nn_hparam adamax_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 2e-3, 0.0, 1e6},
    BETAS(0.9, 0.999),
    [EPS] = {"eps", NN_HPARAM_NUMBER, 1e-8, 0.0, 1e6},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
};

static const nn_hparam nadam_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 2e-3, 0.0, 1e6},
    BETAS(0.9, 0.999),
    [EPS] = {"eps", NN_HPARAM_NUMBER, 1e-8, 0.0, 1e6},
    [WEIGHT_DECAY] = {"weight_decay", NN_HPARAM_NUMBER, 0.0, 0.0, 1e6},
    [MOMENTUM_DECAY] = {"momentum_decay", NN_HPARAM_NUMBER, 4e-3, 0.0, 1e6},
};

static const char *const adam_state[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
static const char *const adamax_state[] = {"exp_avg", "exp_inf"};
static const char *const nadam_scalars[] = {"mu_product"};

/* Adam, or AdamW when `decoupled`. */
static void adam_update(nn_optimizer *o, int decoupled)
{
    const double t = (double)(o->steps + 1);
    const double step_size = o->lr / (1.0 - pow(o->hp[BETA1], t));
    const float neg_step = (float)-step_size, bc2_sqrt = (float)sqrt(1.0 - pow(o->hp[BETA2], t));
    const float beta1 = (float)o->hp[BETA1], beta2 = (float)o->hp[BETA2];
    const float keep1 = (float)(1.0 - o->hp[BETA1]), keep2 = (float)(1.0 - o->hp[BETA2]);
    const float eps = (float)o->hp[EPS];
    const float wd = decoupled ? 0.0f : (float)o->hp[WEIGHT_DECAY];
    const float shrink = decoupled ? (float)(1.0 - o->lr * o->hp[WEIGHT_DECAY]) : 1.0f;
    const int amsgrad = o->hp[AMSGRAD] != 0.0;
    float *p = o->params->values, *m = o->state[0], *v = o->state[1], *vmax = o->state[2];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        p[i] *= shrink;
        const float g = fmaf(wd, p[i], grad[i]);
        m[i] = fmaf(keep1, g, m[i] * beta1);
        v[i] = fmaf(keep2 * g, g, v[i] * beta2);
        float s = v[i];
        if (amsgrad) {
            if (v[i] > vmax[i]) vmax[i] = v[i];
            s = vmax[i];
        }
        p[i] += neg_step * m[i] / (sqrtf(s) / bc2_sqrt + eps);
    }
    o->steps++;
}

static void adam_step(nn_optimizer *o) { adam_update(o, 0); }
static void adamw_step(nn_optimizer *o) { adam_update(o, 1); }

static void adamax_step(nn_optimizer *o)
{
    const double t = (double)(o->steps + 1);
    const float neg_clr = (float)-(o->lr / (1.0 - pow(o->hp[BETA1], t)));
    const float beta1 = (float)o->hp[BETA1], beta2 = (float)o->hp[BETA2];
    const float keep1 = (float)(1.0 - o->hp[BETA1]), eps = (float)o->hp[EPS];
    const float wd = (float)o->hp[WEIGHT_DECAY];
    float *p = o->params->values, *m = o->state[0], *u = o->state[1];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        const float g = fmaf(wd, p[i], grad[i]);
        m[i] = fmaf(keep1, g, m[i] * beta1);
        const float decayed = u[i] * beta2, now = fabsf(g) + eps;
        u[i] = decayed > now ? decayed : now;
        p[i] += neg_clr * m[i] / u[i];
    }
    o->steps++;
}

static void nadam_init(nn_optimizer *o) { o->scalar[0] = 1.0; }

/* As PyTorch 2's NAdam and 1.13's multi-tensor one, in the latter's
 * roundings; 1.13's default single-tensor NAdam multiplies mu_t into the
 * next product twice (pytorch/pytorch#92699). */
static void nadam_step(nn_optimizer *o)
{
    const double t = (double)(o->steps + 1), beta1 = o->hp[BETA1];
    const double md = o->hp[MOMENTUM_DECAY];
    const double mu = beta1 * (1.0 - 0.5 * pow(0.96, t * md));
    const double mu_next = beta1 * (1.0 - 0.5 * pow(0.96, (t + 1.0) * md));
    /* PyTorch keeps the product as a float32 tensor. */
    const float prod = (float)o->scalar[0] * (float)mu;
    o->scalar[0] = prod;
    const float c_grad = (float)-(o->lr * (1.0 - mu) / (1.0 - (double)prod));
    const float c_avg = (float)-(o->lr * mu_next / (1.0 - (double)prod * mu_next));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(o->hp[BETA2], t));
    const float b1 = (float)beta1, beta2 = (float)o->hp[BETA2];
    const float keep1 = (float)(1.0 - beta1), keep2 = (float)(1.0 - o->hp[BETA2]);
    const float eps = (float)o->hp[EPS], wd = (float)o->hp[WEIGHT_DECAY];
    float *p = o->params->values, *m = o->state[0], *v = o->state[1];
    const float *grad = o->params->grads;
    const int64_t n = o->params->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        const float g = fmaf(wd, p[i], grad[i]);
        m[i] = fmaf(keep1, g, m[i] * b1);
        v[i] = fmaf(keep2 * g, g, v[i] * beta2);
        const float d = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += c_grad * g / d;
        p[i] += c_avg * m[i] / d;
    }
    o->steps++;
}

const nn_optimizer_def nn_optimizer_adam = {
    .name = "adam",
    .hparams = adam_hparams,
    .n_hparams = (int)(sizeof adam_hparams / sizeof adam_hparams[0]),
    .state_names = adam_state,
    .n_state = 3,
    .step = adam_step,
};

const nn_optimizer_def nn_optimizer_adamw = {
    .name = "adamw",
    .hparams = adamw_hparams,
    .n_hparams = (int)(sizeof adamw_hparams / sizeof adamw_hparams[0]),
    .state_names = adam_state,
    .n_state = 3,
    .step = adamw_step,
};

const nn_optimizer_def nn_optimizer_adamax = {
    .name = "adamax",
    .hparams = adamax_hparams,
    .n_hparams = (int)(sizeof adamax_hparams / sizeof adamax_hparams[0]),
    .state_names = adamax_state,
    .n_state = 2,
    .step = adamax_step,
};

const nn_optimizer_def nn_optimizer_nadam = {
    .name = "nadam",
    .hparams = nadam_hparams,
    .n_hparams = (int)(sizeof nadam_hparams / sizeof nadam_hparams[0]),
    .state_names = adam_state,
    .n_state = 2,
    .scalar_names = nadam_scalars,
    .n_scalars = 1,
    .init = nadam_init,
    .step = nadam_step,
};
