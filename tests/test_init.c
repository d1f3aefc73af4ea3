/* Initializers: fans and gains as torch.nn.init computes them; each
 * initializer's bounds, mean and standard deviation on a large tensor
 * against its formula; orthogonal's Q Q^T = I and R's positive diagonal;
 * PyTorch's per-layer defaults (the Linear/Conv one bit for bit as before);
 * the name table; seeded reproducibility; errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "nn/params.h"

/* x filled by `init` for that shape from seed; malloc'd, numel in *n. */
static float *filled(nn_init init, int ndim, const int *shape, uint64_t seed, long *n)
{
    *n = (long)nn_shape_numel(ndim, shape);
    float *x = malloc(sizeof(float) * (size_t)*n);
    ck_assert_ptr_nonnull(x);
    for (long i = 0; i < *n; i++) x[i] = NAN;
    nn_rng rng;
    nn_rng_seed(&rng, seed, 3);
    ck_assert_int_eq(nn_init_fill(x, ndim, shape, init, &rng), NN_OK);
    return x;
}

typedef struct stats {
    double mean, std, min, max;
    double within1;   /* fraction within one std of the mean */
} stats;

static stats stats_of(const float *x, long n)
{
    stats s = {0, 0, INFINITY, -INFINITY, 0};
    for (long i = 0; i < n; i++) {
        s.mean += x[i];
        s.min = fmin(s.min, x[i]);
        s.max = fmax(s.max, x[i]);
    }
    s.mean /= (double)n;
    for (long i = 0; i < n; i++) s.std += (x[i] - s.mean) * (x[i] - s.mean);
    s.std = sqrt(s.std / (double)(n - 1));
    for (long i = 0; i < n; i++) s.within1 += fabs(x[i] - s.mean) <= s.std;
    s.within1 /= (double)n;
    return s;
}

/* Mean within 4 standard errors, std within 2%, and the shape: a uniform's
 * values fill [lo, hi) (1/sqrt(3) of them within one std), a normal's are
 * 68.3% within one std. Prints the measured errors. */
static void check_uniform(const char *what, const float *x, long n, double lo, double hi)
{
    const stats s = stats_of(x, n);
    const double mean = 0.5 * (lo + hi), std = (hi - lo) / sqrt(12.0);
    printf("  %-40s n=%6ld  mean %+.2e (want %+.2e)  std %.4e (want %.4e, %+.2f%%)  [%.4g, %.4g]\n", what, n,
           s.mean, mean, s.std, std, 100 * (s.std / std - 1), s.min, s.max);
    ck_assert_msg(s.min >= (float)lo && s.max <= (float)hi, "%s: values outside [%g, %g]: [%g, %g]", what, lo, hi,
                  s.min, s.max);
    ck_assert_msg(s.min < lo + 1e-3 * (hi - lo) && s.max > hi - 1e-3 * (hi - lo),
                  "%s: [%g, %g] does not fill [%g, %g]", what, s.min, s.max, lo, hi);
    ck_assert_msg(fabs(s.mean - mean) < 4 * std / sqrt((double)n), "%s: mean %g, want %g", what, s.mean, mean);
    ck_assert_msg(fabs(s.std / std - 1) < 0.02, "%s: std %g, want %g", what, s.std, std);
    ck_assert_msg(fabs(s.within1 - 1 / sqrt(3.0)) < 0.01, "%s: %.3f within 1 std", what, s.within1);
}

static void check_normal(const char *what, const float *x, long n, double mean, double std)
{
    const stats s = stats_of(x, n);
    printf("  %-40s n=%6ld  mean %+.2e (want %+.2e)  std %.4e (want %.4e, %+.2f%%)  %.3f within 1 std\n", what, n,
           s.mean, mean, s.std, std, 100 * (s.std / std - 1), s.within1);
    ck_assert_msg(fabs(s.mean - mean) < 4 * std / sqrt((double)n), "%s: mean %g, want %g", what, s.mean, mean);
    ck_assert_msg(fabs(s.std / std - 1) < 0.02, "%s: std %g, want %g", what, s.std, std);
    ck_assert_msg(fabs(s.within1 - 0.6827) < 0.01, "%s: %.3f within 1 std, a normal has 0.683", what, s.within1);
}

START_TEST(fans_as_torch)
{
    static const struct { int ndim, shape[5]; int64_t fan_in, fan_out; } cases[] = {
        {2, {30, 20}, 20, 30},                 /* Linear(20, 30) */
        {4, {64, 32, 3, 3}, 288, 576},          /* Conv2d(32, 64, 3) */
        {4, {64, 8, 5, 5}, 200, 1600},          /* Conv2d(32, 64, 5, groups=4) */
        {3, {8, 4, 5}, 20, 40},                 /* Conv1d(4, 8, 5) */
        {5, {4, 2, 3, 3, 3}, 54, 108},          /* Conv3d(2, 4, 3) */
        {2, {1000, 64}, 64, 1000},              /* Embedding(1000, 64) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t fi = -1, fo = -1;
        ck_assert_int_eq(nn_init_fans(cases[i].ndim, cases[i].shape, &fi, &fo), 0);
        ck_assert_int_eq(fi, cases[i].fan_in);
        ck_assert_int_eq(fo, cases[i].fan_out);
    }
    int64_t fi, fo;
    ck_assert_int_eq(nn_init_fans(1, (const int[]){5}, &fi, &fo), -1);
}
END_TEST

START_TEST(gains_as_torch)
{
    for (int nl = NN_NONLIN_LINEAR; nl <= NN_NONLIN_SIGMOID; nl++)
        ck_assert_msg(nn_init_gain(nl, 0.01) == 1.0, "%s", nn_nonlinearity_names[nl]);
    ck_assert(nn_init_gain(NN_NONLIN_TANH, 0) == 5.0 / 3);
    ck_assert(nn_init_gain(NN_NONLIN_RELU, 0) == sqrt(2.0));
    ck_assert(nn_init_gain(NN_NONLIN_SELU, 0) == 0.75);
    ck_assert(nn_init_gain(NN_NONLIN_LEAKY_RELU, 0.0) == sqrt(2.0));
    ck_assert(fabs(nn_init_gain(NN_NONLIN_LEAKY_RELU, 0.01) - 1.4141428569978354) < 1e-15);
    /* PyTorch's Linear/Conv default: kaiming_uniform with a = sqrt(5). */
    ck_assert(fabs(nn_init_gain(NN_NONLIN_LEAKY_RELU, sqrt(5.0)) - sqrt(1.0 / 3)) < 1e-15);
    ck_assert_str_eq(nn_nonlinearity_names[NN_NONLIN_CONV_TRANSPOSE2D], "conv_transpose2d");
    ck_assert_str_eq(nn_nonlinearity_names[NN_NONLIN_LEAKY_RELU], "leaky_relu");
    ck_assert_ptr_null(nn_nonlinearity_names[NN_NONLIN_COUNT]);
}
END_TEST

START_TEST(distributions_match_their_formulas)
{
    long n;
    float *x;
    const int lin[] = {256, 256}, wide[] = {128, 384}, conv[] = {64, 32, 3, 3};

    x = filled(nn_init_uniform(-0.3, 0.7), 2, lin, 1, &n);
    check_uniform("uniform(-0.3, 0.7)", x, n, -0.3, 0.7);
    free(x);
    x = filled(nn_init_normal(0.5, 2.0), 2, lin, 2, &n);
    check_normal("normal(0.5, 2)", x, n, 0.5, 2.0);
    free(x);

    const double xb = 2.0 * sqrt(6.0 / (384 + 128));
    x = filled(nn_init_xavier_uniform(2.0), 2, wide, 3, &n);
    check_uniform("xavier_uniform(gain 2) 128x384", x, n, -xb, xb);
    free(x);
    x = filled(nn_init_xavier_normal(1.0), 4, conv, 4, &n);
    check_normal("xavier_normal 64x32x3x3", x, n, 0.0, sqrt(2.0 / (288 + 576)));
    free(x);

    const double kb = sqrt(2.0) * sqrt(3.0 / 256);
    x = filled(nn_init_kaiming_uniform(0, NN_INIT_FAN_IN, NN_NONLIN_RELU), 2, lin, 5, &n);
    check_uniform("kaiming_uniform(relu) 256x256", x, n, -kb, kb);
    free(x);
    const double kb2 = sqrt(2.0 / 1.25) * sqrt(3.0 / 576);
    x = filled(nn_init_kaiming_uniform(0.5, NN_INIT_FAN_OUT, NN_NONLIN_LEAKY_RELU), 4, conv, 6, &n);
    check_uniform("kaiming_uniform(leaky .5, fan_out) conv", x, n, -kb2, kb2);
    free(x);
    x = filled(nn_init_kaiming_normal(0, NN_INIT_FAN_OUT, NN_NONLIN_TANH), 4, conv, 7, &n);
    check_normal("kaiming_normal(tanh, fan_out) conv", x, n, 0.0, 5.0 / 3 / sqrt(576.0));
    free(x);
    x = filled(nn_init_kaiming_normal(0.5, NN_INIT_FAN_IN, NN_NONLIN_LEAKY_RELU), 4, conv, 8, &n);
    check_normal("kaiming_normal(leaky .5, fan_in) conv", x, n, 0.0, sqrt(2.0 / 1.25) / sqrt(288.0));
    free(x);
    /* torch's kaiming defaults: leaky_relu with a = 0, i.e. gain sqrt(2), fan_in */
    x = filled(nn_init_make(nn_init_find("kaiming_normal"), (const double[]){0, NN_INIT_FAN_IN, NN_NONLIN_LEAKY_RELU}),
               2, lin, 9, &n);
    check_normal("kaiming_normal() defaults 256x256", x, n, 0.0, sqrt(2.0) / 16);
    free(x);
}
END_TEST

/* PyTorch's per-layer defaults; Linear/Conv's draws the same bits as the
 * formula every earlier nnzoo used (LeNet's recorded runs depend on it). */
START_TEST(torch_layer_defaults)
{
    long n;
    float *x;
    const int lin[] = {120, 400}, conv[] = {64, 32, 3, 3};
    x = filled(nn_init_torch_default(400), 2, lin, 11, &n);
    check_uniform("torch default Linear(400, 120)", x, n, -0.05, 0.05);
    nn_rng rng;
    nn_rng_seed(&rng, 11, 3);
    const float bound = 1.0f / sqrtf(400.0f);
    for (long i = 0; i < n; i++) {
        const float old = bound * (2.0f * nn_rng_uniform(&rng) - 1.0f);
        ck_assert_msg(memcmp(&old, &x[i], sizeof old) == 0, "[%ld]: %a, the old formula gives %a", i, x[i], old);
    }
    free(x);
    x = filled(nn_init_torch_default(288), 4, conv, 12, &n);
    check_uniform("torch default Conv2d(32, 64, 3)", x, n, -1 / sqrt(288.0), 1 / sqrt(288.0));
    free(x);
    /* The bound is kaiming_uniform(a = sqrt(5))'s, in exact arithmetic. */
    const double kb = nn_init_gain(NN_NONLIN_LEAKY_RELU, sqrt(5.0)) * sqrt(3.0 / 288);
    ck_assert(fabs(kb - nn_init_torch_default(288).scale) < 1e-7 * kb);

    x = filled(nn_init_torch_rnn(128), 2, (const int[]){512, 128}, 13, &n);
    check_uniform("torch default LSTM(hidden 128)", x, n, -1 / sqrt(128.0), 1 / sqrt(128.0));
    free(x);
    x = filled(nn_init_torch_embedding(), 2, (const int[]){1000, 64}, 14, &n);
    check_normal("torch default Embedding(1000, 64)", x, n, 0.0, 1.0);
    free(x);
    x = filled(nn_init_torch_norm_weight(), 1, (const int[]){300}, 15, &n);
    for (long i = 0; i < n; i++) ck_assert(x[i] == 1.0f);
    free(x);
    x = filled(nn_init_torch_norm_bias(), 1, (const int[]){300}, 15, &n);
    for (long i = 0; i < n; i++) ck_assert(x[i] == 0.0f && !signbit(x[i]));
    free(x);
    ck_assert(nn_init_torch_default(0).scale == 0.0f);
}
END_TEST

START_TEST(zeros_ones_and_positional_inits_are_exact)
{
    long n;
    float *x = filled(nn_init_zeros(), 2, (const int[]){256, 256}, 1, &n);
    for (long i = 0; i < n; i++) ck_assert_msg(x[i] == 0.0f && !signbit(x[i]), "zeros[%ld] = %g", i, x[i]);
    free(x);
    x = filled(nn_init_ones(), 4, (const int[]){64, 32, 3, 3}, 1, &n);
    for (long i = 0; i < n; i++) ck_assert_msg(x[i] == 1.0f, "ones[%ld] = %g", i, x[i]);
    free(x);
    /* The literal form other code uses: kind and scale, the rest 0. */
    x = filled((nn_init){.kind = NN_INIT_ZEROS}, 1, (const int[]){7}, 1, &n);
    for (long i = 0; i < n; i++) ck_assert(x[i] == 0.0f);
    free(x);
    x = filled((nn_init){.kind = NN_INIT_UNIFORM, .scale = 0.25f}, 2, (const int[]){256, 256}, 2, &n);
    check_uniform("(nn_init){NN_INIT_UNIFORM, .25}", x, n, -0.25, 0.25);
    free(x);
}
END_TEST

/* orthogonal: rows (tall: columns) orthonormal times gain, and the QR is
 * the one with R's diagonal positive, as torch's sign correction makes it:
 * R = W^T A (tall) or W A^T (wide) for the N(0, 1) draws A is upper
 * triangular with a positive diagonal. */
START_TEST(orthogonal_is_orthogonal)
{
    static const struct { int ndim, shape[4]; double gain; } cases[] = {
        {2, {64, 64}, 1.0}, {2, {100, 40}, 1.0}, {2, {40, 100}, 1.0}, {4, {16, 8, 3, 3}, 1.0},
        {2, {48, 48}, 2.0}, {2, {1, 30}, 1.0}, {2, {30, 1}, 0.5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        long n;
        const int rows = cases[c].shape[0];
        const double g = cases[c].gain;
        float *w = filled(nn_init_orthogonal(g), cases[c].ndim, cases[c].shape, 20 + c, &n);
        const int cols = (int)(n / rows), tall = rows >= cols, k = tall ? cols : rows;
        /* The same draws again. */
        float *a = malloc(sizeof(float) * (size_t)n);
        nn_rng rng;
        nn_rng_seed(&rng, 20 + c, 3);
        for (long i = 0; i < n; i++) a[i] = nn_rng_normal(&rng);
        double worst_i = 0.0, worst_r = 0.0, min_diag = INFINITY;
        for (int p = 0; p < k; p++)
            for (int q = 0; q < k; q++) {
                /* Gram: tall, columns p and q; wide, rows p and q. R likewise. */
                double gram = 0.0, r = 0.0;
                const int len = tall ? rows : cols;
                for (int i = 0; i < len; i++) {
                    const double wp = tall ? w[i * cols + p] : w[p * cols + i];
                    const double wq = tall ? w[i * cols + q] : w[q * cols + i];
                    const double aq = tall ? a[i * cols + q] : a[q * cols + i];
                    gram += wp * wq;
                    r += wp * aq;
                }
                worst_i = fmax(worst_i, fabs(gram / (g * g) - (p == q)));
                if (p > q) worst_r = fmax(worst_r, fabs(r / g));
                if (p == q) min_diag = fmin(min_diag, r / g);
            }
        printf("  orthogonal %3dx%-3d gain %.1f: max |Q Q^T - I| %.2e, max |R below diagonal| %.2e, "
               "min R diagonal %.3f\n", rows, cols, g, worst_i, worst_r, min_diag);
        ck_assert_msg(worst_i < 1e-5, "%dx%d: Q Q^T differs from I by %g", rows, cols, worst_i);
        ck_assert_msg(worst_r < 1e-4, "%dx%d: R has %g below its diagonal", rows, cols, worst_r);
        ck_assert_msg(min_diag > 0.0, "%dx%d: R's diagonal has %g: no sign correction", rows, cols, min_diag);
        free(a);
        free(w);
    }
}
END_TEST

/* The same seed gives the same bytes for every kind, declared one after the
 * other; another seed does not. */
START_TEST(seeded_fills_are_reproducible)
{
    const nn_init inits[] = {
        nn_init_uniform(-1, 2), nn_init_normal(0, 1), nn_init_xavier_uniform(1), nn_init_xavier_normal(1),
        nn_init_kaiming_uniform(0, NN_INIT_FAN_IN, NN_NONLIN_RELU),
        nn_init_kaiming_normal(0, NN_INIT_FAN_OUT, NN_NONLIN_RELU), nn_init_orthogonal(1),
        nn_init_torch_default(50),
    };
    enum { K = sizeof inits / sizeof inits[0] };
    float *run[3];
    int64_t total = 0;
    for (int r = 0; r < 3; r++) {
        nn_arena a;
        nn_arena_init(&a, "test", 0);
        nn_params p;
        nn_params_init(&p, &a);
        for (int i = 0; i < K; i++) {
            char name[16];
            snprintf(name, sizeof name, "p%d", i);
            ck_assert_ptr_nonnull(nn_params_add(&p, name, NN_SHAPE(20, 50), inits[i]));
        }
        nn_rng rng;
        nn_rng_seed(&rng, r < 2 ? 7 : 8, 1);
        ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
        total = p.total;
        run[r] = malloc(sizeof(float) * (size_t)total);
        memcpy(run[r], p.values, sizeof(float) * (size_t)total);
        nn_arena_deinit(&a);
    }
    ck_assert(memcmp(run[0], run[1], sizeof(float) * (size_t)total) == 0);
    for (int i = 0; i < K; i++)   /* each parameter, not just the buffer, differs */
        ck_assert_msg(memcmp(run[0] + i * 1000, run[2] + i * 1000, 1000 * sizeof(float)) != 0, "p%d", i);
    for (int r = 0; r < 3; r++) free(run[r]);
}
END_TEST

START_TEST(table_by_name)
{
    static const char *const names[] = {"zeros", "ones", "uniform", "normal", "xavier_uniform",
                                        "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"};
    ck_assert_int_eq(NN_INIT_COUNT, 9);
    for (int i = 0; i < NN_INIT_COUNT; i++) {
        const nn_init_def *d = nn_init_find(names[i]);
        ck_assert_msg(d, "no initializer %s", names[i]);
        ck_assert_int_eq(d->kind, i);
        ck_assert_ptr_eq(d, &nn_init_defs[i]);
        double args[NN_INIT_MAX_ARGS];
        for (int j = 0; j < d->n_args; j++) args[j] = d->args[j].def;
        const char *why;
        ck_assert_int_eq(nn_init_check(d, args, &why), -1);
        ck_assert_int_eq(nn_init_make(d, args).kind, i);
    }
    ck_assert_ptr_null(nn_init_find("glorot_uniform"));
    ck_assert_ptr_null(nn_init_find("kaiming"));

    /* torch's defaults, by name */
    const nn_init_def *k = nn_init_find("kaiming_uniform");
    ck_assert_int_eq(k->n_args, 3);
    ck_assert_str_eq(k->args[0].name, "a");
    ck_assert_str_eq(k->args[1].name, "mode");
    ck_assert_str_eq(k->args[1].choices[(int)k->args[1].def], "fan_in");
    ck_assert_str_eq(k->args[2].name, "nonlinearity");
    ck_assert_str_eq(k->args[2].choices[(int)k->args[2].def], "leaky_relu");
    const nn_init u = nn_init_make(nn_init_find("uniform"), (const double[]){0, 1});
    ck_assert(u.scale == 0.5f && u.shift == 0.5f);
    const nn_init nm = nn_init_make(nn_init_find("normal"), (const double[]){0, 1});
    ck_assert(nm.scale == 1.0f && nm.shift == 0.0f);
    const nn_init kn = nn_init_make(nn_init_find("kaiming_normal"), (const double[]){0.2, 1, NN_NONLIN_TANH});
    ck_assert(kn.a == 0.2f && kn.mode == NN_INIT_FAN_OUT && kn.nonlinearity == NN_NONLIN_TANH);
    ck_assert(nn_init_make(nn_init_find("orthogonal"), (const double[]){3}).scale == 3.0f);

    const char *why = NULL;
    ck_assert_int_eq(nn_init_check(nn_init_find("uniform"), (const double[]){1, 0}, &why), 1);
    ck_assert_str_eq(why, "uniform needs a <= b");
}
END_TEST

START_TEST(fan_inits_refuse_vectors)
{
    nn_arena a;
    nn_arena_init(&a, "test", 0);
    nn_params p;
    nn_params_init(&p, &a);
    nn_error_clear();
    ck_assert_ptr_null(nn_params_add(&p, "fc.bias", NN_SHAPE(10), nn_init_xavier_uniform(1)));
    ck_assert_int_eq(nn_error_status(), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "parameter fc.bias: xavier_uniform init needs a tensor of at least 2 "
                                         "dimensions (fan-in and fan-out), got shape (10)");
    ck_assert_ptr_null(nn_params_add(&p, "h0", NN_SHAPE(10), nn_init_orthogonal(1)));
    ck_assert_ptr_nonnull(strstr(nn_error_message(), "orthogonal"));
    ck_assert_ptr_nonnull(nn_params_add(&p, "fc.weight", NN_SHAPE(10, 4), nn_init_kaiming_normal(0, 0, 9)));
    ck_assert_int_eq(p.count, 1);
    float x[10];
    nn_rng rng;
    nn_rng_seed(&rng, 1, 1);
    ck_assert_int_eq(nn_init_fill(x, 1, (const int[]){10}, nn_init_kaiming_uniform(0, 0, 9), &rng), NN_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(nn_error_message(), "kaiming_uniform init needs a tensor of at least 2"));
    nn_arena_deinit(&a);
}
END_TEST

static Suite *init_suite(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("init");
    tcase_add_test(tc, fans_as_torch);
    tcase_add_test(tc, gains_as_torch);
    tcase_add_test(tc, distributions_match_their_formulas);
    tcase_add_test(tc, torch_layer_defaults);
    tcase_add_test(tc, zeros_ones_and_positional_inits_are_exact);
    tcase_add_test(tc, orthogonal_is_orthogonal);
    tcase_add_test(tc, seeded_fills_are_reproducible);
    tcase_add_test(tc, table_by_name);
    tcase_add_test(tc, fan_inits_refuse_vectors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(init_suite)
