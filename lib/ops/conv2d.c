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
#include "ops/conv2d_winograd.h"



/* Aim for GEMMs about this wide, but keep at least 8 chunks to share out. */
enum { TARGET_COLUMNS = 512, MIN_CHUNKS = 8 };
/* Largest cols a forward keeps for its backward. */
#define KEEP_COLS_BYTES ((long)64 << 20)

typedef struct conv_geom {
    int n, c, h, w;          /* input */
    int o, kh, kw;           /* weight */
    int oh, ow;              /* output */
    nn_conv2d_args a;
    int cg, og;              /* input / output channels per group */
    int k;                   /* cg * kh * kw: the GEMM's inner size */
    int p;                   /* oh * ow */
    int s;                   /* samples per chunk */
    int chunks;
    int direct;              /* 1x1, stride 1, no padding, s == 1: cols are x itself */
    int depthwise;           /* groups == c == o: conv2d_depthwise.c does it */
    int winograd;            /* 3x3 stride 1: conv2d_winograd.c does it */
    float *kept;             /* the forward's cols, or NULL: see cols_at */
} conv_geom;

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

/* The output columns [lo, hi) whose input column ix0 + ox * stride falls
 * inside [0, w): outside it, the taps read padding. */
static void valid_columns(int ix0, int stride, int ow, int w, int *lo, int *hi)
{
    *lo = ix0 >= 0 ? 0 : (-ix0 + stride - 1) / stride;
    *hi = ix0 >= w ? 0 : (w - 1 - ix0) / stride + 1;
    if (*hi > ow) *hi = ow;
    if (*lo > *hi) *lo = *hi;
}

#if defined(__AVX512F__)
/* One cols row (one tap) of one sample for horizontal stride 1 and rows of
 * at most 32 outputs: each output row is one or two masked loads of the
 * pixels inside the image and full-width masked stores, so the padding
 * lanes come out zero with no separate fill. */
static void im2col_row_avx512(float *dst, const float *plane, const conv_geom *q, int ki, int ix0,
                              int lo, int hi)
{
    const nn_conv2d_args *a = &q->a;
    /* lanes inside, of 32 (in 64 bits: hi - lo may be 32) */
    unsigned in = lo < hi ? (unsigned)(((1ull << (hi - lo)) - 1u) << lo) : 0u;
    unsigned out = q->ow == 32 ? 0xffffffffu : (1u << q->ow) - 1u;
    __mmask16 in0 = (__mmask16)in, in1 = (__mmask16)(in >> 16);
    __mmask16 out0 = (__mmask16)out, out1 = (__mmask16)(out >> 16);
    for (int oy = 0; oy < q->oh; oy++) {
        int iy = oy * a->stride_h - a->pad_h + ki * a->dilation_h;
        float *d = dst + oy * q->ow;
        int inside = iy >= 0 && iy < q->h;
        /* Masked-off lanes are not read, so src may point before the row. */
        const float *src = plane + (inside ? (long)iy * q->w : 0) + ix0;
        _mm512_mask_storeu_ps(d, out0, _mm512_maskz_loadu_ps(inside ? in0 : 0, src));
        if (out1) _mm512_mask_storeu_ps(d + 16, out1, _mm512_maskz_loadu_ps(inside ? in1 : 0, src + 16));
    }
}
#endif

/* Unrolls group `g` of samples [n0, n0 + s) into cols (k rows, ld columns;
 * sample i fills columns [i p, (i + 1) p)). Out-of-image taps are zero. */
/* A 1x1 convolution with stride 1 and no padding: each cols row is one
 * input plane as it is (several samples side by side when the planes are
 * small, which is why it is not `direct`). */
static int plain_1x1(const conv_geom *q)
{
    return q->kh == 1 && q->kw == 1 && q->a.stride_h == 1 && q->a.stride_w == 1 &&
           q->a.pad_h == 0 && q->a.pad_w == 0;
}

static void im2col(float *cols, int ld, const float *x, const conv_geom *q, int n0, int s, int g)
{
    const nn_conv2d_args *a = &q->a;
    for (int i = 0; i < s; i++) {
        const float *xs = x + ((long)(n0 + i) * q->c + (long)g * q->cg) * q->h * q->w;
        if (plain_1x1(q)) {
            for (int ci = 0; ci < q->cg; ci++)
                memcpy(cols + (long)ci * ld + (long)i * q->p, xs + (long)ci * q->p, sizeof(float) * (size_t)q->p);
            continue;
        }
        for (int ci = 0; ci < q->cg; ci++)
            for (int ki = 0; ki < q->kh; ki++)
                for (int kj = 0; kj < q->kw; kj++) {
                    int row = (ci * q->kh + ki) * q->kw + kj;
                    float *dst = cols + (long)row * ld + (long)i * q->p;
                    const float *plane = xs + (long)ci * q->h * q->w;
                    int ix0 = -a->pad_w + kj * a->dilation_w, lo, hi;
                    valid_columns(ix0, a->stride_w, q->ow, q->w, &lo, &hi);
#if defined(__AVX512F__)
                    if (a->stride_w == 1 && q->ow <= 32) {
                        im2col_row_avx512(dst, plane, q, ki, ix0, lo, hi);
                        continue;
                    }
#endif
                    for (int oy = 0; oy < q->oh; oy++) {
                        int iy = oy * a->stride_h - a->pad_h + ki * a->dilation_h;
                        float *d = dst + oy * q->ow;
                        if (iy < 0 || iy >= q->h) {
                            nn_row_zero(d, q->ow);
                            continue;
                        }
                        const float *src = plane + (long)iy * q->w + ix0;
                        nn_row_zero(d, lo);
                        if (a->stride_w == 1)
                            nn_row_copy(d + lo, src + lo, hi - lo);
                        else
                            for (int ox = lo; ox < hi; ox++) d[ox] = src[ox * a->stride_w];
                        nn_row_zero(d + hi, q->ow - hi);
                    }
                }
    }
}

/* The adjoint of im2col: adds each column entry back onto its input pixel.
 *
 * Written as a gather, one dx row (and, with AVX-512, 16 pixels) at a time:
 * the taps of each kernel row are summed in a register of their own (so the
 * kernel rows are independent chains of adds), those sums are added in
 * kernel-row order, and the total goes into dx once. Adding tap by tap into
 * dx instead means read-modify-writes at places shifted by one pixel, which
 * stall on store forwarding. Both paths add in the same order, so they give
 * identical results. Horizontal stride 1 only; col2im_strided does the rest. */

/* For one block of 16 pixels [x0, x0 + 16) of a row: per kernel column kj,
 * which pixels have a tap (mask) and where their column entries start. */
typedef struct tap_lanes {
    unsigned mask[32];
    int shift[32];     /* column entry of pixel x0 is at oy * ow + shift */
} tap_lanes;

static int tap_lanes_fit(const conv_geom *q) { return q->kw <= 32 && q->kh <= 32; }

static void tap_lanes_init(tap_lanes *t, const conv_geom *q, int x0)
{
    const nn_conv2d_args *a = &q->a;
    for (int kj = 0; kj < q->kw; kj++) {
        /* Pixel x takes output column x - ix0 of this tap's row. */
        int ix0 = -a->pad_w + kj * a->dilation_w;
        int lo = x0 > ix0 ? x0 : ix0, hi = x0 + 16;
        if (hi > ix0 + q->ow) hi = ix0 + q->ow;
        if (hi > q->w) hi = q->w;
        t->mask[kj] = lo < hi ? ((1u << (hi - lo)) - 1u) << (lo - x0) : 0u;
        t->shift[kj] = x0 - ix0;
    }
}

static void col2im_row(float *d, const float *cols, int ld, const conv_geom *q, int ci, int iy,
                       long col0, int x0, const tap_lanes *t)
{
    const nn_conv2d_args *a = &q->a;
    const float *taps = cols + (long)ci * q->kh * q->kw * ld + col0;
#if defined(__AVX512F__)
    __m512 acc[32];
    int rows = 0;
    for (int ki = 0; ki < q->kh; ki++) {
        int oy = iy + a->pad_h - ki * a->dilation_h;
        if (oy < 0 || oy % a->stride_h || (oy /= a->stride_h) >= q->oh) continue;
        __m512 sum = _mm512_setzero_ps();
        for (int kj = 0; kj < q->kw; kj++) {
            const float *sr = taps + (long)(ki * q->kw + kj) * ld + (long)oy * q->ow + t->shift[kj];
            /* Masked-off lanes are not read, so sr may point outside. */
            sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps((__mmask16)t->mask[kj], sr));
        }
        acc[rows++] = sum;
    }
    __m512 total = _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) total = _mm512_add_ps(total, acc[r]);
    int n = q->w - x0 < 16 ? q->w - x0 : 16;
    __mmask16 m = (__mmask16)((1u << n) - 1u);
    _mm512_mask_storeu_ps(d + x0, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + x0), total));
#else
    int n = q->w - x0 < 16 ? q->w - x0 : 16;
    for (int l = 0; l < n; l++) {
        float total = 0.0f;
        for (int ki = 0; ki < q->kh; ki++) {
            int oy = iy + a->pad_h - ki * a->dilation_h;
            if (oy < 0 || oy % a->stride_h || (oy /= a->stride_h) >= q->oh) continue;
            float sum = 0.0f;
            for (int kj = 0; kj < q->kw; kj++)
                if (t->mask[kj] >> l & 1u)
                    sum += taps[(long)(ki * q->kw + kj) * ld + (long)oy * q->ow + t->shift[kj] + l];
            total += sum;
        }
        d[x0 + l] += total;
    }
#endif
}

/* col2im for any horizontal stride: tap by tap, in scalar adds. */
static void col2im_strided(float *plane, const float *cols, int ld, const conv_geom *q, int ci,
                           long col0)
{
    const nn_conv2d_args *a = &q->a;
    for (int ki = 0; ki < q->kh; ki++)
        for (int kj = 0; kj < q->kw; kj++) {
            const float *src = cols + (long)((ci * q->kh + ki) * q->kw + kj) * ld + col0;
            int ix0 = -a->pad_w + kj * a->dilation_w, lo, hi;
            valid_columns(ix0, a->stride_w, q->ow, q->w, &lo, &hi);
            for (int oy = 0; oy < q->oh; oy++) {
                int iy = oy * a->stride_h - a->pad_h + ki * a->dilation_h;
                if (iy < 0 || iy >= q->h) continue;
                const float *sr = src + oy * q->ow;
                float *d = plane + (long)iy * q->w + ix0;
                for (int ox = lo; ox < hi; ox++) d[ox * a->stride_w] += sr[ox];
            }
        }
}

static void col2im(float *dx, const float *cols, int ld, const conv_geom *q, int n0, int s, int g)
{
    for (int i = 0; i < s; i++) {
        float *xs = dx + ((long)(n0 + i) * q->c + (long)g * q->cg) * q->h * q->w;
        long col0 = (long)i * q->p;
        if (plain_1x1(q)) {
            for (int ci = 0; ci < q->cg; ci++) {
                float *restrict d = xs + (long)ci * q->p;
                const float *restrict src = cols + (long)ci * ld + col0;
                for (int j = 0; j < q->p; j++) d[j] += src[j];
            }
            continue;
        }
        for (int ci = 0; ci < q->cg; ci++) {
            float *plane = xs + (long)ci * q->h * q->w;
            if (q->a.stride_w != 1 || !tap_lanes_fit(q)) {
                col2im_strided(plane, cols, ld, q, ci, col0);
                continue;
            }
            for (int x0 = 0; x0 < q->w; x0 += 16) {
                tap_lanes t;
                tap_lanes_init(&t, q, x0);
                for (int iy = 0; iy < q->h; iy++)
                    col2im_row(plane + (long)iy * q->w, cols, ld, q, ci, iy, col0, x0, &t);
            }
        }
    }
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
                im2col(cols, ld, x, q, n0, s, g);
                in = cols;
            }
            if (s == 1) {
                /* One sample: the GEMM writes y's rows, then bias and ReLU in place. */
                float *dst = (float *)group_rows(y, q, n0, g, q->o);
                nn_gemm(0, 0, q->og, ld, q->k, 1.0f, w + (long)g * q->og * q->k, q->k, in, ld, 0.0f, dst, ld);
                if (!b && !q->a.relu) continue;
                for (int oc = 0; oc < q->og; oc++) {
                    float *row = dst + (long)oc * q->p, bias = b ? b[g * q->og + oc] : 0.0f;
                    if (q->a.relu)
                        for (int j = 0; j < q->p; j++) row[j] = row[j] + bias > 0.0f ? row[j] + bias : 0.0f;
                    else
                        for (int j = 0; j < q->p; j++) row[j] += bias;
                }
                continue;
            }
            nn_gemm(0, 0, q->og, ld, q->k, 1.0f, w + (long)g * q->og * q->k, q->k, in, ld, 0.0f,
                    tmp, ld);
            for (int i = 0; i < s; i++)
                for (int oc = 0; oc < q->og; oc++) {
                    int o = g * q->og + oc;
                    float *dst = y + ((long)(n0 + i) * q->o + o) * q->p;
                    const float *src = tmp + (long)oc * ld + (long)i * q->p;
                    float bias = b ? b[o] : 0.0f;
                    if (q->a.relu)
                        for (int j = 0; j < q->p; j++) dst[j] = src[j] + bias > 0.0f ? src[j] + bias : 0.0f;
                    else
                        for (int j = 0; j < q->p; j++) dst[j] = src[j] + bias;
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
                        for (int j = 0; j < q->p; j++) dst[j] = y[at + j] > 0.0f ? dy[at + j] : 0.0f;
                    else
                        nn_row_copy(dst, dy + at, q->p);
                }
            if (dw) {
                const float *in;
                if (q->direct) {
                    in = group_rows(x, q, n0, g, q->c);
                } else {
                    if (q->kept) cols = cols_at(q->kept, q, chunk, g);
                    else im2col(cols, ld, x, q, n0, s, g);
                    in = cols;
                }
                /* As dw^T = cols dy^T (k x og): the same sums, and OpenBLAS
                 * runs this orientation faster on these shapes (LeNet conv2:
                 * 47 against 61 us). */
                nn_gemm(0, 1, q->k, q->og, ld, 1.0f, in, ld, dyg, ld, 0.0f,
                        part_w + (long)g * q->og * q->k, q->og);
            }
            if (db)
                for (int oc = 0; oc < q->og; oc++) part_b[g * q->og + oc] = nn_row_sum(dyg + (long)oc * ld, ld);
            if (dx && q->direct) {
                /* dx's rows of this sample and group are dcols: accumulate into them. */
                nn_gemm(1, 0, q->k, ld, q->og, 1.0f, w + (long)g * q->og * q->k, q->k, dyg, ld,
                        1.0f, (float *)group_rows(dx, q, n0, g, q->c), ld);
            } else if (dx) {
                nn_gemm(1, 0, q->k, ld, q->og, 1.0f, w + (long)g * q->og * q->k, q->k, dyg, ld,
                        0.0f, dcols, ld);
                col2im(dx, dcols, ld, q, n0, s, g);
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
        #pragma omp parallel for schedule(static)
        for (long i = 0; i < nw; i++) {
            long g = i / ((long)q->og * q->k), oc = i / q->k % q->og, kk = i % q->k;
            dw[i] += parts[g * q->og * q->k + kk * q->og + oc];
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
