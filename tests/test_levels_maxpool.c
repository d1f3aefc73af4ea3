/* Max pooling at every CPU level equals the scalar level bit for bit:
 * values, argmax (through the gradient), ties and NaN, on rows shorter
 * and longer than a vector, with padding. */
#include <math.h>

#include "check_main.h"
#include "testutil.h"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef struct pool_case { int k, s, p, h, w; } pool_case;

static const pool_case cases[] = {
    {2, 2, 0, 6, 5},  {2, 2, 0, 6, 34}, {2, 2, 0, 7, 41}, {2, 2, 0, 4, 64}, {3, 2, 1, 7, 5},
    {3, 2, 1, 7, 41}, {3, 1, 1, 7, 34}, {3, 2, 0, 7, 55}, {5, 3, 2, 7, 23}, {2, 1, 0, 5, 17},
};

static nn_tensor *fn_maxpool(nn_tape *t, nn_tensor **in, void *ctx)
{
    const pool_case *c = ctx;
    return nn_maxpool2d(t, in[0], c->k, c->s, c->p);
}

START_TEST(maxpool2d_levels_agree)
{
    const pool_case *c = &cases[_i];
    nn_tensor *x = tu_random(&arena, 500 + _i, -1, 1, NN_SHAPE(2, 3, c->h, c->w));
    for (long j = 0; j < x->numel; j++) x->data[j] = (float)(int)(x->data[j] * 3); /* ties */
    x->data[c->w + 3] = NAN;
    x->requires_grad = 1;
    char what[64];
    snprintf(what, sizeof what, "maxpool2d k%d s%d p%d %dx%d", c->k, c->s, c->p, c->h, c->w);
    tu_levels_agree(what, fn_maxpool, &x, 1, (void *)c, 1);
}
END_TEST

static Suite *levels_maxpool_suite(void)
{
    Suite *s = suite_create("levels_maxpool");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, maxpool2d_levels_agree, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(levels_maxpool_suite)
