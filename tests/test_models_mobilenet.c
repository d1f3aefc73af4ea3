/* The MobileNets (models/mobilenet_v1.c, mobilenet_v2.c, mobilenet_v3.c):
 * parameter counts and state_dict keys and shapes equal to torchvision's
 * (tests/golden/<model>_keys.txt and mobilenet_width_counts.txt, written by
 * tests/golden/torchvision_mobilenet_keys.py), logits and gradients equal
 * to torchvision's for the same weights (mobilenet_forward.safetensors), the
 * initialization scheme, forward shapes with both stems, the loss falling
 * on a fixed batch, and the config errors of their options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "core/threads.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/models.h"
#include "nn/layers.h"
#include "testutil.h"

#define GOLDEN_DIR "tests/golden/"
#define FORWARD_GOLDEN GOLDEN_DIR "mobilenet_forward.safetensors"

/* A model built from a config, as the trainer builds it. */
typedef struct built {
    nn_arena persistent, step;
    nn_config *cfg;
    nn_model model;
} built;

/* Builds model `name` with the `model` options `options` (JSON members,
 * may be empty) for (channels, size, size) inputs and `classes` classes,
 * and initializes it from seed 1. Returns the build status (message set). */
static nn_status try_build(built *b, const char *name, const char *options, int channels, int size,
                           int classes)
{
    char text[512];
    memset(b, 0, sizeof *b);
    nn_arena_init(&b->persistent, "persistent", 0);
    nn_arena_init(&b->step, "step", 0);
    snprintf(text, sizeof text, "{\"model\": {\"name\": \"%s\"%s%s}}", name, *options ? ", " : "",
             options);
    ck_assert_int_eq(nn_config_parse(&b->cfg, text, "test"), NN_OK);
    const char *got;
    ck_assert_int_eq(nn_config_string(b->cfg, "model.name", NULL, NULL, &got), NN_OK);
    const nn_model_def *def = nn_model_find(got);
    ck_assert_msg(def != NULL, "model %s is not registered", got);
    nn_model *m = &b->model;
    m->def = def;
    m->input = (nn_model_input){channels, size, size, classes};
    nn_params_init(&m->params, &b->persistent);
    NN_TRY(def->build(m, b->cfg));
    nn_rng rng;
    nn_rng_seed(&rng, 1, 0);
    NN_TRY(nn_params_finalize(&m->params, &rng));
    return nn_config_check_unknown(b->cfg);
}

static void build(built *b, const char *name, const char *options, int channels, int size, int classes)
{
    nn_status st = try_build(b, name, options, channels, size, classes);
    ck_assert_msg(st == NN_OK, "%s: %s", name, nn_error_message());
}

static void unbuild(built *b)
{
    nn_config_free(b->cfg);
    nn_arena_deinit(&b->step);
    nn_arena_deinit(&b->persistent);
}

/* The newest node of op `op` on the tape, or NULL; with oldest, the first one. */
static const nn_node *find_node(const nn_tape *t, nn_op_id op, int oldest)
{
    const nn_node *found = NULL;
    for (const nn_node *n = t->last; n; n = n->prev)
        if (n->op == &nn_op_defs[op]) {
            found = n;
            if (!oldest) break;
        }
    return found;
}

static const char *const all_models[] = {"mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small",
                                         "mobilenet_v3_large"};
enum { N_MODELS = 4 };

START_TEST(parameter_counts_at_1000_classes)
{
    /* torchvision's MobileNet_V2_Weights / V3 meta num_params; V1 from the
     * PyTorch module in the golden script (the paper's 4.2M). */
    static const int64_t want[N_MODELS] = {4231976, 3504872, 2542856, 5483032};
    for (int i = 0; i < N_MODELS; i++) {
        built b;
        build(&b, all_models[i], "", 3, 224, 1000);
        printf("%s: %lld parameters, %lld buffer floats\n", all_models[i],
               (long long)b.model.params.total, (long long)b.model.params.buffer_total);
        ck_assert_msg(b.model.params.total == want[i], "%s: %lld parameters, want %lld",
                      all_models[i], (long long)b.model.params.total, (long long)want[i]);
        unbuild(&b);
    }
}
END_TEST

/* GOLDEN_DIR<name>_keys.txt against p (tu_compare_state_dict). */
static int compare_keys(const char *name, const nn_params *p)
{
    char path[256];
    snprintf(path, sizeof path, GOLDEN_DIR "%s_keys.txt", name);
    return tu_compare_state_dict(path, name, p);
}

START_TEST(state_dict_keys_and_shapes_equal_torchvision)
{
    for (int i = 0; i < N_MODELS; i++) {
        built b;
        build(&b, all_models[i], "", 3, 224, 1000);
        ck_assert_msg(compare_keys(all_models[i], &b.model.params) == 0,
                      "%s: state_dict differs from torch's (see above)", all_models[i]);
        unbuild(&b);
    }
}
END_TEST

START_TEST(width_mult_counts_equal_torchvision)
{
    FILE *f = fopen(GOLDEN_DIR "mobilenet_width_counts.txt", "r");
    ck_assert_msg(f != NULL, "cannot open " GOLDEN_DIR "mobilenet_width_counts.txt");
    char line[256], model[64], options[64];
    double width;
    long long want;
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s %lf %lld", model, &width, &want) != 3) continue;
        snprintf(options, sizeof options, "\"width_mult\": %.17g", width);
        built b;
        build(&b, model, options, 3, 224, 1000);
        ck_assert_msg(b.model.params.total == want, "%s width %g: %lld parameters, torch has %lld",
                      model, width, (long long)b.model.params.total, want);
        unbuild(&b);
        checked++;
    }
    fclose(f);
    ck_assert_int_ge(checked, 4 * N_MODELS);
}
END_TEST

START_TEST(initialization_is_torchvisions)
{
    built b;
    build(&b, "mobilenet_v3_small", "", 3, 224, 1000);
    const nn_params *p = &b.model.params;
    int convs = 0, linears = 0, norms = 0;
    for (int i = 0; i < p->count; i++) {
        const nn_tensor *x = p->items[i];
        const char *name = x->name;
        size_t len = strlen(name);
        int is_weight = len > 7 && !strcmp(name + len - 7, ".weight");
        double sum = 0, sq = 0;
        for (int64_t j = 0; j < x->numel; j++) {
            sum += x->data[j];
            sq += (double)x->data[j] * x->data[j];
        }
        double mean = x->numel ? sum / (double)x->numel : 0, sd = x->numel ? sqrt(sq / (double)x->numel - mean * mean) : 0;
        if (is_weight && x->ndim == 4) {
            /* kaiming_normal fan_out: std sqrt(2 / (out * kh * kw)). */
            double want = sqrt(2.0 / ((double)x->shape[0] * x->shape[2] * x->shape[3]));
            if (x->numel >= 2000) {
                ck_assert_msg(fabs(sd / want - 1.0) < 0.1, "%s: std %g, want %g", name, sd, want);
                ck_assert_msg(fabs(mean) < 0.1 * want, "%s: mean %g", name, mean);
            }
            convs++;
        } else if (is_weight && x->ndim == 2) {
            ck_assert_msg(fabs(sd / 0.01 - 1.0) < 0.05, "%s: std %g, want 0.01", name, sd);
            linears++;
        } else if (is_weight && x->ndim == 1) {
            ck_assert_msg(sd == 0.0 && mean == 1.0, "%s: not ones", name);
            norms++;
        } else if (len > 5 && !strcmp(name + len - 5, ".bias")) {
            ck_assert_msg(sq == 0.0, "%s: not zeros", name);
        }
    }
    ck_assert_int_eq(linears, 2);
    ck_assert_int_gt(convs, 40);
    ck_assert_int_gt(norms, 30);
    unbuild(&b);
}
END_TEST

START_TEST(batchnorm_momentum_is_torchvisions)
{
    /* torch's default 0.1 for V1 and V2, 0.01 for V3 (its eps 0.001 shows
     * in the eval logits against torchvision). One training forward moves
     * running_mean from 0 to momentum times the batch mean. */
    static const float momentum[N_MODELS] = {0.1f, 0.1f, 0.01f, 0.01f};
    nn_threads_set(2);
    for (int i = 0; i < N_MODELS; i++) {
        built b;
        build(&b, all_models[i], "\"stem\": \"cifar\"", 3, 8, 10);
        nn_tape t;
        nn_tape_init(&t, &b.step, 1, 1);
        nn_tensor *x = nn_tensor_new(&b.step, NN_SHAPE(2, 3, 8, 8));
        ck_assert_ptr_nonnull(x);
        for (int64_t j = 0; j < x->numel; j++) x->data[j] = (float)sin(0.37 * (double)j);
        ck_assert_ptr_nonnull(b.model.def->forward(&b.model, &t, x));
        const nn_tensor *conv = find_node(&t, NN_OP_CONV2D, 1)->out;
        const nn_tensor *rm = nn_params_find(&b.model.params, "features.0.1.running_mean");
        ck_assert_ptr_nonnull(rm);
        for (int c = 0; c < conv->shape[1]; c++) {
            double sum = 0;
            for (int n = 0; n < 2; n++)
                for (int k = 0; k < 64; k++) sum += conv->data[((long)n * conv->shape[1] + c) * 64 + k];
            double want = momentum[i] * sum / 128.0;
            ck_assert_msg(fabs(rm->data[c] - want) <= 1e-6 + 1e-4 * fabs(want),
                          "%s: running_mean[%d] %g, want %g (momentum %g)", all_models[i], c,
                          rm->data[c], want, momentum[i]);
        }
        unbuild(&b);
    }
}
END_TEST

static nn_tensor *random_batch(nn_arena *a, uint64_t seed, int n, int size)
{
    nn_tensor *x = nn_tensor_new(a, NN_SHAPE(n, 3, size, size));
    ck_assert_ptr_nonnull(x);
    nn_rng r;
    nn_rng_seed(&r, seed, 0);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    return x;
}

START_TEST(forward_shapes_with_both_stems_at_32)
{
    nn_threads_set(2);
    for (int i = 0; i < N_MODELS; i++)
        for (int cifar = 0; cifar < 2; cifar++) {
            built b;
            build(&b, all_models[i], cifar ? "\"stem\": \"cifar\"" : "", 3, 32, 10);
            nn_tape t;
            nn_tape_init(&t, &b.step, 1, 1);
            nn_tensor *x = random_batch(&b.step, 5, 2, 32);
            nn_tensor *y = b.model.def->forward(&b.model, &t, x);
            ck_assert_msg(y != NULL, "%s: %s", all_models[i], nn_error_message());
            ck_assert_int_eq(y->ndim, 2);
            ck_assert_int_eq(y->shape[0], 2);
            ck_assert_int_eq(y->shape[1], 10);
            for (int j = 0; j < 20; j++) ck_assert(isfinite(y->data[j]));
            /* The first conv halves 32x32 (imagenet stem) or keeps it (cifar);
             * the final pool sees 1x1 or 2x2 after the 16x or 32x overall. */
            const nn_node *first = find_node(&t, NN_OP_CONV2D, 1);
            const nn_node *pool = find_node(&t, NN_OP_ADAPTIVE_AVGPOOL2D, 0);
            ck_assert_ptr_nonnull(first);
            ck_assert_ptr_nonnull(pool);
            ck_assert_ptr_null(first->prev);
            ck_assert_int_eq(first->out->shape[2], cifar ? 32 : 16);
            ck_assert_int_eq(first->out->shape[3], cifar ? 32 : 16);
            ck_assert_int_eq(pool->in[0]->shape[2], cifar ? 2 : 1);
            ck_assert_int_eq(pool->in[0]->shape[3], cifar ? 2 : 1);
            unbuild(&b);
        }
}
END_TEST

START_TEST(forward_shapes_at_224)
{
    nn_threads_set(2);
    /* Last feature map width: 1024 (V1), 1280 (V2), 576 (small), 960 (large). */
    for (int i = 0; i < N_MODELS; i++) {
        built b;
        build(&b, all_models[i], "", 3, 224, 1000);
        nn_tape t;
        nn_tape_init(&t, &b.step, 0, 0);
        nn_tensor *x = random_batch(&b.step, 6, 1, 224);
        nn_tensor *y = b.model.def->forward(&b.model, &t, x);
        ck_assert_msg(y != NULL, "%s: %s", all_models[i], nn_error_message());
        ck_assert_int_eq(y->ndim, 2);
        ck_assert_int_eq(y->shape[0], 1);
        ck_assert_int_eq(y->shape[1], 1000);
        for (int j = 0; j < 1000; j++) ck_assert(isfinite(y->data[j]));
        unbuild(&b);
    }
}
END_TEST

/* SGD with momentum 0.9 on one fixed batch of random images and labels, in
 * training mode (batch statistics, dropout). Returns the first and the last
 * step's loss. */
static void train_fixed_batch(const char *name, int steps, float lr, float *first, float *last)
{
    enum { N = 4, CLASSES = 10 };
    built b;
    build(&b, name, "\"stem\": \"cifar\"", 3, 32, CLASSES);
    nn_params *p = &b.model.params;
    float *velocity = calloc((size_t)p->total, sizeof *velocity);
    float *x = malloc(sizeof(float) * N * 3 * 32 * 32);
    int32_t y[N];
    ck_assert(velocity && x);
    nn_rng r;
    nn_rng_seed(&r, 11, 0);
    for (int i = 0; i < N * 3 * 32 * 32; i++) x[i] = nn_rng_normal(&r);
    for (int i = 0; i < N; i++) y[i] = (int32_t)nn_rng_below(&r, CLASSES);
    for (int s = 0; s < steps; s++) {
        nn_arena_reset(&b.step);
        nn_tape t;
        nn_tape_init(&t, &b.step, 1, 1);
        t.seed = 1000 + (uint64_t)s;
        nn_tensor *xt = nn_tensor_view(&b.step, x, NN_SHAPE(N, 3, 32, 32));
        nn_tensor *loss = nn_softmax_cross_entropy(&t, b.model.def->forward(&b.model, &t, xt), y);
        ck_assert_msg(loss != NULL, "%s: %s", name, nn_error_message());
        ck_assert_msg(isfinite(loss->data[0]), "%s: loss %g at step %d", name, loss->data[0], s);
        if (s == 0) *first = loss->data[0];
        *last = loss->data[0];
        nn_params_zero_grad(p);
        ck_assert_int_eq(nn_tape_backward(&t, loss), NN_OK);
        for (int64_t i = 0; i < p->total; i++) {
            velocity[i] = 0.9f * velocity[i] + p->grads[i];
            p->values[i] -= lr * velocity[i];
        }
    }
    printf("%s fixed batch (cifar stem, 32x32, %d images): loss %.4f -> %.4f in %d steps\n", name,
           N, *first, *last, steps);
    /* Every training forward counted in the running stats. */
    nn_tensor *tracked = nn_params_find(p, "features.0.1.num_batches_tracked");
    ck_assert_ptr_nonnull(tracked);
    ck_assert_float_eq(tracked->data[0], (float)steps);
    free(velocity);
    free(x);
    unbuild(&b);
}

START_TEST(loss_falls_on_a_fixed_batch)
{
    nn_threads_set(2);
    const char *name = all_models[_i];
    float first, last;
    train_fixed_batch(name, 10, 0.05f, &first, &last);
    /* ~ln 10 at init: the last Linear starts at normal(0, 0.01). */
    ck_assert_float_gt(first, 2.0f);
    ck_assert_float_lt(first, 2.6f);
    ck_assert_msg(last < 0.5f * first, "%s: loss %g -> %g, not halved", name, first, last);
}
END_TEST

START_TEST(bad_options_name_the_key)
{
    static const struct { const char *model, *options, *want; } cases[] = {
        {"mobilenet_v2", "\"stem\": \"cifar10\"",
         "test: model.stem: expected one of imagenet, cifar; found \"cifar10\" (did you mean `cifar`?)"},
        {"mobilenet_v1", "\"stem\": 1", "test: model.stem: expected"},
        {"mobilenet_v3_small", "\"width_mult\": 0", "test: model.width_mult: expected"},
        {"mobilenet_v3_large", "\"dropout\": 1",
         "test: model.dropout: expected a number in [0, 1), found 1"},
        {"mobilenet_v2", "\"dropout\": -0.5", "test: model.dropout: expected"},
        {"mobilenet_v1", "\"dropout\": 0.2", "test: unknown key `model.dropout`"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built b;
        nn_status st = try_build(&b, cases[i].model, cases[i].options, 3, 32, 10);
        ck_assert_int_eq(st, NN_ERR_INPUT);
        ck_assert_msg(!strncmp(nn_error_message(), cases[i].want, strlen(cases[i].want)),
                      "%s {%s}: got \"%s\", want \"%s...\"", cases[i].model, cases[i].options,
                      nn_error_message(), cases[i].want);
        ck_assert_ptr_null(strchr(nn_error_message(), '\n'));
        unbuild(&b);
    }
}
END_TEST

/* The generator's formula for state_dict entry k, element i (see
 * tests/golden/torchvision_mobilenet_keys.py). */
static void fill_formula(nn_tensor *x, int k)
{
    size_t len = strlen(x->name);
    int is_weight = len > 7 && !strcmp(x->name + len - 7, ".weight");
    int is_var = len > 12 && !strcmp(x->name + len - 12, ".running_var");
    for (int64_t i = 0; i < x->numel; i++) {
        double s = sin(0.37 * (double)i + k), v;
        if (x->ndim == 0) v = 0.0;
        else if (x->ndim >= 2) v = s / sqrt((double)(x->numel / x->shape[0]));
        else if (is_weight || is_var) v = 1.0 + 0.25 * s;
        else v = 0.1 * s;
        x->data[i] = (float)v;
    }
}

/* Compares `what` (a tensor) with golden <model>.<what>; 1 if close. */
static int against_torch(const nn_safetensors *g, const char *model, const char *what,
                         const nn_tensor *got, const float *data, double tol, double *max_diff)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", model, what);
    ck_assert_msg(got == NULL || tu_golden_same_shape(g, key, got), "%s: shape differs from torch's", key);
    long n = got ? (long)got->numel : 1;
    return tu_golden_compare(g, key, data, n, tol, tol, max_diff);
}

START_TEST(logits_and_gradients_equal_torchvision)
{
    enum { N = 2, CLASSES = 10, SIZE = 32 };
    static const char *const last_linear[N_MODELS] = {"classifier.weight", "classifier.1.weight",
                                                      "classifier.3.weight", "classifier.3.weight"};
    nn_threads_set(2);
    const char *name = all_models[_i];
    nn_safetensors *g = tu_golden_open(FORWARD_GOLDEN);
    built b;
    /* V1 has no dropout; the others' is off, as in the reference. */
    build(&b, name, _i == 0 ? "\"stem\": \"cifar\"" : "\"stem\": \"cifar\", \"dropout\": 0", 3, SIZE,
          CLASSES);
    nn_params *p = &b.model.params;
    for (int k = 0; k < p->count; k++) fill_formula(p->items[k], k);
    nn_tensor *x = nn_tensor_new(&b.step, NN_SHAPE(N, 3, SIZE, SIZE));
    ck_assert_ptr_nonnull(x);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = (float)sin(0.37 * (double)i - 1.0);
    int32_t y[N];
    for (int j = 0; j < N; j++) y[j] = (3 * j + 1) % CLASSES;
    double diff = 0;
    int ok = 1;
    /* Eval first, as the reference: a train forward moves the running stats. */
    for (int train = 0; train < 2; train++) {
        const char *mode = train ? "train" : "eval";
        char what[128];
        nn_tape t;
        nn_tape_init(&t, &b.step, 1, train);
        nn_tensor *logits = b.model.def->forward(&b.model, &t, x);
        nn_tensor *loss = nn_softmax_cross_entropy(&t, logits, y);
        ck_assert_msg(loss != NULL, "%s: %s", name, nn_error_message());
        /* float32 against a float64 reference; sums in another order over
         * up to ~10^4 terms, through 30 to 60 layers. Train mode is looser:
         * batch statistics over 8 values per channel in the last stages
         * amplify rounding (measured: up to 1.4e-4 in the logits and 6e-4
         * in the gradient, against 2e-5 in eval mode). */
        double tol = train ? 5e-4 : 1e-4;
        snprintf(what, sizeof what, "%s_logits", mode);
        ok &= against_torch(g, name, what, logits, logits->data, tol, &diff);
        snprintf(what, sizeof what, "%s_loss", mode);
        ok &= against_torch(g, name, what, NULL, loss->data, tol, &diff);
        nn_params_zero_grad(p);
        ck_assert_int_eq(nn_tape_backward(&t, loss), NN_OK);
        /* In train mode the early layers' gradients are ill-conditioned
         * (see the generator): only the last Linear's there. */
        const char *grads[2] = {last_linear[_i], "features.0.0.weight"};
        for (int i = 0; i < (train ? 1 : 2); i++) {
            nn_tensor *w = nn_params_find(p, grads[i]);
            ck_assert_ptr_nonnull(w);
            snprintf(what, sizeof what, "%s_grad.%s", mode, grads[i]);
            ok &= against_torch(g, name, what, w, w->grad, train ? 3e-3 : 1e-4, &diff);
        }
    }
    printf("%s against torchvision (cifar stem; eval and train logits, loss, gradients): "
           "max |diff| %.3g\n", name, diff);
    ck_assert_msg(ok, "%s differs from torchvision (see above)", name);
    nn_safetensors_close(g);
    unbuild(&b);
}
END_TEST

static Suite *mobilenet_suite(void)
{
    Suite *s = suite_create("models_mobilenet");
    /* One case per kind, so CK_RUN_CASE can pick one. */
    TCase *build_case = tcase_create("build");
    tcase_set_timeout(build_case, 120);
    tcase_add_test(build_case, parameter_counts_at_1000_classes);
    tcase_add_test(build_case, state_dict_keys_and_shapes_equal_torchvision);
    tcase_add_test(build_case, width_mult_counts_equal_torchvision);
    tcase_add_test(build_case, initialization_is_torchvisions);
    tcase_add_test(build_case, batchnorm_momentum_is_torchvisions);
    tcase_add_test(build_case, bad_options_name_the_key);
    suite_add_tcase(s, build_case);
    TCase *torch_case = tcase_create("torch");
    tcase_set_timeout(torch_case, 120);
    tcase_add_loop_test(torch_case, logits_and_gradients_equal_torchvision, 0, N_MODELS);
    suite_add_tcase(s, torch_case);
    TCase *forward_case = tcase_create("forward");
    tcase_set_timeout(forward_case, 120);
    tcase_add_test(forward_case, forward_shapes_with_both_stems_at_32);
    tcase_add_test(forward_case, forward_shapes_at_224);
    suite_add_tcase(s, forward_case);
    TCase *train_case = tcase_create("train");
    tcase_set_timeout(train_case, 120);
    tcase_add_loop_test(train_case, loss_falls_on_a_fixed_batch, 0, N_MODELS);
    suite_add_tcase(s, train_case);
    return s;
}

NN_TEST_MAIN(mobilenet_suite)
