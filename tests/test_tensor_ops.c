/* The tensor ops: matmul, permute/transpose, reshape, concat, slice, split,
 * where, masked_fill, gather, index_select, scatter_add.
 *
 * Every case of tests/golden/tensor_ops.safetensors (written by
 * tests/golden/tensor_reference.py with PyTorch) is checked two ways: output
 * and input gradients against PyTorch's for the same inputs, index, mask
 * and upstream gradient, and a finite-difference gradient check on fresh
 * inputs of the same shapes (with the case's index and mask). Then the ops
 * whose backward sums over repeated indices or broadcast batches give the
 * same bits with 1 and 2 threads, and bad arguments give clear messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "core/threads.h"
#include "ops/ops.h"
#include "testutil.h"

#define GOLDEN "tests/golden/tensor_ops.safetensors"
#define MAX_IN 4

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef enum kind {
    MATMUL, PERMUTE, TRANSPOSE, RESHAPE, CONCAT, SLICE, SPLIT, WHERE, MASKED_FILL, GATHER,
    INDEX_SELECT, SCATTER_ADD, N_KINDS
} kind;

static const char *kind_names[N_KINDS] = {
    "matmul", "permute", "transpose", "reshape", "concat", "slice", "split", "where",
    "masked_fill", "gather", "index_select", "scatter_add",
};

/* The op each kind exercises (the tape records transpose as a permute,
 * split as slices). */
static const nn_op_id kind_ops[N_KINDS] = {
    NN_OP_MATMUL, NN_OP_PERMUTE, NN_OP_PERMUTE, NN_OP_RESHAPE, NN_OP_CONCAT, NN_OP_SLICE,
    NN_OP_SLICE, NN_OP_WHERE, NN_OP_MASKED_FILL, NN_OP_GATHER, NN_OP_INDEX_SELECT,
    NN_OP_SCATTER_ADD,
};

/* Golden tolerances (atol = rtol): copies are exact; matmul's and the
 * broadcast sums' rounding may differ from PyTorch's. */
static const double kind_tol[N_KINDS] = {1e-5, 0, 0, 0, 0, 0, 0, 1e-6, 0, 1e-6, 1e-6, 1e-6};

/* One case's op and arguments, from its `case.<name>` metadata. */
typedef struct case_args {
    int k;                           /* a kind */
    int n_in;
    int list[NN_MAX_DIMS], n_list;   /* perm, shape, sizes */
    int axis, start, end, d0, d1;
    float value;
    int32_t *idx;                    /* index, in the test arena */
    int idx_shape[NN_MAX_DIMS];
    long n_idx;
    uint8_t *mask;
} case_args;

/* Takes one key=value of a spec; a tu_spec_set_fn. */
static int set_arg(const char *key, const char *v, void *args)
{
    case_args *a = args;
    if (strcmp(key, "axis") == 0) a->axis = atoi(v);
    else if (strcmp(key, "start") == 0) a->start = atoi(v);
    else if (strcmp(key, "end") == 0) a->end = atoi(v);
    else if (strcmp(key, "d0") == 0) a->d0 = atoi(v);
    else if (strcmp(key, "d1") == 0) a->d1 = atoi(v);
    else if (strcmp(key, "value") == 0) a->value = strtof(v, NULL);
    else if (strcmp(key, "perm") == 0 || strcmp(key, "shape") == 0 || strcmp(key, "sizes") == 0)
        tu_spec_ints(v, a->list, &a->n_list, NN_MAX_DIMS);
    else
        return 0;
    return 1;
}

static int parse_case(const char *spec, case_args *a)
{
    memset(a, 0, sizeof *a);
    return tu_spec_parse(spec, kind_names, N_KINDS, &a->k, set_arg, a);
}

/* The case's op on inputs `in`; an nn_gradcheck_fn. */
static nn_tensor *call_op(nn_tape *t, nn_tensor **in, void *ctx)
{
    const case_args *a = ctx;
    nn_tensor *x = in[0];
    switch (a->k) {
    case MATMUL: return nn_matmul(t, x, in[1]);
    case PERMUTE: return nn_permute(t, x, a->n_list, a->list);
    case TRANSPOSE: return nn_transpose(t, x, a->d0, a->d1);
    case RESHAPE: return nn_reshape(t, x, a->n_list, a->list);
    case CONCAT: return nn_concat(t, a->n_in, in, a->axis);
    case SLICE: return nn_slice(t, x, a->axis, a->start, a->end);
    case SPLIT: {
        /* The parts joined back in reverse order, as the reference does. */
        nn_tensor *ys[MAX_IN], *rev[MAX_IN];
        ck_assert_int_le(a->n_list, MAX_IN);
        if (nn_split(t, ys, x, a->axis, a->n_list, a->list) != NN_OK) return NULL;
        for (int i = 0; i < a->n_list; i++) rev[i] = ys[a->n_list - 1 - i];
        return nn_concat(t, a->n_list, rev, a->axis);
    }
    case WHERE: return nn_where(t, a->mask, x, in[1]);
    case MASKED_FILL: return nn_masked_fill(t, x, a->mask, a->value);
    case GATHER: return nn_gather(t, x, a->axis, a->idx, a->idx_shape);
    case INDEX_SELECT: return nn_index_select(t, x, a->axis, a->idx, (int)a->n_idx);
    case SCATTER_ADD: return nn_scatter_add(t, x, a->axis, a->idx, a->idx_shape, in[1]);
    default: ck_abort_msg("no call for kind %d", a->k);
    }
    return NULL;
}

/* Loads the case's float inputs x0, x1, ... (into in, n_in set), index and mask. */
static void load_case(tu_cases *c, case_args *a, nn_tensor **in)
{
    char x[16];
    for (a->n_in = 0; a->n_in < MAX_IN; a->n_in++) {
        snprintf(x, sizeof x, "x%d", a->n_in);
        if (!tu_cases_has(c, x)) break;
    }
    tu_cases_inputs(c, in, a->n_in, NULL);
    if (tu_cases_has(c, "idx")) {
        nn_tensor *f;
        a->idx = tu_cases_ints(c, "idx", &f);
        memcpy(a->idx_shape, f->shape, sizeof a->idx_shape);
        a->n_idx = (long)f->numel;
    }
    a->mask = tu_cases_mask(c, "mask");
}

/* Every golden case of kind _i: against PyTorch, then finite differences. */
START_TEST(op_against_torch_and_finite_differences)
{
    kind k = (kind)_i;
    tu_cases c;
    tu_cases_open(&c, GOLDEN, &arena);
    while (tu_cases_next(&c)) {
        case_args a;
        ck_assert_msg(parse_case(c.spec, &a), "golden case %s: bad spec `%s`", c.name, c.spec);
        if (a.k != (int)k) continue;
        nn_tensor *in[MAX_IN] = {NULL};
        load_case(&c, &a, in);
        ck_assert_int_gt(a.n_in, 0);
        nn_tensor *y = tu_cases_forward(&c, call_op, in, &a, 1);
        tu_cases_compare_y(&c, y, kind_tol[k], kind_tol[k]);
        tu_cases_backward(&c, y, in, a.n_in, NULL, kind_tol[k], kind_tol[k]);
        tu_cases_gradcheck(&c, call_op, in, a.n_in, &a, tu_fill_case_uniform, 1e-2, 1e-3, 1e-2);
        tu_cases_print(&c);
    }
    tu_cases_close(&c, kind_names[k]);
}
END_TEST

/* Every op from matmul to scatter_add has a kind above. */
START_TEST(every_tensor_op_is_tested)
{
    tu_assert_ops_tested("test_tensor_ops.c", NN_OP_MATMUL, NN_OP_SCATTER_ADD, kind_ops, N_KINDS);
}
END_TEST

/* Gradients that sum over repeated indices or broadcast batches: the same
 * bits with 1 and 2 threads. */
typedef struct det_run {
    float *y[3], *dx[3], *dsrc, *db;
} det_run;

enum { DR = 97, DC = 301, DN = 4000 };

static void run_det(det_run *o, nn_tensor *x, nn_tensor *src, nn_tensor *bm, const int32_t *idx,
                    const float *dy_big)
{
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    int ishape[2] = {DR, DN};
    /* scatter_add */
    nn_tape_init(&t, &step, 1, 1);
    x->grad = src->grad = NULL;
    nn_tensor *y = nn_scatter_add(&t, x, 1, idx, ishape, src);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy_big), NN_OK);
    o->y[0] = tu_copy_floats(y->data, y->numel);
    o->dx[0] = tu_copy_floats(x->grad, x->numel);
    o->dsrc = tu_copy_floats(src->grad, src->numel);
    /* gather */
    nn_tape_init(&t, &step, 1, 1);
    x->grad = NULL;
    y = nn_gather(&t, x, 1, idx, ishape);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy_big), NN_OK);
    o->y[1] = tu_copy_floats(y->data, y->numel);
    o->dx[1] = tu_copy_floats(x->grad, x->numel);
    /* batched matmul, rhs broadcast over 8 batches */
    nn_tape_init(&t, &step, 1, 1);
    x->grad = bm->grad = NULL;
    nn_tensor *xb = nn_reshape(&t, x, NN_SHAPE(1, DR, DC));
    nn_tensor *a = nn_concat(&t, 4, (nn_tensor *[]){xb, xb, xb, xb}, 0);
    y = nn_matmul(&t, a, bm);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy_big), NN_OK);
    o->y[2] = tu_copy_floats(y->data, y->numel);
    o->dx[2] = tu_copy_floats(x->grad, x->numel);
    o->db = tu_copy_floats(bm->grad, bm->numel);
    x->grad = src->grad = bm->grad = NULL;
    nn_arena_deinit(&step);
}

START_TEST(repeated_indices_and_broadcast_batches_are_deterministic)
{
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(DR, DC));
    nn_tensor *src = tu_random(&arena, 2, -1, 1, NN_SHAPE(DR, DN));
    nn_tensor *bm = tu_random(&arena, 3, -1, 1, NN_SHAPE(DC, 64));
    nn_tensor *dy = tu_random(&arena, 4, -1, 1, NN_SHAPE(DR * DN));
    x->requires_grad = src->requires_grad = bm->requires_grad = 1;
    int32_t *idx = NN_ARENA_NEW(&arena, int32_t, DR * DN);
    for (int i = 0; i < DR * DN; i++) idx[i] = (int32_t)((i * 7919u + (unsigned)i / 13) % DC);
    det_run one, two;
    nn_threads_set(1);
    run_det(&one, x, src, bm, idx, dy->data);
    nn_threads_set(2);
    run_det(&two, x, src, bm, idx, dy->data);
    /* scatter_add against a plain double loop. */
    double *want = calloc(DR * DC, sizeof(double));
    for (int r = 0; r < DR; r++)
        for (int j = 0; j < DN; j++) want[r * DC + idx[r * DN + j]] += src->data[r * DN + j];
    float *wf = malloc(sizeof(float) * DR * DC);
    for (int i = 0; i < DR * DC; i++) wf[i] = (float)(want[i] + x->data[i]);
    ck_assert(tu_close("scatter_add vs double loop", one.y[0], wf, DR * DC, 1e-5, 1e-5));
    free(want);
    free(wf);
    const int64_t ny[3] = {DR * DC, DR * DN, 4 * DR * 64};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(memcmp(one.y[i], two.y[i], sizeof(float) * (size_t)ny[i]) == 0,
                      "output %d differs between 1 and 2 threads", i);
        ck_assert_msg(memcmp(one.dx[i], two.dx[i], sizeof(float) * DR * DC) == 0,
                      "dx %d differs between 1 and 2 threads", i);
        free(one.y[i]), free(two.y[i]), free(one.dx[i]), free(two.dx[i]);
    }
    ck_assert(memcmp(one.dsrc, two.dsrc, sizeof(float) * DR * DN) == 0);
    ck_assert(memcmp(one.db, two.db, sizeof(float) * DC * 64) == 0);
    free(one.dsrc), free(two.dsrc), free(one.db), free(two.db);
}
END_TEST

START_TEST(bad_arguments_are_errors)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 3, 4));
    nn_tensor *w = tu_random(&arena, 2, -1, 1, NN_SHAPE(3, 5));
    ck_assert_ptr_null(nn_matmul(&t, x, w));
    ck_assert_str_eq(nn_error_message(), "matmul: shapes (2, 3, 4) and (3, 5) do not multiply");
    ck_assert_ptr_null(nn_matmul(&t, x, tu_random(&arena, 3, -1, 1, NN_SHAPE(3, 4, 5))));
    ck_assert_str_eq(nn_error_message(), "matmul: shapes (2, 3, 4) and (3, 4, 5) do not multiply");
    ck_assert_ptr_null(nn_permute(&t, x, NN_SHAPE(0, 2, 0)));
    ck_assert_str_eq(nn_error_message(),
                     "permute: the order given is not a permutation of the 3 dims of (2, 3, 4)");
    ck_assert_ptr_null(nn_transpose(&t, x, 0, 3));
    ck_assert_str_eq(nn_error_message(), "transpose: dims 0 and 3 do not both exist in (2, 3, 4)");
    ck_assert_ptr_null(nn_concat(&t, 2, (nn_tensor *[]){x, w}, 0));
    ck_assert_str_eq(nn_error_message(), "concat: (2, 3, 4) and (3, 5) differ outside axis 0");
    ck_assert_ptr_null(nn_slice(&t, x, 2, 3, 5));
    ck_assert_str_eq(nn_error_message(), "slice: [3, 5) is not a range of axis 2 of (2, 3, 4)");
    nn_tensor *ys[2];
    ck_assert_int_eq(nn_split(&t, ys, x, 1, 2, (const int[]){1, 1}), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "split: sizes summing to 2 do not split axis 1 of (2, 3, 4)");
    ck_assert_ptr_null(ys[0]);
    int32_t bad[6] = {0, 1, 5, 0, 0, 0};
    ck_assert_ptr_null(nn_gather(&t, w, 1, bad, (const int[]){3, 2}));
    ck_assert_str_eq(nn_error_message(), "gather: index 5 at position 2 is out of range [0, 5)");
    ck_assert_ptr_null(nn_gather(&t, w, 1, bad, (const int[]){4, 1}));
    ck_assert_str_eq(nn_error_message(), "gather: index of shape (4, 1) does not fit (3, 5) on axis 1");
    ck_assert_ptr_null(nn_index_select(&t, w, 0, bad, 3));
    ck_assert_str_eq(nn_error_message(), "index_select: index 5 at position 2 is out of range [0, 3)");
    ck_assert_ptr_null(nn_scatter_add(&t, w, 1, bad, (const int[]){2, 1}, x));
    ck_assert_str_eq(nn_error_message(), "scatter_add: src (2, 3, 4) is not the index's shape (2, 1)");
    uint8_t mask[24] = {0};
    ck_assert_ptr_null(nn_where(&t, mask, x, w));
    ck_assert_str_eq(nn_error_message(), "where: shapes (2, 3, 4) and (3, 5) do not broadcast");
    /* A NULL input passes through. */
    ck_assert_ptr_null(nn_slice(&t, nn_matmul(&t, x, NULL), 0, 0, 1));
}
END_TEST

static Suite *tensor_ops_suite(void)
{
    Suite *s = suite_create("tensor_ops");
    TCase *tc = tcase_create("tensor_ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, op_against_torch_and_finite_differences, 0, N_KINDS);
    tcase_add_test(tc, every_tensor_op_is_tested);
    tcase_add_test(tc, repeated_indices_and_broadcast_batches_are_deterministic);
    tcase_add_test(tc, bad_arguments_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(tensor_ops_suite)
