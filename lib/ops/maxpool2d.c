/* 2-d max pooling; forward keeps each output's argmax for the backward. */
#include "ops/ops.h"

#include "ops/maxpool2d_kernels.h"

typedef nn_pool_geom pool_geom;

/* y, argmax: (planes, oh, ow) from x: (planes, h, w). argmax is the index of
 * the winning pixel within its plane; the first maximum wins ties, as in
 * PyTorch. The window is clipped to the image once per output, so the inner
 * loops have no bounds tests. */
static void maxpool2d_forward(float *y, int32_t *argmax, const float *x, const pool_geom *q)
{
    const nn_maxpool_kernels *k = NN_KERNELS(nn_maxpool_kernels);
    const int fast = q->kernel == 2 && q->stride == 2 && q->pad == 0;
    #pragma omp parallel for schedule(static)
    for (int pl = 0; pl < q->planes; pl++) {
        const float *xp = x + (long)pl * q->h * q->w;
        float *yp = y + (long)pl * q->oh * q->ow;
        int32_t *ap = argmax ? argmax + (long)pl * q->oh * q->ow : NULL;
        for (int oy = 0; oy < q->oh; oy++) {
            if (fast)
                k->row2x2(yp + oy * q->ow, ap ? ap + oy * q->ow : NULL, xp + 2 * oy * q->w,
                          xp + (2 * oy + 1) * q->w, 2 * oy * q->w, q->w, q->ow);
            else
                k->row(yp + oy * q->ow, ap ? ap + oy * q->ow : NULL, xp, q, oy);
        }
    }
}

/* Mirrors maxpool2d_forward: each output's gradient goes to its argmax. */
static void maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax, const pool_geom *q)
{
    long per_out = (long)q->oh * q->ow, per_in = (long)q->h * q->w;
    #pragma omp parallel for schedule(static)
    for (int pl = 0; pl < q->planes; pl++)
        for (long j = 0; j < per_out; j++)
            dx[pl * per_in + argmax[pl * per_out + j]] += dy[pl * per_out + j];
}

nn_tensor *nn_maxpool2d(nn_tape *t, nn_tensor *x, int kernel, int stride, int pad)
{
    if (!x) return NULL;
    char xs[64];
    if (x->ndim != 4 || kernel < 1 || stride < 1 || pad < 0 || 2 * pad > kernel ||
        x->shape[2] + 2 * pad < kernel || x->shape[3] + 2 * pad < kernel) {
        nn_error(NN_ERR_INPUT, "maxpool2d: input %s does not fit kernel %d, stride %d, padding %d",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape), kernel, stride, pad);
        return NULL;
    }
    pool_geom q = {x->shape[0] * x->shape[1], x->shape[2], x->shape[3], 0, 0, kernel, stride, pad};
    q.oh = (q.h + 2 * pad - kernel) / stride + 1;
    q.ow = (q.w + 2 * pad - kernel) / stride + 1;
    nn_tensor *y = nn_tape_output(t, 4, (int[]){x->shape[0], x->shape[1], q.oh, q.ow}, &x, 1);
    if (!y) return NULL;
    int32_t *argmax = NULL;
    pool_geom *saved = NULL;
    if (y->requires_grad) {
        argmax = nn_arena_alloc(t->arena, sizeof(int32_t) * (size_t)y->numel + sizeof q);
        if (!argmax) return NULL;
        saved = (pool_geom *)(argmax + y->numel);
        *saved = q;
    }
    maxpool2d_forward(y->data, argmax, x->data, &q);
    if (nn_tape_record(t, &nn_op_defs[NN_OP_MAXPOOL2D], y, &x, 1, argmax)) return NULL;
    return y;
}

nn_status nn_maxpool2d_backward(nn_tape *t, const nn_node *node)
{
    const int32_t *argmax = node->saved;
    const pool_geom *q = (const pool_geom *)(argmax + node->out->numel);
    maxpool2d_backward(node->in[0]->grad, node->out->grad, argmax, q);
    (void)t;
    return NN_OK;
}
