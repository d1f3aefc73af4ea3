/* The op catalogue: broadcasting add/sub/mul/div, the unary math functions,
 * the activations, sum/mean/max over axes, softmax and log-softmax.
 *
 * Every op is checked two ways on every case of
 * tests/golden/ops.safetensors (written by tests/golden/ops_reference.py with
 * PyTorch): its output and input gradients against PyTorch's for the same
 * inputs and upstream gradient, and a finite-difference gradient check on
 * fresh inputs of the case's shapes from the op's domain (positive for log,
 * sqrt and pow, well-separated values where there are kinks). Then large
 * shapes, where the kernels split work into blocks and threads, against
 * plain loops and across thread counts, and the error messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "core/threads.h"
#include "ops/ops.h"
#include "testutil.h"

#define GOLDEN "tests/golden/ops.safetensors"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

/* Gradient-check inputs: ANY uniform in [-2, 2), POS in [0.5, 2.5),
 * NONZERO magnitudes in [0.5, 2) of both signs, DISTINCT 0.05 apart and
 * 0.025 or more from any kink (0, +-3, 6), so +-eps never crosses one. */
typedef enum domain { ANY, POS, NONZERO, DISTINCT } domain;

/* One case's op and arguments, parsed from its `case.<name>` metadata. */
typedef struct op_args {
    nn_op_id op;
    float p;              /* leaky_relu slope, elu alpha, pow exponent */
    int tanh;             /* gelu */
    int axis;             /* softmax, log_softmax */
    int n_axes, axes[NN_MAX_DIMS], keepdim;
    int nograd;           /* ties: no gradient check */
    const domain *dom;    /* the domain of each input, for the gradient check */
} op_args;

/* The op of `a` on inputs in[0] (and in[1]); an nn_gradcheck_fn. */
static nn_tensor *call_op(nn_tape *t, nn_tensor **in, void *ctx)
{
    const op_args *a = ctx;
    nn_tensor *x = in[0];
    switch (a->op) {
    case NN_OP_ADD: return nn_add(t, x, in[1]);
    case NN_OP_SUB: return nn_sub(t, x, in[1]);
    case NN_OP_MUL: return nn_mul(t, x, in[1]);
    case NN_OP_DIV: return nn_div(t, x, in[1]);
    case NN_OP_NEG: return nn_neg(t, x);
    case NN_OP_EXP: return nn_exp(t, x);
    case NN_OP_LOG: return nn_log(t, x);
    case NN_OP_SQRT: return nn_sqrt(t, x);
    case NN_OP_POW: return nn_pow(t, x, a->p);
    case NN_OP_SUM: return nn_sum(t, x, a->n_axes, a->axes, a->keepdim);
    case NN_OP_MEAN: return nn_mean(t, x, a->n_axes, a->axes, a->keepdim);
    case NN_OP_MAX: return nn_max(t, x, a->n_axes, a->axes, a->keepdim);
    case NN_OP_RELU: return nn_relu(t, x);
    case NN_OP_RELU6: return nn_relu6(t, x);
    case NN_OP_LEAKY_RELU: return nn_leaky_relu(t, x, a->p);
    case NN_OP_ELU: return nn_elu(t, x, a->p);
    case NN_OP_SIGMOID: return nn_sigmoid(t, x);
    case NN_OP_TANH: return nn_tanh(t, x);
    case NN_OP_HARDSIGMOID: return nn_hardsigmoid(t, x);
    case NN_OP_HARDSWISH: return nn_hardswish(t, x);
    case NN_OP_SILU: return nn_silu(t, x);
    case NN_OP_GELU: return nn_gelu(t, x, a->tanh);
    case NN_OP_SOFTMAX: return nn_softmax(t, x, a->axis);
    case NN_OP_LOG_SOFTMAX: return nn_log_softmax(t, x, a->axis);
    default: ck_abort_msg("no call for op %s", nn_op_defs[a->op].name);
    }
    return NULL;
}

typedef struct op_spec {
    nn_op_id op;
    int n_in;
    domain dom[2];
    double eps, atol, rtol;      /* gradient check */
    double golden_atol, golden_rtol;
} op_spec;

static const op_spec specs[] = {
    {NN_OP_ADD, 2, {ANY, ANY}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_SUB, 2, {ANY, ANY}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_MUL, 2, {ANY, ANY}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_DIV, 2, {ANY, NONZERO}, 1e-3, 1e-3, 1e-2, 1e-6, 1e-5},
    {NN_OP_NEG, 1, {ANY}, 1e-2, 1e-3, 1e-2, 0, 0},
    {NN_OP_EXP, 1, {ANY}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_LOG, 1, {POS}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_SQRT, 1, {POS}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_POW, 1, {POS}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_SUM, 1, {ANY}, 1e-2, 1e-3, 1e-2, 1e-5, 1e-6},
    {NN_OP_MEAN, 1, {ANY}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_MAX, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 0, 0},
    {NN_OP_RELU, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 0, 0},
    {NN_OP_RELU6, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 0, 0},
    {NN_OP_LEAKY_RELU, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 0, 0},
    {NN_OP_ELU, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_SIGMOID, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_TANH, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_HARDSIGMOID, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 0, 0},
    {NN_OP_HARDSWISH, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_SILU, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_GELU, 1, {DISTINCT}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
    {NN_OP_SOFTMAX, 1, {ANY}, 1e-2, 1e-4, 1e-2, 1e-6, 1e-6},
    {NN_OP_LOG_SOFTMAX, 1, {ANY}, 1e-2, 1e-3, 1e-2, 1e-6, 1e-6},
};
enum { N_SPECS = (int)(sizeof specs / sizeof specs[0]) };

/* Takes one key=value of a spec; a tu_spec_set_fn. */
static int set_arg(const char *key, const char *v, void *args)
{
    op_args *a = args;
    if (strcmp(key, "p") == 0) a->p = strtof(v, NULL);
    else if (strcmp(key, "tanh") == 0) a->tanh = atoi(v);
    else if (strcmp(key, "axis") == 0) a->axis = atoi(v);
    else if (strcmp(key, "keepdim") == 0) a->keepdim = atoi(v);
    else if (strcmp(key, "nograd") == 0) a->nograd = atoi(v);
    else if (strcmp(key, "axes") == 0) {
        if (strcmp(v, "all") != 0) tu_spec_ints(v, a->axes, &a->n_axes, NN_MAX_DIMS);
    } else
        return 0;
    return 1;
}

/* Parses "sum axes=0,2 keepdim=1" (see ops_reference.py); 0 if malformed. */
static int parse_case(const char *spec, op_args *a)
{
    const char *names[NN_OP_COUNT];
    for (int i = 0; i < NN_OP_COUNT; i++) names[i] = nn_op_defs[i].name;
    memset(a, 0, sizeof *a);
    int op;
    if (!tu_spec_parse(spec, names, NN_OP_COUNT, &op, set_arg, a)) return 0;
    a->op = (nn_op_id)op;
    return 1;
}

/* Gradient-check input i from its domain; a tu_fill_fn. */
static void fresh_input(nn_tensor *x, int i, int case_no, const void *ctx)
{
    const op_args *a = ctx;
    uint64_t seed = 100 + 10 * (uint64_t)case_no + (uint64_t)i;
    switch (a->dom[i]) {
    case ANY: tu_fill_uniform(x, seed, -2, 2); break;
    case POS: tu_fill_uniform(x, seed, 0.5f, 2.5f); break;
    case NONZERO:
        tu_fill_uniform(x, seed, 0.5f, 2);
        for (int64_t j = 0; j < x->numel; j += 2) x->data[j] = -x->data[j];
        break;
    case DISTINCT: tu_fill_distinct(x, seed, 0.05f); break;
    }
}

/* Every golden case of op specs[_i]: output and gradients against PyTorch,
 * and a finite-difference check on fresh inputs of the same shapes. */
START_TEST(op_against_torch_and_finite_differences)
{
    const op_spec *sp = &specs[_i];
    tu_cases c;
    tu_cases_open(&c, GOLDEN, &arena);
    while (tu_cases_next(&c)) {
        op_args a;
        ck_assert_msg(parse_case(c.spec, &a), "golden case %s: bad spec `%s`", c.name, c.spec);
        if (a.op != sp->op) continue;
        a.dom = sp->dom;
        nn_tensor *in[2] = {NULL, NULL};
        tu_cases_inputs(&c, in, sp->n_in, NULL);
        nn_tensor *y = tu_cases_forward(&c, call_op, in, &a, 1);
        tu_cases_compare_y(&c, y, sp->golden_atol, sp->golden_rtol);
        tu_cases_backward(&c, y, in, sp->n_in, NULL, sp->golden_atol, sp->golden_rtol);
        if (!a.nograd)
            tu_cases_gradcheck(&c, call_op, in, sp->n_in, &a, fresh_input, sp->eps, sp->atol,
                               sp->rtol);
        tu_cases_print(&c);
    }
    tu_cases_close(&c, nn_op_defs[sp->op].name);
}
END_TEST

/* Each op of the catalogue has a spec above, so a golden and a gradient test. */
START_TEST(every_catalogue_op_is_tested)
{
    /* reshape and softmax_cross_entropy sit in this range but are tested
     * with the first ops, in test_ops.c. */
    nn_op_id ops[N_SPECS + 2] = {NN_OP_RESHAPE, NN_OP_SOFTMAX_CROSS_ENTROPY};
    for (int i = 0; i < N_SPECS; i++) ops[2 + i] = specs[i].op;
    tu_assert_ops_tested("test_ops_catalogue.c", NN_OP_RELU, NN_OP_LOG_SOFTMAX, ops, N_SPECS + 2);
}
END_TEST

START_TEST(reduction_shapes)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 3, 4));
    nn_tensor *y = nn_sum(&t, x, 0, NULL, 0);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->ndim, 0);
    ck_assert_int_eq(y->numel, 1);
    y = nn_mean(&t, x, 0, NULL, 1);
    ck_assert_int_eq(y->ndim, 3);
    ck_assert_int_eq(y->shape[0] * y->shape[1] * y->shape[2], 1);
    y = nn_max(&t, x, NN_AXES(-1, 0), 0);
    ck_assert_int_eq(y->ndim, 1);
    ck_assert_int_eq(y->shape[0], 3);
    y = nn_max(&t, x, NN_AXES(1), 1);
    ck_assert_int_eq(y->ndim, 3);
    ck_assert_int_eq(y->shape[0], 2);
    ck_assert_int_eq(y->shape[1], 1);
    ck_assert_int_eq(y->shape[2], 4);
}
END_TEST

START_TEST(bad_shapes_and_axes_are_errors)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 3, 4));
    ck_assert_ptr_null(nn_add(&t, x, tu_random(&arena, 2, -1, 1, NN_SHAPE(2, 4))));
    ck_assert_str_eq(nn_error_message(), "add: shapes (2, 3, 4) and (2, 4) do not broadcast");
    ck_assert_ptr_null(nn_div(&t, tu_random(&arena, 2, -1, 1, NN_SHAPE(5)), x));
    ck_assert_str_eq(nn_error_message(), "div: shapes (5) and (2, 3, 4) do not broadcast");
    ck_assert_ptr_null(nn_sum(&t, x, NN_AXES(3), 0));
    ck_assert_str_eq(nn_error_message(), "sum: axis 3 is out of range for (2, 3, 4)");
    ck_assert_ptr_null(nn_mean(&t, x, NN_AXES(1, -2), 0));
    ck_assert_str_eq(nn_error_message(), "mean: axis -2 is given twice");
    ck_assert_ptr_null(nn_max(&t, tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 0)), NN_AXES(1), 0));
    ck_assert_str_eq(nn_error_message(), "max: cannot reduce (2, 0) over an empty axis");
    ck_assert_ptr_null(nn_log_softmax(&t, x, -4));
    ck_assert_str_eq(nn_error_message(), "log_softmax: axis -4 is out of range for (2, 3, 4)");
    /* A NULL input passes through, so a chain of ops is checked once. */
    ck_assert_ptr_null(nn_exp(&t, nn_mul(&t, x, NULL)));
}
END_TEST

/* Empty tensors: sums of nothing are 0, and nothing breaks. */
START_TEST(empty_tensors)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 1, 1);
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(3, 0));
    x->requires_grad = 1;
    nn_tensor *y = nn_sum(&t, nn_add(&t, x, tu_random(&arena, 2, -1, 1, NN_SHAPE(3, 1))), NN_AXES(1), 0);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->numel, 3);
    for (int i = 0; i < 3; i++) ck_assert_float_eq(y->data[i], 0.0f);
    float dy[3] = {1, 2, 3};
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
}
END_TEST

/* Large shapes go through every block and thread split of the kernels:
 * outputs and gradients against plain double loops, and bit-identical with
 * 1 and 2 threads. */
enum { R = 301, C = 517 };

typedef struct large_run {
    float *sum0, *sum1, *max01, *soft0, *dsoft0, *dmul_a, *dmul_b, *gelu, *dgelu;
} large_run;

static void run_large(large_run *out, const nn_tensor *x, const nn_tensor *b, const nn_tensor *dy)
{
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *xs = nn_tensor_view(&step, x->data, x->ndim, x->shape);
    nn_tensor *bs = nn_tensor_view(&step, b->data, b->ndim, b->shape);
    xs->requires_grad = bs->requires_grad = 1;
    out->sum0 = tu_copy_floats(nn_sum(&t, xs, NN_AXES(0), 0)->data, C);
    out->sum1 = tu_copy_floats(nn_sum(&t, xs, NN_AXES(1), 1)->data, R);
    out->max01 = tu_copy_floats(nn_max(&t, xs, NN_AXES(0, 1), 0)->data, 1);
    nn_tensor *s = nn_softmax(&t, xs, 0);
    out->soft0 = tu_copy_floats(s->data, (int64_t)R * C);
    ck_assert_int_eq(nn_tape_backward_from(&t, s, dy->data), NN_OK);
    out->dsoft0 = tu_copy_floats(xs->grad, (int64_t)R * C);

    nn_tape_init(&t, &step, 1, 1);
    xs->grad = bs->grad = NULL;
    nn_tensor *m = nn_mul(&t, xs, bs);
    ck_assert_int_eq(nn_tape_backward_from(&t, m, dy->data), NN_OK);
    out->dmul_a = tu_copy_floats(xs->grad, (int64_t)R * C);
    out->dmul_b = tu_copy_floats(bs->grad, C);

    nn_tape_init(&t, &step, 1, 1);
    xs->grad = NULL;
    nn_tensor *gl = nn_gelu(&t, xs, 0);
    out->gelu = tu_copy_floats(gl->data, (int64_t)R * C);
    ck_assert_int_eq(nn_tape_backward_from(&t, gl, dy->data), NN_OK);
    out->dgelu = tu_copy_floats(xs->grad, (int64_t)R * C);
    nn_arena_deinit(&step);
}

static void free_large(large_run *r)
{
    float **f = (float **)r;
    for (size_t i = 0; i < sizeof *r / sizeof(float *); i++) free(f[i]);
}

START_TEST(large_shapes_match_plain_loops_and_any_thread_count)
{
    nn_tensor *x = tu_random(&arena, 7, -3, 3, NN_SHAPE(R, C));
    nn_tensor *b = tu_random(&arena, 8, -1, 1, NN_SHAPE(C));
    nn_tensor *dy = tu_random(&arena, 9, -1, 1, NN_SHAPE(R, C));
    large_run one, two;
    nn_threads_set(1);
    run_large(&one, x, b, dy);
    nn_threads_set(2);
    run_large(&two, x, b, dy);
    float **p1 = (float **)&one, **p2 = (float **)&two;
    static const char *what[] = {"sum0", "sum1", "max01", "soft0", "dsoft0", "dmul_a", "dmul_b", "gelu", "dgelu"};
    static const int64_t count[] = {C, R, 1, (int64_t)R * C, (int64_t)R * C, (int64_t)R * C, C,
                                    (int64_t)R * C, (int64_t)R * C};
    for (int i = 0; i < 9; i++)
        ck_assert_msg(memcmp(p1[i], p2[i], sizeof(float) * (size_t)count[i]) == 0,
                      "%s differs between 1 and 2 threads", what[i]);

    /* Plain loops in double. */
    const float *xd = x->data, *bd = b->data, *g = dy->data;
    double *col = calloc(C, sizeof(double)), *row = calloc(R, sizeof(double)), mx = -INFINITY;
    double *db = calloc(C, sizeof(double));
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            double v = xd[i * C + j];
            col[j] += v;
            row[i] += v;
            mx = fmax(mx, v);
            db[j] += (double)g[i * C + j] * v;
        }
    float *want = malloc(sizeof(float) * R * C), *want2 = malloc(sizeof(float) * R * C);
    for (int j = 0; j < C; j++) want[j] = (float)col[j];
    ck_assert(tu_close("sum over axis 0", one.sum0, want, C, 1e-4, 1e-5));
    for (int i = 0; i < R; i++) want[i] = (float)row[i];
    ck_assert(tu_close("sum over axis 1", one.sum1, want, R, 1e-4, 1e-5));
    ck_assert_float_eq(one.max01[0], (float)mx);
    for (int j = 0; j < C; j++) want[j] = (float)db[j];
    ck_assert(tu_close("mul: gradient of the broadcast operand", one.dmul_b, want, C, 1e-4, 1e-5));
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) want[i * C + j] = g[i * C + j] * bd[j];
    ck_assert(tu_close("mul: gradient of the full operand", one.dmul_a, want, (long)R * C, 0, 0));
    for (int j = 0; j < C; j++) {
        double m = -INFINITY, sum = 0.0, dot = 0.0;
        for (int i = 0; i < R; i++) m = fmax(m, xd[i * C + j]);
        for (int i = 0; i < R; i++) sum += exp(xd[i * C + j] - m);
        for (int i = 0; i < R; i++) {
            double s = exp(xd[i * C + j] - m) / sum;
            want[i * C + j] = (float)s;
            dot += g[i * C + j] * s;
        }
        for (int i = 0; i < R; i++)
            want2[i * C + j] = (float)(want[i * C + j] * (g[i * C + j] - dot));
    }
    ck_assert(tu_close("softmax over axis 0", one.soft0, want, (long)R * C, 1e-7, 1e-5));
    ck_assert(tu_close("softmax over axis 0: gradient", one.dsoft0, want2, (long)R * C, 1e-7, 1e-4));
    for (long i = 0; i < (long)R * C; i++) {
        double v = xd[i], cdf = 0.5 * (1.0 + erf(v / sqrt(2.0)));
        want[i] = (float)(v * cdf);
        want2[i] = (float)(g[i] * (cdf + v * exp(-0.5 * v * v) / sqrt(2.0 * M_PI)));
    }
    ck_assert(tu_close("gelu", one.gelu, want, (long)R * C, 1e-6, 1e-5));
    ck_assert(tu_close("gelu: gradient", one.dgelu, want2, (long)R * C, 1e-6, 1e-5));
    free(col);
    free(row);
    free(db);
    free(want);
    free(want2);
    free_large(&one);
    free_large(&two);
}
END_TEST

/* Softmax of huge logits must not overflow; a row of equal ones is uniform. */
START_TEST(softmax_is_stable)
{
    float xd[6] = {1000, 1000, 1000, -1000, 0, 1000};
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = nn_tensor_view(&arena, xd, NN_SHAPE(2, 3));
    nn_tensor *y = nn_softmax(&t, x, 1), *ly = nn_log_softmax(&t, x, -1);
    float want[6] = {1.0f / 3, 1.0f / 3, 1.0f / 3, 0, 0, 1};
    float want_log[6] = {-logf(3), -logf(3), -logf(3), -2000, -1000, 0};
    ck_assert(tu_close("softmax of large logits", y->data, want, 6, 1e-7, 1e-6));
    ck_assert(tu_close("log_softmax of large logits", ly->data, want_log, 6, 1e-6, 1e-6));
}
END_TEST

static Suite *ops_catalogue_suite(void)
{
    Suite *s = suite_create("ops_catalogue");
    TCase *tc = tcase_create("ops_catalogue");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, op_against_torch_and_finite_differences, 0, N_SPECS);
    tcase_add_test(tc, every_catalogue_op_is_tested);
    tcase_add_test(tc, reduction_shapes);
    tcase_add_test(tc, bad_shapes_and_axes_are_errors);
    tcase_add_test(tc, empty_tensors);
    tcase_add_test(tc, large_shapes_match_plain_loops_and_any_thread_count);
    tcase_add_test(tc, softmax_is_stable);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(ops_catalogue_suite)
