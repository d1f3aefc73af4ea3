/* The losses: every case of tests/golden/losses.safetensors (written by
 * tests/golden/loss_reference.py with PyTorch 1.13) checked for its output
 * and input gradients against PyTorch's for the same inputs and upstream
 * gradient, and by a finite-difference gradient check on the same inputs
 * (targets are not differentiated). Then the plain wrapper
 * nn_softmax_cross_entropy against nn_cross_entropy, and error messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "ops/ops.h"
#include "testutil.h"

#define GOLDEN "tests/golden/losses.safetensors"
#define MAX_ROWS 64

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef enum loss_kind {
    MSE, L1, SMOOTH_L1, HUBER, BCE, BCE_LOGITS, KL_DIV, CE, NLL, COSINE, SCE
} loss_kind;

/* A loss as the generator names it, its number of differentiated inputs
 * and its tolerances. */
typedef struct loss_spec {
    const char *name;
    loss_kind kind;
    int n_in;
    double eps, atol, rtol;          /* gradient check */
    double golden_atol, golden_rtol;
} loss_spec;

static const loss_spec specs[] = {
    {"mse", MSE, 1, 1e-2, 1e-3, 1e-2, 1e-6, 1e-5},
    {"l1", L1, 1, 1e-3, 1e-3, 1e-2, 1e-6, 1e-5},
    {"smooth_l1", SMOOTH_L1, 1, 1e-3, 1e-3, 1e-2, 1e-6, 1e-5},
    {"huber", HUBER, 1, 1e-3, 1e-3, 1e-2, 1e-6, 1e-5},
    {"bce", BCE, 1, 1e-3, 1e-3, 1e-2, 1e-5, 1e-5},
    {"bce_with_logits", BCE_LOGITS, 1, 1e-2, 1e-3, 1e-2, 1e-6, 1e-5},
    {"kl_div", KL_DIV, 1, 1e-2, 1e-3, 1e-2, 1e-6, 1e-5},
    {"cross_entropy", CE, 1, 1e-2, 1e-3, 1e-2, 1e-6, 1e-5},
    {"nll", NLL, 1, 1e-2, 1e-3, 1e-2, 0, 0},
    {"cosine_embedding", COSINE, 2, 1e-3, 1e-3, 1e-2, 1e-6, 1e-5},
    {"sce", SCE, 2, 1e-3, 1e-3, 1e-2, 1e-6, 1e-5},
};
enum { N_SPECS = (int)(sizeof specs / sizeof specs[0]) };

/* One case's loss and arguments. */
typedef struct loss_args {
    loss_kind kind;
    nn_reduction red;
    float p;
    int ignore, log_target, nograd;
    int red_found;        /* the spec has a known reduction */
    const nn_tensor *target;
    int32_t labels[MAX_ROWS];
} loss_args;

/* Takes one key=value of a spec; a tu_spec_set_fn. */
static int set_arg(const char *key, const char *v, void *args)
{
    static const char *const reds[] = {"mean", "sum", "none", "batchmean"};
    loss_args *a = args;
    if (strcmp(key, "p") == 0) a->p = strtof(v, NULL);
    else if (strcmp(key, "ignore") == 0) a->ignore = atoi(v);
    else if (strcmp(key, "log_target") == 0) a->log_target = atoi(v);
    else if (strcmp(key, "nograd") == 0) a->nograd = atoi(v);
    else if (strcmp(key, "reduction") == 0) {
        for (int i = 0; i < 4; i++)
            if (strcmp(v, reds[i]) == 0) {
                a->red = (nn_reduction)i;
                a->red_found = 1;
            }
    } else
        return 0;
    return 1;
}

/* Parses "cross_entropy reduction=mean p=0.1 ignore=2" if it is a case of
 * `loss`; 0 if not or if malformed. */
static int parse_case(const char *spec, const char *loss, loss_args *a)
{
    memset(a, 0, sizeof *a);
    a->ignore = -100;
    int k;
    return tu_spec_parse(spec, &loss, 1, &k, set_arg, a) && a->red_found;
}

/* The loss of `a` on in[0] (and in[1]); an nn_gradcheck_fn. */
static nn_tensor *call_loss(nn_tape *t, nn_tensor **in, void *ctx)
{
    const loss_args *a = ctx;
    switch (a->kind) {
    case MSE: return nn_mse_loss(t, in[0], a->target, a->red);
    case L1: return nn_l1_loss(t, in[0], a->target, a->red);
    case SMOOTH_L1: return nn_smooth_l1_loss(t, in[0], a->target, a->red, a->p);
    case HUBER: return nn_huber_loss(t, in[0], a->target, a->red, a->p);
    case BCE: return nn_bce_loss(t, in[0], a->target, a->red);
    case BCE_LOGITS: return nn_bce_with_logits(t, in[0], a->target, a->red);
    case KL_DIV: return nn_kl_div(t, in[0], a->target, a->red, a->log_target);
    case CE: return nn_cross_entropy(t, in[0], a->labels, a->red, a->ignore, a->p);
    case NLL: return nn_nll_loss(t, in[0], a->labels, a->red, a->ignore);
    case COSINE: return nn_cosine_embedding_loss(t, in[0], in[1], a->target, a->red, a->p);
    case SCE: return nn_sce_loss(t, in[0], in[1], a->red, a->p);
    }
    return NULL;
}

START_TEST(loss_against_torch_and_finite_differences)
{
    const loss_spec *sp = &specs[_i];
    tu_cases c;
    tu_cases_open(&c, GOLDEN, &arena);
    while (tu_cases_next(&c)) {
        loss_args a;
        if (!parse_case(c.spec, sp->name, &a)) continue;
        a.kind = sp->kind;
        nn_tensor *in[2] = {NULL, NULL};
        tu_cases_inputs(&c, in, sp->n_in, NULL);
        nn_tensor *target = tu_cases_tensor(&c, "target");
        a.target = target;
        ck_assert_int_le(target->numel, MAX_ROWS);
        for (int64_t i = 0; i < target->numel; i++) a.labels[i] = (int32_t)target->data[i];

        /* Against PyTorch. */
        nn_tensor *y = tu_cases_forward(&c, call_loss, in, &a, 1);
        ck_assert_msg((a.red == NN_REDUCTION_NONE) == (y->ndim > 0), "%s: output rank %d", c.name, y->ndim);
        tu_cases_compare(&c, "y", y->data, (long)y->numel, sp->golden_atol, sp->golden_rtol);
        tu_cases_backward(&c, y, in, sp->n_in, NULL, sp->golden_atol, sp->golden_rtol);

        /* Finite differences on the same inputs. */
        if (!a.nograd)
            tu_cases_gradcheck(&c, call_loss, in, sp->n_in, &a, NULL, sp->eps, sp->atol, sp->rtol);
        tu_cases_print(&c);
    }
    tu_cases_close(&c, sp->name);
}
END_TEST

/* Every loss op has a spec above. */
START_TEST(every_loss_op_is_tested)
{
    static const nn_op_id ops[] = {NN_OP_MSE_LOSS, NN_OP_L1_LOSS, NN_OP_SMOOTH_L1_LOSS,
                                   NN_OP_HUBER_LOSS, NN_OP_BCE_LOSS, NN_OP_BCE_WITH_LOGITS,
                                   NN_OP_KL_DIV, NN_OP_NLL_LOSS, NN_OP_COSINE_EMBEDDING_LOSS,
                                   NN_OP_SCE_LOSS};
    ck_assert_int_eq((int)(sizeof ops / sizeof ops[0]), N_SPECS - 1);  /* + cross_entropy */
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ck_assert_ptr_nonnull(nn_op_defs[ops[i]].name);
        ck_assert_ptr_nonnull(nn_op_defs[ops[i]].backward);
    }
}
END_TEST

/* The models' entry point is nn_cross_entropy with mean, no ignore, no smoothing. */
START_TEST(softmax_cross_entropy_is_the_plain_case)
{
    nn_tensor *x = tu_random(&arena, 5, -3, 3, NN_SHAPE(4, 6));
    int32_t labels[4] = {0, 5, 2, 2};
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *a = nn_softmax_cross_entropy(&t, x, labels);
    nn_tensor *b = nn_cross_entropy(&t, x, labels, NN_REDUCTION_MEAN, -100, 0.0f);
    nn_tensor *c = nn_cross_entropy(&t, x, labels, NN_REDUCTION_NONE, -100, 0.0f);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_float_eq(a->data[0], b->data[0]);
    double mean = (c->data[0] + c->data[1] + c->data[2] + c->data[3]) / 4.0;
    ck_assert_float_eq_tol(a->data[0], mean, 1e-6);
}
END_TEST

START_TEST(bad_inputs_are_errors)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = tu_random(&arena, 1, 0.1f, 0.9f, NN_SHAPE(2, 3));
    nn_tensor *y = tu_random(&arena, 2, 0, 1, NN_SHAPE(3, 2));
    ck_assert_ptr_null(nn_mse_loss(&t, x, y, NN_REDUCTION_MEAN));
    ck_assert_str_eq(nn_error_message(), "mse_loss: input (2, 3) and target (3, 2) differ in shape");
    ck_assert_ptr_null(nn_bce_loss(&t, x, x, NN_REDUCTION_BATCHMEAN));
    ck_assert_str_eq(nn_error_message(), "bce_loss: reduction must be mean, sum or none");
    ck_assert_ptr_nonnull(nn_kl_div(&t, x, x, NN_REDUCTION_BATCHMEAN, 0));
    ck_assert_ptr_null(nn_huber_loss(&t, x, x, NN_REDUCTION_SUM, -1.0f));
    ck_assert_str_eq(nn_error_message(), "huber_loss: delta -1 must not be negative");
    int32_t labels[2] = {1, 3};
    ck_assert_ptr_null(nn_nll_loss(&t, x, labels, NN_REDUCTION_MEAN, -100));
    ck_assert_str_eq(nn_error_message(), "nll_loss: label 3 of sample 1 is outside [0, 3)");
    ck_assert_ptr_nonnull(nn_nll_loss(&t, x, labels, NN_REDUCTION_MEAN, 3));
    ck_assert_ptr_null(nn_cross_entropy(&t, x, labels, NN_REDUCTION_SUM, -100, 0.0f));
    ck_assert_str_eq(nn_error_message(), "cross_entropy: label 3 of sample 1 is outside [0, 3)");
    ck_assert_ptr_null(nn_cosine_embedding_loss(&t, x, y, x, NN_REDUCTION_MEAN, 0.0f));
    ck_assert_str_eq(nn_error_message(),
                     "cosine_embedding_loss: inputs (2, 3) and (3, 2), expected two (N, D)");
    nn_tensor *tg = tu_random(&arena, 3, 0, 1, NN_SHAPE(2));
    tg->data[0] = 1.0f;
    tg->data[1] = 0.5f;
    ck_assert_ptr_null(nn_cosine_embedding_loss(&t, x, x, tg, NN_REDUCTION_MEAN, 0.0f));
    ck_assert_str_eq(nn_error_message(), "cosine_embedding_loss: target 0.5 of row 1 is not 1 or -1");
}
END_TEST

static Suite *losses_suite(void)
{
    Suite *s = suite_create("losses");
    TCase *tc = tcase_create("losses");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, loss_against_torch_and_finite_differences, 0, N_SPECS);
    tcase_add_test(tc, every_loss_op_is_tested);
    tcase_add_test(tc, softmax_cross_entropy_is_the_plain_case);
    tcase_add_test(tc, bad_inputs_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(losses_suite)
