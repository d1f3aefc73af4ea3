/* The transforms. The float arithmetic of resampling is written out as
 * PyTorch 1.13's CPU kernels do it (upsample_bilinear2d and its antialiased
 * variant), so that results agree with torchvision's tensor path value for
 * value (tests/test_transforms.c checks it against torchvision 0.14). */
#include "data/transform.h"

#include <math.h>
#include <string.h>

const char *const nn_transform_names[NN_TRANSFORM_COUNT] = {
    [NN_TRANSFORM_RESIZE] = "resize",
    [NN_TRANSFORM_CENTER_CROP] = "center_crop",
    [NN_TRANSFORM_RANDOM_RESIZED_CROP] = "random_resized_crop",
    [NN_TRANSFORM_RANDOM_CROP] = "random_crop",
    [NN_TRANSFORM_PAD] = "pad",
    [NN_TRANSFORM_HORIZONTAL_FLIP] = "random_horizontal_flip",
};

void nn_transforms_init(nn_transforms *t, int channels, const float *mean, const float *std)
{
    NN_ASSERT(channels == 1 || channels == 3);
    memset(t, 0, sizeof *t);
    t->channels = channels;
    for (int c = 0; c < channels; c++) {
        t->mean[c] = mean[c];
        t->std[c] = std[c];
        for (int v = 0; v < 256; v++) t->lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c];
    }
}

void nn_transforms_add(nn_transforms *t, nn_transform op)
{
    NN_ASSERT(t->n < NN_TRANSFORMS_MAX);
    t->op[t->n++] = op;
}

void nn_transforms_prepend(nn_transforms *t, nn_transform op)
{
    NN_ASSERT(t->n < NN_TRANSFORMS_MAX);
    memmove(t->op + 1, t->op, sizeof t->op[0] * (size_t)t->n);
    t->op[0] = op;
    t->n++;
}

/* Resize's output size for an h x w input (torchvision's
 * _compute_resized_output_size without max_size). */
static void resized_size(const nn_transform *op, int h, int w, int *oh, int *ow)
{
    if (op->width) {
        *oh = op->height;
        *ow = op->width;
        return;
    }
    const int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    /* Python's int(size * long / short): a correctly rounded quotient of
     * exact integers, then truncated. */
    const int new_long = (int)((double)((int64_t)op->height * longer) / shorter);
    *oh = w <= h ? new_long : op->height;
    *ow = w <= h ? op->height : new_long;
}

void nn_transforms_shape(const nn_transforms *t, int height, int width, int *out_h, int *out_w)
{
    int h = height, w = width;
    for (int i = 0; i < t->n; i++) {
        const nn_transform *op = &t->op[i];
        switch (op->kind) {
        case NN_TRANSFORM_RESIZE:
            if (op->width || (h && w)) resized_size(op, h, w, &h, &w);
            break;
        case NN_TRANSFORM_CENTER_CROP:
        case NN_TRANSFORM_RANDOM_RESIZED_CROP:
        case NN_TRANSFORM_RANDOM_CROP:
            h = op->height;
            w = op->width;
            break;
        case NN_TRANSFORM_PAD:
            if (h && w) h += 2 * op->padding, w += 2 * op->padding;
            break;
        case NN_TRANSFORM_HORIZONTAL_FLIP:
        case NN_TRANSFORM_COUNT:
            break;
        }
    }
    *out_h = h && w ? h : 0;
    *out_w = h && w ? w : 0;
}

void nn_transform_scratch_init(nn_transform_scratch *s) { memset(s, 0, sizeof *s); }

void nn_transform_scratch_deinit(nn_transform_scratch *s)
{
    for (int i = 0; i < 2; i++) nn_growbuf_free(&s->plane[i]);
    nn_growbuf_free(&s->tmp);
    nn_growbuf_free(&s->coef);
}

/* ---- resampling ---- */

/* Taps per output pixel along an axis: PyTorch's interp_size. */
static int axis_taps(int in, int out, int antialias)
{
    if (!antialias) return 2;
    const float scale = (float)in / (float)out;
    return (int)ceilf(scale >= 1.0f ? scale : 1.0f) * 2 + 1;
}

/* Per output pixel: `count` input indices and weights (taps slots each). */
typedef struct axis {
    int taps;
    int *count;
    int *index;
    float *weight;
} axis;

static size_t axis_bytes(int in, int out, int antialias)
{
    const size_t taps = (size_t)axis_taps(in, out, antialias);
    return (size_t)out * (sizeof(int) + taps * (sizeof(int) + sizeof(float)));
}

static void *axis_carve(axis *a, void *mem, int in, int out, int antialias)
{
    a->taps = axis_taps(in, out, antialias);
    a->count = mem;
    a->index = a->count + out;
    a->weight = (float *)(a->index + (size_t)out * a->taps);
    return a->weight + (size_t)out * a->taps;
}

/* upsample_bilinear2d (align_corners=False): two taps around the source
 * position scale * (i + 0.5) - 0.5, clamped at 0, the second tap repeating
 * the first at the last pixel. PyTorch computes the position in double (its
 * accumulation type) from a float scale, rounds lambda1 to float and takes
 * lambda0 = 1 - lambda1 in float. */
static void axis_linear(axis *a, int in, int out)
{
    const float scale = (float)in / (float)out;
    for (int i = 0; i < out; i++) {
        int *idx = a->index + (size_t)i * a->taps;
        float *w = a->weight + (size_t)i * a->taps;
        a->count[i] = 2;
        if (in == out) {
            idx[0] = idx[1] = i;
            w[0] = 1.0f;
            w[1] = 0.0f;
            continue;
        }
        double real = (double)scale * (i + 0.5) - 0.5;
        if (real < 0.0) real = 0.0;
        const int x0 = (int)real;
        const double l = real - x0;
        const float l1 = (float)(l < 0.0 ? 0.0 : l > 1.0 ? 1.0 : l);
        idx[0] = x0;
        idx[1] = x0 + (x0 < in - 1 ? 1 : 0);
        w[0] = 1.0f - l1;
        w[1] = l1;
    }
}

/* PyTorch's antialiased weights (PIL's method): a triangle filter of
 * support max(scale, 1) centred on scale * (i + 0.5), normalized. The mixed
 * float/double expressions are PyTorch's own. */
static float triangle(float x)
{
    if (x < 0.0f) x = -x;
    return x < 1.0f ? (float)(1.0 - (double)x) : 0.0f;
}

static void axis_antialias(axis *a, int in, int out)
{
    const float scale = (float)in / (float)out;
    const float support = scale >= 1.0f ? scale : 1.0f;
    const float invscale = scale >= 1.0f ? (float)(1.0 / (double)scale) : 1.0f;
    for (int i = 0; i < out; i++) {
        const float center = (float)((double)scale * (i + 0.5));
        int64_t lo = (int64_t)((double)(center - support) + 0.5);
        int64_t hi = (int64_t)((double)(center + support) + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        const int n = (int)(hi - lo);
        int *idx = a->index + (size_t)i * a->taps;
        float *w = a->weight + (size_t)i * a->taps;
        float total = 0.0f;
        for (int j = 0; j < n; j++) {
            idx[j] = (int)lo + j;
            w[j] = triangle((float)(((double)((float)(j + lo) - center) + 0.5) * (double)invscale));
            total += w[j];
        }
        if (total != 0.0f)
            for (int j = 0; j < n; j++) w[j] /= total;
        a->count[i] = n;
    }
}

/* The antialiased kernel's sum over n consecutive taps (stride apart):
 * v0 w0, then the next taps in blocks of four with each product rounded
 * before it is added, then the last (n - 1) % 4 as fused multiply-adds.
 * That is the arithmetic of PyTorch 1.13's loop as its build compiles it
 * (unrolled by four, the remainder contracted); written out, it is the same
 * on every machine. */
static float aa_sum_bytes(const uint8_t *v, const float *w, int n)
{
    float acc = (float)v[0] * w[0];
    const int blocks = 1 + (n - 1) / 4 * 4;
    int j = 1;
    for (; j < blocks; j++) {
        const float p = (float)v[j] * w[j];
        acc = acc + p;
    }
    for (; j < n; j++) acc = fmaf((float)v[j], w[j], acc);
    return acc;
}

static float aa_sum_floats(const float *v, size_t stride, const float *w, int n)
{
    float acc = v[0] * w[0];
    const int blocks = 1 + (n - 1) / 4 * 4;
    int j = 1;
    for (; j < blocks; j++) {
        const float p = v[j * stride] * w[j];
        acc = acc + p;
    }
    for (; j < n; j++) acc = fmaf(v[j * stride], w[j], acc);
    return acc;
}

static uint8_t to_byte(float v)
{
    /* torch.round: halves to even, which nearbyintf does in the default
     * rounding mode. */
    v = nearbyintf(v);
    return (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
}

typedef struct view {
    const uint8_t *px;       /* CHW */
    int c, h, w;
} view;

/* Resamples the rh x rw region at (top, left) of `in` to oh x ow into dst:
 * the width first into float rows, then the height, as PyTorch's separable
 * antialiased kernel does (aa_sum). The 2-tap kernel computes
 * h0 (w0 a + w1 b) + h1 (w0 c + w1 d) in the same order; PyTorch's build
 * contracts each "x w0 + y w1" into a fused multiply-add, fma(x, w0, y w1),
 * which fmaf reproduces exactly on any machine. */
static nn_status resample(nn_transform_scratch *s, const view *in, int top, int left, int rh, int rw,
                          int oh, int ow, int antialias, uint8_t *dst)
{
    NN_TRY(nn_growbuf_reserve(&s->coef, axis_bytes(rw, ow, antialias) + axis_bytes(rh, oh, antialias)));
    NN_TRY(nn_growbuf_reserve(&s->tmp, sizeof(float) * (size_t)in->c * rh * ow));
    axis ax, ay;
    void *mem = axis_carve(&ax, s->coef.data, rw, ow, antialias);
    axis_carve(&ay, mem, rh, oh, antialias);
    if (antialias) {
        axis_antialias(&ax, rw, ow);
        axis_antialias(&ay, rh, oh);
    } else {
        axis_linear(&ax, rw, ow);
        axis_linear(&ay, rh, oh);
    }
    float *tmp = s->tmp.data;
    const size_t plane = (size_t)in->h * in->w;
    for (int c = 0; c < in->c; c++) {
        for (int y = 0; y < rh; y++) {
            const uint8_t *row = in->px + c * plane + (size_t)(top + y) * in->w + left;
            float *t = tmp + ((size_t)c * rh + y) * ow;
            for (int x = 0; x < ow; x++) {
                const int *idx = ax.index + (size_t)x * ax.taps;
                const float *w = ax.weight + (size_t)x * ax.taps;
                if (!antialias) {
                    t[x] = fmaf((float)row[idx[0]], w[0], (float)row[idx[1]] * w[1]);
                    continue;
                }
                t[x] = aa_sum_bytes(row + idx[0], w, ax.count[x]);
            }
        }
        for (int y = 0; y < oh; y++) {
            const int *idx = ay.index + (size_t)y * ay.taps;
            const float *w = ay.weight + (size_t)y * ay.taps;
            const float *t = tmp + (size_t)c * rh * ow;
            uint8_t *out = dst + ((size_t)c * oh + y) * ow;
            for (int x = 0; x < ow; x++) {
                if (!antialias) {
                    out[x] = to_byte(fmaf(t[(size_t)idx[0] * ow + x], w[0], t[(size_t)idx[1] * ow + x] * w[1]));
                    continue;
                }
                out[x] = to_byte(aa_sum_floats(t + (size_t)idx[0] * ow + x, (size_t)ow, w, ay.count[y]));
            }
        }
    }
    return NN_OK;
}

/* ---- the other geometry ---- */

/* dst (c x oh x ow) = in shifted by (top, left), zeros outside it. */
static void window(const view *in, int top, int left, int oh, int ow, uint8_t *dst)
{
    for (int c = 0; c < in->c; c++) {
        const uint8_t *src = in->px + (size_t)c * in->h * in->w;
        for (int y = 0; y < oh; y++) {
            uint8_t *out = dst + ((size_t)c * oh + y) * ow;
            const int sy = top + y;
            if (sy < 0 || sy >= in->h) {
                memset(out, 0, (size_t)ow);
                continue;
            }
            const int x0 = left < 0 ? -left : 0;
            int x1 = in->w - left;
            if (x1 > ow) x1 = ow;
            if (x1 < x0) x1 = x0;
            memset(out, 0, (size_t)x0);
            memcpy(out + x0, src + (size_t)sy * in->w + left + x0, (size_t)(x1 - x0));
            memset(out + x1, 0, (size_t)(ow - x1));
        }
    }
}

static void flip(const view *in, uint8_t *dst)
{
    for (int r = 0; r < in->c * in->h; r++) {
        const uint8_t *src = in->px + (size_t)r * in->w;
        uint8_t *out = dst + (size_t)r * in->w;
        for (int x = 0; x < in->w; x++) out[x] = src[in->w - 1 - x];
    }
}

/* Uniform double in [a, b) from 53 random bits. */
static double uniform(nn_rng *r, double a, double b)
{
    const uint64_t hi = nn_rng_u32(r) >> 5, lo = nn_rng_u32(r) >> 6;
    const double u = (double)(hi << 26 | lo) * (1.0 / 9007199254740992.0);
    return a + (b - a) * u;
}

/* RandomResizedCrop.get_params: the crop (top, left, ch, cw) of an h x w image. */
static void rrc_params(const nn_transform *op, int h, int w, nn_rng *rng, int *top, int *left,
                       int *ch, int *cw)
{
    const double area = (double)h * w;
    const double lr0 = log(op->ratio[0]), lr1 = log(op->ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        const double target = area * uniform(rng, op->scale[0], op->scale[1]);
        const double aspect = exp(uniform(rng, lr0, lr1));
        /* Python's round: halves to even, as nearbyint. */
        const int tw = (int)nearbyint(sqrt(target * aspect));
        const int th = (int)nearbyint(sqrt(target / aspect));
        if (0 < tw && tw <= w && 0 < th && th <= h) {
            *top = (int)nn_rng_below(rng, (uint32_t)(h - th + 1));
            *left = (int)nn_rng_below(rng, (uint32_t)(w - tw + 1));
            *ch = th;
            *cw = tw;
            return;
        }
    }
    const double in_ratio = (double)w / h;
    const double rmin = fmin(op->ratio[0], op->ratio[1]), rmax = fmax(op->ratio[0], op->ratio[1]);
    if (in_ratio < rmin) {
        *cw = w;
        *ch = (int)nearbyint(w / rmin);
    } else if (in_ratio > rmax) {
        *ch = h;
        *cw = (int)nearbyint(h * rmax);
    } else {
        *cw = w;
        *ch = h;
    }
    *top = (h - *ch) / 2;
    *left = (w - *cw) / 2;
}

/* CenterCrop's offset along one axis (negative: padded). */
static int center_offset(int in, int out)
{
    if (out > in) return -((out - in) / 2);
    return (int)nearbyint((in - out) / 2.0);
}

/* ---- the pipeline ---- */

static uint8_t luma(int r, int g, int b) { return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16); }

void nn_rgb_to_grey(const uint8_t *rgb, int64_t n, uint8_t *grey)
{
    for (int64_t i = 0; i < n; i++) grey[i] = luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
}

/* Channels the geometric transforms work on: grey when the output is grey
 * (RGB is made grey first) or the input is grey (repeated last). */
static int work_channels(const nn_transforms *t, int in_channels)
{
    return t->channels == 1 ? 1 : in_channels;
}

/* The bytes each step needs, for an input of c x h x w (region sizes are
 * bounded by the whole input). Grows `need` to cover them. */
typedef struct needs {
    size_t plane, tmp, coef;
} needs;

static void need_max(size_t *a, size_t b)
{
    if (b > *a) *a = b;
}

static void need_resample(needs *n, int c, int h, int w, int oh, int ow, int antialias)
{
    need_max(&n->plane, (size_t)c * oh * ow);
    need_max(&n->tmp, sizeof(float) * (size_t)c * h * ow);
    need_max(&n->coef, axis_bytes(w, ow, antialias) + axis_bytes(h, oh, antialias));
}

nn_status nn_transforms_reserve(const nn_transforms *t, nn_transform_scratch *s, int channels,
                                int height, int width)
{
    needs n = {0, 0, 0};
    const int c = work_channels(t, channels);
    int h = height, w = width;
    need_max(&n.plane, (size_t)c * h * w);
    for (int i = 0; i < t->n; i++) {
        const nn_transform *op = &t->op[i];
        int oh = h, ow = w;
        switch (op->kind) {
        case NN_TRANSFORM_RESIZE:
            resized_size(op, h, w, &oh, &ow);
            need_resample(&n, c, h, w, oh, ow, op->antialias);
            break;
        case NN_TRANSFORM_RANDOM_RESIZED_CROP:
            oh = op->height, ow = op->width;
            need_resample(&n, c, h, w, oh, ow, op->antialias);
            break;
        case NN_TRANSFORM_CENTER_CROP:
        case NN_TRANSFORM_RANDOM_CROP:
            oh = op->height, ow = op->width;
            break;
        case NN_TRANSFORM_PAD:
            oh = h + 2 * op->padding, ow = w + 2 * op->padding;
            break;
        case NN_TRANSFORM_HORIZONTAL_FLIP:
        case NN_TRANSFORM_COUNT:
            break;
        }
        need_max(&n.plane, (size_t)c * oh * ow);
        h = oh, w = ow;
    }
    for (int i = 0; i < 2; i++) NN_TRY(nn_growbuf_reserve(&s->plane[i], n.plane));
    NN_TRY(nn_growbuf_reserve(&s->tmp, n.tmp));
    return nn_growbuf_reserve(&s->coef, n.coef);
}

/* The plane buffer that `cur` is not in, grown to `bytes`. */
static nn_status other_plane(nn_transform_scratch *s, const view *cur, size_t bytes, uint8_t **out)
{
    const int k = cur->px == s->plane[0].data ? 1 : 0;
    NN_TRY(nn_growbuf_reserve(&s->plane[k], bytes ? bytes : 1));
    *out = s->plane[k].data;
    return NN_OK;
}

/* Brings the input to planar bytes with the working channels. */
static nn_status load_input(const nn_transforms *t, nn_transform_scratch *s,
                            const nn_transform_input *in, view *cur)
{
    const int c = work_channels(t, in->channels);
    const size_t hw = (size_t)in->height * in->width;
    *cur = (view){in->pixels, c, in->height, in->width};
    if (!in->interleaved && c == in->channels) return NN_OK;
    NN_TRY(nn_growbuf_reserve(&s->plane[0], c * hw > 0 ? c * hw : 1));
    uint8_t *dst = s->plane[0].data;
    const uint8_t *p = in->pixels;
    /* Strides of one pixel's channels and of consecutive pixels. */
    const size_t cs = in->interleaved ? 1 : hw, ps = in->interleaved ? (size_t)in->channels : 1;
    if (c == 1 && in->channels == 3) {
        for (size_t i = 0; i < hw; i++) {
            const uint8_t *q = p + i * ps;
            dst[i] = luma(q[0], q[cs], q[2 * cs]);
        }
    } else {
        for (int k = 0; k < c; k++)
            for (size_t i = 0; i < hw; i++) dst[k * hw + i] = p[i * ps + k * cs];
    }
    cur->px = dst;
    return NN_OK;
}

nn_status nn_transforms_apply_bytes(const nn_transforms *t, nn_transform_scratch *s,
                                    const nn_transform_input *in, nn_rng *rng,
                                    const uint8_t **pixels, int *channels, int *height,
                                    int *width)
{
    view cur;
    NN_TRY(load_input(t, s, in, &cur));
    for (int i = 0; i < t->n; i++) {
        const nn_transform *op = &t->op[i];
        int top = 0, left = 0, rh = cur.h, rw = cur.w, oh = cur.h, ow = cur.w;
        uint8_t *dst = NULL;
        switch (op->kind) {
        case NN_TRANSFORM_RESIZE:
            resized_size(op, cur.h, cur.w, &oh, &ow);
            if (oh == cur.h && ow == cur.w) continue;
            NN_TRY(other_plane(s, &cur, (size_t)cur.c * oh * ow, &dst));
            NN_TRY(resample(s, &cur, 0, 0, cur.h, cur.w, oh, ow, op->antialias, dst));
            break;
        case NN_TRANSFORM_RANDOM_RESIZED_CROP:
            rrc_params(op, cur.h, cur.w, rng, &top, &left, &rh, &rw);
            oh = op->height, ow = op->width;
            NN_TRY(other_plane(s, &cur, (size_t)cur.c * oh * ow, &dst));
            NN_TRY(resample(s, &cur, top, left, rh, rw, oh, ow, op->antialias, dst));
            break;
        case NN_TRANSFORM_CENTER_CROP:
            oh = op->height, ow = op->width;
            NN_TRY(other_plane(s, &cur, (size_t)cur.c * oh * ow, &dst));
            window(&cur, center_offset(cur.h, oh), center_offset(cur.w, ow), oh, ow, dst);
            break;
        case NN_TRANSFORM_RANDOM_CROP: {
            const int p = op->padding, ph = cur.h + 2 * p, pw = cur.w + 2 * p;
            oh = op->height, ow = op->width;
            if (ph < oh || pw < ow)
                return nn_error(NN_ERR_INPUT,
                                "random_crop: a %dx%d crop does not fit the %dx%d image padded by %d "
                                "(%dx%d); add padding or resize first",
                                oh, ow, cur.h, cur.w, p, ph, pw);
            /* torchvision draws nothing when the crop is the whole image. */
            if (ph != oh || pw != ow) {
                top = (int)nn_rng_below(rng, (uint32_t)(ph - oh + 1));
                left = (int)nn_rng_below(rng, (uint32_t)(pw - ow + 1));
            }
            NN_TRY(other_plane(s, &cur, (size_t)cur.c * oh * ow, &dst));
            window(&cur, top - p, left - p, oh, ow, dst);
            break;
        }
        case NN_TRANSFORM_PAD:
            oh = cur.h + 2 * op->padding, ow = cur.w + 2 * op->padding;
            NN_TRY(other_plane(s, &cur, (size_t)cur.c * oh * ow, &dst));
            window(&cur, -op->padding, -op->padding, oh, ow, dst);
            break;
        case NN_TRANSFORM_HORIZONTAL_FLIP:
            if (!(uniform(rng, 0.0, 1.0) < op->p)) continue;
            NN_TRY(other_plane(s, &cur, (size_t)cur.c * oh * ow, &dst));
            flip(&cur, dst);
            break;
        case NN_TRANSFORM_COUNT:
            continue;
        }
        cur = (view){dst, cur.c, oh, ow};
    }
    *pixels = cur.px;
    *channels = cur.c;
    *height = cur.h;
    *width = cur.w;
    return NN_OK;
}

nn_status nn_transforms_apply(const nn_transforms *t, nn_transform_scratch *s,
                              const nn_transform_input *in, nn_rng *rng, float *out, int out_h,
                              int out_w)
{
    const uint8_t *px;
    int c, h, w;
    NN_TRY(nn_transforms_apply_bytes(t, s, in, rng, &px, &c, &h, &w));
    if (h != out_h || w != out_w)
        return nn_error(NN_ERR_INPUT,
                        "after the transforms the image is %dx%d, expected %dx%d (end the list "
                        "with a crop or an exact resize)",
                        h, w, out_h, out_w);
    const size_t hw = (size_t)h * w;
    for (int k = 0; k < t->channels; k++) {
        const uint8_t *src = px + (c == 1 ? 0 : (size_t)k * hw);
        const float *lut = t->lut[k];
        float *dst = out + (size_t)k * hw;
        for (size_t i = 0; i < hw; i++) dst[i] = lut[src[i]];
    }
    return NN_OK;
}
