/* Ops that move data without arithmetic: permute (and transpose), concat,
 * slice (and split). Each output element comes from exactly one input
 * element, so the backwards are scatters without collisions: any thread
 * count gives the same bits. */
#include "ops/ops.h"

#include <string.h>

/* Normalizes a possibly negative axis of an ndim tensor; -1 if out of range. */
static int norm_axis(int axis, int ndim)
{
    int a = axis < 0 ? axis + ndim : axis;
    return a < 0 || a >= ndim ? -1 : a;
}

/* Rows: x viewed as (outer, shape[axis], inner) around `axis`. */
static void around(const nn_tensor *x, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

/* ---- permute ---------------------------------------------------------- */

typedef struct permute_saved {
    int perm[NN_MAX_DIMS];
} permute_saved;

/* For every element i of y (shape `shape`, contiguous), the element of x at
 * sum coord_d * st[d]: y[i] = x[off] (forward), or x[off] += y[i]. */
static void strided(float *y, float *x, int ndim, const int *shape, const int64_t *st, int64_t n,
                    int backward)
{
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0, r = i;
        for (int d = ndim - 1; d >= 0; d--) {
            off += (r % shape[d]) * st[d];
            r /= shape[d];
        }
        if (backward) x[off] += y[i];
        else y[i] = x[off];
    }
}

/* x's strides taken in y's dim order. */
static void permuted_strides(int64_t *st, const nn_tensor *x, const int *perm)
{
    int64_t xs[NN_MAX_DIMS], s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        xs[d] = s;
        s *= x->shape[d];
    }
    for (int d = 0; d < x->ndim; d++) st[d] = xs[perm[d]];
}

nn_tensor *nn_permute(nn_tape *t, nn_tensor *x, int ndim, const int *perm)
{
    if (!x) return NULL;
    char xs[64];
    int seen = 0, p[NN_MAX_DIMS], shape[NN_MAX_DIMS];
    int ok = ndim == x->ndim;
    for (int d = 0; ok && d < ndim; d++) {
        p[d] = norm_axis(perm[d], ndim);
        ok = p[d] >= 0 && !(seen >> p[d] & 1);
        if (ok) seen |= 1 << p[d];
    }
    if (!ok) {
        nn_error(NN_ERR_INPUT, "permute: the order given is not a permutation of the %d dims of %s",
                 x->ndim, nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    for (int d = 0; d < ndim; d++) shape[d] = x->shape[p[d]];
    nn_tensor *y = nn_tape_output(t, ndim, shape, &x, 1);
    if (!y) return NULL;
    int64_t st[NN_MAX_DIMS];
    permuted_strides(st, x, p);
    strided(y->data, x->data, ndim, shape, st, y->numel, 0);
    permute_saved *saved = NULL;
    if (y->requires_grad) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        memcpy(saved->perm, p, sizeof p);
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_PERMUTE], y, &x, 1, saved)) return NULL;
    return y;
}

nn_tensor *nn_transpose(nn_tape *t, nn_tensor *x, int dim0, int dim1)
{
    if (!x) return NULL;
    int a = norm_axis(dim0, x->ndim), b = norm_axis(dim1, x->ndim), p[NN_MAX_DIMS];
    if (a < 0 || b < 0) {
        char xs[64];
        nn_error(NN_ERR_INPUT, "transpose: dims %d and %d do not both exist in %s", dim0, dim1,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    for (int d = 0; d < x->ndim; d++) p[d] = d;
    p[a] = b;
    p[b] = a;
    return nn_permute(t, x, x->ndim, p);
}

nn_status nn_permute_backward(nn_tape *t, const nn_node *node)
{
    const permute_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    int64_t st[NN_MAX_DIMS];
    permuted_strides(st, x, s->perm);
    strided(y->grad, x->grad, y->ndim, y->shape, st, y->numel, 1);
    (void)t;
    return NN_OK;
}

/* ---- concat ----------------------------------------------------------- */

typedef struct axis_saved {
    int axis, start;
} axis_saved;

/* Between a wide buffer of (outer, wrow) rows and a narrow one of (outer,
 * nrow) rows that is the window of columns [at, at + nrow) of the wide one:
 * COPY_IN wide = narrow, ADD_OUT narrow += wide, ADD_IN wide += narrow. */
enum { COPY_IN, ADD_OUT, ADD_IN };
static void window_rows(float *wide, float *narrow, int64_t outer, int64_t nrow, int64_t wrow,
                        int64_t at, int mode)
{
    #pragma omp parallel for schedule(static) if (outer * nrow > 32768)
    for (int64_t o = 0; o < outer; o++) {
        float *w = wide + o * wrow + at, *r = narrow + o * nrow;
        if (mode == COPY_IN) memcpy(w, r, sizeof(float) * (size_t)nrow);
        else if (mode == ADD_OUT)
            for (int64_t j = 0; j < nrow; j++) r[j] += w[j];
        else
            for (int64_t j = 0; j < nrow; j++) w[j] += r[j];
    }
}

nn_tensor *nn_concat(nn_tape *t, int n, nn_tensor *const *xs, int axis)
{
    NN_ASSERT(n >= 1 && n <= NN_NODE_MAX_INPUTS);
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL;
    const nn_tensor *x0 = xs[0];
    int a = norm_axis(axis, x0->ndim);
    char s0[64], si[64];
    if (a < 0) {
        nn_error(NN_ERR_INPUT, "concat: axis %d is out of range for %s", axis,
                 nn_shape_str(s0, sizeof s0, x0->ndim, x0->shape));
        return NULL;
    }
    int shape[NN_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    for (int i = 1; i < n; i++) {
        int ok = xs[i]->ndim == x0->ndim;
        for (int d = 0; ok && d < x0->ndim; d++) ok = d == a || xs[i]->shape[d] == x0->shape[d];
        if (!ok) {
            nn_error(NN_ERR_INPUT, "concat: %s and %s differ outside axis %d",
                     nn_shape_str(s0, sizeof s0, x0->ndim, x0->shape),
                     nn_shape_str(si, sizeof si, xs[i]->ndim, xs[i]->shape), axis);
            return NULL;
        }
        shape[a] += xs[i]->shape[a];
    }
    nn_tensor *y = nn_tape_output(t, x0->ndim, shape, xs, n);
    if (!y) return NULL;
    int64_t outer, inner;
    around(y, a, &outer, &inner);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        int64_t row = xs[i]->shape[a] * inner;
        window_rows(y->data, xs[i]->data, outer, row, shape[a] * inner, at, COPY_IN);
        at += row;
    }
    axis_saved *saved = NULL;
    if (y->requires_grad) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        saved->axis = a;
        saved->start = 0;
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_CONCAT], y, xs, n, saved)) return NULL;
    return y;
}

nn_status nn_concat_backward(nn_tape *t, const nn_node *node)
{
    const axis_saved *s = node->saved;
    nn_tensor *y = node->out;
    int64_t outer, inner, at = 0;
    around(y, s->axis, &outer, &inner);
    for (int i = 0; i < node->n_in; i++) {
        nn_tensor *x = node->in[i];
        int64_t row = x->shape[s->axis] * inner;
        if (x->requires_grad)
            window_rows(y->grad, x->grad, outer, row, y->shape[s->axis] * inner, at, ADD_OUT);
        at += row;
    }
    (void)t;
    return NN_OK;
}

/* ---- slice and split -------------------------------------------------- */

nn_tensor *nn_slice(nn_tape *t, nn_tensor *x, int axis, int start, int end)
{
    if (!x) return NULL;
    char xs[64];
    int a = norm_axis(axis, x->ndim);
    if (a < 0) {
        nn_error(NN_ERR_INPUT, "slice: axis %d is out of range for %s", axis,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    int len = x->shape[a], s = start < 0 ? start + len : start, e = end < 0 ? end + len : end;
    if (s < 0 || e > len || s > e) {
        nn_error(NN_ERR_INPUT, "slice: [%d, %d) is not a range of axis %d of %s", start, end, axis,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    int shape[NN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[a] = e - s;
    nn_tensor *y = nn_tape_output(t, x->ndim, shape, &x, 1);
    if (!y) return NULL;
    int64_t outer, inner;
    around(x, a, &outer, &inner);
    /* The slice is the concat's transpose: y's rows are windows of x's. */
    #pragma omp parallel for schedule(static) if (y->numel > 32768)
    for (int64_t o = 0; o < outer; o++)
        memcpy(y->data + o * shape[a] * inner, x->data + (o * len + s) * inner,
               sizeof(float) * (size_t)(shape[a] * inner));
    axis_saved *saved = NULL;
    if (y->requires_grad) {
        if (!(saved = nn_arena_alloc(t->arena, sizeof *saved))) return NULL;
        saved->axis = a;
        saved->start = s;
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_SLICE], y, &x, 1, saved)) return NULL;
    return y;
}

nn_status nn_slice_backward(nn_tape *t, const nn_node *node)
{
    const axis_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    int64_t outer, inner;
    around(x, s->axis, &outer, &inner);
    window_rows(x->grad, y->grad, outer, y->shape[s->axis] * inner, x->shape[s->axis] * inner,
                s->start * inner, ADD_IN);
    (void)t;
    return NN_OK;
}

nn_status nn_split(nn_tape *t, nn_tensor **ys, nn_tensor *x, int axis, int n, const int *sizes)
{
    for (int i = 0; i < n; i++) ys[i] = NULL;
    if (!x) return nn_error_status();
    int a = norm_axis(axis, x->ndim), total = 0, negative = 0;
    for (int i = 0; i < n; i++) {
        total += sizes[i];
        negative |= sizes[i] < 0;
    }
    if (a < 0 || negative || total != x->shape[a]) {
        char xs[64];
        return nn_error(NN_ERR_INPUT, "split: sizes summing to %d do not split axis %d of %s",
                        total, axis, nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
    }
    for (int i = 0, at = 0; i < n; at += sizes[i++])
        if (!(ys[i] = nn_slice(t, x, a, at, at + sizes[i]))) return nn_error_status();
    return NN_OK;
}
