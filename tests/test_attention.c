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
#include "io/safetensors.h"
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

static int has_tensor(const nn_safetensors *g, const char *name)
{
    int ndim, shape[8];
    return nn_safetensors_shape(g, name, &ndim, shape) == 0;
}

START_TEST(attention_against_torch_and_finite_differences)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    const char *list = nn_safetensors_meta(g, "cases");
    ck_assert_ptr_nonnull(list);
    char *names = strdup(list), *save = NULL, key[128];
    int n_cases = 0, ok = 1;
    double golden_max = 0.0, grad_abs = 0.0, grad_rel = 0.0;
    static const char *const in_names[3] = {"q", "k", "v"};
    for (char *name = strtok_r(names, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
        n_cases++;
        nn_arena_reset(&arena);
        snprintf(key, sizeof key, "case.%s", name);
        const char *spec = nn_safetensors_meta(g, key);
        att_case c = {0};
        ck_assert_msg(spec && sscanf(spec, "causal=%d", &c.causal) == 1, "%s: bad spec", name);
        nn_tensor *in[3];
        for (int i = 0; i < 3; i++) {
            snprintf(key, sizeof key, "%s.%s", name, in_names[i]);
            in[i] = tu_golden_tensor(&arena, g, key);
            in[i]->requires_grad = 1;
        }
        snprintf(key, sizeof key, "%s.pad", name);
        if (has_tensor(g, key)) {
            nn_tensor *f = tu_golden_tensor(&arena, g, key);
            c.pad = NN_ARENA_NEW(&arena, uint8_t, f->numel);
            for (int64_t i = 0; i < f->numel; i++) c.pad[i] = f->data[i] != 0.0f;
        }

        nn_arena step;
        nn_arena_init(&step, "step", 0);
        nn_tape t;
        nn_tape_init(&t, &step, 1, 1);
        nn_tensor *y = call_attention(&t, in, &c);
        ck_assert_msg(y != NULL, "%s: %s", name, nn_error_message());
        snprintf(key, sizeof key, "%s.y", name);
        ck_assert_msg(tu_golden_same_shape(g, key, y), "%s: output shape differs from PyTorch's", name);
        double diff = 0.0;
        ok &= tu_golden_compare(g, key, y->data, (long)y->numel, GOLDEN_TOL, GOLDEN_TOL, &diff);
        snprintf(key, sizeof key, "%s.dy", name);
        nn_tensor *dy = tu_golden_tensor(&arena, g, key);
        ck_assert_int_eq(dy->numel, y->numel);
        ck_assert_int_eq(nn_tape_backward_from(&t, y, dy->data), NN_OK);
        for (int i = 0; i < 3; i++) {
            snprintf(key, sizeof key, "%s.d%s", name, in_names[i]);
            ok &= tu_golden_compare(g, key, in[i]->grad, (long)in[i]->numel, GOLDEN_TOL, GOLDEN_TOL,
                                    &diff);
        }
        nn_arena_deinit(&step);
        golden_max = fmax(golden_max, diff);

        nn_tensor *gin[3];
        for (int i = 0; i < 3; i++) {
            gin[i] = tu_random(&arena, 100 + 10 * (uint64_t)n_cases + (uint64_t)i, -2, 2,
                               in[i]->ndim, in[i]->shape);
            gin[i]->requires_grad = 1;
        }
        nn_gradcheck_result r = {0};
        if (nn_gradcheck(call_attention, gin, 3, &c, 1e-2, 1e-3, 1e-2, &r) != NN_OK) {
            fprintf(stderr, "%s: %s\n", name, nn_error_message());
            ok = 0;
        }
        ck_assert_int_gt(r.checked, 0);
        grad_abs = fmax(grad_abs, r.max_abs_err);
        grad_rel = fmax(grad_rel, r.max_rel_err);
        printf("  %-18s torch max |diff| %.2e   gradcheck %4ld elements, max abs err %.2e, rel %.2e\n",
               name, diff, r.checked, r.max_abs_err, r.max_rel_err);
    }
    free(names);
    nn_safetensors_close(g);
    printf("attention %d cases: max |diff| from torch %.2e, gradcheck max abs err %.2e, rel %.2e\n",
           n_cases, golden_max, grad_abs, grad_rel);
    ck_assert_int_ge(n_cases, 5);
    ck_assert_msg(ok, "attention: differs from PyTorch or from finite differences (see above)");
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

static float *keep(const float *src, int64_t n)
{
    float *d = malloc(sizeof(float) * (size_t)n);
    memcpy(d, src, sizeof(float) * (size_t)n);
    return d;
}

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
    o->y = keep(y->data, y->numel);
    o->dq = keep(q->grad, q->numel);
    o->dk = keep(k->grad, k->numel);
    o->dv = keep(v->grad, v->numel);
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
