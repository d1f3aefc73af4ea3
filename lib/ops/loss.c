/* The losses other than cross-entropy (cross_entropy.c), as PyTorch's
 * functional losses with reduction mean, sum or none.
 *
 * Two families. Pointwise losses (mse, l1, smooth_l1, huber, bce,
 * bce_with_logits, kl_div) have one function per loss giving the element's
 * loss and its derivative by the input; forward and backward share it, and
 * the backward recomputes the derivative from input and target. Row losses
 * (nll, cosine_embedding, sce) give one value per row of an (N, D) input.
 * Both reduce the same way: mean (over elements or rows), sum, none (kept
 * unreduced), batchmean (kl_div only: sum / N). Targets get no gradient and
 * must outlive the backward; sums run in a fixed order, in double.
 *
 * Class weights as torch 1.13: bce and bce_with_logits scale element i by
 * weight[i mod C] (C the last dim) and bce_with_logits weighs the positive
 * term by pos_weight[i mod C], the mean staying over all elements; nll
 * scales row r by weight[label r] and its mean divides by the sum of the
 * weights of the non-ignored rows. Weights, like targets, must outlive the
 * backward. */
#include "ops/ops.h"

#include <math.h>

typedef struct loss_saved {
    const nn_tensor *target;  /* pointwise, cosine_embedding */
    const int32_t *labels;    /* nll */
    nn_reduction red;
    float p;                  /* beta, delta, margin or alpha */
    int flag;                 /* kl_div log_target; nll ignore_index */
    float scale;              /* 1 / the mean's divisor, else 1 */
    const float *weight;      /* bce, bce_with_logits, nll: (C) class weights, or NULL */
    const float *pos_weight;  /* bce_with_logits: (C), or NULL */
    long classes;             /* C, the last dim, for the pointwise class weights */
} loss_saved;


/* The upstream gradient of element i, scaled by the mean's divisor. */
static float upstream(const nn_node *node, long i)
{
    const loss_saved *s = node->saved;
    return s->red == NN_REDUCTION_NONE ? node->out->grad[i] : node->out->grad[0] * s->scale;
}

/* Fills the output of a reduction from the n unreduced values v. */
static void reduce_into(nn_tensor *y, const float *v, long n, double divisor, nn_reduction red)
{
    if (red == NN_REDUCTION_NONE) {
        for (long i = 0; i < n; i++) y->data[i] = v[i];
        return;
    }
    double sum = 0.0;
    for (long i = 0; i < n; i++) sum += v[i];
    y->data[0] = (float)(red == NN_REDUCTION_SUM ? sum : sum / divisor);
}

/* ---- pointwise losses: x, target: same shape -> y: scalar, or x's shape (none) ---- */

static float signf(float d) { return (float)((d > 0.0f) - (d < 0.0f)); }

static float clamped_log(float v) { return fmaxf(logf(v), -100.0f); }

/* Loss of input x against target y (into *l) and d loss / dx (returned). */
static float pointwise(nn_op_id op, float x, float y, float p, int flag, float *l)
{
    float d = x - y, a = fabsf(d);
    switch (op) {
    case NN_OP_MSE_LOSS: *l = d * d; return 2.0f * d;
    case NN_OP_L1_LOSS: *l = a; return signf(d);
    case NN_OP_SMOOTH_L1_LOSS: /* beta 0 is l1, as torch */
        if (a < p) { *l = 0.5f * d * d / p; return d / p; }
        *l = a - 0.5f * p;
        return signf(d);
    case NN_OP_HUBER_LOSS:
        if (a < p) { *l = 0.5f * d * d; return d; }
        *l = p * (a - 0.5f * p);
        return p * signf(d);
    case NN_OP_BCE_LOSS: /* logs clamped at -100, gradient as torch 1.13 */
        *l = -(y * clamped_log(x) + (1.0f - y) * clamped_log(1.0f - x));
        return d / fmaxf((1.0f - x) * x, 1e-12f);
    case NN_OP_BCE_WITH_LOGITS:
        if (flag) { /* pos_weight p: (1 - y) x + (1 + (p - 1) y)(log(1 + e^-|x|) + max(-x, 0)) */
            float lw = 1.0f + (p - 1.0f) * y;
            *l = (1.0f - y) * x + lw * (log1pf(expf(-fabsf(x))) + fmaxf(-x, 0.0f));
            return lw / (1.0f + expf(-x)) - p * y;
        }
        /* max(x, 0) - x y + log(1 + e^-|x|) */
        *l = fmaxf(x, 0.0f) - x * y + log1pf(expf(-fabsf(x)));
        return 1.0f / (1.0f + expf(-x)) - y;
    case NN_OP_KL_DIV: /* x: log q; y: p, or log p with log_target */
        if (flag) { *l = expf(y) * (y - x); return -expf(y); }
        *l = y > 0.0f ? y * (logf(y) - x) : 0.0f;
        return -y;
    default: NN_ASSERT(!"not a pointwise loss");
    }
    return 0.0f;
}

/* pointwise() of element i with the class weights in s: pos_weight as
 * bce_with_logits' p, then the loss and its derivative times weight. */
static float pointwise_weighted(nn_op_id op, const loss_saved *s, long i, float x, float y, float *l)
{
    if (!s->weight && !s->pos_weight) return pointwise(op, x, y, s->p, s->flag, l);
    long k = i % s->classes;
    float d = s->pos_weight ? pointwise(op, x, y, s->pos_weight[k], 1, l)
                            : pointwise(op, x, y, s->p, s->flag, l);
    if (s->weight) {
        *l *= s->weight[k];
        d *= s->weight[k];
    }
    return d;
}

static nn_tensor *pointwise_loss(nn_tape *t, nn_op_id op, nn_tensor *x, const nn_tensor *target,
                                 nn_reduction red, float p, int flag, const float *weight,
                                 const float *pos_weight)
{
    if (!x || !target) return NULL;
    const char *name = nn_op_defs[op].name;
    char xs[64], ts[64];
    int same = x->ndim == target->ndim;
    for (int d = 0; same && d < x->ndim; d++) same = x->shape[d] == target->shape[d];
    if (!same) {
        nn_error(NN_ERR_INPUT, "%s: input %s and target %s differ in shape", name,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape),
                 nn_shape_str(ts, sizeof ts, target->ndim, target->shape));
        return NULL;
    }
    if ((unsigned)red > NN_REDUCTION_BATCHMEAN ||
        (red == NN_REDUCTION_BATCHMEAN && (op != NN_OP_KL_DIV || x->ndim == 0))) {
        nn_error(NN_ERR_INPUT, "%s: reduction must be mean, sum or none%s", name,
                 op == NN_OP_KL_DIV ? " or batchmean" : "");
        return NULL;
    }
    if ((op == NN_OP_SMOOTH_L1_LOSS || op == NN_OP_HUBER_LOSS) && !(p >= 0.0f)) {
        nn_error(NN_ERR_INPUT, "%s: %s %g must not be negative", name,
                 op == NN_OP_HUBER_LOSS ? "delta" : "beta", (double)p);
        return NULL;
    }
    if ((weight || pos_weight) && x->ndim == 0) {
        nn_error(NN_ERR_INPUT, "%s: class weights need an input with a class dim (the last), "
                 "found a scalar", name);
        return NULL;
    }
    if (op == NN_OP_SMOOTH_L1_LOSS && p == 0.0f) op = NN_OP_L1_LOSS;
    long n = (long)x->numel;
    nn_tensor *y = red == NN_REDUCTION_NONE ? nn_tape_output(t, x->ndim, x->shape, &x, 1)
                                            : nn_tape_output(t, 0, NULL, &x, 1);
    float *v = NN_ARENA_NEW(t->arena, float, n > 0 ? n : 1);
    loss_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    if (!y || !v || !s) return NULL;
    double divisor = red == NN_REDUCTION_BATCHMEAN ? (double)x->shape[0] : (double)n;
    *s = (loss_saved){target, NULL, red, p, flag,
                      red == NN_REDUCTION_MEAN || red == NN_REDUCTION_BATCHMEAN ? (float)(1.0 / divisor)
                                                                                : 1.0f,
                      weight, pos_weight, x->ndim ? x->shape[x->ndim - 1] : 1};
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (long i = 0; i < n; i++) pointwise_weighted(op, s, i, x->data[i], target->data[i], &v[i]);
    reduce_into(y, v, n, divisor, red);
    if (red == NN_REDUCTION_BATCHMEAN) s->red = NN_REDUCTION_MEAN;
    if (nn_tape_record(t, &nn_op_defs[op], y, &x, 1, s)) return NULL;
    return y;
}

nn_status nn_pointwise_loss_backward(nn_tape *t, const nn_node *node)
{
    nn_op_id op = (nn_op_id)(node->op - nn_op_defs);
    const loss_saved *s = node->saved;
    nn_tensor *x = node->in[0];
    long n = (long)x->numel;
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (long i = 0; i < n; i++) {
        float l;
        x->grad[i] += upstream(node, i) * pointwise_weighted(op, s, i, x->data[i], s->target->data[i], &l);
    }
    (void)t;
    return NN_OK;
}

nn_tensor *nn_mse_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red)
{
    return pointwise_loss(t, NN_OP_MSE_LOSS, x, target, red, 0.0f, 0, NULL, NULL);
}

nn_tensor *nn_l1_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red)
{
    return pointwise_loss(t, NN_OP_L1_LOSS, x, target, red, 0.0f, 0, NULL, NULL);
}

nn_tensor *nn_smooth_l1_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red,
                             float beta)
{
    return pointwise_loss(t, NN_OP_SMOOTH_L1_LOSS, x, target, red, beta, 0, NULL, NULL);
}

nn_tensor *nn_huber_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red,
                         float delta)
{
    return pointwise_loss(t, NN_OP_HUBER_LOSS, x, target, red, delta, 0, NULL, NULL);
}

nn_tensor *nn_bce_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red)
{
    return nn_bce_loss_weighted(t, x, target, red, NULL);
}

nn_tensor *nn_bce_loss_weighted(nn_tape *t, nn_tensor *x, const nn_tensor *target,
                                nn_reduction red, const float *weight)
{
    return pointwise_loss(t, NN_OP_BCE_LOSS, x, target, red, 0.0f, 0, weight, NULL);
}

nn_tensor *nn_bce_with_logits(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red)
{
    return nn_bce_with_logits_weighted(t, x, target, red, NULL, NULL);
}

nn_tensor *nn_bce_with_logits_weighted(nn_tape *t, nn_tensor *x, const nn_tensor *target,
                                       nn_reduction red, const float *weight,
                                       const float *pos_weight)
{
    return pointwise_loss(t, NN_OP_BCE_WITH_LOGITS, x, target, red, 0.0f, 0, weight, pos_weight);
}

nn_tensor *nn_kl_div(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red,
                     int log_target)
{
    return pointwise_loss(t, NN_OP_KL_DIV, x, target, red, 0.0f, log_target != 0, NULL, NULL);
}

/* ---- row losses: one value per row, y: scalar or (N) (none) ---- */

static nn_tensor *row_output(nn_tape *t, nn_tensor **in, int n_in, int n, nn_reduction red,
                             const char *name)
{
    if ((unsigned)red > NN_REDUCTION_NONE) {
        nn_error(NN_ERR_INPUT, "%s: reduction must be mean, sum or none", name);
        return NULL;
    }
    return red == NN_REDUCTION_NONE ? nn_tape_output(t, 1, &n, in, n_in)
                                    : nn_tape_output(t, 0, NULL, in, n_in);
}

/* x: (N, C) log-probabilities, labels: N ints in [0, C) or ignore_index,
 * weight: (C) or NULL. Mean divides by the non-ignored rows (their weights'
 * sum), as torch. */
nn_tensor *nn_nll_loss_weighted(nn_tape *t, nn_tensor *x, const int32_t *labels, nn_reduction red,
                                int ignore_index, const float *weight)
{
    if (!x) return NULL;
    char xs[64];
    if (x->ndim != 2) {
        nn_error(NN_ERR_INPUT, "nll_loss: input %s, expected (N, classes)",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    int n = x->shape[0], c = x->shape[1];
    double divisor = 0.0;
    for (int r = 0; r < n; r++) {
        if (labels[r] == ignore_index) continue;
        if (labels[r] < 0 || labels[r] >= c) {
            nn_error(NN_ERR_INPUT, "nll_loss: label %d of sample %d is outside [0, %d)", labels[r], r, c);
            return NULL;
        }
        divisor += weight ? (double)weight[labels[r]] : 1.0;
    }
    nn_tensor *y = row_output(t, &x, 1, n, red, "nll_loss");
    float *v = NN_ARENA_NEW(t->arena, float, n > 0 ? n : 1);
    loss_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    if (!y || !v || !s) return NULL;
    for (int r = 0; r < n; r++) {
        if (labels[r] == ignore_index) {
            v[r] = 0.0f;
            continue;
        }
        float xr = x->data[(long)r * c + labels[r]];
        v[r] = weight ? -weight[labels[r]] * xr : -xr;
    }
    reduce_into(y, v, n, divisor, red);
    *s = (loss_saved){NULL, labels, red, 0.0f, ignore_index,
                      red == NN_REDUCTION_MEAN ? 1.0f / (float)divisor : 1.0f, weight, NULL, c};
    if (nn_tape_record(t, &nn_op_defs[NN_OP_NLL_LOSS], y, &x, 1, s)) return NULL;
    return y;
}

nn_status nn_nll_loss_backward(nn_tape *t, const nn_node *node)
{
    const loss_saved *s = node->saved;
    nn_tensor *x = node->in[0];
    int n = x->shape[0], c = x->shape[1];
    for (int r = 0; r < n; r++) {
        if (s->labels[r] == s->flag) continue;
        float g = upstream(node, r);
        x->grad[(long)r * c + s->labels[r]] -= s->weight ? s->weight[s->labels[r]] * g : g;
    }
    (void)t;
    return NN_OK;
}

nn_tensor *nn_nll_loss(nn_tape *t, nn_tensor *x, const int32_t *labels, nn_reduction red,
                       int ignore_index)
{
    return nn_nll_loss_weighted(t, x, labels, red, ignore_index, NULL);
}

/* Row r's cosine of a and b, and its gradient by a and b added into da, db
 * times g (when da/db are not NULL). cosine_embedding uses torch's
 * dot / sqrt((|a|^2 + 1e-12)(|b|^2 + 1e-12)); sce F.normalize's
 * dot / (max(|a|, 1e-12) max(|b|, 1e-12)). Both have the gradient
 * b / denom - cos a / m_a, with m_a the squared norm term of a. */
static float row_cosine(int normalize, const float *a, const float *b, int d, float g, float *da,
                        float *db)
{
    double dot = 0.0, aa = 0.0, bb = 0.0;
    for (int j = 0; j < d; j++) {
        dot += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    double ma, mb;
    if (normalize) {
        ma = fmax(sqrt(aa), 1e-12);
        mb = fmax(sqrt(bb), 1e-12);
        ma *= ma;
        mb *= mb;
    } else {
        ma = aa + 1e-12;
        mb = bb + 1e-12;
    }
    double denom = sqrt(ma * mb), cs = dot / denom;
    if (da)
        for (int j = 0; j < d; j++) da[j] += (float)(g * (b[j] / denom - cs * a[j] / ma));
    if (db)
        for (int j = 0; j < d; j++) db[j] += (float)(g * (a[j] / denom - cs * b[j] / mb));
    return (float)cs;
}

/* Row loss of the cosine c, and d loss / dc into *dl. */
static float cosine_row_loss(nn_op_id op, float c, float target, float p, float *dl)
{
    if (op == NN_OP_SCE_LOSS) {
        float u = 1.0f - c;
        *dl = -p * powf(u, p - 1.0f);
        return powf(u, p);
    }
    if (target == 1.0f) { *dl = -1.0f; return 1.0f - c; }
    if (target == -1.0f && c > p) { *dl = 1.0f; return c - p; }
    *dl = 0.0f;
    return 0.0f;
}

static nn_tensor *cosine_loss(nn_tape *t, nn_op_id op, nn_tensor *a, nn_tensor *b,
                              const nn_tensor *target, nn_reduction red, float p)
{
    if (!a || !b || (op == NN_OP_COSINE_EMBEDDING_LOSS && !target)) return NULL;
    const char *name = nn_op_defs[op].name;
    char as[64], bs[64];
    if (a->ndim != 2 || b->ndim != 2 || a->shape[0] != b->shape[0] || a->shape[1] != b->shape[1]) {
        nn_error(NN_ERR_INPUT, "%s: inputs %s and %s, expected two (N, D)", name,
                 nn_shape_str(as, sizeof as, a->ndim, a->shape),
                 nn_shape_str(bs, sizeof bs, b->ndim, b->shape));
        return NULL;
    }
    int n = a->shape[0], d = a->shape[1];
    if (target) {
        if (target->numel != n) {
            nn_error(NN_ERR_INPUT, "%s: %ld targets for %d rows", name, (long)target->numel, n);
            return NULL;
        }
        for (int r = 0; r < n; r++)
            if (target->data[r] != 1.0f && target->data[r] != -1.0f) {
                nn_error(NN_ERR_INPUT, "%s: target %g of row %d is not 1 or -1", name,
                         (double)target->data[r], r);
                return NULL;
            }
    }
    nn_tensor *in[2] = {a, b};
    nn_tensor *y = row_output(t, in, 2, n, red, name);
    float *v = NN_ARENA_NEW(t->arena, float, n > 0 ? n : 1);
    loss_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    if (!y || !v || !s) return NULL;
    for (int r = 0; r < n; r++) {
        float dl, c = row_cosine(op == NN_OP_SCE_LOSS, a->data + (long)r * d, b->data + (long)r * d,
                                 d, 0.0f, NULL, NULL);
        v[r] = cosine_row_loss(op, c, target ? target->data[r] : 0.0f, p, &dl);
    }
    reduce_into(y, v, n, (double)n, red);
    *s = (loss_saved){target, NULL, red, p, 0, red == NN_REDUCTION_MEAN ? 1.0f / (float)n : 1.0f,
                      NULL, NULL, 0};
    if (nn_tape_record(t, &nn_op_defs[op], y, in, 2, s)) return NULL;
    return y;
}

nn_status nn_cosine_loss_backward(nn_tape *t, const nn_node *node)
{
    nn_op_id op = (nn_op_id)(node->op - nn_op_defs);
    const loss_saved *s = node->saved;
    nn_tensor *a = node->in[0], *b = node->in[1];
    int n = a->shape[0], d = a->shape[1], norm = op == NN_OP_SCE_LOSS;
    for (int r = 0; r < n; r++) {
        const float *ar = a->data + (long)r * d, *br = b->data + (long)r * d;
        float dl, c = row_cosine(norm, ar, br, d, 0.0f, NULL, NULL);
        cosine_row_loss(op, c, s->target ? s->target->data[r] : 0.0f, s->p, &dl);
        float g = upstream(node, r) * dl;
        if (g == 0.0f) continue;
        row_cosine(norm, ar, br, d, g, a->requires_grad ? a->grad + (long)r * d : NULL,
                   b->requires_grad ? b->grad + (long)r * d : NULL);
    }
    (void)t;
    return NN_OK;
}

nn_tensor *nn_cosine_embedding_loss(nn_tape *t, nn_tensor *a, nn_tensor *b,
                                    const nn_tensor *target, nn_reduction red, float margin)
{
    return cosine_loss(t, NN_OP_COSINE_EMBEDDING_LOSS, a, b, target, red, margin);
}

nn_tensor *nn_sce_loss(nn_tape *t, nn_tensor *x, nn_tensor *y, nn_reduction red, float alpha)
{
    return cosine_loss(t, NN_OP_SCE_LOSS, x, y, NULL, red, alpha);
}
