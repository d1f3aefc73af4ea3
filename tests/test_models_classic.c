/* The classic CNNs (models/alexnet.c, vgg.c, resnet.c): parameter counts,
 * state_dict keys and shapes equal to torchvision's (tests/golden/
 * <model>_keys.txt and classic_counts.txt, written by
 * tests/golden/torchvision_keys.py), logits and gradients equal to
 * torchvision's for the same weights (classic_forward.safetensors), the
 * initialization schemes, forward shapes with both stems, the loss falling
 * on a fixed batch for each family, and the config errors of their options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "core/threads.h"
#include "io/config.h"
#include "models/models.h"
#include "io/safetensors.h"
#include "nn/layers.h"
#include "testutil.h"

#define GOLDEN_DIR "tests/golden/"

/* A model built from a config, as the trainer builds it. */
typedef struct built {
    nn_arena persistent, step;
    nn_config *cfg;
    nn_model model;
} built;

/* Builds model `name` with the `model` options `options` (JSON members,
 * may be empty) for (channels, size, size) inputs and `classes` classes.
 * With `finalize` the parameters get memory and values (seed 1); without,
 * they are only declared, which is all that counts, keys and shapes need
 * (and it spares filling VGG's 138M floats). Returns the status (message set). */
static nn_status try_build(built *b, const char *name, const char *options, int channels, int size,
                           int classes, int finalize)
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
    if (finalize) {
        nn_rng rng;
        nn_rng_seed(&rng, 1, 0);
        NN_TRY(nn_params_finalize(&m->params, &rng));
    }
    return nn_config_check_unknown(b->cfg);
}

static void build(built *b, const char *name, const char *options, int channels, int size,
                  int classes, int finalize)
{
    nn_status st = try_build(b, name, options, channels, size, classes, finalize);
    ck_assert_msg(st == NN_OK, "%s {%s}: %s", name, options, nn_error_message());
}

static void unbuild(built *b)
{
    nn_config_free(b->cfg);
    nn_arena_deinit(&b->step);
    nn_arena_deinit(&b->persistent);
}

START_TEST(parameter_counts_at_1000_classes)
{
    /* torchvision's num_params for these weights. */
    static const struct { const char *model; int64_t want; } cases[] = {
        {"alexnet", 61100840},          {"vgg11", 132863336},
        {"vgg16", 138357544},           {"vgg16_bn", 138365992},
        {"vgg19_bn", 143678248},        {"resnet18", 11689512},
        {"resnet50", 25557032},         {"resnet152", 60192808},
        {"resnext50_32x4d", 25028904},  {"wide_resnet50_2", 68883240},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built b;
        build(&b, cases[i].model, "", 3, 224, 1000, 0);
        printf("%s: %lld parameters, %lld buffer floats, %d state_dict entries\n", cases[i].model,
               (long long)b.model.params.total, (long long)b.model.params.buffer_total,
               b.model.params.count);
        ck_assert_msg(b.model.params.total == cases[i].want, "%s: %lld parameters, want %lld",
                      cases[i].model, (long long)b.model.params.total, (long long)cases[i].want);
        unbuild(&b);
    }
}
END_TEST

START_TEST(counts_equal_torchvision_for_every_model_and_variant)
{
    FILE *f = fopen(GOLDEN_DIR "classic_counts.txt", "r");
    ck_assert_msg(f != NULL, "cannot open " GOLDEN_DIR "classic_counts.txt "
                  "(run tests/golden/torchvision_keys.py)");
    char line[512], model[64], options[384];
    long long want;
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s %383s %lld", model, options, &want) != 3) continue;
        /* `{"a":1}` -> `"a":1`: members to put next to the name. */
        size_t len = strlen(options);
        ck_assert(len >= 2 && options[0] == '{' && options[len - 1] == '}');
        options[len - 1] = '\0';
        /* The cifar stems are for 32x32, where VGG's Linear sees 1x1x512. */
        int size = strstr(options, "cifar") ? 32 : 224;
        built b;
        build(&b, model, options + 1, 3, size, 1000, 0);
        ck_assert_msg(b.model.params.total == want, "%s {%s}: %lld parameters, torch has %lld",
                      model, options + 1, (long long)b.model.params.total, want);
        unbuild(&b);
        checked++;
    }
    fclose(f);
    /* The 18 named models and the variants. */
    ck_assert_int_ge(checked, 30);
}
END_TEST

/* GOLDEN_DIR<golden>_keys.txt against p (tu_compare_state_dict). */
static int compare_keys(const char *golden, const nn_params *p)
{
    char path[256];
    snprintf(path, sizeof path, GOLDEN_DIR "%s_keys.txt", golden);
    return tu_compare_state_dict(path, golden, p);
}

START_TEST(state_dict_keys_and_shapes_equal_torchvision)
{
    static const struct { const char *model, *options, *golden; int size, classes; } cases[] = {
        {"alexnet", "", "alexnet", 224, 1000},
        {"vgg11", "", "vgg11", 224, 1000},
        {"vgg16_bn", "", "vgg16_bn", 224, 1000},
        {"vgg16", "\"batch_norm\": true", "vgg16_bn", 224, 1000},
        {"resnet18", "", "resnet18", 224, 1000},
        {"resnet50", "", "resnet50", 224, 1000},
        {"resnext50_32x4d", "", "resnext50_32x4d", 224, 1000},
        {"resnet18", "\"stem\": \"cifar\"", "resnet18_cifar", 32, 10},
        {"vgg16_bn", "\"stem\": \"cifar\"", "vgg16_bn_cifar", 32, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built b;
        build(&b, cases[i].model, cases[i].options, 3, cases[i].size, cases[i].classes, 0);
        ck_assert_msg(compare_keys(cases[i].golden, &b.model.params) == 0,
                      "%s {%s}: state_dict differs from torch's %s (see above)", cases[i].model,
                      cases[i].options, cases[i].golden);
        unbuild(&b);
    }
}
END_TEST

/* Mean and standard deviation of x's values. */
static void moments(const nn_tensor *x, double *mean, double *sd)
{
    double sum = 0, sq = 0;
    for (int64_t j = 0; j < x->numel; j++) {
        sum += x->data[j];
        sq += (double)x->data[j] * x->data[j];
    }
    *mean = sum / (double)x->numel;
    *sd = sqrt(sq / (double)x->numel - *mean * *mean);
}

/* max |x_i| (a ck_assert per element would cost a pipe write each). */
static float max_abs(const nn_tensor *x)
{
    float m = 0.0f;
    for (int64_t j = 0; j < x->numel; j++)
        if (fabsf(x->data[j]) > m) m = fabsf(x->data[j]);
    return m;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Every parameter of `b` against torchvision's scheme for its family:
 * conv weights kaiming_normal fan_out (std sqrt(2 / (out kh kw))) or torch's
 * default U(+-1/sqrt(fan_in)); Linear weights normal(0, 0.01) or the
 * default; BatchNorm weight 1; biases 0 or the default. Returns how many
 * convs, Linears and norms it saw. */
static void check_init(const built *b, int kaiming_convs, int normal_linears, int *convs,
                       int *linears, int *norms)
{
    const nn_params *p = &b->model.params;
    *convs = *linears = *norms = 0;
    const nn_tensor *prev_weight = NULL;
    for (int i = 0; i < p->count; i++) {
        const nn_tensor *x = p->items[i];
        const char *name = x->name;
        double mean, sd;
        moments(x, &mean, &sd);
        if (ends_with(name, ".weight") && x->ndim >= 2) {
            int64_t fan_in = x->numel / x->shape[0];
            int is_conv = x->ndim == 4, kaiming = is_conv ? kaiming_convs : 0;
            int normal = !is_conv && normal_linears;
            double want_sd = kaiming ? sqrt(2.0 * x->shape[1] / (double)x->numel)
                           : normal  ? 0.01
                                     : 1.0 / sqrt((double)fan_in) / sqrt(3.0);
            if (x->numel >= 2000) {
                ck_assert_msg(fabs(sd / want_sd - 1.0) < 0.05, "%s: std %g, want %g", name, sd,
                              want_sd);
                ck_assert_msg(fabs(mean) < 0.05 * want_sd, "%s: mean %g", name, mean);
            }
            if (!kaiming && !normal)
                ck_assert_msg(max_abs(x) <= 1.0f / sqrtf((float)fan_in), "%s: |w| up to %g, bound %g",
                              name, max_abs(x), 1.0f / sqrtf((float)fan_in));
            *(is_conv ? convs : linears) += 1;
            prev_weight = x;
        } else if (ends_with(name, ".weight") && x->ndim == 1) {
            ck_assert_msg(sd == 0.0 && mean == 1.0, "%s: not ones", name);
            (*norms)++;
            prev_weight = NULL;
        } else if (ends_with(name, ".bias")) {
            /* The default bias shares its weight's bound; re-initialized ones are 0. */
            int default_bias = prev_weight && (prev_weight->ndim == 4 ? !kaiming_convs
                                                                      : !normal_linears);
            if (default_bias) {
                float bound = 1.0f / sqrtf((float)(prev_weight->numel / prev_weight->shape[0]));
                ck_assert_msg(max_abs(x) <= bound, "%s: |b| up to %g, bound %g", name, max_abs(x), bound);
                ck_assert_msg(sd > 0.0, "%s: constant", name);
            } else {
                ck_assert_msg(mean == 0.0 && sd == 0.0, "%s: not zeros", name);
            }
        }
    }
}

START_TEST(initialization_is_torchvisions)
{
    int convs, linears, norms;
    built b;
    /* ResNet: kaiming convs, BN ones and zeros, the fc torch's default. */
    build(&b, "resnet18", "", 3, 224, 1000, 1);
    check_init(&b, 1, 0, &convs, &linears, &norms);
    ck_assert_int_eq(convs, 20);
    ck_assert_int_eq(linears, 1);
    ck_assert_int_eq(norms, 20);
    nn_tensor *rv = nn_params_find(&b.model.params, "layer4.1.bn2.running_var");
    ck_assert_ptr_nonnull(rv);
    ck_assert_float_eq(rv->data[511], 1.0f);
    unbuild(&b);
    /* VGG: kaiming convs (bias 0), Linears normal(0, 0.01) (bias 0). */
    build(&b, "vgg11_bn", "\"cfg\": [32, \"M\", 64, \"M\", 128, 128, \"M\"]", 3, 224, 1000, 1);
    check_init(&b, 1, 1, &convs, &linears, &norms);
    ck_assert_int_eq(convs, 4);
    ck_assert_int_eq(linears, 3);
    ck_assert_int_eq(norms, 4);
    unbuild(&b);
    build(&b, "vgg16", "\"stem\": \"cifar\"", 3, 32, 10, 1);
    check_init(&b, 1, 1, &convs, &linears, &norms);
    ck_assert_int_eq(convs, 13);
    ck_assert_int_eq(linears, 1);
    unbuild(&b);
    /* AlexNet: torch's layer defaults throughout. */
    build(&b, "alexnet", "\"hidden\": 512", 3, 224, 1000, 1);
    check_init(&b, 0, 0, &convs, &linears, &norms);
    ck_assert_int_eq(convs, 5);
    ck_assert_int_eq(linears, 3);
    ck_assert_int_eq(norms, 0);
    unbuild(&b);
}
END_TEST

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

static int count_nodes(const nn_tape *t, nn_op_id op)
{
    int n = 0;
    for (const nn_node *node = t->last; node; node = node->prev) n += node->op == &nn_op_defs[op];
    return n;
}

static nn_tensor *random_batch(nn_arena *a, uint64_t seed, int n, int size)
{
    nn_tensor *x = nn_tensor_new(a, NN_SHAPE(n, 3, size, size));
    ck_assert_ptr_nonnull(x);
    nn_rng r;
    nn_rng_seed(&r, seed, 0);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    return x;
}

/* A recording, training-mode forward of a random (n, 3, size, size) batch:
 * checks the logits are (n, classes) and finite, and returns the tape. */
static nn_tensor *forward_random(built *b, nn_tape *t, int n, int size, int classes)
{
    nn_tape_init(t, &b->step, 1, 1);
    nn_tensor *y = b->model.def->forward(&b->model, t, random_batch(&b->step, 5, n, size));
    ck_assert_msg(y != NULL, "%s: %s", b->model.def->name, nn_error_message());
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], n);
    ck_assert_int_eq(y->shape[1], classes);
    for (int64_t j = 0; j < y->numel; j++) ck_assert(isfinite(y->data[j]));
    return y;
}

START_TEST(resnet_forward_shapes_with_both_stems)
{
    nn_threads_set(2);
    static const struct { const char *model; int size, cifar, blocks, last; } cases[] = {
        {"resnet18", 32, 1, 8, 512},
        {"resnet18", 224, 0, 8, 512},
        {"resnet50", 32, 1, 16, 2048},
        {"resnext50_32x4d", 32, 1, 16, 2048},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built b;
        int size = cases[i].size;
        build(&b, cases[i].model, cases[i].cifar ? "\"stem\": \"cifar\"" : "", 3, size, 10, 1);
        nn_tape t;
        forward_random(&b, &t, size > 32 ? 1 : 2, size, 10);
        /* conv1 keeps 32x32 (cifar) or halves 224 (imagenet, then the
         * max-pool halves again); layer2..4 halve thrice more. */
        const nn_node *first = find_node(&t, NN_OP_CONV2D, 1);
        const nn_node *pool = find_node(&t, NN_OP_ADAPTIVE_AVGPOOL2D, 0);
        ck_assert_ptr_nonnull(first);
        ck_assert_ptr_nonnull(pool);
        ck_assert_ptr_null(first->prev);
        ck_assert_int_eq(first->out->shape[2], cases[i].cifar ? size : size / 2);
        ck_assert_int_eq(count_nodes(&t, NN_OP_MAXPOOL2D), cases[i].cifar ? 0 : 1);
        ck_assert_int_eq(pool->in[0]->shape[1], cases[i].last);
        ck_assert_int_eq(pool->in[0]->shape[2], cases[i].cifar ? size / 8 : size / 32);
        ck_assert_int_eq(pool->in[0]->shape[3], cases[i].cifar ? size / 8 : size / 32);
        ck_assert_int_eq(count_nodes(&t, NN_OP_ADD), cases[i].blocks);
        unbuild(&b);
    }
}
END_TEST

START_TEST(vgg_and_alexnet_forward_shapes)
{
    nn_threads_set(2);
    /* relus: ReLU nodes, which are the classifier's two: a conv without
     * BatchNorm fuses its ReLU, and a BatchNorm fuses the one after it. */
    static const struct { const char *model, *options; int size, convs, relus, pools, fc_in; } cases[] = {
        /* cifar stem: no average pool, one Linear on the 1x1x512 map */
        {"vgg11_bn", "\"stem\": \"cifar\"", 32, 8, 0, 5, 512},
        {"vgg16", "\"stem\": \"cifar\"", 32, 13, 0, 5, 512},
        {"vgg16_bn", "\"stem\": \"cifar\"", 32, 13, 0, 5, 512},
        /* the imagenet head: the 8x8 map pooled to 7x7, Linears 4096 wide
         * (the full-size heads cost a second each just to initialize; the
         * loss test runs the default AlexNet) */
        {"vgg11", "\"cfg\": [8, \"M\", 16, \"M\"]", 32, 2, 2, 2, 16 * 49},
        {"vgg11_bn", "\"cfg\": [8, \"M\", 16, 16, \"M\"]", 32, 3, 2, 2, 16 * 49},
        /* the smallest input, its 1x1 map pooled to 6x6 */
        {"alexnet", "\"channels\": [48, 128, 192, 192, 128], \"hidden\": 64", 63, 5, 2, 3, 128 * 36},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built b;
        build(&b, cases[i].model, cases[i].options, 3, cases[i].size, 7, 1);
        nn_tape t;
        forward_random(&b, &t, 2, cases[i].size, 7);
        ck_assert_int_eq(count_nodes(&t, NN_OP_CONV2D), cases[i].convs);
        ck_assert_int_eq(count_nodes(&t, NN_OP_RELU), cases[i].relus);
        ck_assert_int_eq(count_nodes(&t, NN_OP_MAXPOOL2D), cases[i].pools);
        ck_assert_int_eq(count_nodes(&t, NN_OP_BATCHNORM),
                         strstr(cases[i].model, "_bn") ? cases[i].convs : 0);
        int cifar = cases[i].fc_in == 512;
        ck_assert_int_eq(count_nodes(&t, NN_OP_ADAPTIVE_AVGPOOL2D), !cifar);
        ck_assert_int_eq(count_nodes(&t, NN_OP_LINEAR), cifar ? 1 : 3);
        const nn_node *first_fc = find_node(&t, NN_OP_LINEAR, 1);
        ck_assert_ptr_nonnull(first_fc);
        ck_assert_int_eq(first_fc->in[0]->shape[1], cases[i].fc_in);
        unbuild(&b);
    }
}
END_TEST

/* SGD with momentum 0.9 on one fixed batch of n random images and labels,
 * in training mode (batch statistics, dropout). Returns the first and the
 * last step's loss. */
static void train_fixed_batch(const char *name, const char *options, int n, int size, int steps,
                              float lr, float *first, float *last)
{
    enum { CLASSES = 10 };
    built b;
    build(&b, name, options, 3, size, CLASSES, 1);
    nn_params *p = &b.model.params;
    float *velocity = calloc((size_t)p->total, sizeof *velocity);
    float *x = malloc(sizeof(float) * (size_t)(n * 3 * size * size));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    ck_assert(velocity && x && y);
    nn_rng r;
    nn_rng_seed(&r, 11, 0);
    for (int i = 0; i < n * 3 * size * size; i++) x[i] = nn_rng_normal(&r);
    for (int i = 0; i < n; i++) y[i] = (int32_t)nn_rng_below(&r, CLASSES);
    for (int s = 0; s < steps; s++) {
        nn_arena_reset(&b.step);
        nn_tape t;
        nn_tape_init(&t, &b.step, 1, 1);
        t.seed = 1000 + (uint64_t)s;
        nn_tensor *xt = nn_tensor_view(&b.step, x, NN_SHAPE(n, 3, size, size));
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
    printf("%s {%s} fixed batch (%dx%d, %d images): loss %.4f -> %.4f in %d steps\n", name,
           options, size, size, n, *first, *last, steps);
    /* Every training forward counted in the running stats. */
    const nn_tensor *tracked = nn_params_find(p, "bn1.num_batches_tracked");
    if (!tracked) tracked = nn_params_find(p, "features.1.num_batches_tracked");
    if (tracked) ck_assert_float_eq(tracked->data[0], (float)steps);
    free(velocity);
    free(x);
    free(y);
    unbuild(&b);
}

START_TEST(loss_falls_on_a_fixed_batch)
{
    /* AlexNet with torch's default init learns slowly (PyTorch's own does
     * the same on this batch: 2.31 -> 1.11 in 16 steps), so it only has to
     * fall by a quarter. ResNeXt at lr 0.02 on 4 images diverges in PyTorch
     * too; 0.005 at 8x8 (layer4 sees 1x1) it takes. */
    static const struct {
        const char *model, *options;
        int n, size, steps;
        float lr, first_max, ratio;
    } cases[] = {
        {"alexnet", "", 4, 64, 16, 0.05f, 2.4f, 0.75f},
        {"vgg11_bn", "\"stem\": \"cifar\"", 8, 32, 8, 0.02f, 2.6f, 0.5f},
        {"resnet18", "\"stem\": \"cifar\"", 4, 32, 8, 0.02f, 3.5f, 0.5f},
        {"resnext50_32x4d", "\"stem\": \"cifar\"", 4, 8, 6, 0.005f, 3.5f, 0.5f},
    };
    nn_threads_set(2);
    float first, last;
    train_fixed_batch(cases[_i].model, cases[_i].options, cases[_i].n, cases[_i].size,
                      cases[_i].steps, cases[_i].lr, &first, &last);
    ck_assert_float_gt(first, 1.5f);
    ck_assert_float_lt(first, cases[_i].first_max);
    ck_assert_msg(last < cases[_i].ratio * first, "%s: loss %g -> %g, want below %g", cases[_i].model,
                  first, last, cases[_i].ratio * first);
}
END_TEST

/* The generator's r(k, i) in [-1, 1): splitmix64 of (k << 32) + i, its top
 * 53 bits as u in [0, 1), 2 u - 1 (exact in double on both sides). */
static double hash_value(uint64_t k, uint64_t i)
{
    uint64_t z = (k << 32) + i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53 * 2.0 - 1.0;
}

/* The generator's values for state_dict entry k (see
 * tests/golden/torchvision_keys.py). */
static void fill_formula(nn_tensor *x, int k)
{
    int is_weight = ends_with(x->name, ".weight"), is_var = ends_with(x->name, ".running_var");
    double bound = x->ndim >= 2 ? sqrt(6.0 / (double)(x->numel / x->shape[0])) : 0.0;
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < x->numel; i++) {
        double r = hash_value((uint64_t)k, (uint64_t)i), v;
        if (x->ndim == 0) v = 0.0;
        else if (x->ndim >= 2) v = r * bound;
        else if (is_weight || is_var) v = 1.0 + 0.25 * r;
        else v = 0.1 * r;
        x->data[i] = (float)v;
    }
}

/* Compares `what` (a tensor, or the scalar at data) with golden <name>.<what>;
 * 1 if within tol (absolute and relative). */
static int against_torch(const nn_safetensors *g, const char *name, const char *what,
                         const nn_tensor *got, const float *data, double tol, double *max_diff)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", name, what);
    ck_assert_msg(got == NULL || tu_golden_same_shape(g, key, got), "%s: shape differs from torch's", key);
    long n = got ? (long)got->numel : 1;
    return tu_golden_compare(g, key, data, n, tol, tol, max_diff);
}

START_TEST(logits_and_gradients_equal_torchvision)
{
    enum { N = 2, CLASSES = 10 };
    /* Built from the same weights as tests/golden/torchvision_keys.py's
     * FORWARD_CASES, dropout off. float32 against a float64 reference:
     * within 1e-4 (absolute and relative; measured up to 7e-6), except
     * ResNeXt's first conv gradient, which float32 cannot resolve through
     * 16 blocks whose activations grow to 1e3 (float32 torch itself is off
     * by 0.13 in eval mode and 0.3 in train mode there, on values up to 24;
     * measured here 0.13 and 0.5): within 1 absolute. */
    static const struct {
        const char *golden, *model, *options, *first_conv, *last_linear;
        int size;
        double first_conv_atol;
    } cases[] = {
        {"resnet18_cifar", "resnet18", "\"stem\": \"cifar\"", "conv1.weight", "fc.weight", 32, 0},
        {"resnext50_32x4d_cifar", "resnext50_32x4d", "\"stem\": \"cifar\"", "conv1.weight",
         "fc.weight", 32, 1.0},
        {"vgg11_bn_cifar", "vgg11_bn", "\"stem\": \"cifar\"", "features.0.weight",
         "classifier.weight", 32, 0},
        {"alexnet", "alexnet", "\"dropout\": 0", "features.0.weight", "classifier.6.weight", 64, 0},
    };
    const double tol = 1e-4;
    nn_threads_set(2);
    const char *name = cases[_i].golden;
    nn_safetensors *g = tu_golden_open(GOLDEN_DIR "classic_forward.safetensors");
    built b;
    int size = cases[_i].size;
    build(&b, cases[_i].model, cases[_i].options, 3, size, CLASSES, 1);
    nn_params *p = &b.model.params;
    for (int k = 0; k < p->count; k++) fill_formula(p->items[k], k);
    nn_tensor *x = nn_tensor_new(&b.step, NN_SHAPE(N, 3, size, size));
    ck_assert_ptr_nonnull(x);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = (float)hash_value(1u << 20, (uint64_t)i);
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
        snprintf(what, sizeof what, "%s_logits", mode);
        ok &= against_torch(g, name, what, logits, logits->data, tol, &diff);
        snprintf(what, sizeof what, "%s_loss", mode);
        ok &= against_torch(g, name, what, NULL, loss->data, tol, &diff);
        nn_params_zero_grad(p);
        ck_assert_int_eq(nn_tape_backward(&t, loss), NN_OK);
        const char *grads[2] = {cases[_i].first_conv, cases[_i].last_linear};
        for (int i = 0; i < 2; i++) {
            nn_tensor *w = nn_params_find(p, grads[i]);
            ck_assert_ptr_nonnull(w);
            snprintf(what, sizeof what, "%s_grad.%s", mode, grads[i]);
            if (i == 0 && cases[_i].first_conv_atol > 0) {
                char key[160];
                snprintf(key, sizeof key, "%s.%s", name, what);
                double loose = 0;
                ok &= tu_golden_compare(g, key, w->grad, (long)w->numel, cases[_i].first_conv_atol,
                                        0.0, &loose);
                printf("%s: max |diff| %.3g (ill-conditioned in float32)\n", key, loose);
            } else {
                ok &= against_torch(g, name, what, w, w->grad, tol, &diff);
            }
        }
    }
    printf("%s against torchvision (eval and train logits, loss, first conv and last Linear "
           "gradients): max |diff| %.3g\n", name, diff);
    ck_assert_msg(ok, "%s differs from torchvision (see above)", name);
    nn_safetensors_close(g);
    unbuild(&b);
}
END_TEST

START_TEST(resolved_config_has_the_defaults)
{
    built b;
    build(&b, "vgg11", "", 3, 32, 10, 0);
    char *json = nn_config_to_json(b.cfg);
    ck_assert_ptr_nonnull(json);
    /* cJSON prints arrays of scalars on one line. */
    ck_assert_msg(strstr(json, "[64, \"M\", 128, \"M\", 256, 256, \"M\", 512, 512, \"M\", 512, 512, \"M\"]"),
                  "%s", json);
    ck_assert_msg(strstr(json, "\"batch_norm\":\tfalse"), "%s", json);
    free(json);
    unbuild(&b);
    build(&b, "alexnet", "", 3, 224, 10, 0);
    json = nn_config_to_json(b.cfg);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strstr(json, "[64, 192, 384, 256, 256]"), "%s", json);
    ck_assert_msg(strstr(json, "\"hidden\":\t4096"), "%s", json);
    free(json);
    unbuild(&b);
}
END_TEST

START_TEST(bad_options_name_the_key)
{
    static const struct { const char *model, *options; int size; const char *want; } cases[] = {
        {"alexnet", "\"stem\": \"cifar\"", 224,
         "test: model.stem: expected \"imagenet\" (AlexNet has no well-known 32x32 stem; inputs "
         "from 63x63 work), found \"cifar\""},
        {"alexnet", "\"channels\": [64, 192, 384, 256]", 224,
         "test: model.channels: expected an array of 5 integers in [1, 65536], found [64,192,384,256]"},
        {"alexnet", "\"channels\": [64, 192, 384.5, 256, 256]", 224,
         "test: model.channels: expected an array of 5 integers in [1, 65536]"},
        {"alexnet", "\"dropout\": 1", 224, "test: model.dropout: expected a number in [0, 1), found 1"},
        {"alexnet", "", 62, "alexnet: input 62x62 is too small (at least 63x63)"},
        {"vgg16", "\"cfg\": [64, \"X\"]", 224,
         "test: model.cfg: expected an array of 1 to 64 elements, each an integer in [1, 65536] or "
         "\"M\", found [64,\"X\"]"},
        {"vgg16", "\"cfg\": []", 224, "test: model.cfg: expected an array of 1 to 64 elements"},
        {"vgg16", "\"cfg\": \"D\"", 224, "test: model.cfg: expected an array"},
        {"vgg16", "\"cfg\": [\"M\"]", 224,
         "test: model.cfg: expected at least one conv width, found only \"M\""},
        {"vgg16", "\"batch_norm\": 1", 224, "test: model.batch_norm: expected true or false, found 1"},
        {"vgg16_bn", "\"stem\": \"cifar10\"", 32,
         "test: model.stem: expected one of imagenet, cifar; found \"cifar10\" (did you mean `cifar`?)"},
        {"vgg11", "", 28, "vgg11: input 28x28 is too small for 5 max-pools (at least 32x32)"},
        {"resnet18", "\"stem\": \"cifar10\"", 32,
         "test: model.stem: expected one of imagenet, cifar; found \"cifar10\" (did you mean `cifar`?)"},
        {"resnet50", "\"stem\": 32", 32, "test: model.stem: expected"},
        {"resnet18", "\"cfg\": [64]", 32, "test: unknown key `model.cfg`"},
        {"wide_resnet50_2", "\"dropout\": 0.5", 32, "test: unknown key `model.dropout`"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built b;
        nn_status st = try_build(&b, cases[i].model, cases[i].options, 3, cases[i].size, 10, 0);
        ck_assert_int_eq(st, NN_ERR_INPUT);
        ck_assert_msg(!strncmp(nn_error_message(), cases[i].want, strlen(cases[i].want)),
                      "%s {%s}: got \"%s\", want \"%s...\"", cases[i].model, cases[i].options,
                      nn_error_message(), cases[i].want);
        ck_assert_ptr_null(strchr(nn_error_message(), '\n'));
        unbuild(&b);
    }
}
END_TEST

static Suite *classic_suite(void)
{
    Suite *s = suite_create("models_classic");
    TCase *tc = tcase_create("classic");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, parameter_counts_at_1000_classes);
    tcase_add_test(tc, counts_equal_torchvision_for_every_model_and_variant);
    tcase_add_test(tc, state_dict_keys_and_shapes_equal_torchvision);
    tcase_add_test(tc, initialization_is_torchvisions);
    tcase_add_test(tc, resnet_forward_shapes_with_both_stems);
    tcase_add_test(tc, vgg_and_alexnet_forward_shapes);
    tcase_add_loop_test(tc, loss_falls_on_a_fixed_batch, 0, 4);
    tcase_add_loop_test(tc, logits_and_gradients_equal_torchvision, 0, 4);
    tcase_add_test(tc, resolved_config_has_the_defaults);
    tcase_add_test(tc, bad_options_name_the_key);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(classic_suite)
