/* Class weights in the losses, and the trainer's choice of loss.
 *
 * Every case of tests/golden/loss_weights.safetensors (written by
 * tests/golden/loss_weights_reference.py with PyTorch 1.13: cross-entropy
 * with weight, ignore_index and label smoothing, nll with weight,
 * bce_with_logits with pos_weight and weight, bce with weight) is checked
 * for its output and input gradient against PyTorch's, and by a
 * finite-difference gradient check on the same inputs. Then: NULL weights
 * are the unweighted losses bit for bit; train.loss read from a config
 * gives the direct op call's loss and gradient (the default one
 * nn_softmax_cross_entropy's, bit for bit); bad configs and inputs give
 * the messages asserted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "testutil.h"
#include "train/loss_choice.h"

#define GOLDEN "tests/golden/loss_weights.safetensors"
#define MAX_ROWS 64
#define MAX_CLASSES 16

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

typedef enum loss_kind { CE, NLL, BCE_LOGITS, BCE } loss_kind;

/* A loss as the generator names it and its tolerances. */
typedef struct loss_spec {
    const char *name;
    loss_kind kind;
    double eps, atol, rtol;          /* gradient check */
    double golden_atol, golden_rtol;
} loss_spec;

static const loss_spec specs[] = {
    {"cross_entropy", CE, 1e-2, 1e-3, 1e-2, 1e-6, 1e-5},
    {"nll", NLL, 1e-2, 1e-3, 1e-2, 1e-6, 1e-5},
    {"bce_with_logits", BCE_LOGITS, 1e-2, 1e-3, 1e-2, 1e-6, 1e-5},
    {"bce", BCE, 1e-3, 1e-3, 1e-2, 1e-5, 1e-5},
};
enum { N_SPECS = (int)(sizeof specs / sizeof specs[0]) };

/* One case's loss and arguments. */
typedef struct loss_args {
    loss_kind kind;
    nn_reduction red;
    float smoothing;
    int ignore, has_weight, has_pos_weight;
    const nn_tensor *target;
    const float *weight, *pos_weight;
    int32_t labels[MAX_ROWS];
} loss_args;

/* Parses "cross_entropy reduction=mean p=0.1 ignore=2 weight=1"; 0 if
 * malformed or another loss. */
static int parse_case(const char *spec, const char *loss, loss_args *a)
{
    memset(a, 0, sizeof *a);
    a->ignore = -100;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL, *word = strtok_r(buf, " ", &save);
    if (!word || strcmp(word, loss) != 0) return 0;
    static const char *const reds[] = {"mean", "sum", "none"};
    int red_found = 0;
    while ((word = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(word, '=');
        if (!eq) return 0;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(word, "p") == 0) a->smoothing = strtof(v, NULL);
        else if (strcmp(word, "ignore") == 0) a->ignore = atoi(v);
        else if (strcmp(word, "weight") == 0) a->has_weight = atoi(v);
        else if (strcmp(word, "pos_weight") == 0) a->has_pos_weight = atoi(v);
        else if (strcmp(word, "reduction") == 0) {
            for (int i = 0; i < 3; i++)
                if (strcmp(v, reds[i]) == 0) {
                    a->red = (nn_reduction)i;
                    red_found = 1;
                }
        } else
            return 0;
    }
    return red_found;
}

/* The loss of `a` on in[0]; an nn_gradcheck_fn. */
static nn_tensor *call_loss(nn_tape *t, nn_tensor **in, void *ctx)
{
    const loss_args *a = ctx;
    switch (a->kind) {
    case CE:
        return nn_cross_entropy_weighted(t, in[0], a->labels, a->red, a->ignore, a->smoothing,
                                         a->weight);
    case NLL: return nn_nll_loss_weighted(t, in[0], a->labels, a->red, a->ignore, a->weight);
    case BCE_LOGITS:
        return nn_bce_with_logits_weighted(t, in[0], a->target, a->red, a->weight, a->pos_weight);
    case BCE: return nn_bce_loss_weighted(t, in[0], a->target, a->red, a->weight);
    }
    return NULL;
}

/* The case's tensor `<name>.<what>` in the arena. */
static nn_tensor *case_tensor(const nn_safetensors *g, const char *name, const char *what)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", name, what);
    return tu_golden_tensor(&arena, g, key);
}

START_TEST(weighted_loss_against_torch_and_finite_differences)
{
    const loss_spec *sp = &specs[_i];
    nn_safetensors *g = tu_golden_open(GOLDEN);
    const char *list = nn_safetensors_meta(g, "cases");
    ck_assert_ptr_nonnull(list);
    char *names = strdup(list), *save = NULL, key[160];
    int n_cases = 0, ok = 1;
    double y_max = 0.0, dx_max = 0.0, grad_abs = 0.0, grad_rel = 0.0;
    for (char *name = strtok_r(names, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
        snprintf(key, sizeof key, "case.%s", name);
        const char *spec = nn_safetensors_meta(g, key);
        ck_assert_ptr_nonnull(spec);
        loss_args a;
        if (!parse_case(spec, sp->name, &a)) continue;
        a.kind = sp->kind;
        n_cases++;

        nn_arena_reset(&arena);
        nn_tensor *x = case_tensor(g, name, "x0");
        x->requires_grad = 1;
        nn_tensor *target = case_tensor(g, name, "target");
        a.target = target;
        ck_assert_int_le(target->numel, MAX_ROWS);
        for (int64_t i = 0; i < target->numel; i++) a.labels[i] = (int32_t)target->data[i];
        int classes = x->shape[x->ndim - 1];
        if (a.has_weight) {
            nn_tensor *w = case_tensor(g, name, "weight");
            ck_assert_int_eq(w->numel, classes);
            a.weight = w->data;
        }
        if (a.has_pos_weight) {
            nn_tensor *pw = case_tensor(g, name, "pos_weight");
            ck_assert_int_eq(pw->numel, classes);
            a.pos_weight = pw->data;
        }

        /* Against PyTorch. */
        nn_arena step;
        nn_arena_init(&step, "step", 0);
        nn_tape t;
        nn_tape_init(&t, &step, 1, 1);
        nn_tensor *y = call_loss(&t, &x, &a);
        ck_assert_msg(y != NULL, "%s: %s", name, nn_error_message());
        snprintf(key, sizeof key, "%s.y", name);
        ck_assert_msg(tu_golden_same_shape(g, key, y), "%s: output shape", name);
        double y_diff = 0.0, dx_diff = 0.0;
        ok &= tu_golden_compare(g, key, y->data, (long)y->numel, sp->golden_atol, sp->golden_rtol,
                                &y_diff);
        nn_tensor *dy = case_tensor(g, name, "dy");
        ck_assert_int_eq(dy->numel, y->numel);
        ck_assert_int_eq(nn_tape_backward_from(&t, y, dy->data), NN_OK);
        snprintf(key, sizeof key, "%s.dx0", name);
        ok &= tu_golden_compare(g, key, x->grad, (long)x->numel, sp->golden_atol, sp->golden_rtol,
                                &dx_diff);
        nn_arena_deinit(&step);
        y_max = fmax(y_max, y_diff);
        dx_max = fmax(dx_max, dx_diff);

        /* Finite differences on the same inputs. */
        nn_gradcheck_result r = {0};
        nn_tensor *gx = nn_tensor_new(&arena, x->ndim, x->shape);
        memcpy(gx->data, x->data, (size_t)x->numel * sizeof(float));
        gx->requires_grad = 1;
        if (nn_gradcheck(call_loss, &gx, 1, &a, sp->eps, sp->atol, sp->rtol, &r) != NN_OK) {
            fprintf(stderr, "%s: %s\n", name, nn_error_message());
            ok = 0;
        }
        ck_assert_int_gt(r.checked, 0);
        grad_abs = fmax(grad_abs, r.max_abs_err);
        grad_rel = fmax(grad_rel, r.max_rel_err);
        printf("  %-40s torch max |diff| y %.2e dx %.2e   gradcheck %3ld elements, max abs err %.2e, rel %.2e\n",
               name, y_diff, dx_diff, r.checked, r.max_abs_err, r.max_rel_err);
    }
    free(names);
    nn_safetensors_close(g);
    printf("%-16s %2d cases: max |diff| from torch y %.2e dx %.2e, gradcheck max abs err %.2e, rel %.2e\n",
           sp->name, n_cases, y_max, dx_max, grad_abs, grad_rel);
    ck_assert_msg(n_cases > 0, "%s has no golden case", sp->name);
    ck_assert_msg(ok, "%s: differs from PyTorch or from finite differences (see above)", sp->name);
}
END_TEST

/* Loss value and input gradient (upstream 1, or dy for (N) outputs) of
 * `fn` on a copy of x, kept in the test arena. */
typedef struct loss_run {
    float y[MAX_ROWS];
    long ny;
    float *dx;
} loss_run;

static loss_run run_loss(nn_gradcheck_fn fn, const nn_tensor *x, void *ctx)
{
    loss_run out = {{0}, 0, NULL};
    nn_tensor *xc = nn_tensor_new(&arena, x->ndim, x->shape);
    memcpy(xc->data, x->data, (size_t)x->numel * sizeof(float));
    xc->requires_grad = 1;
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *y = fn(&t, &xc, ctx);
    ck_assert_msg(y != NULL, "%s", nn_error_message());
    ck_assert_int_le(y->numel, MAX_ROWS);
    out.ny = (long)y->numel;
    memcpy(out.y, y->data, (size_t)y->numel * sizeof(float));
    float dy[MAX_ROWS];
    for (long i = 0; i < out.ny; i++) dy[i] = 0.25f + 0.5f * (float)i;
    ck_assert_int_eq(nn_tape_backward_from(&t, y, dy), NN_OK);
    out.dx = NN_ARENA_NEW(&arena, float, x->numel);
    memcpy(out.dx, xc->grad, (size_t)x->numel * sizeof(float));
    nn_arena_deinit(&step);
    return out;
}

static void assert_bitwise(const loss_run *a, const loss_run *b, long nx, const char *what)
{
    ck_assert_int_eq(a->ny, b->ny);
    ck_assert_msg(memcmp(a->y, b->y, (size_t)a->ny * sizeof(float)) == 0, "%s: loss differs", what);
    ck_assert_msg(memcmp(a->dx, b->dx, (size_t)nx * sizeof(float)) == 0, "%s: gradient differs",
                  what);
}

static nn_tensor *plain_softmax_ce(nn_tape *t, nn_tensor **in, void *ctx)
{
    return nn_softmax_cross_entropy(t, in[0], ((const loss_args *)ctx)->labels);
}

static nn_tensor *plain_loss(nn_tape *t, nn_tensor **in, void *ctx)
{
    const loss_args *a = ctx;
    switch (a->kind) {
    case CE: return nn_cross_entropy(t, in[0], a->labels, a->red, a->ignore, a->smoothing);
    case NLL: return nn_nll_loss(t, in[0], a->labels, a->red, a->ignore);
    case BCE_LOGITS: return nn_bce_with_logits(t, in[0], a->target, a->red);
    case BCE: return nn_bce_loss(t, in[0], a->target, a->red);
    }
    return NULL;
}

/* NULL weights are the unweighted losses bit for bit; weights of 1 agree
 * with them to rounding. */
START_TEST(null_weights_are_the_plain_losses)
{
    nn_tensor *logits = tu_random(&arena, 11, -3, 3, NN_SHAPE(6, 5));
    nn_tensor *probs = tu_random(&arena, 12, 0.1f, 0.9f, NN_SHAPE(6, 5));
    nn_tensor *target = tu_random(&arena, 13, 0, 1, NN_SHAPE(6, 5));
    static const float ones[5] = {1, 1, 1, 1, 1};
    static const loss_kind kinds[] = {CE, NLL, BCE_LOGITS, BCE};
    static const nn_reduction reds[] = {NN_REDUCTION_MEAN, NN_REDUCTION_SUM, NN_REDUCTION_NONE};
    for (int k = 0; k < 4; k++)
        for (int r = 0; r < 3; r++)
            for (int ls = 0; ls < 2; ls++) {
                loss_args a = {.kind = kinds[k], .red = reds[r], .smoothing = ls ? 0.1f : 0.0f,
                               .ignore = ls ? 2 : -100, .target = target,
                               .labels = {0, 2, 4, 2, 1, 3}};
                const nn_tensor *x = kinds[k] == BCE ? probs : logits;
                char what[64];
                snprintf(what, sizeof what, "kind %d reduction %d variant %d", k, r, ls);
                loss_run plain = run_loss(plain_loss, x, &a);
                loss_run null_w = run_loss(call_loss, x, &a);
                assert_bitwise(&plain, &null_w, (long)x->numel, what);
                a.weight = ones;
                a.pos_weight = kinds[k] == BCE_LOGITS ? ones : NULL;
                loss_run one_w = run_loss(call_loss, x, &a);
                ck_assert_msg(tu_close(what, one_w.y, plain.y, plain.ny, 1e-6, 1e-6), "%s", what);
                ck_assert_msg(tu_close(what, one_w.dx, plain.dx, (long)x->numel, 1e-6, 1e-6), "%s",
                              what);
            }
}
END_TEST

/* ---- train.loss ---- */

static nn_config *parse(const char *text)
{
    nn_config *cfg = NULL;
    ck_assert_msg(nn_config_parse(&cfg, text, "loss.json") == NN_OK, "%s", nn_error_message());
    return cfg;
}

typedef struct choice_ctx {
    const nn_train_loss *loss;
    const int32_t *labels;
} choice_ctx;

static nn_tensor *choice_loss(nn_tape *t, nn_tensor **in, void *ctx)
{
    const choice_ctx *c = ctx;
    return nn_train_loss_forward(c->loss, t, in[0], c->labels);
}

/* The direct op calls each train.loss stands for. */
typedef struct direct_ctx {
    nn_train_loss_kind kind;
    const int32_t *labels;
    float smoothing;
    int ignore;
    const float *weight, *pos_weight;
    const nn_tensor *onehot;
} direct_ctx;

static nn_tensor *direct_loss(nn_tape *t, nn_tensor **in, void *ctx)
{
    const direct_ctx *d = ctx;
    switch (d->kind) {
    case NN_TRAIN_LOSS_CROSS_ENTROPY:
        return nn_cross_entropy_weighted(t, in[0], d->labels, NN_REDUCTION_MEAN, d->ignore,
                                         d->smoothing, d->weight);
    case NN_TRAIN_LOSS_NLL:
        return nn_nll_loss_weighted(t, nn_log_softmax(t, in[0], 1), d->labels, NN_REDUCTION_MEAN,
                                    d->ignore, d->weight);
    case NN_TRAIN_LOSS_BCE_WITH_LOGITS:
        return nn_bce_with_logits_weighted(t, in[0], d->onehot, NN_REDUCTION_MEAN, d->weight,
                                           d->pos_weight);
    case NN_TRAIN_LOSS_MSE: return nn_mse_loss(t, in[0], d->onehot, NN_REDUCTION_MEAN);
    case NN_TRAIN_LOSS_COUNT: break;
    }
    return NULL;
}

static const float W5[5] = {0.5f, 2.0f, 1.0f, 0.25f, 1.5f};
static const float PW5[5] = {3.0f, 0.5f, 1.0f, 2.0f, 4.0f};

START_TEST(config_gives_the_direct_op_call)
{
    static const struct {
        const char *json;
        direct_ctx d;
    } cases[] = {
        {"{\"train\": {\"loss\": {\"name\": \"cross_entropy\", \"label_smoothing\": 0.1, "
         "\"weight\": [0.5, 2, 1, 0.25, 1.5], \"ignore_index\": 3}}}",
         {NN_TRAIN_LOSS_CROSS_ENTROPY, NULL, 0.1f, 3, W5, NULL, NULL}},
        {"{\"train\": {\"loss\": {\"name\": \"nll\", \"weight\": [0.5, 2, 1, 0.25, 1.5]}}}",
         {NN_TRAIN_LOSS_NLL, NULL, 0.0f, -100, W5, NULL, NULL}},
        {"{\"train\": {\"loss\": {\"name\": \"bce_with_logits\", \"pos_weight\": [3, 0.5, 1, 2, 4], "
         "\"weight\": [0.5, 2, 1, 0.25, 1.5]}}}",
         {NN_TRAIN_LOSS_BCE_WITH_LOGITS, NULL, 0.0f, -100, W5, PW5, NULL}},
        {"{\"train\": {\"loss\": {\"name\": \"bce_with_logits\", \"weight\": null}}}",
         {NN_TRAIN_LOSS_BCE_WITH_LOGITS, NULL, 0.0f, -100, NULL, NULL, NULL}},
        {"{\"train\": {\"loss\": {\"name\": \"mse\"}}}",
         {NN_TRAIN_LOSS_MSE, NULL, 0.0f, -100, NULL, NULL, NULL}},
    };
    static const int32_t labels[6] = {0, 3, 4, 2, 3, 1};
    nn_tensor *logits = tu_random(&arena, 21, -3, 3, NN_SHAPE(6, 5));
    nn_tensor *onehot = nn_tensor_new(&arena, NN_SHAPE(6, 5));
    memset(onehot->data, 0, 30 * sizeof(float));
    for (int r = 0; r < 6; r++) onehot->data[r * 5 + labels[r]] = 1.0f;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_config *cfg = parse(cases[i].json);
        nn_train_loss l;
        ck_assert_msg(nn_train_loss_read(&l, cfg, 5, &arena) == NN_OK, "%s", nn_error_message());
        ck_assert_int_eq(nn_config_check_unknown(cfg), NN_OK);
        nn_config_free(cfg);
        direct_ctx d = cases[i].d;
        d.labels = labels;
        d.onehot = onehot;
        choice_ctx c = {&l, labels};
        loss_run a = run_loss(choice_loss, logits, &c);
        loss_run b = run_loss(direct_loss, logits, &d);
        assert_bitwise(&a, &b, 30, cases[i].json);
        ck_assert(isfinite(a.y[0]) && a.y[0] > 0.0f);
    }
}
END_TEST

/* No train.loss: cross_entropy with its defaults, shown in the resolved
 * config, and nn_softmax_cross_entropy bit for bit, loss and gradient. */
START_TEST(default_is_softmax_cross_entropy)
{
    nn_config *cfg = parse("{\"train\": {\"epochs\": 1}}");
    long epochs;
    ck_assert_int_eq(nn_config_int(cfg, "train.epochs", 1, 1, 10, &epochs), NN_OK);
    nn_train_loss l;
    ck_assert_int_eq(nn_train_loss_read(&l, cfg, 10, &arena), NN_OK);
    ck_assert_int_eq(l.kind, NN_TRAIN_LOSS_CROSS_ENTROPY);
    ck_assert_ptr_null(l.weight);
    ck_assert_int_eq(l.ignore_index, -100);
    ck_assert_float_eq(l.label_smoothing, 0.0f);
    ck_assert_int_eq(nn_config_check_unknown(cfg), NN_OK);
    char *json = nn_config_to_json(cfg);
    nn_config *again = parse(json);
    free(json);
    nn_config_free(cfg);
    /* The resolved config reads back (an explicit "weight": null included). */
    nn_train_loss l2;
    ck_assert_int_eq(nn_config_int(again, "train.epochs", 1, 1, 10, &epochs), NN_OK);
    ck_assert_int_eq(nn_train_loss_read(&l2, again, 10, &arena), NN_OK);
    ck_assert_ptr_null(l2.weight);
    ck_assert_int_eq(nn_config_has(again, "train.loss.weight"), 1);
    ck_assert_msg(nn_config_check_unknown(again) == NN_OK, "%s", nn_error_message());
    nn_config_free(again);

    nn_tensor *logits = tu_random(&arena, 31, -4, 4, NN_SHAPE(32, 10));
    loss_args a = {.kind = CE};
    for (int r = 0; r < 32; r++) a.labels[r] = (r * 7) % 10;
    choice_ctx c = {&l, a.labels};
    loss_run x = run_loss(choice_loss, logits, &c);
    loss_run y = run_loss(plain_softmax_ce, logits, &a);
    assert_bitwise(&x, &y, 320, "default train.loss");
}
END_TEST

/* Weights for more classes than nn_config_numbers takes (16), and an
 * explicit null. */
START_TEST(weights_for_many_classes)
{
    char json[1024];
    int n = snprintf(json, sizeof json, "{\"train\": {\"loss\": {\"name\": \"nll\", \"weight\": [");
    for (int i = 0; i < 100; i++)
        n += snprintf(json + n, sizeof json - (size_t)n, "%s%g", i ? "," : "", 0.5 + i);
    snprintf(json + n, sizeof json - (size_t)n, "]}}}");
    nn_config *cfg = parse(json);
    nn_train_loss l;
    ck_assert_msg(nn_train_loss_read(&l, cfg, 100, &arena) == NN_OK, "%s", nn_error_message());
    ck_assert_ptr_nonnull(l.weight);
    ck_assert_float_eq(l.weight[0], 0.5f);
    ck_assert_float_eq(l.weight[99], 99.5f);
    nn_config_free(cfg);
    cfg = parse("{\"train\": {\"loss\": {\"name\": \"bce_with_logits\", \"weight\": null, "
                "\"pos_weight\": null}}}");
    ck_assert_int_eq(nn_train_loss_read(&l, cfg, 100, &arena), NN_OK);
    ck_assert_ptr_null(l.weight);
    ck_assert_ptr_null(l.pos_weight);
    ck_assert_int_eq(nn_config_check_unknown(cfg), NN_OK);
    nn_config_free(cfg);
}
END_TEST

/* A bad train.loss: the message names the file, the key, what was found
 * and what was expected. */
START_TEST(bad_configs_are_errors)
{
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{\"train\": {\"loss\": {\"weight\": [1, 2, 3]}}}",
         "loss.json: train.loss.weight: expected null or an array of 5 numbers in [0, 1e+06] (one per "
         "class), found [1,2,3]"},
        {"{\"train\": {\"loss\": {\"name\": \"bce_with_logits\", \"pos_weight\": [1, 2, 3, 4, -1]}}}",
         "loss.json: train.loss.pos_weight: expected null or an array of 5 numbers in [0, 1e+06] (one "
         "per class), found [1,2,3,4,-1]"},
        {"{\"train\": {\"loss\": {\"name\": \"nll\", \"weight\": \"balanced\"}}}",
         "loss.json: train.loss.weight: expected null or an array of 5 numbers in [0, 1e+06] (one per "
         "class), found \"balanced\""},
        {"{\"train\": {\"loss\": {\"name\": \"cross_entropi\"}}}",
         "loss.json: train.loss.name: expected one of cross_entropy, nll, bce_with_logits, mse; found "
         "\"cross_entropi\" (did you mean `cross_entropy`?)"},
        {"{\"train\": {\"loss\": {\"label_smoothing\": 1.5}}}",
         "loss.json: train.loss.label_smoothing: expected a number in [0, 1], found 1.5"},
        {"{\"train\": {\"loss\": {\"ignore_index\": 0.5}}}",
         "loss.json: train.loss.ignore_index: expected an integer in [-2147483648, 2147483647], found 0.5"},
        {"{\"train\": {\"loss\": \"nll\"}}",
         "loss.json: train.loss: expected an object (holding `train.loss.name`), found \"nll\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_config *cfg = parse(cases[i].json);
        nn_train_loss l;
        ck_assert_int_eq(nn_train_loss_read(&l, cfg, 5, &arena), NN_ERR_INPUT);
        ck_assert_str_eq(nn_error_message(), cases[i].message);
        nn_config_free(cfg);
    }
    /* A key of another loss is an unknown key. */
    nn_config *cfg = parse("{\"train\": {\"loss\": {\"name\": \"cross_entropy\", \"pos_weight\": null}}}");
    nn_train_loss l;
    ck_assert_int_eq(nn_train_loss_read(&l, cfg, 5, &arena), NN_OK);
    ck_assert_int_eq(nn_config_check_unknown(cfg), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(),
                     "loss.json: unknown key `train.loss.pos_weight` (valid keys in train.loss: name, "
                     "label_smoothing, ignore_index, weight)");
    nn_config_free(cfg);
}
END_TEST

START_TEST(bad_inputs_are_errors)
{
    nn_config *cfg = parse("{\"train\": {\"loss\": {\"name\": \"mse\"}}}");
    nn_train_loss l;
    ck_assert_int_eq(nn_train_loss_read(&l, cfg, 5, &arena), NN_OK);
    nn_config_free(cfg);
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *x = tu_random(&arena, 41, -1, 1, NN_SHAPE(2, 4));
    int32_t labels[2] = {1, 5};
    ck_assert_ptr_null(nn_train_loss_forward(&l, &t, x, labels));
    ck_assert_str_eq(nn_error_message(), "train.loss mse: logits (2, 4), expected (N, 5)");
    x = tu_random(&arena, 42, -1, 1, NN_SHAPE(2, 5));
    ck_assert_ptr_null(nn_train_loss_forward(&l, &t, x, labels));
    ck_assert_str_eq(nn_error_message(), "mse: label 5 of sample 1 is outside [0, 5)");
    nn_tensor *s = tu_random(&arena, 43, -1, 1, 0, NULL);
    ck_assert_ptr_null(nn_bce_with_logits_weighted(&t, s, s, NN_REDUCTION_MEAN, NULL, W5));
    ck_assert_str_eq(nn_error_message(),
                     "bce_with_logits: class weights need an input with a class dim (the last), found a scalar");
    labels[1] = 4;
    ck_assert_ptr_nonnull(nn_train_loss_forward(&l, &t, x, labels));
}
END_TEST

static Suite *loss_weights_suite(void)
{
    Suite *s = suite_create("loss_weights");
    TCase *tc = tcase_create("loss_weights");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, weighted_loss_against_torch_and_finite_differences, 0, N_SPECS);
    tcase_add_test(tc, null_weights_are_the_plain_losses);
    tcase_add_test(tc, config_gives_the_direct_op_call);
    tcase_add_test(tc, default_is_softmax_cross_entropy);
    tcase_add_test(tc, weights_for_many_classes);
    tcase_add_test(tc, bad_configs_are_errors);
    tcase_add_test(tc, bad_inputs_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(loss_weights_suite)
