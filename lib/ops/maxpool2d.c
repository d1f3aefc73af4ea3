/* 2-d max pooling; forward keeps each output's argmax for the backward. */
#include "ops/ops.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif



typedef struct pool_geom {
    int planes, h, w, oh, ow, kernel, stride, pad;
} pool_geom;

/* Is v the new maximum over best? Larger, or NaN over a number: PyTorch
 * lets NaN win so a diverging network shows at the loss. An int, not a
 * branch: on real activations the winner is unpredictable. */
static inline int beats(float v, float best) { return (v > best) | ((v != v) & (best == best)); }

/* The common 2x2, stride 2, no padding case, one output row: pairwise
 * tournaments written as `x > y ? x : y` (one max instruction) and integer
 * compare results for the index, so the compiler emits no branch and can
 * vectorize. NaN does not win here (max instructions drop it); a NaN
 * activation still reaches the loss through the other taps and the
 * gradients. */
static void pool2x2_row(float *restrict y, int32_t *restrict argmax, const float *restrict r0,
                        const float *restrict r1, int base, int w, int ow)
{
    int ox = 0;
#if defined(__AVX512F__)
    /* 16 outputs at a time: split 32 inputs of each row into even and odd
     * columns, then the same tournament with compare masks and blends. */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
    for (; ox < ow; ox += 16) {
        int n = ow - ox < 16 ? ow - ox : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1u);
        /* 2n inputs per row, as two 16-lane halves. */
        __mmask16 lo = (__mmask16)(n >= 8 ? 0xffffu : (1u << (2 * n)) - 1u);
        __mmask16 hi = (__mmask16)(n > 8 ? (1u << (2 * n - 16)) - 1u : 0u);
        __m512 p0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ox), p1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ox + 16);
        __m512 q0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ox), q1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ox + 16);
        __m512 a = _mm512_permutex2var_ps(p0, even, p1), b = _mm512_permutex2var_ps(p0, odd, p1);
        __m512 c = _mm512_permutex2var_ps(q0, even, q1), d = _mm512_permutex2var_ps(q0, odd, q1);
        __mmask16 ab = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ), cd = _mm512_cmp_ps_mask(d, c, _CMP_GT_OQ);
        __m512 top = _mm512_mask_blend_ps(ab, a, b), bottom = _mm512_mask_blend_ps(cd, c, d);
        __mmask16 down = _mm512_cmp_ps_mask(bottom, top, _CMP_GT_OQ);
        _mm512_mask_storeu_ps(y + ox, m, _mm512_mask_blend_ps(down, top, bottom));
        if (argmax) {
            __m512i at = _mm512_add_epi32(_mm512_set1_epi32(base + 2 * ox), lane2);
            __mmask16 right = (__mmask16)((down & cd) | (~down & ab));
            at = _mm512_mask_add_epi32(at, right, at, _mm512_set1_epi32(1));
            at = _mm512_mask_add_epi32(at, down, at, _mm512_set1_epi32(w));
            _mm512_mask_storeu_epi32(argmax + ox, m, at);
        }
    }
#endif
    for (; ox < ow; ox++) {
        float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
        float top = b > a ? b : a, bottom = d > c ? d : c;
        y[ox] = bottom > top ? bottom : top;
        if (argmax) {
            int ab = b > a, cd = d > c, down = bottom > top;
            argmax[ox] = base + 2 * ox + down * (w + cd) + (1 - down) * ab;
        }
    }
}

#if defined(__AVX512F__)
/* Any kernel, stride and padding, one output row, 16 outputs at a time:
 * each tap is a gather of 16 pixels; the taps are visited in the scalar
 * loop's order (window rows, then columns) with its rule (the first
 * in-image pixel, then `beats`), lane by lane, so the results are the
 * same. */
static void pool_row_avx512(float *y, int32_t *argmax, const float *xp, const pool_geom *q, int oy)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int ox = 0; ox < q->ow; ox += 16) {
        const int n = q->ow - ox < 16 ? q->ow - ox : 16;
        const __mmask16 live = (__mmask16)((1u << n) - 1u);
        /* Input column of kernel column 0, per lane. */
        const __m512i col0 = _mm512_sub_epi32(_mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(ox)),
                                                                 _mm512_set1_epi32(q->stride)),
                                              _mm512_set1_epi32(q->pad));
        __m512 best = _mm512_setzero_ps();
        __m512i at = _mm512_setzero_si512();
        __mmask16 have = 0;
        for (int ki = 0; ki < q->kernel; ki++) {
            const int iy = oy * q->stride - q->pad + ki;
            if (iy < 0 || iy >= q->h) continue;
            for (int kj = 0; kj < q->kernel; kj++) {
                const __m512i col = _mm512_add_epi32(col0, _mm512_set1_epi32(kj));
                const __mmask16 in = live & _mm512_cmpge_epi32_mask(col, _mm512_setzero_si512()) &
                                     _mm512_cmplt_epi32_mask(col, _mm512_set1_epi32(q->w));
                const __m512i idx = _mm512_add_epi32(col, _mm512_set1_epi32(iy * q->w));
                const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, idx, xp, 4);
                /* beats(v, best): v > best, or v is NaN and best is not. */
                const __mmask16 wins = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                       (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) &
                                        _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
                const __mmask16 take = in & (__mmask16)(~have | wins);
                best = _mm512_mask_mov_ps(best, take, v);
                at = _mm512_mask_mov_epi32(at, take, idx);
                have |= in;
            }
        }
        _mm512_mask_storeu_ps(y + ox, live, best);
        if (argmax) _mm512_mask_storeu_epi32(argmax + ox, live, at);
    }
}
#endif

/* y, argmax: (planes, oh, ow) from x: (planes, h, w). argmax is the index of
 * the winning pixel within its plane; the first maximum wins ties, as in
 * PyTorch. The window is clipped to the image once per output, so the inner
 * loops have no bounds tests. */
static void maxpool2d_forward(float *y, int32_t *argmax, const float *x, const pool_geom *q)
{
    const int fast = q->kernel == 2 && q->stride == 2 && q->pad == 0;
    #pragma omp parallel for schedule(static)
    for (int pl = 0; pl < q->planes; pl++) {
        const float *xp = x + (long)pl * q->h * q->w;
        float *yp = y + (long)pl * q->oh * q->ow;
        int32_t *ap = argmax ? argmax + (long)pl * q->oh * q->ow : NULL;
        for (int oy = 0; oy < q->oh; oy++) {
            if (fast) {
                pool2x2_row(yp + oy * q->ow, ap ? ap + oy * q->ow : NULL, xp + 2 * oy * q->w,
                            xp + (2 * oy + 1) * q->w, 2 * oy * q->w, q->w, q->ow);
                continue;
            }
#if defined(__AVX512F__)
            pool_row_avx512(yp + oy * q->ow, ap ? ap + oy * q->ow : NULL, xp, q, oy);
            continue;
#endif
            int y0 = oy * q->stride - q->pad, y1 = y0 + q->kernel;
            if (y0 < 0) y0 = 0;
            if (y1 > q->h) y1 = q->h;
            for (int ox = 0; ox < q->ow; ox++) {
                int x0 = ox * q->stride - q->pad, x1 = x0 + q->kernel;
                if (x0 < 0) x0 = 0;
                if (x1 > q->w) x1 = q->w;
                int at = y0 * q->w + x0;
                float best = xp[at];
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        float v = xp[iy * q->w + ix];
                        int take = beats(v, best);
                        best = take ? v : best;
                        at += take * (iy * q->w + ix - at);
                    }
                yp[oy * q->ow + ox] = best;
                if (ap) ap[oy * q->ow + ox] = at;
            }
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
