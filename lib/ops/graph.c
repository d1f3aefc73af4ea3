/* Graph ops: CSR x dense (spmm), segment sum/mean/max and segment softmax.
 *
 * Determinism: every output row (of y or of a gradient) is owned by one
 * thread and summed in a fixed order. Where the rows to sum are scattered
 * (a column of A for A^T dy, the rows of one segment) a stable counting sort
 * in the step arena first groups them, keeping their original order. */
#include "ops/graph.h"

#include <math.h>
#include <string.h>

#include "ops/ops.h"

enum { GRAPH_PAR_MIN = 32768 };   /* elements of work before threads pay */

/* Groups items 0..n by key[i] in [0, n_keys): on return the items of key k
 * are perm[ptr[k] .. ptr[k + 1]), in increasing order. Arrays in `a`;
 * returns 0 when it is full. */
static int group_by(nn_arena *a, const int32_t *key, int64_t n, int n_keys, int32_t **ptr_out,
                    int32_t **perm_out)
{
    int32_t *ptr = NN_ARENA_NEW(a, int32_t, (int64_t)n_keys + 1);
    int32_t *perm = NN_ARENA_NEW(a, int32_t, n > 0 ? n : 1);
    int32_t *fill = NN_ARENA_NEW(a, int32_t, n_keys > 0 ? n_keys : 1);
    if (!ptr || !perm || !fill) return 0;
    memset(ptr, 0, sizeof(int32_t) * ((size_t)n_keys + 1));
    for (int64_t i = 0; i < n; i++) ptr[key[i] + 1]++;
    for (int k = 0; k < n_keys; k++) ptr[k + 1] += ptr[k];
    memcpy(fill, ptr, sizeof(int32_t) * (size_t)n_keys);
    for (int64_t i = 0; i < n; i++) perm[fill[key[i]]++] = (int32_t)i;
    *ptr_out = ptr;
    *perm_out = perm;
    return 1;
}

/* ---- spmm ------------------------------------------------------------- */

typedef struct spmm_saved {
    nn_csr a;
    int32_t *t_ptr;   /* (cols + 1): A^T's rows */
    int32_t *t_perm;  /* nonzero indices of A, grouped by column, in row order */
    int32_t *t_row;   /* the row of each nonzero of A */
} spmm_saved;

static int check_csr(const nn_csr *a, const nn_tensor *x)
{
    char xs[64];
    if (!a || !a->row_ptr || (!a->col_idx && a->rows > 0) || a->rows < 0 || a->cols < 0) {
        nn_error(NN_ERR_INPUT, "spmm: the CSR matrix has no arrays or a negative size");
        return 0;
    }
    if (x->ndim != 2 || x->shape[0] != a->cols) {
        nn_error(NN_ERR_INPUT, "spmm: x is %s, expected (%d, F) for a (%d, %d) sparse matrix",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape), a->cols, a->rows, a->cols);
        return 0;
    }
    if (a->row_ptr[0] != 0) {
        nn_error(NN_ERR_INPUT, "spmm: row_ptr[0] is %d, expected 0", (int)a->row_ptr[0]);
        return 0;
    }
    for (int r = 0; r < a->rows; r++)
        if (a->row_ptr[r + 1] < a->row_ptr[r]) {
            nn_error(NN_ERR_INPUT, "spmm: row_ptr decreases at row %d (%d to %d)", r,
                     (int)a->row_ptr[r], (int)a->row_ptr[r + 1]);
            return 0;
        }
    int32_t nnz = a->row_ptr[a->rows];
    for (int32_t k = 0; k < nnz; k++)
        if (a->col_idx[k] < 0 || a->col_idx[k] >= a->cols) {
            nn_error(NN_ERR_INPUT, "spmm: col_idx[%d] is %d, out of range [0, %d)", (int)k,
                     (int)a->col_idx[k], a->cols);
            return 0;
        }
    return 1;
}

nn_tensor *nn_spmm(nn_tape *t, const nn_csr *a, nn_tensor *x)
{
    if (!x) return NULL;
    if (!check_csr(a, x)) return NULL;
    int64_t f = x->shape[1];
    nn_tensor *y = nn_tape_output(t, 2, (const int[]){a->rows, (int)f}, &x, 1);
    if (!y) return NULL;
    int32_t nnz = a->row_ptr[a->rows];
    /* y[r] = sum over the row's nonzeros, in CSR order. */
    #pragma omp parallel for schedule(static) if ((int64_t)nnz * f > GRAPH_PAR_MIN)
    for (int r = 0; r < a->rows; r++) {
        float *yr = y->data + (int64_t)r * f;
        for (int64_t j = 0; j < f; j++) yr[j] = 0.0f;
        for (int32_t k = a->row_ptr[r]; k < a->row_ptr[r + 1]; k++) {
            float v = a->values ? a->values[k] : 1.0f;
            const float *xr = x->data + (int64_t)a->col_idx[k] * f;
            for (int64_t j = 0; j < f; j++) yr[j] += v * xr[j];
        }
    }
    spmm_saved *s = NULL;
    if (y->requires_grad) {
        s = nn_arena_alloc(t->arena, sizeof *s);
        int32_t *row = NN_ARENA_NEW(t->arena, int32_t, nnz > 0 ? nnz : 1);
        if (!s || !row) return NULL;
        s->a = *a;
        s->t_row = row;
        for (int r = 0; r < a->rows; r++)
            for (int32_t k = a->row_ptr[r]; k < a->row_ptr[r + 1]; k++) row[k] = r;
        if (!group_by(t->arena, a->col_idx, nnz, a->cols, &s->t_ptr, &s->t_perm)) return NULL;
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_SPMM], y, &x, 1, s)) return NULL;
    return y;
}

/* dx[c] += sum over the nonzeros (r, c) of A, in row order, of v dy[r]. */
nn_status nn_spmm_backward(nn_tape *t, const nn_node *node)
{
    const spmm_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    int64_t f = x->shape[1];
    int32_t nnz = s->a.row_ptr[s->a.rows];
    #pragma omp parallel for schedule(static) if ((int64_t)nnz * f > GRAPH_PAR_MIN)
    for (int c = 0; c < s->a.cols; c++) {
        float *dx = x->grad + (int64_t)c * f;
        for (int32_t i = s->t_ptr[c]; i < s->t_ptr[c + 1]; i++) {
            int32_t k = s->t_perm[i];
            float v = s->a.values ? s->a.values[k] : 1.0f;
            const float *dy = y->grad + (int64_t)s->t_row[k] * f;
            for (int64_t j = 0; j < f; j++) dx[j] += v * dy[j];
        }
    }
    (void)t;
    return NN_OK;
}

/* ---- segment sum / mean / max, segment softmax ------------------------ */

typedef struct segment_saved {
    const int32_t *seg;
    int n_seg;
    int32_t *ptr, *perm;   /* the rows of each segment (group_by) */
    int32_t *arg;          /* max: (S, F), the row of each maximum; -1 if empty */
} segment_saved;

/* Checks x and seg, and groups the rows by segment into *s (in the arena). */
static int segment_prepare(nn_tape *t, const char *op, const nn_tensor *x, const int32_t *seg,
                           int n_seg, segment_saved *s)
{
    char xs[64];
    if (x->ndim < 1 || n_seg < 0 || (!seg && x->shape[0] > 0)) {
        nn_error(NN_ERR_INPUT, "%s: x %s needs a leading row dim, a segment id per row and "
                 "n_segments >= 0 (got %d)", op, nn_shape_str(xs, sizeof xs, x->ndim, x->shape),
                 n_seg);
        return 0;
    }
    for (int e = 0; e < x->shape[0]; e++)
        if (seg[e] < 0 || seg[e] >= n_seg) {
            nn_error(NN_ERR_INPUT, "%s: segment id %d at row %d is out of range [0, %d)", op,
                     (int)seg[e], e, n_seg);
            return 0;
        }
    s->seg = seg;
    s->n_seg = n_seg;
    s->arg = NULL;
    return group_by(t->arena, seg, x->shape[0], n_seg, &s->ptr, &s->perm);
}

static nn_tensor *segment_reduce(nn_tape *t, nn_op_id op, nn_tensor *x, const int32_t *seg,
                                 int n_seg)
{
    if (!x) return NULL;
    segment_saved g;
    if (!segment_prepare(t, nn_op_defs[op].name, x, seg, n_seg, &g)) return NULL;
    int shape[NN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = n_seg;
    nn_tensor *y = nn_tape_output(t, x->ndim, shape, &x, 1);
    if (!y) return NULL;
    int64_t f = x->shape[0] > 0 ? x->numel / x->shape[0] : nn_shape_numel(x->ndim - 1, x->shape + 1);
    int is_max = op == NN_OP_SEGMENT_MAX;
    if (is_max && y->requires_grad) {
        g.arg = NN_ARENA_NEW(t->arena, int32_t, y->numel > 0 ? y->numel : 1);
        if (!g.arg) return NULL;
    }
    #pragma omp parallel for schedule(static) if (x->numel > GRAPH_PAR_MIN)
    for (int s = 0; s < n_seg; s++) {
        float *ys = y->data + (int64_t)s * f;
        int32_t b = g.ptr[s], n = g.ptr[s + 1] - b;
        if (n == 0) {
            for (int64_t j = 0; j < f; j++) ys[j] = 0.0f;
            if (g.arg)
                for (int64_t j = 0; j < f; j++) g.arg[s * f + j] = -1;
            continue;
        }
        if (is_max) {
            const float *x0 = x->data + (int64_t)g.perm[b] * f;
            for (int64_t j = 0; j < f; j++) ys[j] = x0[j];
            if (g.arg)
                for (int64_t j = 0; j < f; j++) g.arg[s * f + j] = g.perm[b];
            /* Strictly greater: ties keep the first (lowest) row. */
            for (int32_t i = b + 1; i < b + n; i++) {
                const float *xe = x->data + (int64_t)g.perm[i] * f;
                for (int64_t j = 0; j < f; j++)
                    if (xe[j] > ys[j]) {
                        ys[j] = xe[j];
                        if (g.arg) g.arg[s * f + j] = g.perm[i];
                    }
            }
        } else {
            for (int64_t j = 0; j < f; j++) ys[j] = 0.0f;
            for (int32_t i = b; i < b + n; i++) {
                const float *xe = x->data + (int64_t)g.perm[i] * f;
                for (int64_t j = 0; j < f; j++) ys[j] += xe[j];
            }
            if (op == NN_OP_SEGMENT_MEAN) {
                float inv = 1.0f / (float)n;
                for (int64_t j = 0; j < f; j++) ys[j] *= inv;
            }
        }
    }
    segment_saved *saved = NULL;
    if (y->requires_grad) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        *saved = g;
    }
    if (nn_tape_record(t, &nn_op_defs[op], y, &x, 1, saved)) return NULL;
    return y;
}

nn_tensor *nn_segment_sum(nn_tape *t, nn_tensor *x, const int32_t *seg, int n_segments)
{
    return segment_reduce(t, NN_OP_SEGMENT_SUM, x, seg, n_segments);
}

nn_tensor *nn_segment_mean(nn_tape *t, nn_tensor *x, const int32_t *seg, int n_segments)
{
    return segment_reduce(t, NN_OP_SEGMENT_MEAN, x, seg, n_segments);
}

nn_tensor *nn_segment_max(nn_tape *t, nn_tensor *x, const int32_t *seg, int n_segments)
{
    return segment_reduce(t, NN_OP_SEGMENT_MAX, x, seg, n_segments);
}

/* sum: dx[e] += dy[seg[e]]; mean: the same over the segment's size;
 * max: dx[arg] += dy (one row per segment and column). */
nn_status nn_segment_reduce_backward(nn_tape *t, const nn_node *node)
{
    const segment_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    int64_t e_n = x->shape[0], f = s->n_seg > 0 ? y->numel / s->n_seg : 0;
    if (node->op == &nn_op_defs[NN_OP_SEGMENT_MAX]) {
        #pragma omp parallel for schedule(static) if (y->numel > GRAPH_PAR_MIN)
        for (int64_t i = 0; i < y->numel; i++) {
            int32_t e = s->arg[i];
            if (e >= 0) x->grad[(int64_t)e * f + i % f] += y->grad[i];
        }
        (void)t;
        return NN_OK;
    }
    int mean = node->op == &nn_op_defs[NN_OP_SEGMENT_MEAN];
    #pragma omp parallel for schedule(static) if (x->numel > GRAPH_PAR_MIN)
    for (int64_t e = 0; e < e_n; e++) {
        int32_t k = s->seg[e];
        float scale = mean ? 1.0f / (float)(s->ptr[k + 1] - s->ptr[k]) : 1.0f;
        const float *dy = y->grad + (int64_t)k * f;
        float *dx = x->grad + e * f;
        for (int64_t j = 0; j < f; j++) dx[j] += dy[j] * scale;
    }
    (void)t;
    return NN_OK;
}

nn_tensor *nn_segment_softmax(nn_tape *t, nn_tensor *x, const int32_t *seg, int n_segments)
{
    if (!x) return NULL;
    segment_saved g;
    if (!segment_prepare(t, "segment_softmax", x, seg, n_segments, &g)) return NULL;
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    int64_t f = x->shape[0] > 0 ? x->numel / x->shape[0] : 0;
    #pragma omp parallel for schedule(static) if (x->numel > GRAPH_PAR_MIN)
    for (int s = 0; s < n_segments; s++) {
        int32_t b = g.ptr[s], n = g.ptr[s + 1] - b;
        for (int64_t j = 0; j < f; j++) {
            float mx = -INFINITY;
            for (int32_t i = b; i < b + n; i++) {
                float v = x->data[(int64_t)g.perm[i] * f + j];
                mx = v > mx ? v : mx;
            }
            double sum = 0.0;
            for (int32_t i = b; i < b + n; i++) {
                int64_t at = (int64_t)g.perm[i] * f + j;
                float ex = expf(x->data[at] - mx);
                y->data[at] = ex;
                sum += ex;
            }
            float inv = (float)(1.0 / sum);
            for (int32_t i = b; i < b + n; i++) y->data[(int64_t)g.perm[i] * f + j] *= inv;
        }
    }
    segment_saved *saved = NULL;
    if (y->requires_grad) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        *saved = g;
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_SEGMENT_SOFTMAX], y, &x, 1, saved)) return NULL;
    return y;
}

/* dx += y (dy - sum over the segment of dy y), per column. */
nn_status nn_segment_softmax_backward(nn_tape *t, const nn_node *node)
{
    const segment_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    int64_t f = x->shape[0] > 0 ? x->numel / x->shape[0] : 0;
    #pragma omp parallel for schedule(static) if (x->numel > GRAPH_PAR_MIN)
    for (int k = 0; k < s->n_seg; k++) {
        int32_t b = s->ptr[k], n = s->ptr[k + 1] - b;
        for (int64_t j = 0; j < f; j++) {
            double dot = 0.0;
            for (int32_t i = b; i < b + n; i++) {
                int64_t at = (int64_t)s->perm[i] * f + j;
                dot += (double)y->grad[at] * y->data[at];
            }
            float d = (float)dot;
            for (int32_t i = b; i < b + n; i++) {
                int64_t at = (int64_t)s->perm[i] * f + j;
                x->grad[at] += y->data[at] * (y->grad[at] - d);
            }
        }
    }
    (void)t;
    return NN_OK;
}
