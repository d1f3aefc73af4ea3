/* The graph ops: spmm (CSR x dense), segment_sum/mean/max, segment_softmax.
 *
 * Every case of tests/golden/graph_ops.safetensors (written by
 * tests/golden/graph_reference.py with PyTorch) is checked against PyTorch's
 * output and input gradient, and by a finite-difference gradient check on
 * fresh inputs of the same shapes with the case's CSR or segment ids. Then
 * spmm and segment_sum give the same bits with 1 and 2 threads, softmax is
 * stable for large scores, and bad arguments give clear messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "core/threads.h"
#include "ops/graph.h"
#include "ops/ops.h"
#include "testutil.h"

#define GOLDEN "tests/golden/graph_ops.safetensors"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef enum kind { SPMM, SEG_SUM, SEG_MEAN, SEG_MAX, SEG_SOFTMAX, N_KINDS } kind;

static const char *kind_names[N_KINDS] = {"spmm", "segment_sum", "segment_mean", "segment_max",
                                          "segment_softmax"};
static const nn_op_id kind_ops[N_KINDS] = {NN_OP_SPMM, NN_OP_SEGMENT_SUM, NN_OP_SEGMENT_MEAN,
                                           NN_OP_SEGMENT_MAX, NN_OP_SEGMENT_SOFTMAX};
/* Golden tolerances (atol = rtol): float sums in another order than torch's. */
static const double kind_tol[N_KINDS] = {1e-5, 1e-5, 1e-5, 0, 1e-5};

typedef struct case_args {
    int k;                /* a kind */
    int rows, cols, segments;
    nn_csr csr;
    int32_t *seg;
} case_args;

static nn_tensor *call_op(nn_tape *t, nn_tensor **in, void *ctx)
{
    const case_args *a = ctx;
    switch (a->k) {
    case SPMM: return nn_spmm(t, &a->csr, in[0]);
    case SEG_SUM: return nn_segment_sum(t, in[0], a->seg, a->segments);
    case SEG_MEAN: return nn_segment_mean(t, in[0], a->seg, a->segments);
    case SEG_MAX: return nn_segment_max(t, in[0], a->seg, a->segments);
    case SEG_SOFTMAX: return nn_segment_softmax(t, in[0], a->seg, a->segments);
    default: ck_abort_msg("no call for kind %d", a->k);
    }
    return NULL;
}

/* Takes one key=value of a spec; a tu_spec_set_fn. */
static int set_arg(const char *key, const char *v, void *args)
{
    case_args *a = args;
    if (strcmp(key, "rows") == 0) a->rows = atoi(v);
    else if (strcmp(key, "cols") == 0) a->cols = atoi(v);
    else if (strcmp(key, "segments") == 0) a->segments = atoi(v);
    else return 0;
    return 1;
}

static int parse_case(const char *spec, case_args *a)
{
    memset(a, 0, sizeof *a);
    return tu_spec_parse(spec, kind_names, N_KINDS, &a->k, set_arg, a);
}

/* Max has a kink at ties: gradient-check inputs spaced well apart. A tu_fill_fn. */
static void fresh_input(nn_tensor *x, int i, int case_no, const void *ctx)
{
    const case_args *a = ctx;
    (void)i;
    if (a->k == SEG_MAX) tu_fill_distinct(x, 50 + (uint64_t)case_no, 0.1f);
    else tu_fill_uniform(x, 50 + (uint64_t)case_no, -2, 2);
}

START_TEST(op_against_torch_and_finite_differences)
{
    static const char *const x_name[1] = {"x"};
    kind k = (kind)_i;
    tu_cases c;
    tu_cases_open(&c, GOLDEN, &arena);
    while (tu_cases_next(&c)) {
        case_args a;
        ck_assert_msg(parse_case(c.spec, &a), "golden case %s: bad spec `%s`", c.name, c.spec);
        if (a.k != (int)k) continue;
        if (k == SPMM) {
            a.csr = (nn_csr){a.rows, a.cols, tu_cases_ints(&c, "row_ptr", NULL),
                             tu_cases_ints(&c, "col_idx", NULL), tu_cases_tensor(&c, "val")->data};
        } else {
            a.seg = tu_cases_ints(&c, "seg", NULL);
        }
        nn_tensor *x;
        tu_cases_inputs(&c, &x, 1, x_name);
        nn_tensor *y = tu_cases_forward(&c, call_op, &x, &a, 1);
        ck_assert_ptr_eq(y->node->op, &nn_op_defs[kind_ops[k]]);
        tu_cases_compare_y(&c, y, kind_tol[k], kind_tol[k]);
        tu_cases_backward(&c, y, &x, 1, x_name, kind_tol[k], kind_tol[k]);
        tu_cases_gradcheck(&c, call_op, &x, 1, &a, fresh_input, 1e-2, 1e-3, 1e-2);
        tu_cases_print(&c);
    }
    tu_cases_close(&c, kind_names[k]);
}
END_TEST

/* spmm and segment_sum, forward and backward, on inputs big enough to
 * thread: the same bits with 1 and 2 threads. */
enum { DROWS = 3000, DCOLS = 2000, DF = 16, DNNZ = 24000, DSEG = 700 };

typedef struct det_run {
    float *y[2], *dx[2];
} det_run;

static void run_det(det_run *o, const nn_csr *a, nn_tensor *x, nn_tensor *e, const int32_t *seg,
                    const float *dy)
{
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    x->grad = NULL;
    nn_tensor *y = nn_spmm(&t, a, x);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
    o->y[0] = tu_copy_floats(y->data, y->numel);
    o->dx[0] = tu_copy_floats(x->grad, x->numel);
    nn_tape_init(&t, &step, 1, 1);
    e->grad = NULL;
    y = nn_segment_sum(&t, e, seg, DSEG);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
    o->y[1] = tu_copy_floats(y->data, y->numel);
    o->dx[1] = tu_copy_floats(e->grad, e->numel);
    x->grad = e->grad = NULL;
    nn_arena_deinit(&step);
}

START_TEST(spmm_and_segment_sum_are_deterministic)
{
    int32_t *row_ptr = NN_ARENA_NEW(&arena, int32_t, DROWS + 1);
    int32_t *col = NN_ARENA_NEW(&arena, int32_t, DNNZ);
    int32_t *seg = NN_ARENA_NEW(&arena, int32_t, DNNZ);
    for (int r = 0; r <= DROWS; r++) row_ptr[r] = (int32_t)((int64_t)r * DNNZ / DROWS);
    /* Skewed columns, so some columns of A^T are long. */
    for (int k = 0; k < DNNZ; k++) {
        col[k] = (int32_t)(((unsigned)k * 7919u) % (k % 3 ? DCOLS : 37));
        seg[k] = (int32_t)(((unsigned)k * 104729u + (unsigned)k / 7) % DSEG);
    }
    nn_tensor *vals = tu_random(&arena, 1, -1, 1, NN_SHAPE(DNNZ));
    nn_csr a = {DROWS, DCOLS, row_ptr, col, vals->data};
    nn_tensor *x = tu_random(&arena, 2, -1, 1, NN_SHAPE(DCOLS, DF));
    nn_tensor *e = tu_random(&arena, 3, -1, 1, NN_SHAPE(DNNZ, DF));
    nn_tensor *dy = tu_random(&arena, 4, -1, 1, NN_SHAPE(DROWS * DF));
    x->requires_grad = e->requires_grad = 1;
    det_run one, two;
    nn_threads_set(1);
    run_det(&one, &a, x, e, seg, dy->data);
    nn_threads_set(2);
    run_det(&two, &a, x, e, seg, dy->data);
    nn_threads_set(0);
    /* segment_sum against a plain double loop. */
    double *want = calloc((size_t)DSEG * DF, sizeof(double));
    for (int k = 0; k < DNNZ; k++)
        for (int j = 0; j < DF; j++) want[seg[k] * DF + j] += e->data[k * DF + j];
    float *wf = malloc(sizeof(float) * DSEG * DF);
    for (int i = 0; i < DSEG * DF; i++) wf[i] = (float)want[i];
    ck_assert(tu_close("segment_sum vs double loop", one.y[1], wf, DSEG * DF, 1e-5, 1e-5));
    free(want);
    free(wf);
    const int64_t ny[2] = {(int64_t)DROWS * DF, (int64_t)DSEG * DF};
    const int64_t nx[2] = {(int64_t)DCOLS * DF, (int64_t)DNNZ * DF};
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(memcmp(one.y[i], two.y[i], sizeof(float) * (size_t)ny[i]) == 0,
                      "%s output differs between 1 and 2 threads", i ? "segment_sum" : "spmm");
        ck_assert_msg(memcmp(one.dx[i], two.dx[i], sizeof(float) * (size_t)nx[i]) == 0,
                      "%s dx differs between 1 and 2 threads", i ? "segment_sum" : "spmm");
        free(one.y[i]), free(two.y[i]), free(one.dx[i]), free(two.dx[i]);
    }
    printf("spmm (%d x %d, %d nonzeros, F %d) and segment_sum: 1 and 2 threads bit-identical\n",
           DROWS, DCOLS, DNNZ, DF);
}
END_TEST

/* Scores of 1000 and more neither overflow nor give NaN; an unweighted CSR
 * (values NULL) sums rows. */
START_TEST(softmax_is_stable_and_csr_values_default_to_one)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *s = nn_tensor_new(&arena, NN_SHAPE(4));
    const float big[4] = {1000.0f, 1001.0f, -1000.0f, 3000.0f};
    memcpy(s->data, big, sizeof big);
    const int32_t seg[4] = {0, 0, 1, 1};
    nn_tensor *y = nn_segment_softmax(&t, s, seg, 2);
    ck_assert_ptr_nonnull(y);
    const float want[4] = {0.26894142f, 0.73105858f, 0.0f, 1.0f};
    ck_assert(tu_close("segment_softmax of large scores", y->data, want, 4, 1e-6, 1e-6));
    const int32_t rp[3] = {0, 2, 3}, ci[3] = {0, 1, 1};
    nn_csr a = {2, 2, rp, ci, NULL};
    nn_tensor *x = nn_tensor_new(&arena, NN_SHAPE(2, 1));
    x->data[0] = 2.0f, x->data[1] = 5.0f;
    y = nn_spmm(&t, &a, x);
    ck_assert_ptr_nonnull(y);
    ck_assert_float_eq(y->data[0], 7.0f);
    ck_assert_float_eq(y->data[1], 5.0f);
}
END_TEST

START_TEST(every_graph_op_is_tested)
{
    tu_assert_ops_tested("test_graph_ops.c", NN_OP_SPMM, NN_OP_SEGMENT_SOFTMAX, kind_ops, N_KINDS);
}
END_TEST

START_TEST(bad_arguments_are_errors)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(3, 2));
    const int32_t rp[3] = {0, 2, 3}, ci[3] = {0, 1, 3}, bad_rp[3] = {0, 2, 1};
    nn_csr a = {2, 3, rp, ci, NULL};
    ck_assert_ptr_null(nn_spmm(&t, &a, x));
    ck_assert_str_eq(nn_error_message(), "spmm: col_idx[2] is 3, out of range [0, 3)");
    a.row_ptr = bad_rp;
    ck_assert_ptr_null(nn_spmm(&t, &a, x));
    ck_assert_str_eq(nn_error_message(), "spmm: row_ptr decreases at row 1 (2 to 1)");
    a.cols = 4;
    ck_assert_ptr_null(nn_spmm(&t, &a, x));
    ck_assert_str_eq(nn_error_message(),
                     "spmm: x is (3, 2), expected (4, F) for a (2, 4) sparse matrix");
    const int32_t seg[3] = {0, 2, 1};
    ck_assert_ptr_null(nn_segment_sum(&t, x, seg, 2));
    ck_assert_str_eq(nn_error_message(), "segment_sum: segment id 2 at row 1 is out of range [0, 2)");
    ck_assert_ptr_null(nn_segment_softmax(&t, x, seg, 2));
    ck_assert_str_eq(nn_error_message(),
                     "segment_softmax: segment id 2 at row 1 is out of range [0, 2)");
    ck_assert_ptr_null(nn_segment_max(&t, NULL, seg, 3));
}
END_TEST

static Suite *graph_ops_suite(void)
{
    Suite *s = suite_create("graph_ops");
    TCase *tc = tcase_create("graph_ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, op_against_torch_and_finite_differences, 0, N_KINDS);
    tcase_add_test(tc, spmm_and_segment_sum_are_deterministic);
    tcase_add_test(tc, softmax_is_stable_and_csr_values_default_to_one);
    tcase_add_test(tc, every_graph_op_is_tested);
    tcase_add_test(tc, bad_arguments_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(graph_ops_suite)
