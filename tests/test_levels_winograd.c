/* The Winograd convolution (3x3, stride 1, 16 channels or more) at every
 * CPU level equals the scalar level bit for bit: the output and the
 * gradients of the input, the weight and the bias, on planes whose tile
 * rows end inside a vector of tiles or cross one, tiny planes with fewer
 * tiles than a vector, every padding from 0 to 2, odd channel counts,
 * several blocks of tiles, and the fused ReLU (whose mask the backward
 * applies to dy). */
#include "check_main.h"
#include "ops/conv2d_winograd.h"
#include "testutil.h"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef struct wino_case { int n, c, h, w, o, pad_h, pad_w, relu; } wino_case;

static const wino_case cases[] = {
    {2, 16, 7, 9, 16, 1, 1, 0},   {3, 16, 8, 8, 20, 1, 1, 0},  {1, 24, 6, 5, 16, 0, 2, 0},
    {2, 16, 5, 7, 16, 2, 2, 0},   {3, 16, 7, 9, 16, 1, 1, 1},  {2, 16, 5, 37, 16, 1, 1, 0},
    {2, 16, 9, 33, 17, 0, 0, 1},  {2, 17, 6, 20, 16, 0, 1, 0}, {1, 16, 3, 3, 16, 1, 1, 0},
    {2, 16, 4, 11, 16, 2, 1, 1},  {2, 16, 31, 18, 16, 1, 2, 1},
    /* 2304 tiles: several blocks, and two passes of the weight gradient. */
    {9, 16, 32, 32, 16, 1, 1, 1},
};

static nn_tensor *fn_conv(nn_tape *t, nn_tensor **in, void *ctx)
{
    const wino_case *c = ctx;
    nn_conv2d_args a = {1, 1, c->pad_h, c->pad_w, 1, 1, 1, c->relu};
    return nn_conv2d(t, in[0], in[1], in[2], a);
}

START_TEST(winograd_levels_agree)
{
    const wino_case *c = &cases[_i];
    const nn_conv2d_args a = {1, 1, c->pad_h, c->pad_w, 1, 1, 1, c->relu};
    ck_assert(nn_conv2d_winograd_fits(c->c, c->o, 3, 3, a));
    nn_tensor *in[3] = {
        tu_random(&arena, 700 + _i, -1, 1, NN_SHAPE(c->n, c->c, c->h, c->w)),
        tu_random(&arena, 800 + _i, -1, 1, NN_SHAPE(c->o, c->c, 3, 3)),
        tu_random(&arena, 900 + _i, -1, 1, NN_SHAPE(c->o)),
    };
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    char what[64];
    snprintf(what, sizeof what, "winograd %dx%dx%dx%d->%d p%dx%d%s", c->n, c->c, c->h, c->w, c->o,
             c->pad_h, c->pad_w, c->relu ? " relu" : "");
    tu_levels_agree(what, fn_conv, in, 3, (void *)c, 1);
}
END_TEST

static Suite *levels_winograd_suite(void)
{
    Suite *s = suite_create("levels_winograd");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, winograd_levels_agree, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(levels_winograd_suite)
