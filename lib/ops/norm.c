/* Normalization: batch-norm over (N, C, ...) per channel, layer-norm over
 * the trailing dims per row. Both keep mean and 1/sqrt(var + eps) of each
 * group for the backward, which recomputes xhat = (x - mean) rstd rather
 * than storing it. Statistics are summed in double. */
#include "ops/ops.h"

#include <math.h>
#include <omp.h>

#include "ops/norm_kernels.h"

/* Node inputs are at fixed places, NULL when absent: x, weight, bias. */
enum { IN_X, IN_W, IN_B };

typedef struct norm_saved {
    int batch_stats;   /* the statistics came from x (train): backward goes through them */
    nn_bn_act act;     /* batch-norm's fused activation */
    int64_t groups;    /* channels (batch-norm) or rows (layer-norm) */
    float *mean, *rstd;
} norm_saved;

static norm_saved *saved_new(nn_tape *t, int64_t groups)
{
    norm_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    float *m = NN_ARENA_NEW(t->arena, float, 2 * groups);
    if (!s || !m) return NULL;
    *s = (norm_saved){.groups = groups, .mean = m, .rstd = m + groups};
    return s;
}

/* ---- batch-norm ---- */

/* The 8 lanes of a channel's sum, added in lane order (norm_kernels.h). */
static double lanes_total(const double lanes[8])
{
    double sum = 0.0;
    for (int l = 0; l < 8; l++) sum += lanes[l];
    return sum;
}

nn_tensor *nn_batchnorm(nn_tape *t, nn_tensor *x, nn_tensor *weight, nn_tensor *bias,
                        nn_tensor *running_mean, nn_tensor *running_var, float momentum, float eps)
{
    return nn_batchnorm_act(t, x, weight, bias, running_mean, running_var, momentum, eps, NN_BN_ACT_NONE);
}

nn_tensor *nn_batchnorm_act(nn_tape *t, nn_tensor *x, nn_tensor *weight, nn_tensor *bias,
                            nn_tensor *running_mean, nn_tensor *running_var, float momentum,
                            float eps, nn_bn_act act)
{
    if (!x) return NULL;
    char xs[64];
    if (x->ndim < 2 || x->ndim > 4 || x->shape[1] < 1) {
        nn_error(NN_ERR_INPUT, "batchnorm: input %s is not (N, C), (N, C, L) or (N, C, H, W)",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    const int c = x->shape[1];
    const nn_tensor *per_channel[4] = {weight, bias, running_mean, running_var};
    static const char *const names[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        if (per_channel[i] && per_channel[i]->numel != c) {
            nn_error(NN_ERR_INPUT, "batchnorm: %s has %lld values, expected %d (the channels of %s)",
                     names[i], (long long)per_channel[i]->numel, c,
                     nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
            return NULL;
        }
    if (!running_mean != !running_var) {
        nn_error(NN_ERR_INPUT, "batchnorm: give both running_mean and running_var, or neither");
        return NULL;
    }
    const int n = x->shape[0];
    int64_t inner = 1;
    for (int d = 2; d < x->ndim; d++) inner *= x->shape[d];
    const int64_t count = (int64_t)n * inner;
    const int batch_stats = t->training || !running_mean;
    if (batch_stats && count < 2 && t->training) {
        nn_error(NN_ERR_INPUT, "batchnorm: training needs more than 1 value per channel, got input %s",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    nn_tensor *in[3] = {x, weight, bias};
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, in, 3);
    if (!y) return NULL;
    norm_saved *s = saved_new(t, c);
    if (!s) return NULL;
    s->batch_stats = batch_stats;
    s->act = act;

    const nn_bn_kernels *k = NN_KERNELS(nn_bn_kernels);
    const long stride = (long)c * inner;
    #pragma omp parallel for schedule(static) if (x->numel > (1 << 15))
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x->data + ch * inner;
        double mean, var;
        if (batch_stats) {
            double sum_lanes[8] = {0}, sq_lanes[8] = {0};
            k->sum(sum_lanes, xc, stride, n, inner);
            mean = lanes_total(sum_lanes) / (double)count;
            k->sqdev(sq_lanes, xc, stride, n, inner, mean);
            const double sq = lanes_total(sq_lanes);
            var = sq / (double)count;   /* biased, for normalizing */
            if (running_mean && t->training) {
                /* torch: the running variance takes the unbiased estimate. */
                running_mean->data[ch] = (float)((1.0 - momentum) * running_mean->data[ch] + momentum * mean);
                running_var->data[ch] = (float)((1.0 - momentum) * running_var->data[ch] +
                                                momentum * sq / (double)(count - 1));
            }
        } else {
            mean = running_mean->data[ch];
            var = running_var->data[ch];
        }
        const nn_bn_channel kc = {.mean = (float)mean, .rstd = (float)(1.0 / sqrt(var + eps)),
                                  .weight = weight ? weight->data[ch] : 1.0f,
                                  .bias = bias ? bias->data[ch] : 0.0f, .act = act};
        s->mean[ch] = kc.mean;
        s->rstd[ch] = kc.rstd;
        k->normalize(y->data + ch * inner, xc, stride, n, inner, &kc);
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_BATCHNORM], y, in, 3, s)) return NULL;
    return y;
}

/* With batch statistics, per channel (xhat = (x - mean) rstd, g = dy w):
 *   dx += rstd (g - mean(g) - xhat mean(g xhat));
 * with running statistics (constants), dx += rstd g. Always
 *   dw += sum(dy xhat), db += sum(dy). */
nn_status nn_batchnorm_backward(nn_tape *t, const nn_node *node)
{
    const norm_saved *s = node->saved;
    const nn_tensor *x = node->in[IN_X], *w = node->in[IN_W], *b = node->in[IN_B], *y = node->out;
    const int n = x->shape[0], c = x->shape[1];
    int64_t inner = 1;
    for (int d = 2; d < x->ndim; d++) inner *= x->shape[d];
    const int64_t count = (int64_t)n * inner;
    const long stride = (long)c * inner;
    const nn_bn_kernels *k = NN_KERNELS(nn_bn_kernels);
    (void)t;
    /* A fused activation's mask comes from its input, recomputed from x by
     * the forward's own expression (the same bits), which costs less than
     * reading y; dy goes through it in both passes, never stored. */
    #pragma omp parallel for schedule(static) if (x->numel > (1 << 15))
    for (int ch = 0; ch < c; ch++) {
        const nn_bn_channel kc = {.mean = s->mean[ch], .rstd = s->rstd[ch],
                                  .weight = w ? w->data[ch] : 1.0f, .bias = b ? b->data[ch] : 0.0f,
                                  .act = s->act};
        const float *xc = x->data + ch * inner, *dyc = y->grad + ch * inner;
        /* sum dy and sum dy xhat, xhat rounded to float as the forward made it. */
        double dy_lanes[8] = {0}, dyx_lanes[8] = {0};
        k->grad_sums(dy_lanes, dyx_lanes, dyc, xc, stride, n, inner, &kc);
        const double sdy = lanes_total(dy_lanes), sdyx = lanes_total(dyx_lanes);
        if (w && w->requires_grad) w->grad[ch] += (float)sdyx;
        if (b && b->requires_grad) b->grad[ch] += (float)sdy;
        if (!x->requires_grad) continue;
        const float mg = s->batch_stats ? (float)(sdy / (double)count) : 0.0f;
        const float mgx = s->batch_stats ? (float)(sdyx / (double)count) : 0.0f;
        k->grad_input(x->grad + ch * inner, dyc, xc, stride, n, inner, &kc, mg, mgx);
    }
    return NN_OK;
}

/* ---- layer-norm ---- */

nn_tensor *nn_layernorm(nn_tape *t, nn_tensor *x, int norm_ndim, nn_tensor *weight, nn_tensor *bias,
                        float eps)
{
    if (!x) return NULL;
    char xs[64], ws[64];
    if (norm_ndim < 1 || norm_ndim > x->ndim) {
        nn_error(NN_ERR_INPUT, "layernorm: cannot normalize the last %d dims of %s", norm_ndim,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    const int lead = x->ndim - norm_ndim;
    int64_t d = 1;
    for (int k = lead; k < x->ndim; k++) d *= x->shape[k];
    const nn_tensor *affine[2] = {weight, bias};
    for (int i = 0; i < 2; i++) {
        const nn_tensor *p = affine[i];
        if (!p) continue;
        int ok = p->ndim == norm_ndim;
        for (int k = 0; ok && k < norm_ndim; k++) ok = p->shape[k] == x->shape[lead + k];
        if (!ok) {
            nn_error(NN_ERR_INPUT, "layernorm: %s is %s, expected %s (the last %d dims of %s)",
                     i ? "bias" : "weight", nn_shape_str(ws, sizeof ws, p->ndim, p->shape),
                     nn_shape_str(xs, sizeof xs, norm_ndim, x->shape + lead), norm_ndim,
                     nn_shape_str(ws, sizeof ws, x->ndim, x->shape));
            return NULL;
        }
    }
    const int64_t rows = d ? x->numel / d : 0;
    nn_tensor *in[3] = {x, weight, bias};
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, in, 3);
    if (!y) return NULL;
    norm_saved *s = saved_new(t, rows);
    if (!s) return NULL;
    s->batch_stats = 1;
    #pragma omp parallel for schedule(static) if (x->numel > (1 << 15))
    for (int64_t row = 0; row < rows; row++) {
        const float *xp = x->data + row * d;
        float *yp = y->data + row * d;
        double sum = 0.0, sq = 0.0;
        for (int64_t j = 0; j < d; j++) sum += xp[j];
        double mean = sum / (double)d;
        for (int64_t j = 0; j < d; j++) sq += (xp[j] - mean) * (xp[j] - mean);
        float m = (float)mean, r = (float)(1.0 / sqrt(sq / (double)d + eps));
        s->mean[row] = m;
        s->rstd[row] = r;
        for (int64_t j = 0; j < d; j++)
            yp[j] = (xp[j] - m) * r * (weight ? weight->data[j] : 1.0f) + (bias ? bias->data[j] : 0.0f);
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_LAYERNORM], y, in, 3, s)) return NULL;
    return y;
}

/* Per row (g = dy w): dx += rstd (g - mean(g) - xhat mean(g xhat));
 * dw += sum over rows of dy xhat, db += sum of dy, rows in order (one
 * thread), so the sums do not depend on the thread count. */
nn_status nn_layernorm_backward(nn_tape *t, const nn_node *node)
{
    const norm_saved *s = node->saved;
    const nn_tensor *x = node->in[IN_X], *w = node->in[IN_W], *b = node->in[IN_B], *y = node->out;
    const int64_t rows = s->groups, d = rows ? x->numel / rows : 0;
    const float *dy = y->grad;
    (void)t;
    if (x->requires_grad) {
        #pragma omp parallel for schedule(static) if (x->numel > (1 << 15))
        for (int64_t row = 0; row < rows; row++) {
            const float *xp = x->data + row * d, *gp = dy + row * d;
            float *dxp = x->grad + row * d;
            const float m = s->mean[row], r = s->rstd[row];
            double sg = 0.0, sgx = 0.0;
            for (int64_t j = 0; j < d; j++) {
                float g = gp[j] * (w ? w->data[j] : 1.0f);
                sg += g;
                sgx += (double)g * ((xp[j] - m) * r);
            }
            const float mg = (float)(sg / (double)d), mgx = (float)(sgx / (double)d);
            for (int64_t j = 0; j < d; j++) {
                float g = gp[j] * (w ? w->data[j] : 1.0f);
                dxp[j] += r * (g - mg - (xp[j] - m) * r * mgx);
            }
        }
    }
    const int dw = w && w->requires_grad, db = b && b->requires_grad;
    if (!dw && !db) return NN_OK;
    for (int64_t row = 0; row < rows; row++) {
        const float *xp = x->data + row * d, *gp = dy + row * d;
        const float m = s->mean[row], r = s->rstd[row];
        for (int64_t j = 0; j < d; j++) {
            if (dw) w->grad[j] += gp[j] * ((xp[j] - m) * r);
            if (db) b->grad[j] += gp[j];
        }
    }
    return NN_OK;
}
