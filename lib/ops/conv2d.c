/* 2-d convolution by im2col + GEMM.
 *
 * The batch is cut into chunks of S samples, S fixed by the shapes alone (so
 * results never depend on the thread count). For each chunk and group, the
 * input patches are unrolled into cols: (K = C/g * KH * KW) x (S * P) with
 * P = OH * OW, and one GEMM makes the chunk's outputs. Putting several
 * samples side by side keeps the GEMM wide when P is small (late layers,
 * LeNet's conv2 has P = 100).
 *
 * The forward keeps its cols for the backward when they fit KEEP_COLS_BYTES
 * (they are K times larger than the input); otherwise the backward makes
 * them again. The backward computes each chunk's weight gradient into its
 * own slot and sums the slots in chunk order.
 *
 * With one sample per chunk (P >= TARGET_COLUMNS / 1, the early, large
 * layers) a chunk's GEMM output already has y's layout, so it is written
 * into y in place, and the backward reads dy in place. A 1x1 convolution
 * with stride 1 and no padding (ResNet's bottlenecks, MobileNet's
 * pointwise convs) needs no im2col at all then: its cols are the input
 * itself, and the input gradient is one GEMM accumulated straight into dx. */
#include "ops/ops.h"

#include <omp.h>
#include <string.h>

#include "core/gemm.h"
#include "core/rows.h"
#include "ops/conv2d_depthwise.h"
#include "ops/conv2d_kernels.h"
#include "ops/conv2d_winograd.h"

/* Aim for GEMMs about this wide, but keep at least 8 chunks to share out. */
enum { TARGET_COLUMNS = 512, MIN_CHUNKS = 8 };
/* Largest cols a forward keeps for its backward. */
#define KEEP_COLS_BYTES ((long)64 << 20)

typedef nn_conv_geom conv_geom;

/* The (cg x p) block of group g of sample n in an (n, c, p) tensor. */
static const float *group_rows(const float *x, const conv_geom *q, int n, int g, int channels)
{
    return x + ((long)n * channels + (long)g * (channels / q->a.groups)) * q->p;
}

/* Where the cols of (chunk, group) live in a kept buffer. */
static float *cols_at(float *kept, const conv_geom *q, int chunk, int g)
{
    return kept + ((long)chunk * q->a.groups + g) * q->k * q->s * q->p;
}

nn_conv2d_args nn_conv2d_simple(int stride, int pad)
{
    return (nn_conv2d_args){stride, stride, pad, pad, 1, 1, 1, 0};
}

static int chunk_samples(int n, int p)
{
    int by_width = (TARGET_COLUMNS + p - 1) / p;
    int by_count = (n + MIN_CHUNKS - 1) / MIN_CHUNKS;
    int s = by_width < by_count ? by_width : by_count;
    return s < 1 ? 1 : s;
}

static int chunk_len(const conv_geom *q, int chunk)
{
    int n0 = chunk * q->s;
    return q->n - n0 < q->s ? q->n - n0 : q->s;
}

/* y: (n, o, oh, ow) = conv(x: (n, c, h, w), w) + b; scratch holds, per
 * thread, k * s * p floats of cols then og * s * p of GEMM output. With
 * q->kept, the cols are made there instead and stay for the backward. */
static void conv2d_forward(float *y, const float *x, const float *w, const float *b,
                           const conv_geom *q, float *scratch)
{
    const nn_conv2d_kernels *k = NN_KERNELS(nn_conv2d_kernels);
    long cols_size = (long)q->k * q->s * q->p, out_size = (long)q->og * q->s * q->p;
    #pragma omp parallel for schedule(static)
    for (int chunk = 0; chunk < q->chunks; chunk++) {
        float *cols = scratch + (long)omp_get_thread_num() * (cols_size + out_size);
        float *tmp = cols + cols_size;
        int n0 = chunk * q->s, s = chunk_len(q, chunk), ld = s * q->p;
        for (int g = 0; g < q->a.groups; g++) {
            const float *in = cols;
            if (q->direct) {
                in = group_rows(x, q, n0, g, q->c);
            } else {
                if (q->kept) cols = cols_at(q->kept, q, chunk, g);
                k->im2col(cols, ld, x, q, n0, s, g);
                in = cols;
            }
            if (s == 1) {
                /* One sample: the GEMM writes y's rows, then bias and ReLU in place. */
                float *dst = (float *)group_rows(y, q, n0, g, q->o);
                nn_gemm(0, 0, q->og, ld, q->k, 1.0f, w + (long)g * q->og * q->k, q->k, in, ld, 0.0f, dst, ld);
                if (!b && !q->a.relu) continue;
                for (int oc = 0; oc < q->og; oc++) {
                    float *row = dst + (long)oc * q->p;
                    k->bias_act(row, row, b ? b[g * q->og + oc] : 0.0f, q->a.relu, q->p);
                }
                continue;
            }
            nn_gemm(0, 0, q->og, ld, q->k, 1.0f, w + (long)g * q->og * q->k, q->k, in, ld, 0.0f,
                    tmp, ld);
            for (int i = 0; i < s; i++)
                for (int oc = 0; oc < q->og; oc++) {
                    int o = g * q->og + oc;
                    float *dst = y + ((long)(n0 + i) * q->o + o) * q->p;
                    k->bias_act(dst, tmp + (long)oc * ld + (long)i * q->p, b ? b[o] : 0.0f, q->a.relu, q->p);
                }
        }
    }
}

/* Mirrors conv2d_forward. dx, dw, db may each be NULL; y (the output) is
 * read for a fused ReLU's mask. parts holds chunks * (o * k + o) floats for
 * the per-chunk weight and bias gradients; scratch holds, per thread, cols
 * and dcols (k * s * p each) and dy (og * s * p). */
static void conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const float *y, const conv_geom *q, float *scratch,
                            float *parts)
{
    const nn_conv2d_kernels *k = NN_KERNELS(nn_conv2d_kernels);
    long cols_size = (long)q->k * q->s * q->p, dy_size = (long)q->og * q->s * q->p;
    long part_size = (long)q->o * q->k + q->o;
    #pragma omp parallel for schedule(static)
    for (int chunk = 0; chunk < q->chunks; chunk++) {
        float *cols = scratch + (long)omp_get_thread_num() * (2 * cols_size + dy_size);
        float *dcols = cols + cols_size, *dyc = dcols + cols_size;
        float *part_w = parts + chunk * part_size, *part_b = part_w + (long)q->o * q->k;
        int n0 = chunk * q->s, s = chunk_len(q, chunk), ld = s * q->p;
        for (int g = 0; g < q->a.groups; g++) {
            /* Gather this group's output gradient as og x (s * p), through
             * the ReLU's mask when one is fused; one sample without ReLU
             * is read where it is. */
            const float *dyg = dyc;
            if (s == 1 && !q->a.relu) dyg = group_rows(dy, q, n0, g, q->o);
            else
            for (int i = 0; i < s; i++)
                for (int oc = 0; oc < q->og; oc++) {
                    long at = ((long)(n0 + i) * q->o + g * q->og + oc) * q->p;
                    float *dst = dyc + (long)oc * ld + (long)i * q->p;
                    if (q->a.relu)
                        k->relu_mask(dst, dy + at, y + at, q->p);
                    else
                        nn_row_copy(dst, dy + at, q->p);
                }
            if (dw) {
                const float *in;
                if (q->direct) {
                    in = group_rows(x, q, n0, g, q->c);
                } else {
                    if (q->kept) cols = cols_at(q->kept, q, chunk, g);
                    else k->im2col(cols, ld, x, q, n0, s, g);
                    in = cols;
                }
                /* As dw^T = cols dy^T (k x og): the same sums, and OpenBLAS
                 * runs this orientation faster on these shapes (LeNet conv2:
                 * 47 against 61 us). */
                nn_gemm(0, 1, q->k, q->og, ld, 1.0f, in, ld, dyg, ld, 0.0f,
                        part_w + (long)g * q->og * q->k, q->og);
            }
            if (db)
                for (int oc = 0; oc < q->og; oc++) part_b[g * q->og + oc] = k->row_sum(dyg + (long)oc * ld, ld);
            if (dx && q->direct) {
                /* dx's rows of this sample and group are dcols: accumulate into them. */
                nn_gemm(1, 0, q->k, ld, q->og, 1.0f, w + (long)g * q->og * q->k, q->k, dyg, ld,
                        1.0f, (float *)group_rows(dx, q, n0, g, q->c), ld);
            } else if (dx) {
                nn_gemm(1, 0, q->k, ld, q->og, 1.0f, w + (long)g * q->og * q->k, q->k, dyg, ld,
                        0.0f, dcols, ld);
                k->col2im(dx, dcols, ld, q, n0, s, g);
            }
        }
    }
    /* Sum the chunks' parts in chunk order into the first part, walking
     * each part front to back (reading one weight across all chunks at
     * once would jump a part's size per read), then add the total into dw;
     * each group's part is k x og. */
    if (dw) {
        long nw = (long)q->o * q->k;
        #pragma omp parallel for schedule(static)
        for (long i0 = 0; i0 < nw; i0 += 4096) {
            const long i1 = i0 + 4096 < nw ? i0 + 4096 : nw;
            for (int chunk = 1; chunk < q->chunks; chunk++) {
                const float *src = parts + chunk * part_size;
                for (long i = i0; i < i1; i++) parts[i] += src[i];
            }
        }
        /* dw row g og + oc is column oc of group g's part: one division a
         * row, not three an element. */
        #pragma omp parallel for schedule(static)
        for (int row = 0; row < q->o; row++) {
            const float *src = parts + (long)(row / q->og) * q->og * q->k + row % q->og;
            float *d = dw + (long)row * q->k;
            for (int kk = 0; kk < q->k; kk++) d[kk] += src[(long)kk * q->og];
        }
    }
    if (db)
        for (int o = 0; o < q->o; o++) {
            float sum = 0.0f;
            for (int chunk = 0; chunk < q->chunks; chunk++)
                sum += parts[chunk * part_size + (long)q->o * q->k + o];
            db[o] += sum;
        }
}

static int make_geom(conv_geom *q, const nn_tensor *x, const nn_tensor *w, const nn_tensor *b,
                     nn_conv2d_args a)
{
    char xs[64], ws[64];
    nn_shape_str(xs, sizeof xs, x->ndim, x->shape);
    nn_shape_str(ws, sizeof ws, w->ndim, w->shape);
    if (a.groups < 1 || a.stride_h < 1 || a.stride_w < 1 || a.dilation_h < 1 ||
        a.dilation_w < 1 || a.pad_h < 0 || a.pad_w < 0) {
        nn_error(NN_ERR_INPUT, "conv2d: bad arguments (stride %dx%d, padding %dx%d, dilation %dx%d, groups %d)",
                 a.stride_h, a.stride_w, a.pad_h, a.pad_w, a.dilation_h, a.dilation_w, a.groups);
        return -1;
    }
    if (x->ndim != 4 || w->ndim != 4 || x->shape[1] != w->shape[1] * a.groups ||
        w->shape[0] % a.groups || (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))) {
        nn_error(NN_ERR_INPUT, "conv2d: input %s does not fit weight %s with %d group(s)", xs, ws,
                 a.groups);
        return -1;
    }
    *q = (conv_geom){.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                     .o = w->shape[0], .kh = w->shape[2], .kw = w->shape[3], .a = a};
    q->oh = (q->h + 2 * a.pad_h - a.dilation_h * (q->kh - 1) - 1) / a.stride_h + 1;
    q->ow = (q->w + 2 * a.pad_w - a.dilation_w * (q->kw - 1) - 1) / a.stride_w + 1;
    if (q->h + 2 * a.pad_h < a.dilation_h * (q->kh - 1) + 1 ||
        q->w + 2 * a.pad_w < a.dilation_w * (q->kw - 1) + 1) {
        nn_error(NN_ERR_INPUT, "conv2d: input %s is smaller than kernel %dx%d (padding %dx%d)", xs,
                 q->kh, q->kw, a.pad_h, a.pad_w);
        return -1;
    }
    q->cg = q->c / a.groups;
    q->og = q->o / a.groups;
    q->k = q->cg * q->kh * q->kw;
    q->p = q->oh * q->ow;
    q->s = chunk_samples(q->n, q->p);
    q->chunks = (q->n + q->s - 1) / q->s;
    q->depthwise = a.groups == q->c && q->o == q->c && q->kh * q->kw <= NN_DEPTHWISE_MAX_TAPS;
    q->winograd = !q->depthwise && nn_conv2d_winograd_fits(q->c, q->o, q->kh, q->kw, a);
    q->direct = q->kh == 1 && q->kw == 1 && a.pad_h == 0 && a.pad_w == 0 && a.stride_h == 1 &&
                a.stride_w == 1 && q->s == 1;
    return 0;
}

static nn_winograd_geom winograd_geom(const conv_geom *q)
{
    return (nn_winograd_geom){q->n, q->c, q->h, q->w, q->o, q->oh, q->ow, q->a.pad_h, q->a.pad_w, q->a.relu};
}

/* Records y's node with a copy of its geometry (kept cols included). */
static nn_tensor *record(nn_tape *t, nn_tensor *y, nn_tensor *const *in_list, const conv_geom *q)
{
    conv_geom *saved = NULL;
    if (y->requires_grad) {
        saved = nn_arena_alloc(t->arena, sizeof *saved);
        if (!saved) return NULL;
        *saved = *q;
    }
    if (nn_tape_record(t, &nn_op_defs[NN_OP_CONV2D], y, in_list, 3, saved)) return NULL;
    return y;
}

nn_tensor *nn_conv2d(nn_tape *t, nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_conv2d_args args)
{
    if (!x || !w) return NULL;
    conv_geom q;
    if (make_geom(&q, x, w, b, args)) return NULL;
    nn_tensor *in_list[3] = {x, w, b};
    nn_tensor *y = nn_tape_output(t, 4, (int[]){q.n, q.o, q.oh, q.ow}, in_list, 3);
    if (y && q.depthwise) {
        const nn_depthwise_geom dq = {q.n, q.c, q.h, q.w, q.kh, q.kw, q.oh, q.ow, q.a};
        float *dscratch = NN_ARENA_NEW(t->arena, float, nn_conv2d_depthwise_scratch(&dq) * omp_get_max_threads());
        if (!dscratch) return NULL;
        nn_conv2d_depthwise_forward(y->data, x->data, w->data, b ? b->data : NULL, &dq, dscratch);
        return record(t, y, in_list, &q);
    }
    if (y && q.winograd) {
        const nn_winograd_geom wq = winograd_geom(&q);
        float *wscratch = NN_ARENA_NEW(t->arena, float, nn_conv2d_winograd_forward_scratch(&wq, omp_get_max_threads()));
        if (!wscratch) return NULL;
        nn_conv2d_winograd_forward(y->data, x->data, w->data, b ? b->data : NULL, &wq, wscratch);
        return record(t, y, in_list, &q);
    }
    long per_thread = (long)(q.k + q.og) * q.s * q.p;
    float *scratch = NN_ARENA_NEW(t->arena, float, per_thread * omp_get_max_threads());
    if (!y || !scratch) return NULL;
    long kept_floats = (long)q.a.groups * q.chunks * q.k * q.s * q.p;
    if (y->requires_grad && w->requires_grad && !q.direct &&
        kept_floats * (long)sizeof(float) <= KEEP_COLS_BYTES) {
        q.kept = NN_ARENA_NEW(t->arena, float, kept_floats);
        if (!q.kept) return NULL;
    }
    conv2d_forward(y->data, x->data, w->data, b ? b->data : NULL, &q, scratch);
    return record(t, y, in_list, &q);
}

nn_status nn_conv2d_backward(nn_tape *t, const nn_node *node)
{
    const conv_geom *q = node->saved;
    nn_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2];
    if (q->depthwise) {
        const nn_depthwise_geom dq = {q->n, q->c, q->h, q->w, q->kh, q->kw, q->oh, q->ow, q->a};
        float *dscratch = NN_ARENA_NEW(t->arena, float, nn_conv2d_depthwise_scratch(&dq) * omp_get_max_threads());
        if (!dscratch) return NN_ERR_RUNTIME;
        nn_conv2d_depthwise_backward(x->requires_grad ? x->grad : NULL, w->requires_grad ? w->grad : NULL,
                                     b && b->requires_grad ? b->grad : NULL, node->out->grad, x->data,
                                     w->data, node->out->data, &dq, dscratch);
        return NN_OK;
    }
    if (q->winograd) {
        const nn_winograd_geom wq = winograd_geom(q);
        float *wscratch = NN_ARENA_NEW(t->arena, float, nn_conv2d_winograd_backward_scratch(&wq, omp_get_max_threads()));
        if (!wscratch) return NN_ERR_RUNTIME;
        nn_conv2d_winograd_backward(x->requires_grad ? x->grad : NULL, w->requires_grad ? w->grad : NULL,
                                    b && b->requires_grad ? b->grad : NULL, node->out->grad, x->data,
                                    w->data, node->out->data, &wq, wscratch);
        return NN_OK;
    }
    long per_thread = (long)(2 * q->k + q->og) * q->s * q->p;
    float *scratch = NN_ARENA_NEW(t->arena, float, per_thread * omp_get_max_threads());
    float *parts = NN_ARENA_NEW(t->arena, float, (long)q->chunks * ((long)q->o * q->k + q->o));
    if (!scratch || !parts) return NN_ERR_RUNTIME;
    conv2d_backward(x->requires_grad ? x->grad : NULL, w->requires_grad ? w->grad : NULL,
                    b && b->requires_grad ? b->grad : NULL, node->out->grad, x->data, w->data,
                    node->out->data, q, scratch, parts);
    return NN_OK;
}
