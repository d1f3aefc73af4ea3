/* Embedding lookup: y[i] = weight[idx[i]]. The backward scatter-adds dy
 * rows into dweight in index order (one thread per block of columns, so
 * every dweight element is summed in the same order on any thread count);
 * rows of padding_idx get nothing. */
#include "ops/ops.h"

#include <string.h>

typedef struct embedding_saved {
    const int32_t *idx;
    int64_t n;
    int padding_idx;
} embedding_saved;

nn_tensor *nn_embedding(nn_tape *t, nn_tensor *weight, const int32_t *idx, int ndim, const int *shape,
                        int padding_idx)
{
    if (!weight) return NULL;
    char ws[64];
    if (weight->ndim != 2 || ndim < 0 || ndim + 1 > NN_MAX_DIMS) {
        nn_error(NN_ERR_INPUT, "embedding: weight %s is not (num, dim), or %d index dims is too many",
                 nn_shape_str(ws, sizeof ws, weight->ndim, weight->shape), ndim);
        return NULL;
    }
    const int num = weight->shape[0], dim = weight->shape[1];
    if (padding_idx != NN_NO_PADDING_IDX && (padding_idx < -num || padding_idx >= num)) {
        nn_error(NN_ERR_INPUT, "embedding: padding_idx %d is out of range for %d embeddings", padding_idx,
                 num);
        return NULL;
    }
    /* torch counts a negative padding_idx from the end; -1 matches no index. */
    int pad = padding_idx == NN_NO_PADDING_IDX ? -1 : padding_idx < 0 ? padding_idx + num : padding_idx;
    int64_t n = nn_shape_numel(ndim, shape);
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= num) {
            nn_error(NN_ERR_INPUT, "embedding: index %d at position %lld is out of range [0, %d)", idx[i],
                     (long long)i, num);
            return NULL;
        }
    int oshape[NN_MAX_DIMS];
    memcpy(oshape, shape, sizeof(int) * (size_t)ndim);
    oshape[ndim] = dim;
    nn_tensor *y = nn_tape_output(t, ndim + 1, oshape, &weight, 1);
    if (!y) return NULL;
    for (int64_t i = 0; i < n; i++)
        memcpy(y->data + i * dim, weight->data + (int64_t)idx[i] * dim, sizeof(float) * (size_t)dim);
    embedding_saved *s = NULL;
    if (y->requires_grad) {
        if (!(s = nn_arena_alloc(t->arena, sizeof *s))) return NULL;
        *s = (embedding_saved){idx, n, pad};
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_EMBEDDING], y, &weight, 1, s)) return NULL;
    return y;
}

nn_status nn_embedding_backward(nn_tape *t, const nn_node *node)
{
    const embedding_saved *s = node->saved;
    nn_tensor *w = node->in[0];
    const int dim = w->shape[1];
    const float *dy = node->out->grad;
    enum { COLS = 64 };
    (void)t;
    #pragma omp parallel for schedule(static) if ((int64_t)s->n * dim > (1 << 16))
    for (int c0 = 0; c0 < dim; c0 += COLS) {
        int c1 = c0 + COLS < dim ? c0 + COLS : dim;
        for (int64_t i = 0; i < s->n; i++) {
            if (s->idx[i] == s->padding_idx) continue;
            float *dw = w->grad + (int64_t)s->idx[i] * dim;
            const float *g = dy + i * dim;
            for (int c = c0; c < c1; c++) dw[c] += g[c];
        }
    }
    return NN_OK;
}
