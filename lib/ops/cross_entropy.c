/* Softmax and cross-entropy fused: the softmax is kept from the forward,
 * and the backward is one pass of (p - onehot) / N. Stable by subtracting
 * each row's maximum. */
#include "ops/ops.h"

#include <math.h>

typedef struct ce_saved {
    const int32_t *labels;
    float *prob;     /* (N, C) softmax */
} ce_saved;

/* Per-row loss -log softmax(x)[label] into row_loss; probabilities into prob. */
static void softmax_cross_entropy_forward(float *row_loss, float *prob, const float *x,
                                          const int32_t *labels, int n, int c)
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
        row_loss[r] = (float)(log(sum) - (double)(xr[labels[r]] - mx));
    }
}

/* dx += dloss * (prob - onehot(label)) / n */
static void softmax_cross_entropy_backward(float *dx, float dloss, const float *prob,
                                           const int32_t *labels, int n, int c)
{
    float scale = dloss / (float)n;
    #pragma omp parallel for schedule(static) if ((long)n * c > 32768)
    for (int r = 0; r < n; r++) {
        for (int j = 0; j < c; j++) dx[(long)r * c + j] += scale * prob[(long)r * c + j];
        dx[(long)r * c + labels[r]] -= scale;
    }
}

nn_tensor *nn_softmax_cross_entropy(nn_tape *t, nn_tensor *logits, const int32_t *labels)
{
    if (!logits) return NULL;
    char ls[64];
    if (logits->ndim != 2) {
        nn_error(NN_ERR_INPUT, "cross_entropy: logits %s, expected (N, classes)",
                 nn_shape_str(ls, sizeof ls, logits->ndim, logits->shape));
        return NULL;
    }
    int n = logits->shape[0], c = logits->shape[1];
    for (int r = 0; r < n; r++)
        if (labels[r] < 0 || labels[r] >= c) {
            nn_error(NN_ERR_INPUT, "cross_entropy: label %d of sample %d is outside [0, %d)",
                     labels[r], r, c);
            return NULL;
        }
    nn_tensor *loss = nn_tape_output(t, 0, NULL, &logits, 1);
    float *prob = NN_ARENA_NEW(t->arena, float, (long)n * c);
    float *row_loss = NN_ARENA_NEW(t->arena, float, n);
    ce_saved *saved = nn_arena_alloc(t->arena, sizeof *saved);
    if (!loss || !prob || !row_loss || !saved) return NULL;
    softmax_cross_entropy_forward(row_loss, prob, logits->data, labels, n, c);
    /* The mean in sample order, in double: the same for any thread count. */
    double sum = 0.0;
    for (int r = 0; r < n; r++) sum += row_loss[r];
    loss->data[0] = (float)(sum / n);
    *saved = (ce_saved){labels, prob};
    if (nn_tape_record(t, &nn_op_defs[NN_OP_SOFTMAX_CROSS_ENTROPY], loss, &logits, 1, saved))
        return NULL;
    return loss;
}

nn_status nn_softmax_cross_entropy_backward(nn_tape *t, const nn_node *node)
{
    const ce_saved *s = node->saved;
    nn_tensor *x = node->in[0];
    softmax_cross_entropy_backward(x->grad, node->out->grad[0], s->prob, s->labels, x->shape[0],
                                   x->shape[1]);
    (void)t;
    return NN_OK;
}
