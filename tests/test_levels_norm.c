/* Batch-norm at every CPU level equals the scalar level bit for bit:
 * output and the gradients of x, weight and bias, in train mode, with and
 * without a fused ReLU or ReLU6, with and without affine weights, on
 * planes whose sizes are not multiples of 8 or 16 (the double sums' lane
 * tails), (N, C) inputs and eval mode with running statistics. */
#include "check_main.h"
#include "testutil.h"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef struct bn_case {
    int n, c, h, w;   /* w == 0: an (N, C) input */
    nn_bn_act act;
    int affine, training;
} bn_case;

static const bn_case cases[] = {
    {4, 3, 5, 7, NN_BN_ACT_NONE, 1, 1},   {4, 3, 5, 7, NN_BN_ACT_RELU, 1, 1},
    {3, 5, 9, 9, NN_BN_ACT_RELU6, 1, 1},  {3, 5, 9, 9, NN_BN_ACT_RELU, 0, 1},
    {2, 4, 4, 4, NN_BN_ACT_NONE, 0, 1},   {2, 4, 4, 4, NN_BN_ACT_RELU6, 0, 1},
    {5, 2, 3, 1, NN_BN_ACT_RELU, 1, 1},   {2, 3, 17, 19, NN_BN_ACT_RELU6, 1, 1},
    {3, 2, 32, 32, NN_BN_ACT_RELU, 1, 1}, {2, 3, 8, 3, NN_BN_ACT_NONE, 1, 1},
    {7, 6, 1, 0, NN_BN_ACT_RELU, 1, 1},   {9, 5, 1, 0, NN_BN_ACT_NONE, 0, 1},
    {3, 4, 7, 7, NN_BN_ACT_RELU6, 1, 0},  {3, 4, 7, 7, NN_BN_ACT_NONE, 0, 0},
};

typedef struct bn_ctx {
    const bn_case *c;
    nn_tensor *mean, *var;
} bn_ctx;

static nn_tensor *fn_bn(nn_tape *t, nn_tensor **in, void *ctx)
{
    const bn_ctx *b = ctx;
    return nn_batchnorm_act(t, in[0], b->c->affine ? in[1] : NULL, b->c->affine ? in[2] : NULL, b->mean,
                            b->var, 0.1f, 1e-5f, b->c->act);
}

START_TEST(batchnorm_levels_agree)
{
    const bn_case *c = &cases[_i];
    nn_tensor *in[3];
    /* Spread and shifted, so ReLU6 clips at both ends. */
    in[0] = c->w ? tu_random(&arena, 300 + _i, -4, 9, NN_SHAPE(c->n, c->c, c->h, c->w))
                 : tu_random(&arena, 300 + _i, -4, 9, NN_SHAPE(c->n, c->c));
    in[1] = tu_random(&arena, 400 + _i, 0.5f, 4, NN_SHAPE(c->c));
    in[2] = tu_random(&arena, 450 + _i, -1, 3, NN_SHAPE(c->c));
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    /* Eval mode normalizes with these; train mode updates copies of them
     * per level (the same each time: the step does not depend on them). */
    bn_ctx ctx = {c, tu_random(&arena, 500 + _i, -1, 1, NN_SHAPE(c->c)),
                  tu_random(&arena, 550 + _i, 0.5f, 2, NN_SHAPE(c->c))};
    if (c->training) ctx.mean = ctx.var = NULL;
    char what[64];
    static const char *const acts[] = {"", " relu", " relu6"};
    snprintf(what, sizeof what, "batchnorm %dx%dx%dx%d%s%s%s", c->n, c->c, c->h, c->w, acts[c->act],
             c->affine ? " affine" : "", c->training ? "" : " eval");
    tu_levels_agree(what, fn_bn, in, c->affine ? 3 : 1, &ctx, c->training);
}
END_TEST

static Suite *levels_norm_suite(void)
{
    Suite *s = suite_create("levels_norm");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, batchnorm_levels_agree, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(levels_norm_suite)
