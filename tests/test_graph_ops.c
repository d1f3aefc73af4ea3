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
#include "io/safetensors.h"
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
    kind k;
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

static int parse_case(const char *spec, case_args *a)
{
    memset(a, 0, sizeof *a);
    a->k = N_KINDS;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL, *word = strtok_r(buf, " ", &save);
    for (int i = 0; word && i < N_KINDS; i++)
        if (strcmp(word, kind_names[i]) == 0) a->k = (kind)i;
    if (a->k == N_KINDS) return 0;
    while ((word = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(word, '=');
        if (!eq) return 0;
        *eq = '\0';
        if (strcmp(word, "rows") == 0) a->rows = atoi(eq + 1);
        else if (strcmp(word, "cols") == 0) a->cols = atoi(eq + 1);
        else if (strcmp(word, "segments") == 0) a->segments = atoi(eq + 1);
        else return 0;
    }
    return 1;
}

static int32_t *golden_ints(const nn_safetensors *g, const char *name, const char *what)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", name, what);
    nn_tensor *f = tu_golden_tensor(&arena, g, key);
    int32_t *v = NN_ARENA_NEW(&arena, int32_t, f->numel > 0 ? f->numel : 1);
    for (int64_t i = 0; i < f->numel; i++) v[i] = (int32_t)f->data[i];
    return v;
}

START_TEST(op_against_torch_and_finite_differences)
{
    kind k = (kind)_i;
    nn_safetensors *g = tu_golden_open(GOLDEN);
    const char *list = nn_safetensors_meta(g, "cases");
    ck_assert_ptr_nonnull(list);
    char *names = strdup(list), *save = NULL, key[128];
    int n_cases = 0, ok = 1;
    double golden_max = 0.0, grad_abs = 0.0, grad_rel = 0.0;
    for (char *name = strtok_r(names, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
        snprintf(key, sizeof key, "case.%s", name);
        const char *spec = nn_safetensors_meta(g, key);
        case_args a;
        ck_assert_msg(spec && parse_case(spec, &a), "golden case %s: bad spec `%s`", name,
                      spec ? spec : "(none)");
        if (a.k != k) continue;
        n_cases++;
        nn_arena_reset(&arena);
        if (k == SPMM) {
            a.csr = (nn_csr){a.rows, a.cols, golden_ints(g, name, "row_ptr"),
                             golden_ints(g, name, "col_idx"), NULL};
            snprintf(key, sizeof key, "%s.val", name);
            a.csr.values = tu_golden_tensor(&arena, g, key)->data;
        } else {
            a.seg = golden_ints(g, name, "seg");
        }
        snprintf(key, sizeof key, "%s.x", name);
        nn_tensor *x = tu_golden_tensor(&arena, g, key);
        x->requires_grad = 1;

        nn_arena step;
        nn_arena_init(&step, "step", 0);
        nn_tape t;
        nn_tape_init(&t, &step, 1, 1);
        nn_tensor *y = call_op(&t, &x, &a);
        ck_assert_msg(y != NULL, "%s: %s", name, nn_error_message());
        ck_assert_ptr_eq(y->node->op, &nn_op_defs[kind_ops[k]]);
        snprintf(key, sizeof key, "%s.y", name);
        ck_assert_msg(tu_golden_same_shape(g, key, y), "%s: output shape differs from PyTorch's", name);
        double diff = 0.0;
        ok &= tu_golden_compare(g, key, y->data, (long)y->numel, kind_tol[k], kind_tol[k], &diff);
        snprintf(key, sizeof key, "%s.dy", name);
        nn_tensor *dy = tu_golden_tensor(&arena, g, key);
        ck_assert_int_eq(dy->numel, y->numel);
        ck_assert_int_eq(nn_tape_backward_from(&t, y, dy->data), NN_OK);
        snprintf(key, sizeof key, "%s.dx", name);
        ok &= tu_golden_compare(g, key, x->grad, (long)x->numel, kind_tol[k], kind_tol[k], &diff);
        nn_arena_deinit(&step);
        golden_max = fmax(golden_max, diff);

        /* Max has a kink at ties: fresh inputs spaced well apart. */
        nn_tensor *gx = k == SEG_MAX
                            ? tu_distinct(&arena, 50 + (uint64_t)n_cases, 0.1f, x->ndim, x->shape)
                            : tu_random(&arena, 50 + (uint64_t)n_cases, -2, 2, x->ndim, x->shape);
        gx->requires_grad = 1;
        nn_gradcheck_result r = {0};
        if (nn_gradcheck(call_op, &gx, 1, &a, 1e-2, 1e-3, 1e-2, &r) != NN_OK) {
            fprintf(stderr, "%s: %s\n", name, nn_error_message());
            ok = 0;
        }
        ck_assert_int_gt(r.checked, 0);
        grad_abs = fmax(grad_abs, r.max_abs_err);
        grad_rel = fmax(grad_rel, r.max_rel_err);
        printf("  %-12s torch max |diff| %.2e   gradcheck %4ld elements, max abs err %.2e, rel %.2e\n",
               name, diff, r.checked, r.max_abs_err, r.max_rel_err);
    }
    free(names);
    nn_safetensors_close(g);
    printf("%-16s %d cases: max |diff| from torch %.2e, gradcheck max abs err %.2e, rel %.2e\n",
           kind_names[k], n_cases, golden_max, grad_abs, grad_rel);
    ck_assert_msg(n_cases > 0, "%s has no golden case", kind_names[k]);
    ck_assert_msg(ok, "%s: differs from PyTorch or from finite differences (see above)",
                  kind_names[k]);
}
END_TEST

/* spmm and segment_sum, forward and backward, on inputs big enough to
 * thread: the same bits with 1 and 2 threads. */
enum { DROWS = 3000, DCOLS = 2000, DF = 16, DNNZ = 24000, DSEG = 700 };

typedef struct det_run {
    float *y[2], *dx[2];
} det_run;

static float *keep(const float *src, int64_t n)
{
    float *d = malloc(sizeof(float) * (size_t)n);
    memcpy(d, src, sizeof(float) * (size_t)n);
    return d;
}

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
    o->y[0] = keep(y->data, y->numel);
    o->dx[0] = keep(x->grad, x->numel);
    nn_tape_init(&t, &step, 1, 1);
    e->grad = NULL;
    y = nn_segment_sum(&t, e, seg, DSEG);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
    o->y[1] = keep(y->data, y->numel);
    o->dx[1] = keep(e->grad, e->numel);
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
    for (int id = NN_OP_SPMM; id <= NN_OP_SEGMENT_SOFTMAX; id++) {
        int found = 0;
        for (int i = 0; i < N_KINDS; i++) found |= (int)kind_ops[i] == id;
        ck_assert_msg(found, "op %s has no golden kind in test_graph_ops.c", nn_op_defs[id].name);
    }
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
