/* Broadcast layouts and their two kernels (see broadcast.h). */
#include "ops/broadcast.h"

#include <math.h>

#include "core/rows.h"

/* Column block of the reductions that keep their innermost dim. */
enum { REDUCE_COLS = 256 };

int nn_bcast_shape(int *ndim, int *out, int na, const int *a, int nb, const int *b)
{
    int n = na > nb ? na : nb;
    if (n > NN_MAX_DIMS) return 0;
    for (int d = 0; d < n; d++) {
        int ia = d - (n - na), ib = d - (n - nb);
        int ea = ia >= 0 ? a[ia] : 1, eb = ib >= 0 ? b[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1) return 0;
        out[d] = ea == 1 ? eb : ea;
    }
    *ndim = n;
    return 1;
}

/* Element strides of an input of shape in (nin dims) right-aligned to out
 * (ndim dims): 0 on the dims it is broadcast on. */
static void input_strides(int64_t *stride, int ndim, const int *out, int nin, const int *in)
{
    NN_ASSERT(nin <= ndim);
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        int i = d - (ndim - nin);
        int e = i >= 0 ? in[i] : 1;
        NN_ASSERT(e == out[d] || e == 1);
        stride[d] = e == 1 ? 0 : s;
        s *= e;
    }
}

void nn_bcast_init(nn_bcast *l, int ndim, const int *out, int na, const int *a, int nb,
                   const int *b)
{
    int64_t st[2][NN_MAX_DIMS] = {{0}};
    input_strides(st[0], ndim, out, na, a);
    input_strides(st[1], ndim, out, b ? nb : 0, b);
    l->ndim = 0;
    l->numel = nn_shape_numel(ndim, out);
    for (int d = 0; d < ndim; d++) {
        if (out[d] == 1) continue;
        int m = l->ndim;
        /* Merge into the previous dim when every input runs on contiguously
         * (or stays broadcast) across the boundary. */
        if (m > 0 && st[0][d] * out[d] == l->stride[0][m - 1] &&
            st[1][d] * out[d] == l->stride[1][m - 1]) {
            l->shape[m - 1] *= out[d];
            l->stride[0][m - 1] = st[0][d];
            l->stride[1][m - 1] = st[1][d];
            continue;
        }
        l->shape[m] = out[d];
        l->stride[0][m] = st[0][d];
        l->stride[1][m] = st[1][d];
        l->ndim++;
    }
    if (l->ndim == 0) {
        l->ndim = 1;
        l->shape[0] = 1;
        l->stride[0][0] = l->stride[1][0] = 0;
    }
}

/* The offset of linear index i over dims (shape, stride)[0..n), row-major. */
static int64_t offset_of(int64_t i, int n, const int64_t *shape, const int64_t *stride)
{
    int64_t off = 0;
    for (int d = n - 1; d >= 0; d--) {
        off += (i % shape[d]) * stride[d];
        i /= shape[d];
    }
    return off;
}

static inline __attribute__((always_inline)) float apply(nn_bcast_fn fn, float a, float b)
{
    switch (fn) {
    case NN_BCAST_ADD: return a + b;
    case NN_BCAST_SUB: return a - b;
    case NN_BCAST_MUL: return a * b;
    case NN_BCAST_DIV: return a / b;
    case NN_BCAST_EQ: return a == b ? 1.0f : 0.0f;
    }
    return 0.0f;
}

/* One row; inlined with constant fn and strides (each 0 or 1 on the
 * innermost dim) so that the loop vectorizes. */
static inline __attribute__((always_inline)) void map_row_as(nn_bcast_fn fn, int accumulate,
                                                             float *restrict y, const float *a,
                                                             int64_t sa, const float *b,
                                                             int64_t sb, int64_t n)
{
    if (accumulate)
        for (int64_t i = 0; i < n; i++) y[i] += apply(fn, a[i * sa], b[i * sb]);
    else
        for (int64_t i = 0; i < n; i++) y[i] = apply(fn, a[i * sa], b[i * sb]);
}

static inline __attribute__((always_inline)) void map_row_fn(nn_bcast_fn fn, int accumulate,
                                                             float *y, const float *a, int64_t sa,
                                                             const float *b, int64_t sb, int64_t n)
{
    if (sa && sb) map_row_as(fn, accumulate, y, a, 1, b, 1, n);
    else if (sa) map_row_as(fn, accumulate, y, a, 1, b, 0, n);
    else if (sb) map_row_as(fn, accumulate, y, a, 0, b, 1, n);
    else map_row_as(fn, accumulate, y, a, 0, b, 0, n);
}

static void map_row(nn_bcast_fn fn, int accumulate, float *y, const float *a, int64_t sa,
                    const float *b, int64_t sb, int64_t n)
{
    switch (fn) {
    case NN_BCAST_ADD: map_row_fn(NN_BCAST_ADD, accumulate, y, a, sa, b, sb, n); break;
    case NN_BCAST_SUB: map_row_fn(NN_BCAST_SUB, accumulate, y, a, sa, b, sb, n); break;
    case NN_BCAST_MUL: map_row_fn(NN_BCAST_MUL, accumulate, y, a, sa, b, sb, n); break;
    case NN_BCAST_DIV: map_row_fn(NN_BCAST_DIV, accumulate, y, a, sa, b, sb, n); break;
    case NN_BCAST_EQ: map_row_fn(NN_BCAST_EQ, accumulate, y, a, sa, b, sb, n); break;
    }
}

void nn_bcast_map(const nn_bcast *l, nn_bcast_fn fn, int accumulate, float *y, const float *a,
                  const float *b)
{
    if (l->numel == 0) return;
    int inner = l->ndim - 1;
    int64_t n = l->shape[inner], rows = l->numel / n;
    #pragma omp parallel for schedule(static) if (l->numel > 32768)
    for (int64_t r = 0; r < rows; r++)
        map_row(fn, accumulate, y + r * n, a + offset_of(r, inner, l->shape, l->stride[0]),
                l->stride[0][inner], b + offset_of(r, inner, l->shape, l->stride[1]),
                l->stride[1][inner], n);
}

static inline float max_nan(float acc, float v) { return v > acc || v != v ? v : acc; }

/* The maximum of s[0..n) in 16 interleaved lanes (vectorizable), NaN if any. */
static float row_max(const float *s, int64_t n)
{
    float lanes[16];
    for (int k = 0; k < 16; k++) lanes[k] = -INFINITY;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) lanes[k] = max_nan(lanes[k], s[i + k]);
    for (int k = 0; i + k < n; k++) lanes[k] = max_nan(lanes[k], s[i + k]);
    float m = lanes[0];
    for (int k = 1; k < 16; k++) m = max_nan(m, lanes[k]);
    return m;
}

static inline void store(float *dst, float v, float alpha, int accumulate)
{
    *dst = accumulate ? *dst + alpha * v : alpha * v;
}

void nn_bcast_reduce(const nn_bcast *l, int k, nn_bcast_reduce_fn fn, float alpha, int accumulate,
                     float *dst, const float *x)
{
    /* x is contiguous in the output's shape; split the outer dims into the
     * kept ones (dst follows them contiguously) and the reduced ones. */
    int nd = l->ndim, inner = nd - 1, nk = 0, nr = 0;
    int64_t xs[NN_MAX_DIMS], s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        xs[d] = s;
        s *= l->shape[d];
    }
    int64_t ksh[NN_MAX_DIMS], kst[NN_MAX_DIMS], rsh[NN_MAX_DIMS], rst[NN_MAX_DIMS];
    int64_t kept = 1, reduced = 1;
    for (int d = 0; d < inner; d++) {
        if (l->stride[k][d]) {
            ksh[nk] = l->shape[d];
            kst[nk++] = xs[d];
            kept *= l->shape[d];
        } else {
            rsh[nr] = l->shape[d];
            rst[nr++] = xs[d];
            reduced *= l->shape[d];
        }
    }
    int64_t m = l->shape[inner];
    const float init = fn == NN_BCAST_REDUCE_SUM ? 0.0f : -INFINITY;
    if (l->numel == 0) return;

    if (!l->stride[k][inner]) {
        /* Innermost dim reduced: one output per kept index, the sum of
         * contiguous rows taken in order. */
        #pragma omp parallel for schedule(static) if (l->numel > 32768)
        for (int64_t j = 0; j < kept; j++) {
            const float *base = x + offset_of(j, nk, ksh, kst);
            float acc = init;
            for (int64_t c = 0; c < reduced; c++) {
                const float *row = base + offset_of(c, nr, rsh, rst);
                acc = fn == NN_BCAST_REDUCE_SUM ? acc + nn_row_sum(row, m)
                                                : max_nan(acc, row_max(row, m));
            }
            store(dst + j, acc, alpha, accumulate);
        }
        return;
    }

    /* Innermost dim kept: blocks of up to REDUCE_COLS outputs, each adding
     * the matching pieces of the reduced rows in order. */
    int64_t blocks = (m + REDUCE_COLS - 1) / REDUCE_COLS;
    #pragma omp parallel for schedule(static) if (l->numel > 32768)
    for (int64_t u = 0; u < kept * blocks; u++) {
        int64_t j = u / blocks, c0 = (u % blocks) * REDUCE_COLS;
        int w = (int)(m - c0 < REDUCE_COLS ? m - c0 : REDUCE_COLS);
        const float *base = x + offset_of(j, nk, ksh, kst) + c0;
        float acc[REDUCE_COLS];
        for (int i = 0; i < w; i++) acc[i] = init;
        for (int64_t c = 0; c < reduced; c++) {
            const float *row = base + offset_of(c, nr, rsh, rst);
            if (fn == NN_BCAST_REDUCE_SUM)
                for (int i = 0; i < w; i++) acc[i] += row[i];
            else
                for (int i = 0; i < w; i++) acc[i] = max_nan(acc[i], row[i]);
        }
        float *d = dst + j * m + c0;
        for (int i = 0; i < w; i++) store(d + i, acc[i], alpha, accumulate);
    }
}
