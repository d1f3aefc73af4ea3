/* The transforms: resize, center crop and resized crop against torchvision
 * 0.14 (golden values from tests/golden/transforms_reference.py), the
 * geometry of the random ones, channels and normalization, the data.*
 * config keys and their errors, and the loader: batches that depend only
 * on (seed, epoch, batch), the same with or without background threads,
 * and no allocation once the buffers are sized. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "data/loader.h"
#include "data/options.h"
#include "data/transform.h"
#include "datasets/datasets.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "testutil.h"

/* Counting malloc, as in tests/test_train.c (off under ASan and TSan,
 * which interpose malloc themselves). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNT_MALLOC 0
#else
#define COUNT_MALLOC 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile long malloc_calls;
void *malloc(size_t n)
{
    __atomic_fetch_add(&malloc_calls, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    __atomic_fetch_add(&malloc_calls, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    __atomic_fetch_add(&malloc_calls, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}
#endif

#define GOLDEN "tests/golden/transforms.safetensors"
enum { GC = 3, GH = 13, GW = 17 };

static const float unit[3] = {0.0f, 0.0f, 0.0f}, ones[3] = {1.0f, 1.0f, 1.0f};

/* The golden input image as CHW bytes. */
static void golden_image(const struct nn_safetensors *g, uint8_t *px)
{
    long n;
    float *v = tu_golden(g, "image", &n);
    ck_assert_int_eq(n, GC * GH * GW);
    for (long i = 0; i < n; i++) px[i] = (uint8_t)v[i];
    free(v);
}

/* Runs `t` on the golden image and compares with golden tensor `name`:
 * returns the largest difference, and the count of differing values. */
static int run_case(const struct nn_safetensors *g, const nn_transforms *t, const char *name, nn_rng *rng,
                    int *max_diff, const char *pil_name, int *pil_diff)
{
    uint8_t px[GC * GH * GW];
    golden_image(g, px);
    nn_transform_scratch s;
    nn_transform_scratch_init(&s);
    nn_transform_input in = {px, GC, GH, GW, 0};
    const uint8_t *out;
    int c, h, w;
    ck_assert_int_eq(nn_transforms_apply_bytes(t, &s, &in, rng, &out, &c, &h, &w), NN_OK);
    int ndim, shape[8];
    ck_assert_int_eq(nn_safetensors_shape(g, name, &ndim, shape), 0);
    ck_assert_msg(ndim == 3 && shape[0] == c && shape[1] == h && shape[2] == w, "%s: %dx%dx%d here, %dx%dx%d in torchvision",
                  name, c, h, w, shape[0], shape[1], shape[2]);
    long n;
    float *want = tu_golden(g, name, &n);
    int differ = 0;
    *max_diff = 0;
    for (long i = 0; i < n; i++) {
        int d = abs((int)out[i] - (int)want[i]);
        if (d && !differ) printf("%s: first difference at %ld: %d here, %d in torchvision\n", name, i, out[i], (int)want[i]);
        differ += d != 0;
        if (d > *max_diff) *max_diff = d;
    }
    free(want);
    if (pil_name) {
        float *pil = tu_golden(g, pil_name, &n);
        *pil_diff = 0;
        for (long i = 0; i < n; i++) *pil_diff = fmax(*pil_diff, fabsf((float)out[i] - pil[i]));
        free(pil);
    }
    nn_transform_scratch_deinit(&s);
    return differ;
}

static nn_transforms one(nn_transform op, int channels)
{
    nn_transforms t;
    nn_transforms_init(&t, channels, unit, ones);
    nn_transforms_add(&t, op);
    return t;
}

START_TEST(resize_matches_torchvision)
{
    struct nn_safetensors *g = tu_golden_open(GOLDEN);
    static const struct { const char *tag; int h, w; } sizes[] = {
        {"7", 7, 0}, {"5", 5, 0}, {"29", 29, 0}, {"9x23", 9, 23}, {"13x8", 13, 8}, {"20x17", 20, 17}};
    int worst = 0, worst_pil = 0, cases = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int aa = 0; aa < 2; aa++) {
            char name[64], pil[80];
            snprintf(name, sizeof name, "resize_%s_aa%d", sizes[i].tag, aa);
            snprintf(pil, sizeof pil, "%s.pil", name);
            nn_transforms t = one((nn_transform){.kind = NN_TRANSFORM_RESIZE, .height = sizes[i].h, .width = sizes[i].w, .antialias = aa}, 3);
            int diff, pil_diff = 0;
            int differ = run_case(g, &t, name, NULL, &diff, aa ? pil : NULL, &pil_diff);
            ck_assert_msg(differ == 0, "%s: %d values differ from torchvision (max %d)", name, differ, diff);
            worst = diff > worst ? diff : worst;
            worst_pil = pil_diff > worst_pil ? pil_diff : worst_pil;
            cases++;
        }
    printf("resize: %d cases equal to torchvision's tensor path (max difference %d); PIL's bilinear differs by up to %d\n",
           cases, worst, worst_pil);
    nn_safetensors_close(g);
}
END_TEST

START_TEST(center_crop_matches_torchvision)
{
    struct nn_safetensors *g = tu_golden_open(GOLDEN);
    static const struct { const char *tag; int h, w; } sizes[] = {
        {"8", 8, 8}, {"5x10", 5, 10}, {"12x16", 12, 16}, {"20x9", 20, 9}, {"16x21", 16, 21}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "center_crop_%s", sizes[i].tag);
        nn_transforms t = one((nn_transform){.kind = NN_TRANSFORM_CENTER_CROP, .height = sizes[i].h, .width = sizes[i].w}, 3);
        int diff;
        ck_assert_int_eq(run_case(g, &t, name, NULL, &diff, NULL, NULL), 0);
    }
    nn_safetensors_close(g);
}
END_TEST

/* A seed whose random_resized_crop draws (with scale and ratio fixed) put
 * the box at (top, left): the draws are 2 uniforms (4 words), then top and
 * left. */
static uint64_t seed_for_box(int h, int w, int ch, int cw, int top, int left)
{
    for (uint64_t seed = 0; seed < 100000; seed++) {
        nn_rng r;
        nn_rng_seed(&r, seed, 0);
        for (int i = 0; i < 4; i++) nn_rng_u32(&r);
        if ((int)nn_rng_below(&r, (uint32_t)(h - ch + 1)) == top && (int)nn_rng_below(&r, (uint32_t)(w - cw + 1)) == left)
            return seed;
    }
    ck_abort_msg("no seed gives the box");
    return 0;
}

START_TEST(resized_crop_matches_torchvision)
{
    struct nn_safetensors *g = tu_golden_open(GOLDEN);
    static const struct { int top, left, ch, cw, oh, ow, aa; const char *name; } cases[] = {
        {2, 3, 9, 11, 6, 6, 1, "resized_crop_2_3_9_11_6_aa1"},
        {2, 3, 9, 11, 6, 6, 0, "resized_crop_2_3_9_11_6_aa0"},
        {0, 5, 13, 7, 10, 12, 1, "resized_crop_0_5_13_7_10x12_aa1"},
        {4, 1, 5, 6, 14, 14, 1, "resized_crop_4_1_5_6_14_aa1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* scale and ratio pinned so that the box is ch x cw. */
        const double s = (double)cases[i].ch * cases[i].cw / (GH * GW), r = (double)cases[i].cw / cases[i].ch;
        nn_transforms t = one((nn_transform){.kind = NN_TRANSFORM_RANDOM_RESIZED_CROP, .height = cases[i].oh,
                                             .width = cases[i].ow, .antialias = cases[i].aa,
                                             .scale = {s, s}, .ratio = {r, r}}, 3);
        nn_rng rng;
        nn_rng_seed(&rng, seed_for_box(GH, GW, cases[i].ch, cases[i].cw, cases[i].top, cases[i].left), 0);
        int diff;
        ck_assert_int_eq(run_case(g, &t, cases[i].name, &rng, &diff, NULL, NULL), 0);
    }
    nn_safetensors_close(g);
}
END_TEST

START_TEST(grey_matches_pil)
{
    struct nn_safetensors *g = tu_golden_open(GOLDEN);
    uint8_t px[GC * GH * GW], rgb[GH * GW * 3], grey[GH * GW];
    golden_image(g, px);
    for (int i = 0; i < GH * GW; i++)
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = px[c * GH * GW + i];
    nn_rgb_to_grey(rgb, GH * GW, grey);
    long n;
    float *want = tu_golden(g, "grey", &n);
    for (int i = 0; i < GH * GW; i++) ck_assert_int_eq(grey[i], (int)want[i]);
    /* The pipeline's own RGB -> grey, from planar and from interleaved input. */
    nn_transforms t;
    nn_transforms_init(&t, 1, unit, ones);
    nn_transform_scratch s;
    nn_transform_scratch_init(&s);
    const uint8_t *out;
    int c, h, w;
    nn_transform_input in = {px, 3, GH, GW, 0};
    ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &in, NULL, &out, &c, &h, &w), NN_OK);
    ck_assert_int_eq(c, 1);
    ck_assert_int_eq(memcmp(out, grey, sizeof grey), 0);
    in = (nn_transform_input){rgb, 3, GH, GW, 1};
    ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &in, NULL, &out, &c, &h, &w), NN_OK);
    ck_assert_int_eq(memcmp(out, grey, sizeof grey), 0);
    free(want);
    nn_transform_scratch_deinit(&s);
    nn_safetensors_close(g);
}
END_TEST

/* A w x h single-channel test image: pixel (y, x) = y * w + x + 1. */
static void ramp(uint8_t *px, int h, int w)
{
    for (int i = 0; i < h * w; i++) px[i] = (uint8_t)(i + 1);
}

START_TEST(random_crop_with_padding)
{
    enum { H = 10, W = 12, P = 4 };
    uint8_t px[H * W];
    ramp(px, H, W);
    nn_transforms t = one((nn_transform){.kind = NN_TRANSFORM_RANDOM_CROP, .height = H, .width = W, .padding = P}, 1);
    nn_transform_scratch s;
    nn_transform_scratch_init(&s);
    int seen[2 * P + 1][2 * P + 1] = {{0}};
    for (uint64_t seed = 0; seed < 2000; seed++) {
        nn_rng r;
        nn_rng_seed(&r, seed, 7);
        nn_transform_input in = {px, 1, H, W, 0};
        const uint8_t *out;
        int c, h, w;
        ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &in, &r, &out, &c, &h, &w), NN_OK);
        ck_assert(h == H && w == W);
        /* The crop is the image shifted by (dy, dx) in [-P, P], zeros outside. */
        int dy = -100, dx = -100;
        for (int y = 0; y < H && dy == -100; y++)
            for (int x = 0; x < W; x++)
                if (out[y * W + x]) {
                    int v = out[y * W + x] - 1;
                    dy = v / W - y;
                    dx = v % W - x;
                    break;
                }
        ck_assert(dy >= -P && dy <= P && dx >= -P && dx <= P);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y + dy, sx = x + dx;
                int want = sy >= 0 && sy < H && sx >= 0 && sx < W ? px[sy * W + sx] : 0;
                ck_assert_int_eq(out[y * W + x], want);
            }
        seen[dy + P][dx + P]++;
    }
    /* Uniform over the (2P+1)^2 offsets: every one appears. */
    for (int i = 0; i <= 2 * P; i++)
        for (int j = 0; j <= 2 * P; j++) ck_assert_int_gt(seen[i][j], 5);
    /* A crop that cannot fit is an error saying so. */
    t = one((nn_transform){.kind = NN_TRANSFORM_RANDOM_CROP, .height = 20, .width = 20, .padding = 2}, 1);
    nn_rng r;
    nn_rng_seed(&r, 1, 1);
    nn_transform_input in = {px, 1, H, W, 0};
    const uint8_t *out;
    int c, h, w;
    ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &in, &r, &out, &c, &h, &w), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "random_crop: a 20x20 crop does not fit the 10x12 image padded by 2 (14x16); "
                                         "add padding or resize first");
    nn_transform_scratch_deinit(&s);
}
END_TEST

START_TEST(flip_pad_and_fallback)
{
    enum { H = 4, W = 5 };
    uint8_t px[H * W];
    ramp(px, H, W);
    nn_transform_scratch s;
    nn_transform_scratch_init(&s);
    nn_transform_input in = {px, 1, H, W, 0};
    const uint8_t *out;
    int c, h, w, flips = 0;
    for (int p = 0; p <= 2; p++) {
        nn_transforms t = one((nn_transform){.kind = NN_TRANSFORM_HORIZONTAL_FLIP, .p = p * 0.5}, 1);
        flips = 0;
        for (uint64_t seed = 0; seed < 1000; seed++) {
            nn_rng r;
            nn_rng_seed(&r, seed, 3);
            ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &in, &r, &out, &c, &h, &w), NN_OK);
            int flipped = out[0] == px[W - 1];
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) ck_assert_int_eq(out[y * W + x], px[y * W + (flipped ? W - 1 - x : x)]);
            flips += flipped;
        }
        if (p == 0) ck_assert_int_eq(flips, 0);
        if (p == 1) ck_assert(flips > 450 && flips < 550);
        if (p == 2) ck_assert_int_eq(flips, 1000);
    }
    /* Pad 2: zeros around, the image in the middle. */
    nn_transforms t = one((nn_transform){.kind = NN_TRANSFORM_PAD, .padding = 2}, 1);
    ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &in, NULL, &out, &c, &h, &w), NN_OK);
    ck_assert(h == H + 4 && w == W + 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int inside = y >= 2 && y < H + 2 && x >= 2 && x < W + 2;
            ck_assert_int_eq(out[y * w + x], inside ? px[(y - 2) * W + x - 2] : 0);
        }
    /* random_resized_crop whose 10 attempts cannot fit (ratio 2..3 of a
     * square at full scale) falls back to the central crop of ratio 2:
     * 10 wide, round(10 / 2) = 5 high, at row (10 - 5) // 2 = 2. */
    uint8_t sq[100];
    for (int i = 0; i < 100; i++) sq[i] = (uint8_t)i;
    nn_transform_input sq_in = {sq, 1, 10, 10, 0};
    t = one((nn_transform){.kind = NN_TRANSFORM_RANDOM_RESIZED_CROP, .height = 5, .width = 10, .antialias = 1,
                           .scale = {1.0, 1.0}, .ratio = {2.0, 3.0}}, 1);
    nn_rng r;
    nn_rng_seed(&r, 5, 5);
    ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &sq_in, &r, &out, &c, &h, &w), NN_OK);
    for (int i = 0; i < 50; i++) ck_assert_int_eq(out[i], sq[20 + i]); /* the box at its own size: a copy */
    /* Resizing to the same size changes nothing. */
    t = one((nn_transform){.kind = NN_TRANSFORM_RESIZE, .height = 10, .width = 10, .antialias = 1}, 1);
    ck_assert_int_eq(nn_transforms_apply_bytes(&t, &s, &sq_in, NULL, &out, &c, &h, &w), NN_OK);
    ck_assert_int_eq(memcmp(out, sq, 100), 0);
    nn_transform_scratch_deinit(&s);
}
END_TEST

START_TEST(channels_and_normalization)
{
    /* Grey repeated to 3 channels, each normalized with its own mean/std. */
    const float mean[3] = {0.5f, 0.25f, 0.0f}, std[3] = {0.5f, 0.25f, 2.0f};
    nn_transforms t;
    nn_transforms_init(&t, 3, mean, std);
    uint8_t px[4] = {0, 51, 204, 255};
    float out[12];
    nn_transform_scratch s;
    nn_transform_scratch_init(&s);
    nn_transform_input in = {px, 1, 2, 2, 0};
    ck_assert_int_eq(nn_transforms_apply(&t, &s, &in, NULL, out, 2, 2), NN_OK);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++)
            ck_assert_float_eq_tol(out[c * 4 + i], (px[i] / 255.0f - mean[c]) / std[c], 1e-6);
    ck_assert_float_eq(out[0], -1.0f);
    ck_assert_float_eq(out[3], 1.0f);
    /* A result of another size than the batch wants is an error. */
    ck_assert_int_eq(nn_transforms_apply(&t, &s, &in, NULL, out, 3, 3), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "after the transforms the image is 2x2, expected 3x3 (end the list with a "
                                         "crop or an exact resize)");
    nn_transform_scratch_deinit(&s);
    /* Shapes from the list alone: 0 where it still varies. */
    int h, w;
    nn_transforms_init(&t, 3, mean, std);
    nn_transforms_add(&t, (nn_transform){.kind = NN_TRANSFORM_RESIZE, .height = 256});
    nn_transforms_shape(&t, 0, 0, &h, &w);
    ck_assert(h == 0 && w == 0);
    nn_transforms_shape(&t, 375, 500, &h, &w);
    ck_assert(h == 256 && w == 341); /* int(256 * 500 / 375) */
    nn_transforms_add(&t, (nn_transform){.kind = NN_TRANSFORM_CENTER_CROP, .height = 224, .width = 224});
    nn_transforms_shape(&t, 0, 0, &h, &w);
    ck_assert(h == 224 && w == 224);
}
END_TEST

/* ---- the config ---- */

static nn_status options(const char *data, const nn_dataset_def *d, nn_data_options *o)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"data\": %s}", data);
    nn_config *cfg;
    ck_assert_int_eq(nn_config_parse(&cfg, text, "cfg.json"), NN_OK);
    nn_status st = nn_data_options_read(o, cfg, d);
    if (st == NN_OK) st = nn_config_check_unknown(cfg);
    nn_config_free(cfg);
    return st;
}

static void expect_error(const char *data, const nn_dataset_def *d, const char *message)
{
    nn_data_options o;
    ck_assert_int_eq(options(data, d, &o), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), message);
}

START_TEST(config_keys_and_input_shapes)
{
    nn_data_options o;
    ck_assert_int_eq(options("{}", &nn_dataset_fashion_mnist, &o), NN_OK);
    ck_assert(o.channels == 1 && o.height == 28 && o.width == 28 && o.train.n == 0 && o.workers == 1);
    ck_assert_float_eq(o.train.mean[0], 0.2860f);
    /* Fashion-MNIST for the CIFAR-stem models: 3x32x32 by padding or resizing. */
    ck_assert_int_eq(options("{\"pad\": 2, \"channels\": 3}", &nn_dataset_fashion_mnist, &o), NN_OK);
    ck_assert(o.channels == 3 && o.height == 32 && o.width == 32);
    ck_assert_float_eq(o.eval.std[2], 0.3530f);
    ck_assert_int_eq(options("{\"resize\": 32}", &nn_dataset_fashion_mnist, &o), NN_OK);
    ck_assert(o.channels == 1 && o.height == 32 && o.width == 32 && o.train.op[0].kind == NN_TRANSFORM_RESIZE);
    /* CIFAR-10: per-channel statistics; the usual recipe. */
    ck_assert_int_eq(options("{\"transforms\": {\"train\": [{\"name\": \"random_crop\", \"size\": 32, \"padding\": 4}, "
                             "{\"name\": \"random_horizontal_flip\"}]}}",
                             &nn_dataset_cifar10, &o), NN_OK);
    ck_assert(o.channels == 3 && o.height == 32 && o.train.n == 2 && o.eval.n == 0);
    ck_assert(o.train.op[0].padding == 4 && o.train.op[1].p == 0.5);
    ck_assert_float_eq(o.train.mean[1], 0.4822f);
    ck_assert_float_eq(o.train.std[2], 0.2616f);
    ck_assert_int_eq(options("{\"mean\": [0.1, 0.2, 0.3], \"std\": 0.5}", &nn_dataset_cifar10, &o), NN_OK);
    ck_assert(o.train.mean[2] == 0.3f && o.train.std[1] == 0.5f);
    /* Image folders: ImageNet's recipe at data.image_size, classes given. */
    ck_assert_int_eq(options("{\"num_classes\": 1000}", &nn_dataset_image_folder, &o), NN_OK);
    ck_assert(o.height == 224 && o.width == 224 && o.num_classes == 1000);
    ck_assert(o.train.op[0].kind == NN_TRANSFORM_RANDOM_RESIZED_CROP && o.eval.op[0].height == 256);
    ck_assert_int_eq(options("{\"image_size\": 64}", &nn_dataset_image_folder, &o), NN_OK);
    ck_assert(o.height == 64 && o.eval.op[0].height == 73 && o.eval.op[1].height == 64);
    ck_assert_int_eq(options("{\"resize\": 32, \"transforms\": {\"train\": [], \"eval\": []}}", &nn_dataset_image_folder, &o), NN_OK);
    ck_assert(o.height == 32 && o.width == 32 && o.train.n == 1);
}
END_TEST

START_TEST(config_errors)
{
    const nn_dataset_def *fm = &nn_dataset_fashion_mnist;
    expect_error("{\"channels\": 2}", fm, "cfg.json: data.channels: expected 1 or 3, found 2");
    expect_error("{\"mean\": [0.1, 0.2]}", &nn_dataset_cifar10,
                 "cfg.json: data.mean: expected an array of 3 numbers in [-1000, 1000], found [0.1,0.2]");
    expect_error("{\"std\": 0}", fm, "cfg.json: data.std: expected a number in [1e-06, 1000], found 0");
    expect_error("{\"transforms\": {\"train\": [{\"name\": \"rezise\", \"size\": 3}]}}", fm,
                 "cfg.json: data.transforms.train[0].name: expected one of resize, center_crop, random_resized_crop, "
                 "random_crop, pad, random_horizontal_flip, found \"rezise\"");
    expect_error("{\"transforms\": {\"train\": [{\"name\": \"center_crop\"}]}}", fm,
                 "cfg.json: data.transforms.train[0].size: missing; center_crop needs it");
    expect_error("{\"transforms\": {\"eval\": [{\"name\": \"random_crop\", \"size\": 28, \"pading\": 4}]}}", fm,
                 "cfg.json: data.transforms.eval[0]: unknown key `pading` for random_crop (it takes: size, padding)");
    expect_error("{\"transforms\": {\"train\": [{\"name\": \"resize\", \"size\": -3}]}}", fm,
                 "cfg.json: data.transforms.train[0].size: expected an integer in [1, 65535] or [height, width] of such, found -3");
    expect_error("{\"transforms\": {\"train\": [{\"name\": \"random_resized_crop\", \"size\": 8, \"scale\": [0.5, 0.1]}]}}", fm,
                 "cfg.json: data.transforms.train[0].scale: expected [low, high] with 0 < low <= high <= 1, found [0.5,0.1]");
    expect_error("{\"transforms\": {\"test\": []}}", fm,
                 "cfg.json: unknown key `data.transforms.test` (valid keys in data.transforms: train, eval)");
    expect_error("{\"transforms\": {\"train\": [{\"name\": \"center_crop\", \"size\": 24}]}}", fm,
                 "cfg.json: data.transforms: the train transforms give 24x24 images but the eval transforms 28x28; "
                 "the model needs one size");
    expect_error("{\"transforms\": {\"train\": [], \"eval\": [{\"name\": \"resize\", \"size\": 64}]}, \"num_classes\": 5}",
                 &nn_dataset_image_folder,
                 "cfg.json: data.transforms.train: image_folder images vary in size and these transforms do not fix it; "
                 "end them with center_crop, random_resized_crop or random_crop, or set data.resize");
    expect_error("{\"num_classes\": 5}", fm, "cfg.json: data.num_classes: fashion_mnist has 10 classes, found 5");
    expect_error("{\"workers\": 100}", fm, "cfg.json: data.workers: expected an integer in [0, 64], found 100");
}
END_TEST

/* ---- the loader ---- */

enum { N = 103, SC = 3, SH = 12, SW = 10 };

/* An in-memory split of N random 3x12x10 images. */
static void make_split(nn_image_split *s, uint8_t *px, int32_t *labels)
{
    nn_rng r;
    nn_rng_seed(&r, 11, 11);
    for (int i = 0; i < N * SC * SH * SW; i++) px[i] = (uint8_t)nn_rng_u32(&r);
    for (int i = 0; i < N; i++) labels[i] = i % 10;
    *s = (nn_image_split){.count = N, .channels = SC, .height = SH, .width = SW, .num_classes = 10,
                          .pixels = px, .labels = labels};
}

/* The CIFAR recipe with a random resized crop too: every random kind. */
static void recipe(nn_transforms *t)
{
    const float mean[3] = {0.4f, 0.5f, 0.6f}, std[3] = {0.2f, 0.25f, 0.3f};
    nn_transforms_init(t, 3, mean, std);
    nn_transforms_add(t, (nn_transform){.kind = NN_TRANSFORM_RANDOM_RESIZED_CROP, .height = 11, .width = 9, .antialias = 1,
                                        .scale = {0.08, 1.0}, .ratio = {0.75, 4.0 / 3.0}});
    nn_transforms_add(t, (nn_transform){.kind = NN_TRANSFORM_RANDOM_CROP, .height = 10, .width = 8, .padding = 2});
    nn_transforms_add(t, (nn_transform){.kind = NN_TRANSFORM_HORIZONTAL_FLIP, .p = 0.5});
}

/* Every batch of epochs 0 and 1, made with `workers` threads (-1: by
 * nn_loader_fill directly), into one buffer. */
static float *all_batches(const nn_image_split *split, const nn_transforms *t, uint64_t seed, int workers)
{
    enum { B = 8 };
    const int per = 3 * 10 * 8;
    nn_arena a;
    nn_arena_init(&a, "t", 0);
    int32_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = i;
    nn_loader l;
    ck_assert_int_eq(nn_loader_init(&l, &a, split, idx, N, B, 1, seed, t, 0), NN_OK);
    float *out = calloc((size_t)2 * N * (per + 1), sizeof(float));
    nn_prefetch *p = NULL;
    if (workers >= 0) {
        ck_assert_int_eq(nn_prefetch_create(&p, workers, B, per), NN_OK);
        nn_loader_use(&l, p);
    }
    nn_loader_scratch s;
    nn_loader_scratch_init(&s);
    float *o = out;
    for (int epoch = 0; epoch < 2; epoch++) {
        if (p) nn_loader_begin(&l, epoch, 0);
        else nn_loader_start_epoch(&l, epoch);
        for (int64_t b = 0; b < nn_loader_batches(&l); b++) {
            float x[B * per];
            int32_t y[B];
            nn_batch batch = {x, y, 0, b};
            if (p) ck_assert_int_eq(nn_loader_next(&l, &batch), NN_OK);
            else ck_assert_int_eq(nn_loader_fill(&l, &s, b, x, y, &batch.n), NN_OK);
            ck_assert_int_eq(batch.index, b);
            memcpy(o, batch.x, sizeof(float) * (size_t)batch.n * per);
            o += batch.n * per;
            for (int i = 0; i < batch.n; i++) *o++ = (float)batch.y[i];
        }
        if (p) nn_loader_end(&l);
    }
    nn_loader_scratch_deinit(&s);
    nn_prefetch_free(p);
    nn_arena_deinit(&a);
    return out;
}

START_TEST(batches_depend_on_seed_epoch_and_index_only)
{
    static uint8_t px[N * SC * SH * SW];
    static int32_t labels[N];
    nn_image_split split;
    make_split(&split, px, labels);
    nn_transforms t;
    recipe(&t);
    const size_t n = (size_t)2 * N * (3 * 10 * 8 + 1);
    float *sync = all_batches(&split, &t, 42, -1);
    for (int workers = 0; workers <= 3; workers++) {
        float *got = all_batches(&split, &t, 42, workers);
        ck_assert_msg(memcmp(got, sync, n * sizeof(float)) == 0, "%d workers: batches differ from synchronous loading", workers);
        free(got);
    }
    float *other = all_batches(&split, &t, 43, 2);
    ck_assert(memcmp(other, sync, n * sizeof(float)) != 0);
    /* Epoch 1 is not epoch 0 again. */
    ck_assert(memcmp(sync, sync + n / 2, n / 2 * sizeof(float)) != 0);
    free(other);
    free(sync);
}
END_TEST

START_TEST(resume_mid_epoch_and_no_allocation)
{
    static uint8_t px[N * SC * SH * SW];
    static int32_t labels[N];
    nn_image_split split;
    make_split(&split, px, labels);
    nn_transforms t;
    recipe(&t);
    enum { B = 8 };
    const int per = 3 * 10 * 8;
    nn_arena a;
    nn_arena_init(&a, "t", 0);
    int32_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = i;
    nn_loader l;
    ck_assert_int_eq(nn_loader_init(&l, &a, &split, idx, N, B, 1, 9, &t, 0), NN_OK);
    nn_prefetch *p;
    ck_assert_int_eq(nn_prefetch_create(&p, 2, B, per), NN_OK);
    nn_loader_use(&l, p);
    static float epoch1[(N / B + 1) * B * 3 * 10 * 8];
    nn_batch batch;
    nn_loader_begin(&l, 1, 0);
    for (int64_t b = 0; b < nn_loader_batches(&l); b++) {
        ck_assert_int_eq(nn_loader_next(&l, &batch), NN_OK);
        memcpy(epoch1 + b * B * per, batch.x, sizeof(float) * (size_t)batch.n * per);
    }
    /* Abandoned mid-way (as a stop or max_steps does), then resumed at
     * batch 5 of epoch 1: the same batches as without the stop. */
    nn_loader_begin(&l, 0, 0);
    ck_assert_int_eq(nn_loader_next(&l, &batch), NN_OK);
    nn_loader_begin(&l, 1, 5);
    for (int64_t b = 5; b < nn_loader_batches(&l); b++) {
        ck_assert_int_eq(nn_loader_next(&l, &batch), NN_OK);
        ck_assert_int_eq(memcmp(epoch1 + b * B * per, batch.x, sizeof(float) * (size_t)batch.n * per), 0);
    }
    nn_loader_end(&l);
#if COUNT_MALLOC
    /* Sized at nn_loader_use: a whole epoch more allocates nothing. No
     * ck_assert inside: Check allocates to record each one. */
    long before = malloc_calls;
    int failures = 0;
    nn_loader_begin(&l, 2, 0);
    for (int64_t b = 0; b < nn_loader_batches(&l); b++) failures += nn_loader_next(&l, &batch) != NN_OK;
    nn_loader_end(&l);
    long after = malloc_calls;
    ck_assert_int_eq(failures, 0);
    ck_assert_int_eq(after - before, 0);
    printf("an epoch of %lld batches with random crops and flips, 2 threads: %ld allocations\n",
           (long long)nn_loader_batches(&l), after - before);
#endif
    nn_prefetch_free(p);
    nn_arena_deinit(&a);
}
END_TEST

static Suite *transforms_suite(void)
{
    Suite *s = suite_create("transforms");
    TCase *tc = tcase_create("transforms");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, resize_matches_torchvision);
    tcase_add_test(tc, center_crop_matches_torchvision);
    tcase_add_test(tc, resized_crop_matches_torchvision);
    tcase_add_test(tc, grey_matches_pil);
    tcase_add_test(tc, random_crop_with_padding);
    tcase_add_test(tc, flip_pad_and_fallback);
    tcase_add_test(tc, channels_and_normalization);
    tcase_add_test(tc, config_keys_and_input_shapes);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, batches_depend_on_seed_epoch_and_index_only);
    tcase_add_test(tc, resume_mid_epoch_and_no_allocation);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(transforms_suite)
