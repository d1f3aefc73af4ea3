/* Matrix product over the last two dims, batched over the leading ones
 * with broadcasting, as torch.matmul for inputs of 2 or more dims. Each
 * batch is one nn_gemm; batches run in a fixed order, so a gradient summed
 * over broadcast batches has the same rounding for any thread count. */
#include "ops/ops.h"

#include "core/gemm.h"
#include "ops/broadcast.h"

/* Matrix strides (in matrices) of an input's batch dims against the output's
 * `nb` batch dims: 0 where the input is broadcast or lacks the dim. */
static void batch_strides(int64_t *st, int nb, const nn_tensor *x)
{
    int xb = x->ndim - 2;
    int64_t s = 1;
    for (int d = nb - 1; d >= 0; d--) {
        int xd = d - (nb - xb);
        st[d] = xd < 0 || x->shape[xd] == 1 ? 0 : s;
        if (xd >= 0) s *= x->shape[xd];
    }
}

/* The matrix index of output batch `i` in an input with strides `st`. */
static int64_t batch_offset(int64_t i, int nb, const int *out, const int64_t *st)
{
    int64_t off = 0;
    for (int d = nb - 1; d >= 0; d--) {
        off += (i % out[d]) * st[d];
        i /= out[d];
    }
    return off;
}

typedef struct mm_layout {
    int nb, n, k, m;
    int64_t batches;
    int bshape[NN_MAX_DIMS];
    int64_t sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
} mm_layout;

static void layout(mm_layout *l, const nn_tensor *a, const nn_tensor *b, const nn_tensor *y)
{
    l->nb = y->ndim - 2;
    l->n = a->shape[a->ndim - 2];
    l->k = a->shape[a->ndim - 1];
    l->m = b->shape[b->ndim - 1];
    l->batches = 1;
    for (int d = 0; d < l->nb; d++) {
        l->bshape[d] = y->shape[d];
        l->batches *= y->shape[d];
    }
    batch_strides(l->sa, l->nb, a);
    batch_strides(l->sb, l->nb, b);
}

nn_tensor *nn_matmul(nn_tape *t, nn_tensor *a, nn_tensor *b)
{
    if (!a || !b) return NULL;
    char as[64], bs[64];
    int shape[NN_MAX_DIMS], nb;
    if (a->ndim < 2 || b->ndim < 2 || a->shape[a->ndim - 1] != b->shape[b->ndim - 2] ||
        !nn_bcast_shape(&nb, shape, a->ndim - 2, a->shape, b->ndim - 2, b->shape)) {
        nn_error(NN_ERR_INPUT, "matmul: shapes %s and %s do not multiply",
                 nn_shape_str(as, sizeof as, a->ndim, a->shape),
                 nn_shape_str(bs, sizeof bs, b->ndim, b->shape));
        return NULL;
    }
    if (nb + 2 > NN_MAX_DIMS) {
        nn_error(NN_ERR_INPUT, "matmul: %s times %s has more than %d dims",
                 nn_shape_str(as, sizeof as, a->ndim, a->shape),
                 nn_shape_str(bs, sizeof bs, b->ndim, b->shape), NN_MAX_DIMS);
        return NULL;
    }
    shape[nb] = a->shape[a->ndim - 2];
    shape[nb + 1] = b->shape[b->ndim - 1];
    nn_tensor *in[2] = {a, b};
    nn_tensor *y = nn_tape_output(t, nb + 2, shape, in, 2);
    if (!y) return NULL;
    mm_layout l;
    layout(&l, a, b, y);
    int64_t mat_a = (int64_t)l.n * l.k, mat_b = (int64_t)l.k * l.m, mat_y = (int64_t)l.n * l.m;
    for (int64_t i = 0; i < l.batches && mat_y > 0; i++) {
        float *yi = y->data + i * mat_y;
        if (l.k == 0) {
            for (int64_t j = 0; j < mat_y; j++) yi[j] = 0.0f;
            continue;
        }
        nn_gemm(0, 0, l.n, l.m, l.k, 1.0f, a->data + batch_offset(i, l.nb, l.bshape, l.sa) * mat_a,
                l.k, b->data + batch_offset(i, l.nb, l.bshape, l.sb) * mat_b, l.m, 0.0f, yi, l.m);
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_MATMUL], y, in, 2, NULL)) return NULL;
    return y;
}

/* da[i] += dy[i] b[i]^T, db[i] += a[i]^T dy[i] for every output batch i, in
 * order (broadcast inputs receive the sum over their batches). */
nn_status nn_matmul_backward(nn_tape *t, const nn_node *node)
{
    nn_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    mm_layout l;
    layout(&l, a, b, y);
    int64_t mat_a = (int64_t)l.n * l.k, mat_b = (int64_t)l.k * l.m, mat_y = (int64_t)l.n * l.m;
    if (mat_a == 0 || mat_b == 0 || mat_y == 0) return NN_OK;
    for (int64_t i = 0; i < l.batches; i++) {
        const float *dy = y->grad + i * mat_y;
        int64_t oa = batch_offset(i, l.nb, l.bshape, l.sa) * mat_a;
        int64_t ob = batch_offset(i, l.nb, l.bshape, l.sb) * mat_b;
        if (a->requires_grad)
            nn_gemm(0, 1, l.n, l.k, l.m, 1.0f, dy, l.m, b->data + ob, l.m, 1.0f, a->grad + oa, l.k);
        if (b->requires_grad)
            nn_gemm(1, 0, l.k, l.m, l.n, 1.0f, a->data + oa, l.k, dy, l.m, 1.0f, b->grad + ob, l.m);
    }
    (void)t;
    return NN_OK;
}
