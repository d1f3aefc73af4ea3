/* conv2d by im2col + GEMM at every CPU level equals the scalar level bit
 * for bit: output, input, weight and bias gradients, for the shapes that
 * take each im2col and col2im path (strides 1, 2 and 4, padding, dilation,
 * groups, 1x1, rows narrower than a vector, up to 32 wide and wider, odd
 * sizes, kernels wider than 32) and the fused ReLU. None of these is
 * depthwise or Winograd's (3x3 stride 1 with 16 or more channels). */
#include "check_main.h"
#include "testutil.h"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef struct conv_case {
    int n, c, h, w, o, kh, kw;
    nn_conv2d_args a;   /* stride h, w; pad h, w; dilation h, w; groups; relu */
    int bias;
} conv_case;

static const conv_case cases[] = {
    {3, 3, 13, 13, 6, 5, 5, {1, 1, 2, 2, 1, 1, 1, 0}, 1},      /* 5x5, ow 13 */
    {2, 3, 37, 37, 8, 7, 7, {2, 2, 3, 3, 1, 1, 1, 1}, 0},      /* ResNet's stem, ow 19 */
    {3, 5, 11, 11, 7, 3, 3, {1, 1, 1, 1, 1, 1, 1, 1}, 1},      /* 3x3, < 16 channels */
    {2, 16, 35, 35, 8, 3, 3, {2, 2, 1, 1, 1, 1, 1, 0}, 1},     /* 3x3 stride 2, ow 18 */
    {4, 8, 9, 9, 4, 1, 1, {1, 1, 0, 0, 1, 1, 1, 0}, 1},        /* 1x1, samples side by side */
    {2, 4, 24, 24, 5, 1, 1, {1, 1, 0, 0, 1, 1, 1, 1}, 1},      /* 1x1 direct (one sample a chunk) */
    {3, 6, 17, 17, 5, 1, 1, {2, 2, 0, 0, 1, 1, 1, 0}, 0},      /* 1x1 stride 2, ow 9 */
    {2, 8, 10, 10, 6, 3, 3, {1, 1, 1, 1, 1, 1, 2, 0}, 1},      /* 2 groups */
    {2, 4, 12, 15, 3, 3, 3, {1, 1, 2, 2, 2, 2, 1, 1}, 0},      /* dilation 2 */
    {2, 3, 5, 70, 4, 3, 3, {1, 1, 1, 1, 1, 1, 1, 0}, 1},       /* ow 70 */
    {2, 3, 9, 71, 4, 5, 5, {2, 2, 2, 2, 1, 1, 1, 1}, 1},       /* stride 2, ow 36 */
    {3, 3, 6, 7, 4, 3, 3, {1, 1, 0, 0, 1, 1, 1, 0}, 1},        /* ow 5 */
    {2, 3, 9, 20, 4, 3, 5, {2, 1, 1, 2, 1, 1, 1, 0}, 1},       /* strides 2 by 1, ow 20 */
    {2, 3, 35, 35, 6, 11, 11, {4, 4, 2, 2, 1, 1, 1, 1}, 1},    /* AlexNet's stem, ow 8 */
    {2, 3, 19, 75, 4, 11, 11, {4, 4, 2, 2, 1, 1, 1, 0}, 1},    /* stride 4, ow 18 */
    {2, 3, 13, 40, 4, 3, 3, {3, 3, 1, 1, 1, 1, 1, 0}, 1},      /* stride 3, ow 14 */
    {2, 3, 27, 24, 4, 3, 3, {2, 2, 0, 0, 1, 1, 1, 0}, 0},      /* stride 2, no padding, ow 11 */
    {2, 2, 6, 40, 3, 1, 33, {1, 1, 0, 16, 1, 1, 1, 0}, 1},     /* 33 wide kernel */
    {2, 3, 24, 24, 6, 3, 3, {1, 1, 1, 1, 1, 1, 1, 1}, 1},      /* one sample a chunk, ReLU */
    {2, 3, 8, 32, 5, 3, 3, {1, 1, 1, 1, 1, 1, 1, 0}, 1},       /* ow 32 */
    {2, 3, 8, 33, 5, 3, 3, {1, 1, 1, 1, 1, 1, 1, 0}, 1},       /* ow 33 */
};

static nn_tensor *fn_conv(nn_tape *t, nn_tensor **in, void *ctx)
{
    const conv_case *c = ctx;
    return nn_conv2d(t, in[0], in[1], c->bias ? in[2] : NULL, c->a);
}

START_TEST(conv2d_levels_agree)
{
    const conv_case *c = &cases[_i];
    nn_tensor *in[3];
    in[0] = tu_random(&arena, 700 + _i, -1, 1, NN_SHAPE(c->n, c->c, c->h, c->w));
    in[1] = tu_random(&arena, 800 + _i, -0.5f, 0.5f, NN_SHAPE(c->o, c->c / c->a.groups, c->kh, c->kw));
    in[2] = tu_random(&arena, 900 + _i, -0.5f, 0.5f, NN_SHAPE(c->o));
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    char what[64];
    snprintf(what, sizeof what, "conv2d %dx%d s%dx%d p%dx%d d%d g%d %dx%d%s", c->kh, c->kw, c->a.stride_h,
             c->a.stride_w, c->a.pad_h, c->a.pad_w, c->a.dilation_h, c->a.groups, c->h, c->w,
             c->a.relu ? " relu" : "");
    tu_levels_agree(what, fn_conv, in, c->bias ? 3 : 2, (void *)c, 1);
}
END_TEST

static Suite *levels_conv_suite(void)
{
    Suite *s = suite_create("levels_conv");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, conv2d_levels_agree, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(levels_conv_suite)
