/* Softmax and cross-entropy fused: the softmax is kept from the forward,
 * and the backward is one pass of w (p - onehot) + w_s (p - 1/C) per row.
 * Stable by subtracting each row's maximum. Class indices, ignore_index,
 * label smoothing and class weights as torch 1.13's F.cross_entropy. */
#include "ops/ops.h"

#include <math.h>

typedef struct ce_saved {
    const int32_t *labels;
    const float *weight;  /* (C) class weights, or NULL */
    float weight_sum;     /* sum of weight (with weight) */
    float *prob;          /* (N, C) softmax */
    nn_reduction red;
    int ignore_index;
    float smoothing;
    float scale;          /* 1 / the mean's divisor (weights of the non-ignored rows), else 1 */
} ce_saved;

/* Per-row -w[label] log softmax(x)[label] into nll and -sum_j w[j] log
 * softmax(x)_j into smooth (when not NULL), w = 1 without weight;
 * probabilities into prob. Ignored rows give 0. */
static void softmax_cross_entropy_forward(float *nll, float *smooth, float *prob, const float *x,
                                          const int32_t *labels, const float *weight,
                                          int ignore_index, int n, int c)
{
    #pragma omp parallel for schedule(static) if ((long)n * c > 32768)
    for (int r = 0; r < n; r++) {
        const float *xr = x + (long)r * c;
        float *pr = prob + (long)r * c;
        float mx = xr[0];
        for (int j = 1; j < c; j++) mx = xr[j] > mx ? xr[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < c; j++) {
            pr[j] = expf(xr[j] - mx);
            sum += pr[j];
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < c; j++) pr[j] *= inv;
        int ignored = labels[r] == ignore_index;
        double lse = log(sum);
        /* Times 1.0 without weight: exact, so the plain loss is unchanged. */
        double wy = weight && !ignored ? (double)weight[labels[r]] : 1.0;
        nll[r] = ignored ? 0.0f : (float)(wy * (lse - (double)(xr[labels[r]] - mx)));
        if (smooth) {
            double s = 0.0;
            for (int j = 0; j < c; j++)
                s += (weight ? (double)weight[j] : 1.0) * (lse - (double)(xr[j] - mx));
            smooth[r] = ignored ? 0.0f : (float)s;
        }
    }
}

/* dx_r += g_r ((1 - eps) s_nll (p - onehot(label)) + eps s_smooth (p - 1/C)),
 * with g_r the row's upstream gradient; with weights,
 * dx_r += g_r ((1 - eps) w[label] (p - onehot(label)) + eps/C (sum(w) p - w)). */
static void softmax_cross_entropy_backward(float *dx, const float *dy, const ce_saved *s, int n,
                                           int c)
{
    #pragma omp parallel for schedule(static) if ((long)n * c > 32768)
    for (int r = 0; r < n; r++) {
        if (s->labels[r] == s->ignore_index) continue;
        float g = s->red == NN_REDUCTION_NONE ? dy[r] : dy[0];
        float w = g * (1.0f - s->smoothing) * s->scale;
        float ws = g * s->smoothing * s->scale;
        float *dr = dx + (long)r * c;
        const float *pr = s->prob + (long)r * c;
        if (s->weight) {
            w *= s->weight[s->labels[r]];
            ws /= (float)c;
            float a = w + ws * s->weight_sum;
            for (int j = 0; j < c; j++) dr[j] += a * pr[j] - ws * s->weight[j];
        } else {
            for (int j = 0; j < c; j++) dr[j] += (w + ws) * pr[j] - ws / (float)c;
        }
        dr[s->labels[r]] -= w;
    }
}

nn_tensor *nn_cross_entropy_weighted(nn_tape *t, nn_tensor *logits, const int32_t *labels,
                                     nn_reduction reduction, int ignore_index,
                                     float label_smoothing, const float *weight)
{
    if (!logits) return NULL;
    char ls[64];
    if (logits->ndim != 2) {
        nn_error(NN_ERR_INPUT, "cross_entropy: logits %s, expected (N, classes)",
                 nn_shape_str(ls, sizeof ls, logits->ndim, logits->shape));
        return NULL;
    }
    if (reduction == NN_REDUCTION_BATCHMEAN || !(label_smoothing >= 0.0f && label_smoothing <= 1.0f)) {
        nn_error(NN_ERR_INPUT, "cross_entropy: needs reduction mean, sum or none and label "
                 "smoothing in [0, 1]");
        return NULL;
    }
    int n = logits->shape[0], c = logits->shape[1];
    /* The mean's divisor: the non-ignored rows, or their weights' sum. */
    double divisor = 0.0;
    for (int r = 0; r < n; r++) {
        if (labels[r] == ignore_index) continue;
        if (labels[r] < 0 || labels[r] >= c) {
            nn_error(NN_ERR_INPUT, "cross_entropy: label %d of sample %d is outside [0, %d)",
                     labels[r], r, c);
            return NULL;
        }
        divisor += weight ? (double)weight[labels[r]] : 1.0;
    }
    double weight_sum = 0.0;
    for (int j = 0; weight && j < c; j++) weight_sum += weight[j];
    nn_tensor *loss = reduction == NN_REDUCTION_NONE ? nn_tape_output(t, 1, &n, &logits, 1)
                                                     : nn_tape_output(t, 0, NULL, &logits, 1);
    float *prob = NN_ARENA_NEW(t->arena, float, (long)n * c);
    float *nll = NN_ARENA_NEW(t->arena, float, n);
    float *smooth = label_smoothing > 0.0f ? NN_ARENA_NEW(t->arena, float, n) : NULL;
    ce_saved *saved = nn_arena_alloc(t->arena, sizeof *saved);
    if (!loss || !prob || !nll || (label_smoothing > 0.0f && !smooth) || !saved) return NULL;
    softmax_cross_entropy_forward(nll, smooth, prob, logits->data, labels, weight, ignore_index, n, c);
    /* The mean is over the non-ignored rows (none of them: NaN, as torch);
     * with weights, both terms are divided by the weights of their labels,
     * as torch 1.13 does, smoothing term included. */
    int mean = reduction == NN_REDUCTION_MEAN;
    *saved = (ce_saved){labels, weight, (float)weight_sum, prob, reduction, ignore_index,
                        label_smoothing, mean ? 1.0f / (float)divisor : 1.0f};
    float eps = label_smoothing, eps_c = label_smoothing / (float)c;
    if (reduction == NN_REDUCTION_NONE) {
        for (int r = 0; r < n; r++)
            loss->data[r] = smooth ? (1.0f - eps) * nll[r] + eps_c * smooth[r] : nll[r];
    } else {
        /* Sums in sample order, in double: the same for any thread count. */
        double a = 0.0, b = 0.0;
        for (int r = 0; r < n; r++) {
            a += nll[r];
            if (smooth) b += smooth[r];
        }
        if (mean) {
            a /= divisor;
            b /= divisor;
        }
        loss->data[0] = smooth ? (float)((1.0 - eps) * a + eps_c * b) : (float)a;
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_SOFTMAX_CROSS_ENTROPY], loss, &logits, 1, saved))
        return NULL;
    return loss;
}

nn_tensor *nn_cross_entropy(nn_tape *t, nn_tensor *logits, const int32_t *labels,
                            nn_reduction reduction, int ignore_index, float label_smoothing)
{
    return nn_cross_entropy_weighted(t, logits, labels, reduction, ignore_index, label_smoothing,
                                     NULL);
}

nn_tensor *nn_softmax_cross_entropy(nn_tape *t, nn_tensor *logits, const int32_t *labels)
{
    return nn_cross_entropy(t, logits, labels, NN_REDUCTION_MEAN, -100, 0.0f);
}

nn_status nn_softmax_cross_entropy_backward(nn_tape *t, const nn_node *node)
{
    const ce_saved *s = node->saved;
    nn_tensor *x = node->in[0];
    softmax_cross_entropy_backward(x->grad, node->out->grad, s, x->shape[0], x->shape[1]);
    (void)t;
    return NN_OK;
}
