/* Fused scaled dot-product attention (see attention.h).
 *
 * Per (b, h) block: S = scale q k^T by one nn_gemm into a (Lq, Lk) buffer
 * from the step arena, masked entries set to -inf, a stable row softmax
 * (sums in double) in place giving P, then y = P v by a second nn_gemm.
 * With a recording tape P is kept for the backward, one block per (b, h);
 * otherwise each thread reuses one block. The backward, per (b, h):
 *   dv += P^T dy,  dP = dy v^T,  dS = P (dP - rowsum(dP P)),
 *   dq += scale dS k,  dk += scale dS^T q.
 * Blocks write disjoint slices of y and of the gradients, so OpenMP may
 * spread them over threads without changing a bit. */
#include "ops/attention.h"

#include <math.h>
#include <omp.h>

#include "core/gemm.h"
#include "ops/ops.h"

typedef struct attention_saved {
    int causal;
    const uint8_t *key_padding;   /* (B, Lk) or NULL, caller-owned */
    float scale;
    float *p;                     /* (B, H, Lq, Lk): the probabilities */
} attention_saved;

typedef struct att_dims {
    int b, h, lq, lk, d, dv;
} att_dims;

static att_dims dims_of(const nn_tensor *q, const nn_tensor *k, const nn_tensor *v)
{
    return (att_dims){q->shape[0], q->shape[1], q->shape[2], k->shape[2], q->shape[3], v->shape[3]};
}

/* Scores s: (lq, lk) -> probabilities in place, row by row. Masked entries
 * and rows with every key masked become 0. */
static void masked_softmax(float *s, int lq, int lk, int causal, const uint8_t *pad)
{
    for (int i = 0; i < lq; i++) {
        float *row = s + (int64_t)i * lk;
        int visible = causal ? (i + 1 < lk ? i + 1 : lk) : lk;
        float mx = -INFINITY;
        for (int j = 0; j < lk; j++) {
            if (j >= visible || (pad && pad[j])) row[j] = -INFINITY;
            else if (row[j] > mx) mx = row[j];
        }
        if (mx == -INFINITY) {
            for (int j = 0; j < lk; j++) row[j] = 0.0f;
            continue;
        }
        double sum = 0.0;
        for (int j = 0; j < lk; j++) {
            float e = row[j] == -INFINITY ? 0.0f : expf(row[j] - mx);
            row[j] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < lk; j++) row[j] *= inv;
    }
}

nn_tensor *nn_attention(nn_tape *t, nn_tensor *q, nn_tensor *k, nn_tensor *v, int causal,
                        const uint8_t *key_padding, float scale)
{
    if (!q || !k || !v) return NULL;
    char qs[64], ks[64], vs[64];
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || k->shape[0] != q->shape[0] ||
        k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] || v->shape[0] != q->shape[0] ||
        v->shape[1] != q->shape[1] || v->shape[2] != k->shape[2] || q->shape[2] < 1 ||
        k->shape[2] < 1 || q->shape[3] < 1 || v->shape[3] < 1) {
        nn_error(NN_ERR_INPUT,
                 "attention: q %s, k %s, v %s do not fit (B, H, Lq, D), (B, H, Lk, D), "
                 "(B, H, Lk, Dv) with Lq, Lk, D, Dv >= 1",
                 nn_shape_str(qs, sizeof qs, q->ndim, q->shape),
                 nn_shape_str(ks, sizeof ks, k->ndim, k->shape),
                 nn_shape_str(vs, sizeof vs, v->ndim, v->shape));
        return NULL;
    }
    if (!isfinite(scale)) {
        nn_error(NN_ERR_INPUT, "attention: scale %g is not finite", (double)scale);
        return NULL;
    }
    att_dims n = dims_of(q, k, v);
    if (scale == 0.0f) scale = (float)(1.0 / sqrt((double)n.d));
    nn_tensor *in[3] = {q, k, v};
    nn_tensor *y = nn_tape_output(t, 4, (const int[]){n.b, n.h, n.lq, n.dv}, in, 3);
    if (!y) return NULL;
    int64_t blocks = (int64_t)n.b * n.h, pmat = (int64_t)n.lq * n.lk;
    int keep = y->requires_grad;
    int64_t slots = keep ? blocks : omp_get_max_threads();
    float *p = NN_ARENA_NEW(t->arena, float, slots * pmat);
    if (!p) return NULL;
    #pragma omp parallel for schedule(static) if (blocks > 1 && blocks * pmat * n.d > 32768)
    for (int64_t bh = 0; bh < blocks; bh++) {
        float *pb = p + (keep ? bh : omp_get_thread_num()) * pmat;
        const uint8_t *pad = key_padding ? key_padding + (bh / n.h) * n.lk : NULL;
        nn_gemm(0, 1, n.lq, n.lk, n.d, scale, q->data + bh * n.lq * n.d, n.d,
                k->data + bh * n.lk * n.d, n.d, 0.0f, pb, n.lk);
        masked_softmax(pb, n.lq, n.lk, causal, pad);
        nn_gemm(0, 0, n.lq, n.dv, n.lk, 1.0f, pb, n.lk, v->data + bh * n.lk * n.dv, n.dv, 0.0f,
                y->data + bh * n.lq * n.dv, n.dv);
    }
    attention_saved *saved = NULL;
    if (keep) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        *saved = (attention_saved){causal, key_padding, scale, p};
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_ATTENTION], y, in, 3, saved)) return NULL;
    return y;
}

nn_status nn_attention_backward(nn_tape *t, const nn_node *node)
{
    const attention_saved *s = node->saved;
    nn_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2], *y = node->out;
    att_dims n = dims_of(q, k, v);
    int64_t blocks = (int64_t)n.b * n.h, pmat = (int64_t)n.lq * n.lk;
    float *scratch = NN_ARENA_NEW(t->arena, float, pmat * omp_get_max_threads());
    if (!scratch) return NN_ERR_RUNTIME;
    #pragma omp parallel for schedule(static) if (blocks > 1 && blocks * pmat * n.d > 32768)
    for (int64_t bh = 0; bh < blocks; bh++) {
        const float *pb = s->p + bh * pmat, *dy = y->grad + bh * n.lq * n.dv;
        const float *qb = q->data + bh * n.lq * n.d, *kb = k->data + bh * n.lk * n.d;
        const float *vb = v->data + bh * n.lk * n.dv;
        if (v->requires_grad)
            nn_gemm(1, 0, n.lk, n.dv, n.lq, 1.0f, pb, n.lk, dy, n.dv, 1.0f,
                    v->grad + bh * n.lk * n.dv, n.dv);
        if (!q->requires_grad && !k->requires_grad) continue;
        float *ds = scratch + omp_get_thread_num() * pmat;
        nn_gemm(0, 1, n.lq, n.lk, n.dv, 1.0f, dy, n.dv, vb, n.dv, 0.0f, ds, n.lk);
        for (int i = 0; i < n.lq; i++) {
            const float *pr = pb + (int64_t)i * n.lk;
            float *dr = ds + (int64_t)i * n.lk;
            double dot = 0.0;
            for (int j = 0; j < n.lk; j++) dot += (double)dr[j] * pr[j];
            float fd = (float)dot;
            /* Masked entries have P = 0, so their dS is 0. */
            for (int j = 0; j < n.lk; j++) dr[j] = pr[j] * (dr[j] - fd);
        }
        if (q->requires_grad)
            nn_gemm(0, 0, n.lq, n.d, n.lk, s->scale, ds, n.lk, kb, n.d, 1.0f,
                    q->grad + bh * n.lq * n.d, n.d);
        if (k->requires_grad)
            nn_gemm(1, 0, n.lk, n.d, n.lq, s->scale, ds, n.lk, qb, n.d, 1.0f,
                    k->grad + bh * n.lk * n.d, n.d);
    }
    return NN_OK;
}
