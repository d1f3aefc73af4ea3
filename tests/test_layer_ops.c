/* Layer ops: average pooling (fixed, adaptive, global), batch-norm 1d/2d
 * (train statistics, running stats, eval), layer-norm, dropout, embedding.
 *
 * Each op is checked against PyTorch on the cases of
 * tests/golden/layer_ops.safetensors (written by
 * tests/golden/layers_reference.py): output, input and weight gradients, and
 * for batch-norm the updated running stats and the eval-mode output. Each
 * op also gets a finite-difference gradient check. Dropout has no PyTorch
 * reference (its mask is ours): its statistics, scaling, eval identity,
 * seed reproducibility and thread independence are checked instead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "core/threads.h"
#include "io/safetensors.h"
#include "nn/params.h"
#include "ops/ops.h"
#include "testutil.h"

#define GOLDEN "tests/golden/layer_ops.safetensors"

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

/* One case: the op (first word of its spec) and integer arguments. */
typedef struct layer_case {
    char op[32];
    int k, s, p, ceil, cip, oh, ow, affine, eval, pad;
    /* embedding indices, batchnorm running stats */
    int32_t idx[256];
    int idx_ndim, idx_shape[8];
    nn_tensor *rm, *rv;
} layer_case;

static int arg(const char *spec, const char *key, int def)
{
    char pat[16];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *at = strstr(spec, pat);
    return at ? atoi(at + strlen(pat)) : def;
}

/* The op of case c on in = {x or weight, w, b}; an nn_gradcheck_fn. */
static nn_tensor *call_op(nn_tape *t, nn_tensor **in, void *ctx)
{
    layer_case *c = ctx;
    if (!strcmp(c->op, "avgpool2d")) return nn_avgpool2d(t, in[0], c->k, c->s, c->p, c->ceil, c->cip);
    if (!strcmp(c->op, "adaptive_avgpool2d")) return nn_adaptive_avgpool2d(t, in[0], c->oh, c->ow);
    if (!strcmp(c->op, "global_avgpool2d")) return nn_global_avgpool2d(t, in[0]);
    if (!strcmp(c->op, "batchnorm")) return nn_batchnorm(t, in[0], in[1], in[2], c->rm, c->rv, 0.1f, 1e-5f);
    if (!strcmp(c->op, "layernorm")) return nn_layernorm(t, in[0], c->k, in[1], in[2], 1e-5f);
    if (!strcmp(c->op, "embedding")) return nn_embedding(t, in[0], c->idx, c->idx_ndim, c->idx_shape, c->pad);
    if (!strcmp(c->op, "dropout")) return nn_dropout(t, in[0], 0.3f, 1234);
    ck_abort_msg("no call for op %s", c->op);
    return NULL;
}

/* Every golden case of ops whose name starts with `family`. */
static void against_torch(const char *family, double tol)
{
    static const char *const in_keys[3] = {"x", "w", "b"};
    tu_cases cs;
    tu_cases_open(&cs, GOLDEN, &arena);
    while (tu_cases_next(&cs)) {
        const char *spec = cs.spec;
        layer_case *c = calloc(1, sizeof *c);
        sscanf(spec, "%31s", c->op);
        if (strncmp(c->op, family, strlen(family)) != 0) {
            free(c);
            continue;
        }
        c->k = arg(spec, "k", 0), c->s = arg(spec, "s", 0), c->p = arg(spec, "p", 0);
        c->ceil = arg(spec, "ceil", 0), c->cip = arg(spec, "cip", 1);
        c->oh = arg(spec, "oh", 0), c->ow = arg(spec, "ow", 0);
        c->affine = arg(spec, "affine", 1), c->eval = arg(spec, "eval", 0), c->pad = arg(spec, "pad", 0);
        nn_tensor *in[3] = {NULL, NULL, NULL};
        int norm = !strcmp(c->op, "batchnorm") || !strcmp(c->op, "layernorm");
        int n_in = norm && c->affine ? 3 : 1;
        /* Embedding's one input is its weight. */
        const char *const *keys = in_keys + !strcmp(c->op, "embedding");
        tu_cases_inputs(&cs, in, n_in, keys);
        if (!strcmp(c->op, "embedding")) {
            nn_tensor *idx = tu_cases_tensor(&cs, "idx");
            ck_assert_int_le(idx->numel, 256);
            c->idx_ndim = idx->ndim;
            memcpy(c->idx_shape, idx->shape, sizeof(int) * (size_t)idx->ndim);
            for (int64_t i = 0; i < idx->numel; i++) c->idx[i] = (int32_t)idx->data[i];
            if (c->pad < 0) c->pad = NN_NO_PADDING_IDX;
        }
        if (!strcmp(c->op, "batchnorm")) {
            c->rm = tu_cases_tensor(&cs, "rm0");
            c->rv = tu_cases_tensor(&cs, "rv0");
        }
        nn_tensor *y = tu_cases_forward(&cs, call_op, in, c, !c->eval);
        int ndim, shape[8];
        ck_assert_int_eq(nn_safetensors_shape(cs.g, tu_cases_key(&cs, "y"), &ndim, shape), 0);
        ck_assert_int_eq(ndim, y->ndim);
        for (int d = 0; d < ndim; d++) ck_assert_int_eq(shape[d], y->shape[d]);
        tu_cases_compare(&cs, "y", y->data, (long)y->numel, tol, tol);
        tu_cases_backward(&cs, y, in, n_in, keys, tol, tol);
        if (!strcmp(c->op, "batchnorm") && !c->eval) {
            /* The running stats after the step, then eval mode with them. */
            tu_cases_compare(&cs, "rm", c->rm->data, (long)c->rm->numel, tol, tol);
            tu_cases_compare(&cs, "rv", c->rv->data, (long)c->rv->numel, tol, tol);
            nn_tape e;
            nn_tape_init(&e, &arena, 0, 0);
            nn_tensor *ye = nn_batchnorm(&e, in[0], in[1], in[2], c->rm, c->rv, 0.1f, 1e-5f);
            ck_assert_ptr_nonnull(ye);
            tu_cases_compare(&cs, "y_eval", ye->data, (long)ye->numel, tol, tol);
        }
        printf("  %-16s %-40s torch max |diff| %.2e\n", cs.name, spec, cs.diff);
        free(c);
    }
    tu_cases_close(&cs, family);
}

START_TEST(avgpool_against_torch) { against_torch("avgpool2d", 1e-5); }
END_TEST
START_TEST(adaptive_avgpool_against_torch) { against_torch("adaptive_avgpool2d", 1e-5); }
END_TEST
START_TEST(batchnorm_against_torch) { against_torch("batchnorm", 2e-5); }
END_TEST
START_TEST(layernorm_against_torch) { against_torch("layernorm", 2e-5); }
END_TEST
START_TEST(embedding_against_torch) { against_torch("embedding", 0); }
END_TEST

/* ---- finite differences ---- */

typedef struct grad_case {
    layer_case c;
    int training;
    int n_in;
    int shapes[3][5];    /* ndim, then dims */
    double atol;
} grad_case;

/* The tape training flag is set by gradcheck's own tape (training = 1);
 * eval cases pass through a wrapper that clears it. */
static nn_tensor *call_eval(nn_tape *t, nn_tensor **in, void *ctx)
{
    t->training = 0;
    return call_op(t, in, ctx);
}

static void run_gradcheck(const char *label, layer_case *c, int eval, nn_tensor **in, int n, double atol)
{
    nn_gradcheck_result r = {0};
    nn_status st = nn_gradcheck(eval ? call_eval : call_op, in, n, c, 1e-2, atol, 1e-2, &r);
    printf("  gradcheck %-32s %4ld elements, max abs err %.2e, rel %.2e\n", label, r.checked,
           r.max_abs_err, r.max_rel_err);
    ck_assert_msg(st == NN_OK, "%s: %s", label, nn_error_message());
    ck_assert_int_gt(r.checked, 0);
}

START_TEST(gradcheck_pooling)
{
    layer_case c = {.op = "avgpool2d", .k = 3, .s = 2, .p = 1, .ceil = 1, .cip = 0};
    nn_tensor *x = tu_random(&arena, 1, -2, 2, NN_SHAPE(2, 2, 7, 6));
    x->requires_grad = 1;
    run_gradcheck("avgpool2d k3 s2 p1 ceil, no pad", &c, 0, &x, 1, 1e-3);
    c.cip = 1;
    run_gradcheck("avgpool2d k3 s2 p1 ceil, pad", &c, 0, &x, 1, 1e-3);
    layer_case a = {.op = "adaptive_avgpool2d", .oh = 3, .ow = 4};
    run_gradcheck("adaptive_avgpool2d 3x4", &a, 0, &x, 1, 1e-3);
    layer_case gl = {.op = "global_avgpool2d"};
    run_gradcheck("global_avgpool2d", &gl, 0, &x, 1, 1e-3);
}
END_TEST

START_TEST(gradcheck_batchnorm)
{
    layer_case c = {.op = "batchnorm"};
    c.rm = tu_random(&arena, 7, 0, 0.1f, NN_SHAPE(3));
    c.rv = tu_random(&arena, 8, 0.8f, 1.2f, NN_SHAPE(3));
    nn_tensor *in[3] = {tu_random(&arena, 2, -2, 2, NN_SHAPE(4, 3, 3, 2)),
                        tu_random(&arena, 3, 0.5f, 1.5f, NN_SHAPE(3)), tu_random(&arena, 4, -1, 1, NN_SHAPE(3))};
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    run_gradcheck("batchnorm2d train", &c, 0, in, 3, 2e-3);
    run_gradcheck("batchnorm2d eval", &c, 1, in, 3, 2e-3);
    nn_tensor *x1 = tu_random(&arena, 5, -2, 2, NN_SHAPE(6, 3));
    x1->requires_grad = 1;
    nn_tensor *in1[3] = {x1, in[1], in[2]};
    run_gradcheck("batchnorm1d train", &c, 0, in1, 3, 2e-3);
}
END_TEST

START_TEST(gradcheck_layernorm)
{
    layer_case c = {.op = "layernorm", .k = 2};
    nn_tensor *in[3] = {tu_random(&arena, 2, -2, 2, NN_SHAPE(3, 4, 5)),
                        tu_random(&arena, 3, 0.5f, 1.5f, NN_SHAPE(4, 5)), tu_random(&arena, 4, -1, 1, NN_SHAPE(4, 5))};
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    run_gradcheck("layernorm last 2 dims", &c, 0, in, 3, 2e-3);
}
END_TEST

START_TEST(gradcheck_embedding)
{
    /* Finite differences see the padding row's use in the forward, so the
     * check runs without padding; the padding case is checked exactly below. */
    layer_case c = {.op = "embedding", .idx_ndim = 2, .idx_shape = {3, 4}, .pad = NN_NO_PADDING_IDX};
    static const int32_t idx[12] = {0, 1, 4, 4, 2, 1, 3, 0, 4, 4, 1, 2};
    memcpy(c.idx, idx, sizeof idx);
    nn_tensor *w = tu_random(&arena, 2, -2, 2, NN_SHAPE(5, 3));
    w->requires_grad = 1;
    run_gradcheck("embedding", &c, 0, &w, 1, 1e-3);
    c.pad = 1;
    /* The padding row gets exactly nothing, the others their counts. */
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *y = call_op(&t, &w, &c);
    ck_assert_ptr_nonnull(y);
    float ones[36];
    for (int i = 0; i < 36; i++) ones[i] = 1.0f;
    ck_assert_int_eq(nn_tape_backward_from(&t, y, ones), NN_OK);
    static const float counts[5] = {2, 0, 2, 1, 4};
    for (int r = 0; r < 5; r++)
        for (int d = 0; d < 3; d++) ck_assert_float_eq(w->grad[r * 3 + d], counts[r]);
    nn_arena_deinit(&step);
    w->grad = NULL;
}
END_TEST

START_TEST(gradcheck_dropout)
{
    layer_case c = {.op = "dropout"};
    nn_tensor *x = tu_random(&arena, 2, -2, 2, NN_SHAPE(4, 25));
    x->requires_grad = 1;
    run_gradcheck("dropout p 0.3 (fixed seed)", &c, 0, &x, 1, 1e-3);
}
END_TEST

/* ---- dropout statistics ---- */

START_TEST(dropout_statistics)
{
    const int n = 200000;
    const float p = 0.3f;
    nn_tensor *x = tu_random(&arena, 3, 0.5f, 1.5f, NN_SHAPE(n));
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 1);
    nn_tensor *y = nn_dropout(&t, x, p, 42);
    ck_assert_ptr_nonnull(y);
    long kept = 0, mask_diff = 0;
    double scale_err = 0.0;
    for (int i = 0; i < n; i++) {
        if (y->data[i] != 0.0f) {
            kept++;
            scale_err = fmax(scale_err, fabs(y->data[i] - x->data[i] / (1.0f - p)));
        }
        mask_diff += (y->data[i] != 0.0f) != nn_dropout_keep(42, i, p);
    }
    ck_assert_int_eq(mask_diff, 0);
    double frac = (double)kept / n, sd = sqrt(p * (1 - p) / n);
    printf("  dropout p %.1f: kept %.4f (expect %.4f, 5 sd %.4f), max scale err %.2e\n", p, frac, 1 - p,
           5 * sd, scale_err);
    ck_assert_msg(fabs(frac - (1 - p)) < 5 * sd, "kept fraction %.4f, expected %.4f", frac, 1 - p);
    ck_assert_msg(scale_err < 1e-6, "kept values not x / (1 - p): max err %g", scale_err);

    /* Same seed: same mask, on 1 and 4 threads; another seed: another mask. */
    int threads = nn_threads_get();
    nn_threads_set(1);
    nn_tensor *y1 = nn_dropout(&t, x, p, 42);
    nn_threads_set(4);
    nn_tensor *y4 = nn_dropout(&t, x, p, 42);
    nn_threads_set(threads);
    ck_assert_int_eq(memcmp(y1->data, y->data, sizeof(float) * n), 0);
    ck_assert_int_eq(memcmp(y4->data, y->data, sizeof(float) * n), 0);
    nn_tensor *z = nn_dropout(&t, x, p, 43);
    long same = 0;
    for (int i = 0; i < n; i++) same += (z->data[i] != 0.0f) == (y->data[i] != 0.0f);
    ck_assert_msg(same < (long)(0.7 * n), "seeds 42 and 43 gave %ld of %d equal mask bits", same, n);

    /* Eval, and p = 0: x itself. p = 1: zeros. */
    nn_tape e;
    nn_tape_init(&e, &arena, 1, 0);
    ck_assert_ptr_eq(nn_dropout(&e, x, p, 42), x);
    ck_assert_ptr_eq(nn_dropout(&t, x, 0.0f, 42), x);
    nn_tensor *all = nn_dropout(&t, x, 1.0f, 42);
    long nonzero = 0;
    for (int i = 0; i < n; i++) nonzero += all->data[i] != 0.0f;
    ck_assert_int_eq(nonzero, 0);
}
END_TEST

/* relu(batchnorm(x)) and relu6(batchnorm(x)) fused in one op give the two
 * ops' values and gradients bit for bit, in training and eval; the data
 * reaches past 0 and 6 on both sides and hits 0 exactly. */
START_TEST(batchnorm_act_equals_batchnorm_then_activation)
{
    for (int act = NN_BN_ACT_RELU; act <= NN_BN_ACT_RELU6; act++)
        for (int eval = 0; eval < 2; eval++) {
            float *got[2][4];
            for (int fused = 0; fused < 2; fused++) {
                nn_tensor *x = tu_random(&arena, 70, -3, 3, NN_SHAPE(4, 3, 5, 6));
                nn_tensor *w = tu_random(&arena, 71, 1, 4, NN_SHAPE(3));
                nn_tensor *b = tu_random(&arena, 72, 1, 4, NN_SHAPE(3));
                nn_tensor *rm = tu_random(&arena, 73, -1, 1, NN_SHAPE(3));
                nn_tensor *rv = tu_random(&arena, 74, 0.5f, 1.5f, NN_SHAPE(3));
                x->data[7] = 0.0f;
                x->requires_grad = w->requires_grad = b->requires_grad = 1;
                nn_tape t;
                nn_tape_init(&t, &arena, 1, !eval);
                nn_tensor *y;
                if (fused) {
                    y = nn_batchnorm_act(&t, x, w, b, rm, rv, 0.1f, 1e-5f, (nn_bn_act)act);
                } else {
                    y = nn_batchnorm(&t, x, w, b, rm, rv, 0.1f, 1e-5f);
                    y = act == NN_BN_ACT_RELU ? nn_relu(&t, y) : nn_relu6(&t, y);
                }
                ck_assert_ptr_nonnull(y);
                nn_tensor *dy = tu_random(&arena, 75, -1, 1, NN_SHAPE(4, 3, 5, 6));
                ck_assert_int_eq(nn_tape_backward_from(&t, y, dy->data), NN_OK);
                got[fused][0] = y->data;
                got[fused][1] = x->grad;
                got[fused][2] = w->grad;
                got[fused][3] = b->grad;
                if (fused) {
                    int zeros = 0, sixes = 0;
                    for (int i = 0; i < 360; i++) zeros += y->data[i] == 0.0f, sixes += y->data[i] == 6.0f;
                    ck_assert_int_gt(zeros, 0);
                    if (act == NN_BN_ACT_RELU6) ck_assert_int_gt(sixes, 0);
                }
            }
            ck_assert_int_eq(memcmp(got[0][0], got[1][0], 360 * sizeof(float)), 0);
            ck_assert_int_eq(memcmp(got[0][1], got[1][1], 360 * sizeof(float)), 0);
            ck_assert_int_eq(memcmp(got[0][2], got[1][2], 3 * sizeof(float)), 0);
            ck_assert_int_eq(memcmp(got[0][3], got[1][3], 3 * sizeof(float)), 0);
        }
}
END_TEST

START_TEST(batchnorm_eval_does_not_touch_running_stats)
{
    nn_tensor *x = tu_random(&arena, 2, -2, 2, NN_SHAPE(4, 3));
    nn_tensor *rm = tu_random(&arena, 3, -1, 1, NN_SHAPE(3)), *rv = tu_random(&arena, 4, 0.5f, 1, NN_SHAPE(3));
    float m0[3], v0[3];
    memcpy(m0, rm->data, sizeof m0);
    memcpy(v0, rv->data, sizeof v0);
    nn_tape e;
    nn_tape_init(&e, &arena, 0, 0);
    nn_tensor *y = nn_batchnorm(&e, x, NULL, NULL, rm, rv, 0.1f, 1e-5f);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(memcmp(m0, rm->data, sizeof m0), 0);
    ck_assert_int_eq(memcmp(v0, rv->data, sizeof v0), 0);
    ck_assert_float_eq_tol(y->data[0], (x->data[0] - m0[0]) / sqrtf(v0[0] + 1e-5f), 1e-6);
}
END_TEST

START_TEST(bad_inputs_are_errors)
{
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 1);
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 3, 4, 4));
    ck_assert_ptr_null(nn_avgpool2d(&t, x, 5, 1, 0, 0, 1));
    ck_assert_str_eq(nn_error_message(), "avgpool2d: input (2, 3, 4, 4) does not fit kernel 5, stride 1, padding 0");
    ck_assert_ptr_null(nn_batchnorm(&t, x, tu_random(&arena, 1, 0, 1, NN_SHAPE(4)), NULL, NULL, NULL, 0.1f, 1e-5f));
    ck_assert_str_eq(nn_error_message(), "batchnorm: weight has 4 values, expected 3 (the channels of (2, 3, 4, 4))");
    ck_assert_ptr_null(nn_dropout(&t, x, 1.5f, 1));
    ck_assert_str_eq(nn_error_message(), "dropout: probability 1.5 is not in [0, 1]");
    nn_tensor *w = tu_random(&arena, 1, -1, 1, NN_SHAPE(5, 2));
    const int32_t idx[3] = {0, 5, 1};
    ck_assert_ptr_null(nn_embedding(&t, w, idx, NN_SHAPE(3), NN_NO_PADDING_IDX));
    ck_assert_str_eq(nn_error_message(), "embedding: index 5 at position 1 is out of range [0, 5)");
    ck_assert_ptr_null(nn_embedding(&t, w, idx, NN_SHAPE(3), -6));
    ck_assert_str_eq(nn_error_message(), "embedding: padding_idx -6 is out of range for 5 embeddings");
    ck_assert_ptr_null(nn_layernorm(&t, x, 5, NULL, NULL, 1e-5f));
    ck_assert_str_eq(nn_error_message(), "layernorm: cannot normalize the last 5 dims of (2, 3, 4, 4)");
}
END_TEST

/* BatchNorm's running stats as parameter-set buffers: no grad, outside the
 * range optimizers update, initialized and kept in declaration order. */
START_TEST(params_buffers_get_no_gradient)
{
    nn_params p;
    nn_params_init(&p, &arena);
    nn_tensor *w = nn_params_add(&p, "bn.weight", NN_SHAPE(3), nn_init_torch_norm_weight());
    nn_tensor *rm = nn_params_add_buffer(&p, "bn.running_mean", NN_SHAPE(3), nn_init_zeros());
    nn_tensor *rv = nn_params_add_buffer(&p, "bn.running_var", NN_SHAPE(3), nn_init_ones());
    nn_tensor *b = nn_params_add(&p, "bn.bias", NN_SHAPE(3), nn_init_torch_norm_bias());
    nn_rng rng;
    nn_rng_seed(&rng, 1, 1);
    ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
    ck_assert_int_eq(p.total, 6);
    ck_assert_int_eq(p.buffer_total, 6);
    ck_assert_ptr_eq(w->data, p.values);
    ck_assert_ptr_eq(b->data, p.values + 3);
    ck_assert_ptr_eq(rm->data, p.values + 6);
    ck_assert_ptr_eq(rv->data, p.values + 9);
    ck_assert(!rm->requires_grad && !rv->requires_grad && !rm->grad && !rv->grad);
    ck_assert_float_eq(rv->data[2], 1.0f);
    ck_assert_ptr_eq(nn_params_find(&p, "bn.running_var"), rv);
    /* A training step through batch-norm: grads for weight and bias only. */
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *x = tu_random(&step, 2, -1, 1, NN_SHAPE(4, 3));
    nn_tensor *y = nn_batchnorm(&t, x, w, b, rm, rv, 0.1f, 1e-5f);
    float dy[12];
    for (int i = 0; i < 12; i++) dy[i] = 0.1f * (float)i;
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
    ck_assert(!rm->grad && !rv->grad);
    ck_assert(rm->data[0] != 0.0f && rv->data[0] != 1.0f);
    ck_assert(b->grad[0] != 0.0f);
    nn_arena_deinit(&step);
}
END_TEST

static Suite *layer_ops_suite(void)
{
    Suite *s = suite_create("layer_ops");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, avgpool_against_torch);
    tcase_add_test(tc, adaptive_avgpool_against_torch);
    tcase_add_test(tc, batchnorm_against_torch);
    tcase_add_test(tc, layernorm_against_torch);
    tcase_add_test(tc, embedding_against_torch);
    tcase_add_test(tc, gradcheck_pooling);
    tcase_add_test(tc, gradcheck_batchnorm);
    tcase_add_test(tc, gradcheck_layernorm);
    tcase_add_test(tc, gradcheck_embedding);
    tcase_add_test(tc, gradcheck_dropout);
    tcase_add_test(tc, dropout_statistics);
    tcase_add_test(tc, batchnorm_act_equals_batchnorm_then_activation);
    tcase_add_test(tc, batchnorm_eval_does_not_touch_running_stats);
    tcase_add_test(tc, bad_inputs_are_errors);
    tcase_add_test(tc, params_buffers_get_no_gradient);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(layer_ops_suite)
