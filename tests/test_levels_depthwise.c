/* Depthwise convolution (groups == channels) at every CPU level equals the
 * scalar level bit for bit: output, input, weight and bias gradients, on
 * 3x3 and 5x5 kernels, strides 1, 2 and 3, dilation, with and without
 * padding (the gather and the scatter input gradient), widths shorter than
 * a vector, not a multiple of 8 or 16, and over 32, with the fused ReLU. */
#include "check_main.h"
#include "testutil.h"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef struct dw_case {
    int n, c, h, w, kh, kw;
    int sh, sw, ph, pw, dh, dw;
    int relu, bias;
} dw_case;

static const dw_case cases[] = {
    /* 3x3, stride 1: "same" padding gathers dx, none scatters it. */
    {2, 3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1},
    {2, 3, 17, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {3, 2, 9, 13, 3, 3, 1, 1, 0, 0, 1, 1, 0, 0},
    {2, 4, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1},
    {2, 3, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},
    /* 3x3, stride 2: the row split and merge, whole blocks and tails. */
    {2, 3, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {2, 3, 11, 35, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1},
    {2, 2, 10, 21, 3, 3, 2, 2, 0, 0, 1, 1, 0, 0},
    {2, 3, 7, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {3, 2, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1},
    /* Dilation. */
    {2, 3, 12, 19, 3, 3, 1, 1, 2, 2, 2, 2, 0, 1},
    {2, 2, 13, 41, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1},
    {2, 2, 9, 10, 3, 3, 1, 1, 1, 1, 2, 2, 0, 0},
    /* 5x5 (25 taps: uneven weight-gradient groups). */
    {2, 3, 16, 16, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1},
    {2, 2, 7, 33, 5, 5, 1, 1, 2, 2, 1, 1, 0, 1},
    {2, 3, 9, 34, 5, 5, 2, 2, 2, 2, 1, 1, 0, 1},
    {2, 2, 11, 23, 5, 5, 2, 2, 0, 0, 1, 1, 1, 0},
    {3, 2, 6, 6, 5, 5, 1, 1, 0, 0, 1, 1, 0, 1},
    {2, 4, 2, 2, 5, 5, 1, 1, 2, 2, 1, 1, 0, 1},
    /* Stride 3 (the general phase split), uneven kernel and strides. */
    {2, 2, 10, 40, 3, 3, 3, 3, 1, 1, 1, 1, 0, 1},
    {2, 3, 9, 27, 3, 5, 2, 1, 1, 2, 1, 1, 1, 1},
    {2, 2, 8, 19, 5, 3, 1, 2, 2, 1, 1, 1, 0, 1},
};

static nn_tensor *fn_depthwise(nn_tape *t, nn_tensor **in, void *ctx)
{
    const dw_case *c = ctx;
    const nn_conv2d_args a = {c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->c, c->relu};
    return nn_conv2d(t, in[0], in[1], c->bias ? in[2] : NULL, a);
}

START_TEST(depthwise_levels_agree)
{
    const dw_case *c = &cases[_i];
    nn_tensor *in[3] = {
        tu_random(&arena, 700 + _i, -1, 1, NN_SHAPE(c->n, c->c, c->h, c->w)),
        tu_random(&arena, 800 + _i, -1, 1, NN_SHAPE(c->c, 1, c->kh, c->kw)),
        tu_random(&arena, 900 + _i, -1, 1, NN_SHAPE(c->c)),
    };
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    char what[64];
    snprintf(what, sizeof what, "dw %dx%d s%d,%d p%d,%d d%d %dx%d%s%s", c->kh, c->kw, c->sh, c->sw, c->ph, c->pw,
             c->dh, c->h, c->w, c->relu ? " relu" : "", c->bias ? " b" : "");
    tu_levels_agree(what, fn_depthwise, in, c->bias ? 3 : 2, (void *)c, 1);
}
END_TEST

static Suite *levels_depthwise_suite(void)
{
    Suite *s = suite_create("levels_depthwise");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, depthwise_levels_agree, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(levels_depthwise_suite)
