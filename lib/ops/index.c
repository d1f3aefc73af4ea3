/* Ops that pick elements by a mask or by indices: where, masked_fill,
 * gather, index_select, scatter_add.
 *
 * Masks and indices are plain caller-owned arrays laid out like a
 * contiguous tensor of the shape each op documents: masks uint8_t (nonzero
 * is true), indices int32_t in [0, extent of the indexed axis). They are not
 * differentiated, and the backward reads them, so they must outlive it.
 * Where indices may repeat (gather's and index_select's backward,
 * scatter_add's forward) the sums run serially in element order, so the
 * result does not depend on the thread count. */
#include "ops/ops.h"

#include <string.h>

#include "ops/broadcast.h"

static int norm_axis(int axis, int ndim)
{
    int a = axis < 0 ? axis + ndim : axis;
    return a < 0 || a >= ndim ? -1 : a;
}

/* ---- where, masked_fill ----------------------------------------------- */

typedef struct mask_saved {
    const uint8_t *mask;
} mask_saved;

/* Offset in input x (broadcast to out) of output element i. */
static int64_t bcast_offset(int64_t i, int ndim, const int *out, const nn_tensor *x)
{
    int64_t off = 0, s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        int xd = d - (ndim - x->ndim);
        int64_t c = i % out[d];
        i /= out[d];
        if (xd < 0) continue;
        if (x->shape[xd] != 1) off += c * s;
        s *= x->shape[xd];
    }
    return off;
}

static mask_saved *save_mask(nn_tape *t, const nn_tensor *y, const uint8_t *mask, int *fail)
{
    *fail = 0;
    if (!y->requires_grad) return NULL;
    mask_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    if (!s) {
        *fail = 1;
        return NULL;
    }
    s->mask = mask;
    return s;
}

nn_tensor *nn_where(nn_tape *t, const uint8_t *mask, nn_tensor *a, nn_tensor *b)
{
    if (!a || !b) return NULL;
    int ndim, shape[NN_MAX_DIMS], fail;
    if (!nn_bcast_shape(&ndim, shape, a->ndim, a->shape, b->ndim, b->shape)) {
        char as[64], bs[64];
        nn_error(NN_ERR_INPUT, "where: shapes %s and %s do not broadcast",
                 nn_shape_str(as, sizeof as, a->ndim, a->shape),
                 nn_shape_str(bs, sizeof bs, b->ndim, b->shape));
        return NULL;
    }
    nn_tensor *in[2] = {a, b};
    nn_tensor *y = nn_tape_output(t, ndim, shape, in, 2);
    if (!y) return NULL;
    #pragma omp parallel for schedule(static) if (y->numel > 32768)
    for (int64_t i = 0; i < y->numel; i++)
        y->data[i] = mask[i] ? a->data[bcast_offset(i, ndim, shape, a)]
                             : b->data[bcast_offset(i, ndim, shape, b)];
    mask_saved *saved = save_mask(t, y, mask, &fail);
    if (fail || nn_tape_record(t, &nn_op_defs[NN_OP_WHERE], y, in, 2, saved)) return NULL;
    return y;
}

/* da += sum over a's broadcast dims of dy where mask, db likewise where not. */
nn_status nn_where_backward(nn_tape *t, const nn_node *node)
{
    const mask_saved *s = node->saved;
    nn_tensor *y = node->out;
    float *g = NN_ARENA_NEW(t->arena, float, y->numel);
    if (!g && y->numel) return NN_ERR_RUNTIME;
    for (int k = 0; k < 2; k++) {
        nn_tensor *x = node->in[k];
        if (!x->requires_grad) continue;
        for (int64_t i = 0; i < y->numel; i++)
            g[i] = (s->mask[i] != 0) == (k == 0) ? y->grad[i] : 0.0f;
        nn_bcast l;
        nn_bcast_init(&l, y->ndim, y->shape, x->ndim, x->shape, 0, NULL);
        nn_bcast_reduce(&l, 0, NN_BCAST_REDUCE_SUM, 1.0f, 1, x->grad, g);
    }
    return NN_OK;
}

nn_tensor *nn_masked_fill(nn_tape *t, nn_tensor *x, const uint8_t *mask, float value)
{
    if (!x) return NULL;
    int fail;
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    for (int64_t i = 0; i < y->numel; i++) y->data[i] = mask[i] ? value : x->data[i];
    mask_saved *saved = save_mask(t, y, mask, &fail);
    if (fail || nn_tape_record(t, &nn_op_defs[NN_OP_MASKED_FILL], y, &x, 1, saved)) return NULL;
    return y;
}

nn_status nn_masked_fill_backward(nn_tape *t, const nn_node *node)
{
    const mask_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    for (int64_t i = 0; i < y->numel; i++)
        if (!s->mask[i]) x->grad[i] += y->grad[i];
    (void)t;
    return NN_OK;
}

/* ---- gather, scatter_add ---------------------------------------------- */

typedef struct index_saved {
    const int32_t *index;
    int axis;
    int shape[NN_MAX_DIMS];   /* of the index (gather, scatter_add) */
    int n;                    /* index count (index_select) */
} index_saved;

/* Offset in x of index element i (index of shape `ishape`, x's ndim): the
 * element's coordinates with the one on `axis` replaced by index[i]. */
static int64_t gather_offset(int64_t i, const nn_tensor *x, int axis, const int *ishape,
                             const int32_t *index)
{
    int64_t off = 0, s = 1, r = i;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t c = r % ishape[d];
        r /= ishape[d];
        off += (d == axis ? index[i] : c) * s;
        s *= x->shape[d];
    }
    return off;
}

/* Checks an index of shape `ishape` against x for gather/scatter_add. */
static int check_index(const char *op, const nn_tensor *x, int axis, int a, const int32_t *index,
                       const int *ishape)
{
    char xs[64], is[64];
    if (a < 0) {
        nn_error(NN_ERR_INPUT, "%s: axis %d is out of range for %s", op, axis,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return 0;
    }
    for (int d = 0; d < x->ndim; d++)
        if (ishape[d] < 0 || (d != a && ishape[d] > x->shape[d])) {
            nn_error(NN_ERR_INPUT, "%s: index of shape %s does not fit %s on axis %d", op,
                     nn_shape_str(is, sizeof is, x->ndim, ishape),
                     nn_shape_str(xs, sizeof xs, x->ndim, x->shape), axis);
            return 0;
        }
    int64_t n = nn_shape_numel(x->ndim, ishape);
    for (int64_t i = 0; i < n; i++)
        if (index[i] < 0 || index[i] >= x->shape[a]) {
            nn_error(NN_ERR_INPUT, "%s: index %d at position %lld is out of range [0, %d)", op,
                     (int)index[i], (long long)i, x->shape[a]);
            return 0;
        }
    return 1;
}

static index_saved *save_index(nn_tape *t, const nn_tensor *y, const int32_t *index, int axis,
                               const int *ishape, int ndim, int n, int *fail)
{
    *fail = 0;
    if (!y->requires_grad) return NULL;
    index_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    if (!s) {
        *fail = 1;
        return NULL;
    }
    s->index = index;
    s->axis = axis;
    memset(s->shape, 0, sizeof s->shape);
    if (ishape) memcpy(s->shape, ishape, sizeof(int) * (size_t)ndim);
    s->n = n;
    return s;
}

nn_tensor *nn_gather(nn_tape *t, nn_tensor *x, int axis, const int32_t *index,
                     const int *index_shape)
{
    if (!x) return NULL;
    int a = norm_axis(axis, x->ndim), fail;
    if (!check_index("gather", x, axis, a, index, index_shape)) return NULL;
    nn_tensor *y = nn_tape_output(t, x->ndim, index_shape, &x, 1);
    if (!y) return NULL;
    #pragma omp parallel for schedule(static) if (y->numel > 32768)
    for (int64_t i = 0; i < y->numel; i++)
        y->data[i] = x->data[gather_offset(i, x, a, index_shape, index)];
    index_saved *saved = save_index(t, y, index, a, index_shape, x->ndim, 0, &fail);
    if (fail || nn_tape_record(t, &nn_op_defs[NN_OP_GATHER], y, &x, 1, saved)) return NULL;
    return y;
}

nn_status nn_gather_backward(nn_tape *t, const nn_node *node)
{
    const index_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    /* Serial: repeated indices add into the same element. */
    for (int64_t i = 0; i < y->numel; i++)
        x->grad[gather_offset(i, x, s->axis, s->shape, s->index)] += y->grad[i];
    (void)t;
    return NN_OK;
}

nn_tensor *nn_scatter_add(nn_tape *t, nn_tensor *x, int axis, const int32_t *index,
                          const int *index_shape, nn_tensor *src)
{
    if (!x || !src) return NULL;
    int a = norm_axis(axis, x->ndim), fail;
    if (!check_index("scatter_add", x, axis, a, index, index_shape)) return NULL;
    int ok = src->ndim == x->ndim;
    for (int d = 0; ok && d < x->ndim; d++) ok = src->shape[d] == index_shape[d];
    if (!ok) {
        char ss[64], is[64];
        nn_error(NN_ERR_INPUT, "scatter_add: src %s is not the index's shape %s",
                 nn_shape_str(ss, sizeof ss, src->ndim, src->shape),
                 nn_shape_str(is, sizeof is, x->ndim, index_shape));
        return NULL;
    }
    nn_tensor *in[2] = {x, src};
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, in, 2);
    if (!y) return NULL;
    memcpy(y->data, x->data, sizeof(float) * (size_t)x->numel);
    for (int64_t i = 0; i < src->numel; i++)
        y->data[gather_offset(i, x, a, index_shape, index)] += src->data[i];
    index_saved *saved = save_index(t, y, index, a, index_shape, x->ndim, 0, &fail);
    if (fail || nn_tape_record(t, &nn_op_defs[NN_OP_SCATTER_ADD], y, in, 2, saved)) return NULL;
    return y;
}

/* dx += dy; dsrc += dy gathered at the index. */
nn_status nn_scatter_add_backward(nn_tape *t, const nn_node *node)
{
    const index_saved *s = node->saved;
    nn_tensor *x = node->in[0], *src = node->in[1], *y = node->out;
    if (x->requires_grad)
        for (int64_t i = 0; i < y->numel; i++) x->grad[i] += y->grad[i];
    if (src->requires_grad)
        for (int64_t i = 0; i < src->numel; i++)
            src->grad[i] += y->grad[gather_offset(i, y, s->axis, s->shape, s->index)];
    (void)t;
    return NN_OK;
}

/* ---- index_select ----------------------------------------------------- */

nn_tensor *nn_index_select(nn_tape *t, nn_tensor *x, int axis, const int32_t *index, int n)
{
    if (!x) return NULL;
    int a = norm_axis(axis, x->ndim), fail;
    char xs[64];
    if (a < 0) {
        nn_error(NN_ERR_INPUT, "index_select: axis %d is out of range for %s", axis,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape));
        return NULL;
    }
    for (int j = 0; j < n; j++)
        if (index[j] < 0 || index[j] >= x->shape[a]) {
            nn_error(NN_ERR_INPUT, "index_select: index %d at position %d is out of range [0, %d)",
                     (int)index[j], j, x->shape[a]);
            return NULL;
        }
    int shape[NN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[a] = n;
    nn_tensor *y = nn_tape_output(t, x->ndim, shape, &x, 1);
    if (!y) return NULL;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < a; d++) outer *= x->shape[d];
    for (int d = a + 1; d < x->ndim; d++) inner *= x->shape[d];
    for (int64_t o = 0; o < outer; o++)
        for (int j = 0; j < n; j++)
            memcpy(y->data + (o * n + j) * inner, x->data + (o * x->shape[a] + index[j]) * inner,
                   sizeof(float) * (size_t)inner);
    index_saved *saved = save_index(t, y, index, a, NULL, 0, n, &fail);
    if (fail || nn_tape_record(t, &nn_op_defs[NN_OP_INDEX_SELECT], y, &x, 1, saved)) return NULL;
    return y;
}

nn_status nn_index_select_backward(nn_tape *t, const nn_node *node)
{
    const index_saved *s = node->saved;
    nn_tensor *x = node->in[0], *y = node->out;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < s->axis; d++) outer *= x->shape[d];
    for (int d = s->axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    /* Each outer block is separate; within one, indices run in order. */
    #pragma omp parallel for schedule(static) if (y->numel > 32768)
    for (int64_t o = 0; o < outer; o++)
        for (int j = 0; j < s->n; j++) {
            float *dx = x->grad + (o * x->shape[s->axis] + s->index[j]) * inner;
            const float *dy = y->grad + (o * s->n + j) * inner;
            for (int64_t k = 0; k < inner; k++) dx[k] += dy[k];
        }
    (void)t;
    return NN_OK;
}
