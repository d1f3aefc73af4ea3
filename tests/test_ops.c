/* Every op: finite-difference gradient check through the shared harness. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "ops/ops.h"
#include "testutil.h"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

static void expect_gradcheck(const char *what, nn_gradcheck_fn fn, nn_tensor **in, int n,
                             void *ctx, double eps, double atol, double rtol)
{
    for (int i = 0; i < n; i++)
        if (in[i]) in[i]->requires_grad = 1;
    nn_gradcheck_result r;
    nn_status st = nn_gradcheck(fn, in, n, ctx, eps, atol, rtol, &r);
    printf("gradcheck %-28s %6ld elements, max abs err %.2e, max rel err %.2e\n", what, r.checked,
           r.max_abs_err, r.max_rel_err);
    ck_assert_msg(st == NN_OK, "%s: %s", what, nn_error_message());
    ck_assert_int_gt(r.checked, 0);
}

START_TEST(op_table_is_complete)
{
    for (int i = 0; i < NN_OP_COUNT; i++) {
        ck_assert_msg(nn_op_defs[i].name != NULL, "op %d has no name", i);
        ck_assert_msg(nn_op_defs[i].backward != NULL, "op %s has no backward", nn_op_defs[i].name);
    }
}
END_TEST

static nn_tensor *fn_linear(nn_tape *t, nn_tensor **in, void *ctx)
{
    (void)ctx;
    return nn_linear(t, in[0], in[1], in[2]);
}

START_TEST(linear_gradient)
{
    nn_tensor *in[3] = {tu_random(&arena, 1, -1, 1, NN_SHAPE(5, 7)),
                        tu_random(&arena, 2, -1, 1, NN_SHAPE(4, 7)),
                        tu_random(&arena, 3, -1, 1, NN_SHAPE(4))};
    expect_gradcheck("linear", fn_linear, in, 3, NULL, 1e-2, 1e-3, 1e-2);
}
END_TEST

START_TEST(linear_forward_values)
{
    /* y = x w^T + b by hand: x = [1 2], w = [[1 0], [2 -1], [0 3]], b = [0.5 0 -1] */
    float xd[] = {1, 2}, wd[] = {1, 0, 2, -1, 0, 3}, bd[] = {0.5f, 0, -1}, want[] = {1.5f, 0, 5};
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *y = nn_linear(&t, nn_tensor_view(&arena, xd, NN_SHAPE(1, 2)),
                             nn_tensor_view(&arena, wd, NN_SHAPE(3, 2)),
                             nn_tensor_view(&arena, bd, NN_SHAPE(3)));
    ck_assert_ptr_nonnull(y);
    ck_assert(tu_close("linear", y->data, want, 3, 1e-6, 0));
}
END_TEST

START_TEST(linear_rejects_mismatched_shapes)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *y = nn_linear(&t, tu_random(&arena, 1, 0, 1, NN_SHAPE(2, 5)),
                             tu_random(&arena, 1, 0, 1, NN_SHAPE(3, 4)), NULL);
    ck_assert_ptr_null(y);
    ck_assert_str_eq(nn_error_message(), "linear: input (2, 5) does not fit weight (3, 4)");
}
END_TEST

typedef struct conv_case {
    const char *name;
    int n, c, h, w, o, k;
    nn_conv2d_args a;
} conv_case;

static const conv_case conv_cases[] = {
    {"conv2d 3x3 pad 1", 2, 3, 6, 5, 4, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    {"conv2d 5x5 pad 2 (lenet)", 2, 1, 8, 8, 3, 5, {1, 1, 2, 2, 1, 1, 1, 0}},
    {"conv2d stride 2", 2, 2, 7, 7, 3, 3, {2, 2, 1, 1, 1, 1, 1, 0}},
    {"conv2d stride 2x1 pad 0x2", 1, 2, 6, 5, 2, 3, {2, 1, 0, 2, 1, 1, 1, 0}},
    {"conv2d dilation 2", 2, 2, 7, 7, 2, 3, {1, 1, 2, 2, 2, 2, 1, 0}},
    {"conv2d groups 2", 2, 4, 5, 5, 6, 3, {1, 1, 1, 1, 1, 1, 2, 0}},
    {"conv2d depthwise", 2, 3, 5, 5, 3, 3, {1, 1, 1, 1, 1, 1, 3, 0}},
    {"conv2d depthwise stride 2", 2, 4, 7, 6, 4, 3, {2, 2, 1, 1, 1, 1, 4, 0}},
    {"conv2d depthwise 5x5 pad 2", 3, 2, 6, 7, 2, 5, {1, 1, 2, 2, 1, 1, 2, 0}},
    {"conv2d depthwise dilation 2", 2, 3, 7, 7, 3, 3, {1, 2, 2, 1, 2, 2, 3, 0}},
    /* Stride 1 with padding (k - 1) d / 2 runs flat: planes wider than a
     * vector, dilation, and no padding (which does not) as a contrast. */
    {"conv2d depthwise 20 wide", 2, 3, 5, 20, 3, 3, {1, 1, 1, 1, 1, 1, 3, 0}},
    {"conv2d depthwise dilation 2 stride 1", 2, 2, 6, 9, 2, 3, {1, 1, 2, 2, 2, 2, 2, 0}},
    {"conv2d depthwise no padding", 2, 2, 6, 6, 2, 3, {1, 1, 0, 0, 1, 1, 2, 0}},
    /* Stride 2 splits rows by column parity 32 pixels at a time. */
    {"conv2d depthwise stride 2, 37 wide", 1, 2, 5, 37, 2, 3, {2, 2, 1, 1, 1, 1, 2, 0}},
    {"conv2d depthwise 5x5 stride 2 pad 2", 2, 2, 9, 34, 2, 5, {2, 2, 2, 2, 1, 1, 2, 0}},
    {"conv2d 1x1 stride 2", 2, 4, 5, 5, 3, 1, {2, 2, 0, 0, 1, 1, 1, 0}},
    /* Rows of exactly 32 outputs fill both 16-lane halves of the AVX-512 im2col. */
    {"conv2d 1x1, 32 wide", 9, 2, 1, 32, 2, 1, {1, 1, 0, 0, 1, 1, 1, 0}},
    {"conv2d 3x3 pad 1, 32 wide", 9, 1, 2, 32, 2, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    {"conv2d 1x1", 3, 4, 4, 4, 5, 1, {1, 1, 0, 0, 1, 1, 1, 0}},
    {"conv2d 20 samples (3 chunks)", 20, 2, 4, 4, 2, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    /* 16 channels and more take the Winograd path (conv2d_winograd.c); odd
     * sizes leave partial tiles at the right and bottom. Kept small: each
     * element costs two forwards. winograd_cases has the larger ones. */
    {"conv2d winograd 7x9", 2, 16, 7, 9, 16, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    {"conv2d winograd pad 0x2, 16 -> 20", 1, 16, 5, 6, 20, 3, {1, 1, 0, 2, 1, 1, 1, 0}},
};

/* Winograd-path shapes checked against the definition in both directions
 * (a finite-difference check of this many elements would take seconds):
 * several blocks of tiles (the 20-sample case has 400 tiles), partial
 * tiles, both paddings, a fused ReLU. */
static const conv_case winograd_cases[] = {
    {"winograd 7x9", 3, 16, 7, 9, 16, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    {"winograd 8x8, 16 -> 20", 3, 16, 8, 8, 20, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    {"winograd 20 samples 8x9", 20, 16, 8, 9, 16, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    {"winograd pad 2", 2, 16, 5, 7, 16, 3, {1, 1, 2, 2, 1, 1, 1, 0}},
    {"winograd pad 0x2, 24 -> 16", 2, 24, 6, 5, 16, 3, {1, 1, 0, 2, 1, 1, 1, 0}},
    {"winograd fused relu", 3, 16, 7, 9, 16, 3, {1, 1, 1, 1, 1, 1, 1, 1}},
    {"winograd 16x32, 32 -> 32", 3, 32, 16, 32, 32, 3, {1, 1, 1, 1, 1, 1, 1, 0}},
    /* 2304 tiles: the weight gradient's blocks (2048 tiles at 16 + 16
     * channels) take two passes over du. */
    {"winograd 9 samples 32x32", 9, 16, 32, 32, 16, 3, {1, 1, 1, 1, 1, 1, 1, 1}},
};

static nn_tensor *fn_conv(nn_tape *t, nn_tensor **in, void *ctx)
{
    return nn_conv2d(t, in[0], in[1], in[2], *(const nn_conv2d_args *)ctx);
}

/* The forward against the definition, tap by tap in double. */
static void check_forward(const conv_case *cc, int seed)
{
    const nn_conv2d_args *a = &cc->a;
    nn_tensor *x = tu_random(&arena, 10 + seed, -1, 1, NN_SHAPE(cc->n, cc->c, cc->h, cc->w));
    nn_tensor *w = tu_random(&arena, 20 + seed, -1, 1, NN_SHAPE(cc->o, cc->c / a->groups, cc->k, cc->k));
    nn_tensor *b = tu_random(&arena, 30 + seed, -1, 1, NN_SHAPE(cc->o));
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *y = nn_conv2d(&t, x, w, b, *a);
    ck_assert_ptr_nonnull(y);
    const int oh = y->shape[2], ow = y->shape[3], cg = cc->c / a->groups, og = cc->o / a->groups;
    double worst = 0.0;
    for (int n = 0; n < cc->n; n++)
        for (int o = 0; o < cc->o; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double sum = b->data[o];
                    for (int ci = 0; ci < cg; ci++)
                        for (int ki = 0; ki < cc->k; ki++)
                            for (int kj = 0; kj < cc->k; kj++) {
                                int iy = oy * a->stride_h - a->pad_h + ki * a->dilation_h;
                                int ix = ox * a->stride_w - a->pad_w + kj * a->dilation_w;
                                if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w) continue;
                                int c = o / og * cg + ci;
                                sum += (double)w->data[((o * cg + ci) * cc->k + ki) * cc->k + kj] *
                                       x->data[((n * cc->c + c) * cc->h + iy) * cc->w + ix];
                            }
                    if (a->relu && sum < 0.0) sum = 0.0;
                    double d = fabs(sum - y->data[((n * cc->o + o) * oh + oy) * ow + ox]);
                    worst = d > worst ? d : worst;
                }
    printf("%-34s forward vs definition: max abs err %.2e\n", cc->name, worst);
    ck_assert_msg(worst < 1e-5, "%s: forward differs from the definition by %g", cc->name, worst);
}

START_TEST(conv2d_forward_matches_definition)
{
    check_forward(&conv_cases[_i], _i);
}
END_TEST

START_TEST(conv2d_winograd_forward_matches_definition)
{
    check_forward(&winograd_cases[_i], 100 + _i);
}
END_TEST

/* dx, dw, db of a Winograd-path conv against their definitions in double,
 * for a random output gradient r (through the ReLU's mask when fused). */
START_TEST(conv2d_winograd_backward_matches_definition)
{
    const conv_case *cc = &winograd_cases[_i];
    const nn_conv2d_args *a = &cc->a;
    nn_tensor *x = tu_random(&arena, 40 + _i, -1, 1, NN_SHAPE(cc->n, cc->c, cc->h, cc->w));
    nn_tensor *w = tu_random(&arena, 50 + _i, -1, 1, NN_SHAPE(cc->o, cc->c, 3, 3));
    nn_tensor *b = tu_random(&arena, 60 + _i, -1, 1, NN_SHAPE(cc->o));
    nn_tensor *in[3] = {x, w, b};
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    nn_tape t;
    nn_tape_init(&t, &arena, 1, 1);
    nn_tensor *y = nn_conv2d(&t, x, w, b, *a);
    ck_assert_ptr_nonnull(y);
    nn_tensor *r = tu_random(&arena, 70 + _i, -1, 1, y->ndim, y->shape);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, r->data), NN_OK);
    const int oh = y->shape[2], ow = y->shape[3];
    double *dx = calloc((size_t)x->numel, sizeof *dx), *dw = calloc((size_t)w->numel, sizeof *dw);
    double *db = calloc((size_t)b->numel, sizeof *db);
    for (int n = 0; n < cc->n; n++)
        for (int o = 0; o < cc->o; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    long at = ((long)(n * cc->o + o) * oh + oy) * ow + ox;
                    double g = a->relu && y->data[at] <= 0.0f ? 0.0 : r->data[at];
                    db[o] += g;
                    for (int ci = 0; ci < cc->c; ci++)
                        for (int ki = 0; ki < 3; ki++)
                            for (int kj = 0; kj < 3; kj++) {
                                int iy = oy - a->pad_h + ki, ix = ox - a->pad_w + kj;
                                if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w) continue;
                                long xi = ((long)(n * cc->c + ci) * cc->h + iy) * cc->w + ix;
                                long wi = ((long)(o * cc->c + ci) * 3 + ki) * 3 + kj;
                                dx[xi] += g * w->data[wi];
                                dw[wi] += g * x->data[xi];
                            }
                }
    const double *want[3] = {dx, dw, db};
    const char *names[3] = {"dx", "dw", "db"};
    for (int i = 0; i < 3; i++) {
        double worst = 0.0, scale = 0.0;
        for (long j = 0; j < in[i]->numel; j++) {
            double d = fabs(want[i][j] - in[i]->grad[j]);
            worst = d > worst ? d : worst;
            scale = fabs(want[i][j]) > scale ? fabs(want[i][j]) : scale;
        }
        printf("%-34s %s vs definition: max abs err %.2e (largest %.1f)\n", cc->name, names[i], worst, scale);
        ck_assert_msg(worst < 1e-5 * (1.0 + scale), "%s: %s differs from the definition by %g", cc->name,
                      names[i], worst);
    }
    free(dx);
    free(dw);
    free(db);
}
END_TEST

START_TEST(conv2d_gradient)
{
    const conv_case *cc = &conv_cases[_i];
    nn_tensor *in[3] = {tu_random(&arena, 10 + _i, -1, 1, NN_SHAPE(cc->n, cc->c, cc->h, cc->w)),
                        tu_random(&arena, 20 + _i, -1, 1, NN_SHAPE(cc->o, cc->c / cc->a.groups, cc->k, cc->k)),
                        tu_random(&arena, 30 + _i, -1, 1, NN_SHAPE(cc->o))};
    expect_gradcheck(cc->name, fn_conv, in, 3, (void *)&cc->a, 1e-2, 2e-3, 1e-2);
}
END_TEST

/* The fused ReLU is checked against the two ops it replaces, each of which
 * has its own gradient check: same output, same gradients. (A finite
 * difference across the ReLU's kink would need a tolerance too loose to
 * catch anything.) */
START_TEST(conv2d_fused_relu_equals_conv_then_relu)
{
    static const conv_case cases[] = {
        {"fused relu", 2, 3, 6, 5, 4, 3, {1, 1, 1, 1, 1, 1, 1, 1}},
        {"fused relu, groups 2, stride 2", 9, 4, 7, 7, 4, 3, {2, 2, 1, 1, 1, 1, 2, 1}},
        {"fused relu, depthwise, stride 2", 3, 5, 7, 6, 5, 3, {2, 2, 1, 1, 1, 1, 5, 1}},
        {"fused relu, winograd", 3, 16, 7, 9, 16, 3, {1, 1, 1, 1, 1, 1, 1, 1}},
        {"fused relu, depthwise, 18 wide", 3, 4, 6, 18, 4, 3, {1, 1, 1, 1, 1, 1, 4, 1}},
    };
    const conv_case *cc = &cases[_i];
    nn_tensor *x = tu_random(&arena, 90, -1, 1, NN_SHAPE(cc->n, cc->c, cc->h, cc->w));
    nn_tensor *w = tu_random(&arena, 91, -1, 1, NN_SHAPE(cc->o, cc->c / cc->a.groups, cc->k, cc->k));
    nn_tensor *b = tu_random(&arena, 92, -1, 1, NN_SHAPE(cc->o));
    nn_tensor *in[3] = {x, w, b};
    float *got[2][4];
    for (int fused = 0; fused < 2; fused++) {
        nn_arena step;
        nn_arena_init(&step, "step", 0);
        nn_tape t;
        nn_tape_init(&t, &step, 1, 1);
        for (int i = 0; i < 3; i++) {
            in[i]->requires_grad = 1;
            in[i]->grad = NULL;
        }
        nn_conv2d_args a = cc->a;
        a.relu = fused;
        nn_tensor *y = nn_conv2d(&t, x, w, b, a);
        if (!fused) y = nn_relu(&t, y);
        ck_assert_ptr_nonnull(y);
        nn_tensor *dy = tu_random(&arena, 93, -1, 1, y->ndim, y->shape);
        ck_assert_int_eq(nn_tape_backward_from(&t, y, dy->data), NN_OK);
        got[fused][3] = malloc(sizeof(float) * (size_t)y->numel);
        memcpy(got[fused][3], y->data, sizeof(float) * (size_t)y->numel);
        for (int i = 0; i < 3; i++) {
            got[fused][i] = malloc(sizeof(float) * (size_t)in[i]->numel);
            memcpy(got[fused][i], in[i]->grad, sizeof(float) * (size_t)in[i]->numel);
            in[i]->grad = NULL;
        }
        if (fused) {
            long ny = nn_shape_numel(y->ndim, y->shape), zeros = 0;
            for (long j = 0; j < ny; j++) zeros += y->data[j] == 0.0f;
            ck_assert_msg(zeros > ny / 5 && zeros < ny * 4 / 5, "%ld of %ld outputs clipped", zeros, ny);
            ck_assert(tu_close("fused relu: output", got[1][3], got[0][3], ny, 1e-6, 1e-6));
        }
        nn_arena_deinit(&step);
    }
    const char *names[3] = {"fused relu: dx", "fused relu: dw", "fused relu: db"};
    for (int i = 0; i < 3; i++) {
        ck_assert(tu_close(names[i], got[1][i], got[0][i], in[i]->numel, 1e-5, 1e-5));
        free(got[0][i]);
        free(got[1][i]);
    }
    free(got[0][3]);
    free(got[1][3]);
}
END_TEST

START_TEST(conv2d_forward_values)
{
    /* A 3x3 image of 1..9, a 2x2 kernel [[1, 0], [0, -1]], bias 10, pad 0:
     * each output is x[i][j] - x[i+1][j+1] + 10 = -4 + 10. */
    float xd[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, wd[4] = {1, 0, 0, -1}, bd[1] = {10};
    float want[4] = {6, 6, 6, 6};
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *y = nn_conv2d(&t, nn_tensor_view(&arena, xd, NN_SHAPE(1, 1, 3, 3)),
                             nn_tensor_view(&arena, wd, NN_SHAPE(1, 1, 2, 2)),
                             nn_tensor_view(&arena, bd, NN_SHAPE(1)), nn_conv2d_simple(1, 0));
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->shape[2], 2);
    ck_assert(tu_close("conv2d", y->data, want, 4, 1e-6, 0));
}
END_TEST

START_TEST(conv2d_rejects_channel_mismatch)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *y = nn_conv2d(&t, tu_random(&arena, 1, 0, 1, NN_SHAPE(1, 3, 8, 8)),
                             tu_random(&arena, 1, 0, 1, NN_SHAPE(6, 1, 5, 5)), NULL,
                             nn_conv2d_simple(1, 0));
    ck_assert_ptr_null(y);
    ck_assert_str_eq(nn_error_message(),
                     "conv2d: input (1, 3, 8, 8) does not fit weight (6, 1, 5, 5) with 1 group(s)");
}
END_TEST

typedef struct pool_args { int k, s, p; } pool_args;

static nn_tensor *fn_maxpool(nn_tape *t, nn_tensor **in, void *ctx)
{
    const pool_args *a = ctx;
    return nn_maxpool2d(t, in[0], a->k, a->s, a->p);
}

START_TEST(maxpool2d_gradient)
{
    static const pool_args cases[] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}};
    nn_tensor *in[1] = {tu_distinct(&arena, 40 + _i, 0.05f, NN_SHAPE(2, 3, 6, 5))};
    expect_gradcheck("maxpool2d", fn_maxpool, in, 1, (void *)&cases[_i], 1e-2, 1e-3, 1e-2);
}
END_TEST

/* 2x2 stride 2 has its own (vectorized) path: check it against a plain
 * reference on rows longer than one vector, odd widths, and many ties,
 * where the first maximum in row-major order must win (and get the
 * gradient). */
START_TEST(maxpool2d_2x2_matches_reference)
{
    static const int widths[] = {5, 34, 41, 64};
    int w = widths[_i], h = 6, ow = w / 2, oh = h / 2;
    nn_tensor *x = tu_random(&arena, 100 + _i, 0, 1, NN_SHAPE(2, 3, h, w));
    for (long j = 0; j < x->numel; j++) x->data[j] = (float)(int)(x->data[j] * 4); /* ties */
    x->requires_grad = 1;
    nn_tape t;
    nn_tape_init(&t, &arena, 1, 1);
    nn_tensor *y = nn_maxpool2d(&t, x, 2, 2, 0);
    ck_assert_ptr_nonnull(y);
    nn_tensor *dy = tu_random(&arena, 200 + _i, 1, 2, y->ndim, y->shape);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy->data), NN_OK);
    float *want_y = calloc((size_t)y->numel, sizeof(float)), *want_dx = calloc((size_t)x->numel, sizeof(float));
    for (int pl = 0; pl < 6; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int best = (2 * oy) * w + 2 * ox;
                for (int ky = 0; ky < 2; ky++)
                    for (int kx = 0; kx < 2; kx++) {
                        int at = (2 * oy + ky) * w + 2 * ox + kx;
                        if (x->data[pl * h * w + at] > x->data[pl * h * w + best]) best = at;
                    }
                long o = (long)(pl * oh + oy) * ow + ox;
                want_y[o] = x->data[pl * h * w + best];
                want_dx[pl * h * w + best] += dy->data[o];
            }
    ck_assert(tu_close("maxpool2d 2x2 output", y->data, want_y, y->numel, 0, 0));
    ck_assert(tu_close("maxpool2d 2x2 gradient", x->grad, want_dx, x->numel, 0, 0));
    free(want_y);
    free(want_dx);
}
END_TEST

/* Every other kernel, stride and padding: the vectorized rows against a
 * plain reference on rows longer than one vector, with ties (the first
 * maximum in row-major order wins) and a NaN (which beats numbers, as in
 * PyTorch), padding included. */
START_TEST(maxpool2d_general_matches_reference)
{
    static const struct { int k, s, p, w; } cases[] = {
        {3, 2, 1, 5}, {3, 2, 1, 41}, {3, 1, 1, 34}, {3, 2, 0, 55}, {5, 3, 2, 23}, {2, 1, 0, 17},
    };
    const int k = cases[_i].k, st = cases[_i].s, pd = cases[_i].p, w = cases[_i].w, h = 7;
    const int oh = (h + 2 * pd - k) / st + 1, ow = (w + 2 * pd - k) / st + 1;
    nn_tensor *x = tu_random(&arena, 300 + _i, -1, 1, NN_SHAPE(2, 2, h, w));
    for (long j = 0; j < x->numel; j++) x->data[j] = (float)(int)(x->data[j] * 3); /* ties */
    x->data[w + 3] = NAN;
    nn_tape t;
    nn_tape_init(&t, &arena, 1, 1);
    x->requires_grad = 1;
    nn_tensor *y = nn_maxpool2d(&t, x, k, st, pd);
    ck_assert_ptr_nonnull(y);
    int bad = 0;
    float *hits = calloc((size_t)x->numel, sizeof(float));
    for (int pl = 0; pl < 4; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *xp = x->data + (long)pl * h * w;
                int best = -1;
                for (int iy = oy * st - pd; iy < oy * st - pd + k; iy++)
                    for (int ix = ox * st - pd; ix < ox * st - pd + k; ix++) {
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        float v = xp[iy * w + ix];
                        if (best < 0 || v > xp[best] || (isnan(v) && !isnan(xp[best]))) best = iy * w + ix;
                    }
                const float got = y->data[((long)pl * oh + oy) * ow + ox];
                if (!(got == xp[best] || (isnan(got) && isnan(xp[best])))) bad++;
                hits[(long)pl * h * w + best] += 1.0f;
            }
    ck_assert_int_eq(bad, 0);
    /* The argmax: a gradient of ones lands on each output's winner. */
    nn_tensor *dy = tu_random(&arena, 400, 1, 1, y->ndim, y->shape);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy->data), NN_OK);
    ck_assert(tu_close("maxpool2d winners", x->grad, hits, x->numel, 0, 0));
    free(hits);
}
END_TEST

START_TEST(maxpool2d_forward_values)
{
    float xd[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, 9, 0, 1, 7}, want[4] = {5, 8, 9, 7};
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *y = nn_maxpool2d(&t, nn_tensor_view(&arena, xd, NN_SHAPE(1, 1, 4, 4)), 2, 2, 0);
    ck_assert_ptr_nonnull(y);
    ck_assert(tu_close("maxpool2d", y->data, want, 4, 0, 0));
}
END_TEST

static nn_tensor *fn_relu(nn_tape *t, nn_tensor **in, void *ctx)
{
    (void)ctx;
    return nn_relu(t, in[0]);
}

START_TEST(relu_gradient)
{
    nn_tensor *in[1] = {tu_distinct(&arena, 50, 0.05f, NN_SHAPE(3, 4, 5))};
    expect_gradcheck("relu", fn_relu, in, 1, NULL, 1e-2, 1e-3, 1e-2);
}
END_TEST

/* relu after the reshape makes the reshape's own output gradient non-trivial. */
static nn_tensor *fn_flatten(nn_tape *t, nn_tensor **in, void *ctx)
{
    (void)ctx;
    return nn_linear(t, nn_flatten(t, in[0]), in[1], NULL);
}

START_TEST(flatten_gradient)
{
    nn_tensor *in[2] = {tu_random(&arena, 60, -1, 1, NN_SHAPE(2, 3, 2, 2)),
                        tu_random(&arena, 61, -1, 1, NN_SHAPE(4, 12))};
    expect_gradcheck("flatten", fn_flatten, in, 2, NULL, 1e-2, 1e-3, 1e-2);
}
END_TEST

START_TEST(reshape_infers_and_rejects)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = tu_random(&arena, 1, 0, 1, NN_SHAPE(2, 3, 4));
    nn_tensor *y = nn_reshape(&t, x, NN_SHAPE(-1, 6));
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->shape[0], 4);
    ck_assert_ptr_eq(y->data, x->data);
    ck_assert_ptr_null(nn_reshape(&t, x, NN_SHAPE(5, 5)));
    ck_assert_str_eq(nn_error_message(), "reshape: cannot view (2, 3, 4) as (5, 5)");
}
END_TEST

static const int32_t ce_labels[5] = {0, 3, 1, 2, 3};

static nn_tensor *fn_cross_entropy(nn_tape *t, nn_tensor **in, void *ctx)
{
    (void)ctx;
    return nn_softmax_cross_entropy(t, in[0], ce_labels);
}

START_TEST(cross_entropy_gradient)
{
    nn_tensor *in[1] = {tu_random(&arena, 70, -3, 3, NN_SHAPE(5, 4))};
    expect_gradcheck("softmax_cross_entropy", fn_cross_entropy, in, 1, NULL, 1e-2, 1e-4, 1e-2);
}
END_TEST

START_TEST(cross_entropy_value)
{
    /* Uniform logits: loss = log(C); large logits must not overflow. */
    float xd[8] = {0, 0, 0, 0, 1000, 1000, 1000, 1000};
    int32_t labels[2] = {1, 2};
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *loss = nn_softmax_cross_entropy(&t, nn_tensor_view(&arena, xd, NN_SHAPE(2, 4)), labels);
    ck_assert_ptr_nonnull(loss);
    ck_assert_float_eq_tol(loss->data[0], logf(4.0f), 1e-6f);
    labels[0] = 4;
    ck_assert_ptr_null(nn_softmax_cross_entropy(&t, nn_tensor_view(&arena, xd, NN_SHAPE(2, 4)), labels));
    ck_assert_str_eq(nn_error_message(), "cross_entropy: label 4 of sample 0 is outside [0, 4)");
}
END_TEST

/* A tensor used twice must receive both gradients (backward accumulates). */
static nn_tensor *fn_fan_out(nn_tape *t, nn_tensor **in, void *ctx)
{
    (void)ctx;
    nn_tensor *h = nn_relu(t, in[0]);
    return nn_linear(t, nn_linear(t, h, in[1], NULL), in[1], NULL);
}

START_TEST(fan_out_accumulates)
{
    nn_tensor *in[2] = {tu_distinct(&arena, 80, 0.05f, NN_SHAPE(3, 4)),
                        tu_random(&arena, 81, -1, 1, NN_SHAPE(4, 4))};
    expect_gradcheck("shared weight used twice", fn_fan_out, in, 2, NULL, 1e-2, 1e-3, 1e-2);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, op_table_is_complete);
    tcase_add_test(tc, linear_gradient);
    tcase_add_test(tc, linear_forward_values);
    tcase_add_test(tc, linear_rejects_mismatched_shapes);
    tcase_add_loop_test(tc, conv2d_gradient, 0, (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_loop_test(tc, conv2d_forward_matches_definition, 0, (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_loop_test(tc, conv2d_winograd_forward_matches_definition, 0, (int)(sizeof winograd_cases / sizeof winograd_cases[0]));
    tcase_add_loop_test(tc, conv2d_winograd_backward_matches_definition, 0, (int)(sizeof winograd_cases / sizeof winograd_cases[0]));
    tcase_add_loop_test(tc, conv2d_fused_relu_equals_conv_then_relu, 0, 5);
    tcase_add_test(tc, conv2d_forward_values);
    tcase_add_test(tc, conv2d_rejects_channel_mismatch);
    tcase_add_loop_test(tc, maxpool2d_gradient, 0, 3);
    tcase_add_loop_test(tc, maxpool2d_2x2_matches_reference, 0, 4);
    tcase_add_loop_test(tc, maxpool2d_general_matches_reference, 0, 6);
    tcase_add_test(tc, maxpool2d_forward_values);
    tcase_add_test(tc, relu_gradient);
    tcase_add_test(tc, flatten_gradient);
    tcase_add_test(tc, reshape_infers_and_rejects);
    tcase_add_test(tc, cross_entropy_gradient);
    tcase_add_test(tc, cross_entropy_value);
    tcase_add_test(tc, fan_out_accumulates);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(ops_suite)
