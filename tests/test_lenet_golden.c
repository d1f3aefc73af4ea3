/* LeNet-5 against PyTorch: logits, loss, every parameter's gradient and the
 * parameters after three SGD steps (momentum, weight decay) on one batch,
 * compared with tests/golden/lenet5_sgd.safetensors, which
 * tests/golden/lenet_reference.py writes with Debian's python3-torch from the
 * same deterministic weights and inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/threads.h"
#include "datasets/datasets.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/models.h"
#include "ops/ops.h"
#include "testutil.h"
#include "train/run.h"

#define GOLDEN "tests/golden/lenet5_sgd.safetensors"
enum { BATCH = 8, STEPS = 3 };

/* (name, scale, k) as PARAMS in lenet_reference.py: element i of the tensor
 * is float32(scale * sin(0.37 i + k)), in double precision. */
static const struct { const char *name; double scale; int k; } formula_of[] = {
    {"conv1.weight", 0.2, 1}, {"conv1.bias", 0.2, 2},
    {"conv2.weight", 0.08, 3}, {"conv2.bias", 0.08, 4},
    {"fc1.weight", 0.05, 5}, {"fc1.bias", 0.05, 6},
    {"fc2.weight", 0.09, 7}, {"fc2.bias", 0.09, 8},
    {"fc3.weight", 0.1, 9}, {"fc3.bias", 0.1, 10},
};
enum { N_PARAMS = (int)(sizeof formula_of / sizeof formula_of[0]) };
static const double X_SCALE = 1.0;
static const int X_K = 0;

static void fill_formula(float *dst, long n, double scale, int k)
{
    for (long i = 0; i < n; i++) dst[i] = (float)(scale * sin(0.37 * (double)i + k));
}

/* As check() in the generator: [sum of the float bit patterns mod 2^24,
 * first, last], all exact in float32. */
static void bit_check(const float *v, long n, float out[3])
{
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], sizeof bits);
        sum += bits;
    }
    out[0] = (float)(sum % (1u << 24));
    out[1] = v[0];
    out[2] = v[n - 1];
}

static nn_config *cfg;
static nn_run run;
static nn_safetensors *golden;

/* LeNet-5 from its config, every parameter and the batch from the formula. */
static void setup(void)
{
    static const char text[] =
        "{\"model\": {\"name\": \"lenet5\"}, \"train\": {\"batch_size\": 8, \"seed\": 1, "
        "\"optimizer\": {\"name\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9, \"weight_decay\": 0.0005}}}";
    ck_assert_int_eq(nn_config_parse(&cfg, text, "test"), NN_OK);
    const char *name;
    ck_assert_int_eq(nn_config_string(cfg, "model.name", NULL, NULL, &name), NN_OK);
    ck_assert_str_eq(name, "lenet5");
    nn_threads_set(2);
    nn_status st = nn_run_setup(&run, cfg, &nn_model_lenet5, &nn_dataset_fashion_mnist, NN_RUN_NO_DATA);
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(nn_config_check_unknown(cfg), NN_OK);

    const nn_params *p = &run.model.params;
    ck_assert_int_eq(p->count, N_PARAMS);
    for (int i = 0; i < N_PARAMS; i++) {
        ck_assert_str_eq(p->items[i]->name, formula_of[i].name);
        fill_formula(p->items[i]->data, (long)p->items[i]->numel, formula_of[i].scale, formula_of[i].k);
    }
    fill_formula(run.x, BATCH * 28 * 28, X_SCALE, X_K);
    for (int j = 0; j < BATCH; j++) run.y[j] = (3 * j + 1) % 10;
    golden = tu_golden_open(GOLDEN);
}

static void teardown(void)
{
    nn_safetensors_close(golden);
    nn_run_deinit(&run);
    nn_config_free(cfg);
}

/* tu_close against golden tensor `name`, after printing the max absolute and
 * relative differences measured, for the record. */
static int compare(const char *name, const float *got, long n, double atol, double rtol)
{
    long want_n;
    float *want = tu_golden(golden, name, &want_n);
    ck_assert_msg(want_n == n, "%s: %ld values in the golden file, %ld here", name, want_n, n);
    double max_abs = 0.0, max_rel = 0.0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        max_abs = fmax(max_abs, d);
        if (want[i] != 0.0f) max_rel = fmax(max_rel, d / fabs((double)want[i]));
    }
    printf("  %-20s %6ld values  max |diff| %.3g  max rel %.3g\n", name, n, max_abs, max_rel);
    int ok = tu_close(name, got, want, n, atol, rtol);
    free(want);
    return ok;
}

START_TEST(inputs_are_bit_identical_to_the_reference)
{
    setup();
    const nn_params *p = &run.model.params;
    char key[64];
    float c[3];
    for (int i = 0; i < N_PARAMS; i++) {
        bit_check(p->items[i]->data, (long)p->items[i]->numel, c);
        snprintf(key, sizeof key, "check.%s", p->items[i]->name);
        ck_assert(compare(key, c, 3, 0.0, 0.0));
    }
    bit_check(run.x, BATCH * 28 * 28, c);
    ck_assert(compare("check.x", c, 3, 0.0, 0.0));
    float y[BATCH];
    for (int j = 0; j < BATCH; j++) y[j] = (float)run.y[j];
    ck_assert(compare("check.y", y, BATCH, 0.0, 0.0));
    teardown();
}
END_TEST

START_TEST(forward_logits_and_loss)
{
    setup();
    printf("lenet5 vs PyTorch %s, forward:\n", nn_safetensors_meta(golden, "torch"));
    nn_arena_reset(&run.step_arena);
    nn_tape t;
    nn_tape_init(&t, &run.step_arena, 0, 0);
    nn_tensor *x = nn_tensor_view(&run.step_arena, run.x, NN_SHAPE(BATCH, 1, 28, 28));
    ck_assert_ptr_nonnull(x);
    nn_tensor *logits = run.model.def->forward(&run.model, &t, x);
    ck_assert_msg(logits != NULL, "%s", nn_error_message());
    ck_assert_int_eq(logits->ndim, 2);
    ck_assert_int_eq(logits->shape[0], BATCH);
    ck_assert_int_eq(logits->shape[1], 10);
    nn_tensor *loss = nn_softmax_cross_entropy(&t, logits, run.y);
    ck_assert_msg(loss != NULL, "%s", nn_error_message());
    int ok = compare("logits", logits->data, BATCH * 10, 1e-5, 1e-5);
    ok &= compare("loss", loss->data, 1, 1e-5, 1e-5);
    ck_assert(ok);
    teardown();
}
END_TEST

START_TEST(gradients_and_three_sgd_steps)
{
    setup();
    printf("lenet5 vs PyTorch %s, training:\n", nn_safetensors_meta(golden, "torch"));
    const nn_params *p = &run.model.params;
    float loss;
    int correct, ok = 1;
    char key[64];
    /* The grads of step 1 stay in the buffers until the next zero_grad. */
    ck_assert_int_eq(nn_run_step(&run, run.x, run.y, BATCH, &loss, &correct), NN_OK);
    ok &= compare("loss", &loss, 1, 1e-5, 1e-5);
    for (int i = 0; i < p->count; i++) {
        snprintf(key, sizeof key, "grad.%s", p->items[i]->name);
        ok &= compare(key, p->items[i]->grad, (long)p->items[i]->numel, 1e-6, 1e-4);
    }
    for (int s = 1; s < STEPS; s++)
        ck_assert_int_eq(nn_run_step(&run, run.x, run.y, BATCH, &loss, &correct), NN_OK);
    for (int i = 0; i < p->count; i++) {
        snprintf(key, sizeof key, "step3.%s", p->items[i]->name);
        ok &= compare(key, p->items[i]->data, (long)p->items[i]->numel, 1e-6, 1e-5); /* without weight decay: off by up to 2.9e-5 */
    }
    ck_assert(ok);
    teardown();
}
END_TEST

static Suite *lenet_golden_suite(void)
{
    Suite *s = suite_create("lenet_golden");
    TCase *tc = tcase_create("lenet_golden");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, inputs_are_bit_identical_to_the_reference);
    tcase_add_test(tc, forward_logits_and_loss);
    tcase_add_test(tc, gradients_and_three_sgd_steps);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(lenet_golden_suite)
