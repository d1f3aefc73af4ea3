#include "ops/conv2d_depthwise.h"

#include <omp.h>
#include <string.h>

/* Each plane is first copied into a zero-padded "phase" layout: padded
 * row r holds stride_w phases, phase f holding the padded columns f,
 * f + sw, f + 2 sw, ... So the tap (ki, kj) of output row oy reads padded
 * row oy * sh + ki * dh, phase (kj * dw) % sw, from index (kj * dw) / sw
 * on: ow contiguous floats for any stride, no bounds tests in the loops,
 * and loops the compiler vectorizes. Rows carry slack past ow (rounded up
 * to LANES) so the gradient's dot products run over whole vectors. */
enum { LANES = 16 };

/* LANES floats as one value: GCC's vector extension, which becomes one
 * AVX-512 register or two AVX2 ones, and keeps the lane sums' order fixed. */
typedef float lanes16 __attribute__((vector_size(LANES * sizeof(float))));

static lanes16 load16(const float *p)
{
    lanes16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

typedef struct phase_plane {
    int rows, phases, len;   /* h + 2 pad_h, stride_w, floats per phase row */
} phase_plane;

static phase_plane plane_shape(const nn_depthwise_geom *q)
{
    const int sw = q->a.stride_w, padded_w = q->w + 2 * q->a.pad_w;
    const int owp = (q->ow + LANES - 1) / LANES * LANES;
    int len = (padded_w + sw - 1) / sw;
    const int need = owp + (q->kw - 1) * q->a.dilation_w / sw + 1;
    if (len < need) len = need;
    return (phase_plane){q->h + 2 * q->a.pad_h, sw, len};
}

static long plane_floats(phase_plane s) { return (long)s.rows * s.phases * s.len; }

static float *phase_row(float *buf, phase_plane s, int r, int f) { return buf + ((long)r * s.phases + f) * s.len; }

/* Copies plane x (h, w) into buf, zero-padded. */
static void fill_plane(float *buf, phase_plane s, const float *x, const nn_depthwise_geom *q)
{
    memset(buf, 0, sizeof(float) * (size_t)plane_floats(s));
    for (int iy = 0; iy < q->h; iy++) {
        const float *src = x + (long)iy * q->w;
        for (int f = 0; f < s.phases; f++) {
            /* Padded columns f, f + sw, ...: input columns from ix0 on. */
            int ix0 = f - q->a.pad_w, k0 = 0;
            while (ix0 < 0) ix0 += s.phases, k0++;
            float *dst = phase_row(buf, s, iy + q->a.pad_h, f) + k0;
            for (int ix = ix0, k = 0; ix < q->w; ix += s.phases, k++) dst[k] = src[ix];
        }
    }
}

/* Adds the interior of buf back onto plane dx (h, w). */
static void add_plane(float *dx, float *buf, phase_plane s, const nn_depthwise_geom *q)
{
    for (int iy = 0; iy < q->h; iy++) {
        float *dst = dx + (long)iy * q->w;
        for (int f = 0; f < s.phases; f++) {
            int ix0 = f - q->a.pad_w, k0 = 0;
            while (ix0 < 0) ix0 += s.phases, k0++;
            const float *src = phase_row(buf, s, iy + q->a.pad_h, f) + k0;
            for (int ix = ix0, k = 0; ix < q->w; ix += s.phases, k++) dst[ix] += src[k];
        }
    }
}

/* The taps' contiguous rows: tap (ki, kj) of output row oy. */
static const float *tap_row(float *buf, phase_plane s, const nn_depthwise_geom *q, int oy, int ki, int kj)
{
    const int r = oy * q->a.stride_h + ki * q->a.dilation_h, c = kj * q->a.dilation_w;
    return phase_row(buf, s, r, c % s.phases) + c / s.phases;
}

/* Stride 1 with "same"-like padding, the usual depthwise layer, goes
 * flat: the padded plane is one array with rows of L = w + 2 pad_w
 * floats, so tap (ki, kj) of flat output f = oy L + ox is at f + ki dh L +
 * kj dw, and sixteen consecutive outputs are one vector whatever the
 * width (a 4x4 plane takes 2 vectors, not 4 one-row vectors mostly
 * empty). The lanes at ox >= ow are computed and dropped. The input
 * gradient is the same sum over the gradient plane with the kernel
 * flipped, placed so it needs (kw - 1) dw <= 2 pad_w, and the weight
 * gradient is a dot product of the gradient plane with each tap's
 * shifted input plane. */
typedef struct flat_plane {
    int L;            /* padded row length */
    long x_len;       /* the padded input plane, zero slack included */
    long g_shift;     /* where dy's plane starts in the gradient buffer */
    long g_len;       /* the gradient buffer */
    long out_len;     /* the flat output or dx, whole vectors */
} flat_plane;

static int flat_fits(const nn_depthwise_geom *q)
{
    const nn_conv2d_args *a = &q->a;
    const int span_h = (q->kh - 1) * a->dilation_h, span_w = (q->kw - 1) * a->dilation_w;
    return a->stride_h == 1 && a->stride_w == 1 && a->pad_h <= span_h && a->pad_w <= span_w &&
           span_w <= 2 * a->pad_w;
}

static long round_lanes(long n) { return (n + LANES - 1) / LANES * LANES; }

static flat_plane flat_shape(const nn_depthwise_geom *q)
{
    const nn_conv2d_args *a = &q->a;
    const int span_h = (q->kh - 1) * a->dilation_h, span_w = (q->kw - 1) * a->dilation_w;
    flat_plane f = {.L = q->w + 2 * a->pad_w};
    const long reach = (long)span_h * f.L + span_w;   /* the farthest tap */
    f.x_len = round_lanes((long)q->oh * f.L) + reach;
    if (f.x_len < (long)(q->h + 2 * a->pad_h) * f.L) f.x_len = (long)(q->h + 2 * a->pad_h) * f.L;
    f.g_shift = (long)(span_h - a->pad_h) * f.L + span_w - a->pad_w;
    f.g_len = round_lanes((long)q->h * f.L) + reach;
    if (f.g_len < f.g_shift + round_lanes((long)q->oh * f.L)) f.g_len = f.g_shift + round_lanes((long)q->oh * f.L);
    f.out_len = round_lanes((long)(q->h > q->oh ? q->h : q->oh) * f.L);
    return f;
}

/* Copies plane x (h, w) into buf (f.x_len floats), zero-padded. */
static void fill_flat(float *buf, flat_plane f, const float *x, const nn_depthwise_geom *q)
{
    memset(buf, 0, sizeof(float) * (size_t)f.x_len);
    for (int iy = 0; iy < q->h; iy++)
        memcpy(buf + (long)(iy + q->a.pad_h) * f.L + q->a.pad_w, x + (long)iy * q->w,
               sizeof(float) * (size_t)q->w);
}

static void forward_flat(float *y, const float *x, const float *w, const float *b,
                         const nn_depthwise_geom *q, float *scratch, long per_thread)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const flat_plane f = flat_shape(q);
    const int taps = q->kh * q->kw;
    #pragma omp parallel for schedule(static) collapse(2)
    for (int ch = 0; ch < q->c; ch++)
        for (int n = 0; n < q->n; n++) {
            float *buf = scratch + (long)omp_get_thread_num() * per_thread, *out = buf + f.x_len;
            const long at = (long)n * q->c + ch;
            fill_flat(buf, f, x + at * in_plane, q);
            const float *wk = w + (long)ch * taps;
            long off[taps];
            for (int t = 0; t < taps; t++)
                off[t] = (long)(t / q->kw) * q->a.dilation_h * f.L + (long)(t % q->kw) * q->a.dilation_w;
            /* The taps summed in tap order, as the phase path does. */
            for (long f0 = 0; f0 < (long)q->oh * f.L; f0 += LANES) {
                lanes16 acc = {0};
                for (int t = 0; t < taps; t++) acc += wk[t] * load16(buf + f0 + off[t]);
                memcpy(out + f0, &acc, sizeof acc);
            }
            const float bias = b ? b[ch] : 0.0f;
            float *yp = y + at * out_plane;
            for (int oy = 0; oy < q->oh; oy++) {
                const float *src = out + (long)oy * f.L;
                float *dst = yp + (long)oy * q->ow;
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) dst[ox] = src[ox] + bias > 0.0f ? src[ox] + bias : 0.0f;
                else
                    for (int ox = 0; ox < q->ow; ox++) dst[ox] = src[ox] + bias;
            }
        }
}

/* Per channel (one thread owns it), over the samples in order: the
 * gradient plane, then the weight and bias gradients in LANES partial
 * sums per tap, then dx. */
static void backward_flat(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const float *y, const nn_depthwise_geom *q,
                          float *scratch, long per_thread)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const flat_plane f = flat_shape(q);
    const int taps = q->kh * q->kw, dh = q->a.dilation_h, dwl = q->a.dilation_w;
    long off[taps], flipped[taps];
    for (int t = 0; t < taps; t++) {
        const int ki = t / q->kw, kj = t % q->kw;
        off[t] = (long)ki * dh * f.L + (long)kj * dwl;
        flipped[t] = (long)(q->kh - 1 - ki) * dh * f.L + (long)(q->kw - 1 - kj) * dwl;
    }
    const long outputs = round_lanes((long)q->oh * f.L), inputs = (long)q->h * f.L;
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < q->c; ch++) {
        float *xbuf = scratch + (long)omp_get_thread_num() * per_thread;
        float *gbuf = xbuf + f.x_len, *out = gbuf + f.g_len;
        const float *g = gbuf + f.g_shift;
        lanes16 lanes[taps], blanes = {0};   /* on the stack: vector-aligned */
        const float *wk = w + (long)ch * taps;
        memset(lanes, 0, sizeof lanes);
        for (int n = 0; n < q->n; n++) {
            const long at = (long)n * q->c + ch;
            const float *dyp = dy + at * out_plane, *yp = y + at * out_plane;
            memset(gbuf, 0, sizeof(float) * (size_t)f.g_len);
            for (int oy = 0; oy < q->oh; oy++) {
                const float *dyr = dyp + (long)oy * q->ow, *yr = yp + (long)oy * q->ow;
                float *gr = gbuf + f.g_shift + (long)oy * f.L;
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) gr[ox] = yr[ox] > 0.0f ? dyr[ox] : 0.0f;
                else
                    memcpy(gr, dyr, sizeof(float) * (size_t)q->ow);
            }
            if (db)
                for (long f0 = 0; f0 < outputs; f0 += LANES) blanes += load16(g + f0);
            if (dw) {
                fill_flat(xbuf, f, x + at * in_plane, q);
                for (int t = 0; t < taps; t++) {
                    lanes16 l = lanes[t];
                    for (long f0 = 0; f0 < outputs; f0 += LANES) l += load16(g + f0) * load16(xbuf + f0 + off[t]);
                    lanes[t] = l;
                }
            }
            if (dx) {
                for (long f0 = 0; f0 < inputs; f0 += LANES) {
                    lanes16 acc = {0};
                    for (int t = 0; t < taps; t++) acc += wk[t] * load16(gbuf + f0 + flipped[t]);
                    memcpy(out + f0, &acc, sizeof acc);
                }
                float *dxp = dx + at * in_plane;
                for (int iy = 0; iy < q->h; iy++) {
                    const float *src = out + (long)iy * f.L;
                    float *dst = dxp + (long)iy * q->w;
                    for (int ix = 0; ix < q->w; ix++) dst[ix] += src[ix];
                }
            }
        }
        if (dw)
            for (int t = 0; t < taps; t++) {
                float sum = 0.0f;
                for (int j = 0; j < LANES; j++) sum += lanes[t][j];
                dw[(long)ch * taps + t] += sum;
            }
        if (db) {
            float sum = 0.0f;
            for (int j = 0; j < LANES; j++) sum += blanes[j];
            db[ch] += sum;
        }
    }
}

long nn_conv2d_depthwise_scratch(const nn_depthwise_geom *q)
{
    const int owp = (q->ow + LANES - 1) / LANES * LANES;
    const long phases = 2 * plane_floats(plane_shape(q)) + owp;
    if (!flat_fits(q)) return phases;
    const flat_plane f = flat_shape(q);
    const long flat = f.x_len + f.g_len + f.out_len;
    return flat > phases ? flat : phases;
}

void nn_conv2d_depthwise_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_depthwise_geom *q, float *scratch)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const phase_plane s = plane_shape(q);
    const long per_thread = nn_conv2d_depthwise_scratch(q);
    const int taps = q->kh * q->kw;
    if (flat_fits(q)) {
        forward_flat(y, x, w, b, q, scratch, per_thread);
        return;
    }
    #pragma omp parallel for schedule(static) collapse(2)
    for (int ch = 0; ch < q->c; ch++)
        for (int n = 0; n < q->n; n++) {
            float *buf = scratch + (long)omp_get_thread_num() * per_thread;
            const long at = (long)n * q->c + ch;
            fill_plane(buf, s, x + at * in_plane, q);
            const float *wk = w + (long)ch * taps;
            const float bias = b ? b[ch] : 0.0f;
            float *yp = y + at * out_plane;
            const float *rows[taps];
            for (int oy = 0; oy < q->oh; oy++) {
                for (int ki = 0; ki < q->kh; ki++)
                    for (int kj = 0; kj < q->kw; kj++) rows[ki * q->kw + kj] = tap_row(buf, s, q, oy, ki, kj);
                /* Sixteen outputs at a time, the taps summed in a register in
                 * tap order; the rows' slack makes the last block whole. */
                for (int o0 = 0; o0 < q->ow; o0 += LANES) {
                    lanes16 acc = {0};
                    for (int t = 0; t < taps; t++) acc += wk[t] * load16(rows[t] + o0);
                    float out[LANES];
                    for (int j = 0; j < LANES; j++)
                        out[j] = q->a.relu ? (acc[j] + bias > 0.0f ? acc[j] + bias : 0.0f) : acc[j] + bias;
                    const int len = q->ow - o0 < LANES ? q->ow - o0 : LANES;
                    memcpy(yp + (long)oy * q->ow + o0, out, sizeof(float) * (size_t)len);
                }
            }
        }
}

void nn_conv2d_depthwise_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, const float *y, const nn_depthwise_geom *q,
                                  float *scratch)
{
    const long in_plane = (long)q->h * q->w, out_plane = (long)q->oh * q->ow;
    const phase_plane s = plane_shape(q);
    const int taps = q->kh * q->kw, owp = (q->ow + LANES - 1) / LANES * LANES;
    const long per_thread = nn_conv2d_depthwise_scratch(q);
    /* One channel per iteration: its weight and bias gradients are summed
     * over the samples in order, by the one thread that owns it, in
     * LANES partial sums per tap (the same lanes on any thread count). */
    if (flat_fits(q)) {
        backward_flat(dx, dw, db, dy, x, w, y, q, scratch, per_thread);
        return;
    }
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < q->c; ch++) {
        float *xbuf = scratch + (long)omp_get_thread_num() * per_thread;
        float *dxbuf = xbuf + plane_floats(s);
        float *restrict g = dxbuf + plane_floats(s);
        lanes16 lanes[taps], blanes = {0};   /* on the stack: vector-aligned */
        const float *wk = w + (long)ch * taps;
        memset(lanes, 0, sizeof lanes);
        for (int ox = q->ow; ox < owp; ox++) g[ox] = 0.0f;
        for (int n = 0; n < q->n; n++) {
            const long at = (long)n * q->c + ch;
            const float *dyp = dy + at * out_plane, *yp = y + at * out_plane;
            if (dw) fill_plane(xbuf, s, x + at * in_plane, q);
            if (dx) memset(dxbuf, 0, sizeof(float) * (size_t)plane_floats(s));
            for (int oy = 0; oy < q->oh; oy++) {
                /* This output row's gradient, through a fused ReLU's mask. */
                const float *dyr = dyp + (long)oy * q->ow, *yr = yp + (long)oy * q->ow;
                if (q->a.relu)
                    for (int ox = 0; ox < q->ow; ox++) g[ox] = yr[ox] > 0.0f ? dyr[ox] : 0.0f;
                else
                    memcpy(g, dyr, sizeof(float) * (size_t)q->ow);
                for (int o0 = 0; o0 < owp; o0 += LANES) blanes += load16(g + o0);
                for (int ki = 0; ki < q->kh; ki++)
                    for (int kj = 0; kj < q->kw; kj++) {
                        const int t = ki * q->kw + kj;
                        if (dw) {
                            const float *v = tap_row(xbuf, s, q, oy, ki, kj);
                            lanes16 l = lanes[t];
                            for (int o0 = 0; o0 < owp; o0 += LANES) l += load16(g + o0) * load16(v + o0);
                            lanes[t] = l;
                        }
                        if (dx) {
                            float *restrict d = (float *)tap_row(dxbuf, s, q, oy, ki, kj);
                            const float wv = wk[t];
                            for (int ox = 0; ox < q->ow; ox++) d[ox] += wv * g[ox];
                        }
                    }
            }
            if (dx) add_plane(dx + at * in_plane, dxbuf, s, q);
        }
        if (dw)
            for (int t = 0; t < taps; t++) {
                float sum = 0.0f;
                for (int j = 0; j < LANES; j++) sum += lanes[t][j];
                dw[(long)ch * taps + t] += sum;
            }
        if (db) {
            float sum = 0.0f;
            for (int j = 0; j < LANES; j++) sum += blanes[j];
            db[ch] += sum;
        }
    }
}
