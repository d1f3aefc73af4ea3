/* The fused attention op nn_attention.
 *
 * Every case of tests/golden/attention.safetensors (written by
 * tests/golden/attention_reference.py with PyTorch: no mask, causal,
 * padding, causal + padding, Lq != Lk, and rows with every key masked) is
 * checked two ways: output and dq, dk, dv against PyTorch's for the same
 * inputs, mask and upstream gradient, and a finite-difference gradient
 * check on fresh inputs of the same shapes with the case's masks. Then: a
 * fully masked row outputs zeros, the output and gradients are the same
 * bits with 1 and 2 threads, evaluation gives the training output, and bad
 * shapes give clear messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "core/threads.h"
#include "ops/attention.h"
#include "ops/ops.h"
#include "testutil.h"

#define GOLDEN "tests/golden/attention.safetensors"
/* float32 against PyTorch's float64. */
#define GOLDEN_TOL 2e-5

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef struct att_case {
    int causal;
    uint8_t *pad;   /* (B, Lk) or NULL */
    float scale;
} att_case;

/* An nn_gradcheck_fn: in = q, k, v. */
static nn_tensor *call_attention(nn_tape *t, nn_tensor **in, void *ctx)
{
    const att_case *c = ctx;
    return nn_attention(t, in[0], in[1], in[2], c->causal, c->pad, c->scale);
}

START_TEST(attention_against_torch_and_finite_differences)
{
    static const char *const in_names[3] = {"q", "k", "v"};
    tu_cases c;
    tu_cases_open(&c, GOLDEN, &arena);
    while (tu_cases_next(&c)) {
        att_case a = {0};
        ck_assert_msg(sscanf(c.spec, "causal=%d", &a.causal) == 1, "%s: bad spec", c.name);
        nn_tensor *in[3];
        tu_cases_inputs(&c, in, 3, in_names);
        a.pad = tu_cases_mask(&c, "pad");
        nn_tensor *y = tu_cases_forward(&c, call_attention, in, &a, 1);
        tu_cases_compare_y(&c, y, GOLDEN_TOL, GOLDEN_TOL);
        tu_cases_backward(&c, y, in, 3, in_names, GOLDEN_TOL, GOLDEN_TOL);
        tu_cases_gradcheck(&c, call_attention, in, 3, &a, tu_fill_case_uniform, 1e-2, 1e-3, 1e-2);
        tu_cases_print(&c);
    }
    tu_cases_close(&c, "attention");
    ck_assert_int_ge(c.n, 5);
}
END_TEST

/* A query whose keys are all masked outputs zeros and passes no gradient;
 * the other rows are unaffected. */
START_TEST(fully_masked_rows_are_zero)
{
    enum { B = 2, H = 1, L = 3, D = 2 };
    nn_tensor *q = tu_random(&arena, 1, -1, 1, NN_SHAPE(B, H, L, D));
    nn_tensor *k = tu_random(&arena, 2, -1, 1, NN_SHAPE(B, H, L, D));
    nn_tensor *v = tu_random(&arena, 3, -1, 1, NN_SHAPE(B, H, L, D));
    q->requires_grad = k->requires_grad = v->requires_grad = 1;
    /* Batch 0: key 0 padded, so causal query 0 sees nothing.
     * Batch 1: every key padded. */
    uint8_t pad[B * L] = {1, 0, 0, 1, 1, 1};
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *y = nn_attention(&t, q, k, v, 1, pad, 0.0f);
    ck_assert_ptr_nonnull(y);
    float dy[B * H * L * D];
    for (int i = 0; i < B * H * L * D; i++) dy[i] = 1.0f;
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
    for (int j = 0; j < D; j++) ck_assert_float_eq(y->data[j], 0.0f);   /* b 0, query 0 */
    for (int i = L * D; i < 2 * L * D; i++) {                          /* all of batch 1 */
        ck_assert_float_eq(y->data[i], 0.0f);
        ck_assert_float_eq(q->grad[i], 0.0f);
        ck_assert_float_eq(k->grad[i], 0.0f);
        ck_assert_float_eq(v->grad[i], 0.0f);
    }
    for (int j = 0; j < D; j++) ck_assert_float_eq(q->grad[j], 0.0f);
    /* Batch 0, query 1 sees only key 1: y = v[1]. */
    for (int j = 0; j < D; j++) ck_assert_float_eq(y->data[D + j], v->data[D + j]);
    for (int i = 0; i < B * H * L * D; i++) ck_assert(isfinite(y->data[i]));
    nn_arena_deinit(&step);
}
END_TEST

typedef struct det_run {
    float *y, *dq, *dk, *dv;
} det_run;

static void run_det(det_run *o, nn_tensor *q, nn_tensor *k, nn_tensor *v, const uint8_t *pad,
                    const float *dy)
{
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    q->grad = k->grad = v->grad = NULL;
    nn_tensor *y = nn_attention(&t, q, k, v, 1, pad, 0.0f);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
    o->y = tu_copy_floats(y->data, y->numel);
    o->dq = tu_copy_floats(q->grad, q->numel);
    o->dk = tu_copy_floats(k->grad, k->numel);
    o->dv = tu_copy_floats(v->grad, v->numel);
    /* Evaluation (no tape recording) gives the same output. */
    nn_tape_init(&t, &step, 0, 0);
    nn_tensor *ye = nn_attention(&t, q, k, v, 1, pad, 0.0f);
    ck_assert_ptr_nonnull(ye);
    ck_assert(memcmp(ye->data, o->y, sizeof(float) * (size_t)ye->numel) == 0);
    q->grad = k->grad = v->grad = NULL;
    nn_arena_deinit(&step);
}

START_TEST(attention_is_deterministic_across_threads)
{
    enum { B = 3, H = 4, LQ = 40, LK = 50, D = 16, DV = 24 };
    nn_tensor *q = tu_random(&arena, 1, -1, 1, NN_SHAPE(B, H, LQ, D));
    nn_tensor *k = tu_random(&arena, 2, -1, 1, NN_SHAPE(B, H, LK, D));
    nn_tensor *v = tu_random(&arena, 3, -1, 1, NN_SHAPE(B, H, LK, DV));
    nn_tensor *dy = tu_random(&arena, 4, -1, 1, NN_SHAPE(B * H * LQ * DV));
    q->requires_grad = k->requires_grad = v->requires_grad = 1;
    uint8_t pad[B * LK] = {0};
    for (int i = 0; i < B * LK; i++) pad[i] = (i % 7) == 3;
    det_run one, two;
    int threads = nn_threads_get();
    nn_threads_set(1);
    run_det(&one, q, k, v, pad, dy->data);
    nn_threads_set(2);
    run_det(&two, q, k, v, pad, dy->data);
    nn_threads_set(threads);
    ck_assert(memcmp(one.y, two.y, sizeof(float) * B * H * LQ * DV) == 0);
    ck_assert(memcmp(one.dq, two.dq, sizeof(float) * B * H * LQ * D) == 0);
    ck_assert(memcmp(one.dk, two.dk, sizeof(float) * B * H * LK * D) == 0);
    ck_assert(memcmp(one.dv, two.dv, sizeof(float) * B * H * LK * DV) == 0);
    free(one.y), free(one.dq), free(one.dk), free(one.dv);
    free(two.y), free(two.dq), free(two.dk), free(two.dv);
}
END_TEST

START_TEST(bad_arguments_are_errors)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *q = tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 3, 4, 5));
    nn_tensor *k = tu_random(&arena, 2, -1, 1, NN_SHAPE(2, 3, 6, 5));
    nn_tensor *v = tu_random(&arena, 3, -1, 1, NN_SHAPE(2, 3, 6, 7));
    nn_tensor *k4 = tu_random(&arena, 4, -1, 1, NN_SHAPE(2, 3, 6, 4));
    nn_tensor *q3 = tu_random(&arena, 5, -1, 1, NN_SHAPE(6, 4, 5));
    ck_assert_ptr_nonnull(nn_attention(&t, q, k, v, 0, NULL, 0.0f));
    ck_assert_ptr_null(nn_attention(&t, q, k4, v, 0, NULL, 0.0f));
    ck_assert_str_eq(nn_error_message(),
                     "attention: q (2, 3, 4, 5), k (2, 3, 6, 4), v (2, 3, 6, 7) do not fit "
                     "(B, H, Lq, D), (B, H, Lk, D), (B, H, Lk, Dv) with Lq, Lk, D, Dv >= 1");
    ck_assert_ptr_null(nn_attention(&t, q3, k, v, 0, NULL, 0.0f));
    ck_assert_str_eq(nn_error_message(),
                     "attention: q (6, 4, 5), k (2, 3, 6, 5), v (2, 3, 6, 7) do not fit "
                     "(B, H, Lq, D), (B, H, Lk, D), (B, H, Lk, Dv) with Lq, Lk, D, Dv >= 1");
    ck_assert_ptr_null(nn_attention(&t, q, k, v, 0, NULL, INFINITY));
    ck_assert_str_eq(nn_error_message(), "attention: scale inf is not finite");
    /* A NULL input passes through. */
    ck_assert_ptr_null(nn_attention(&t, q, NULL, v, 0, NULL, 0.0f));
}
END_TEST

static Suite *attention_suite(void)
{
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("attention");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, attention_against_torch_and_finite_differences);
    tcase_add_test(tc, fully_masked_rows_are_zero);
    tcase_add_test(tc, attention_is_deterministic_across_threads);
    tcase_add_test(tc, bad_arguments_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(attention_suite)
