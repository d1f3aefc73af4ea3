/* The trainer's config options that are not an op or an optimizer:
 * model.init (initializer override). Early stopping and L-BFGS runs are
 * checked end to end in tests/e2e_cli.sh and tests/test_optim.c. */
#include <math.h>
#include <string.h>

#include "check_main.h"
#include "datasets/datasets.h"
#include "io/config.h"
#include "models/models.h"
#include "nn/layers.h"
#include "train/init_choice.h"
#include "train/run.h"

static nn_status setup(nn_run *run, const char *json, nn_config **cfg)
{
    ck_assert_int_eq(nn_config_parse(cfg, json, "x.json"), NN_OK);
    const char *name;
    ck_assert_int_eq(nn_config_string(*cfg, "model.name", NULL, NULL, &name), NN_OK);   /* the CLI reads it */
    return nn_run_setup(run, *cfg, &nn_model_lenet5, &nn_dataset_fashion_mnist, NN_RUN_NO_DATA);
}

static double std_of(const nn_tensor *x, double *mean)
{
    double s = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < x->numel; i++) s += x->data[i];
    *mean = s / (double)x->numel;
    for (int64_t i = 0; i < x->numel; i++) s2 += (x->data[i] - *mean) * (x->data[i] - *mean);
    return sqrt(s2 / (double)(x->numel - 1));
}

static const nn_tensor *param(const nn_run *run, const char *name)
{
    for (int i = 0; i < run->model.params.count; i++)
        if (!strcmp(run->model.params.items[i]->name, name)) return run->model.params.items[i];
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

START_TEST(init_override_applies_to_weights_and_biases)
{
    nn_config *cfg;
    nn_run run;
    const char *json = "{\"model\": {\"name\": \"lenet5\", \"init\": {"
                       "\"weight\": {\"name\": \"kaiming_normal\", \"mode\": \"fan_out\", \"nonlinearity\": \"relu\"},"
                       "\"bias\": {\"name\": \"constant_is_not_a_name\"}}}}";
    ck_assert_int_eq(setup(&run, json, &cfg), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(),
                     "x.json: model.init.bias.name: expected one of zeros, ones, uniform, normal, xavier_uniform, "
                     "xavier_normal, kaiming_uniform, kaiming_normal, orthogonal; found \"constant_is_not_a_name\"");
    nn_run_deinit(&run);
    nn_config_free(cfg);

    json = "{\"model\": {\"name\": \"lenet5\", \"init\": {"
           "\"weight\": {\"name\": \"kaiming_normal\", \"mode\": \"fan_out\", \"nonlinearity\": \"relu\"},"
           "\"bias\": {\"name\": \"uniform\", \"a\": 0.5, \"b\": 0.75}}}}";
    ck_assert_int_eq(setup(&run, json, &cfg), NN_OK);
    ck_assert_int_eq(nn_config_check_unknown(cfg), NN_OK);
    /* fc1.weight (120, 400): kaiming fan_out std = sqrt(2 / 120). */
    double mean, std = std_of(param(&run, "fc1.weight"), &mean);
    const double want = sqrt(2.0 / 120.0);
    printf("  model.init kaiming_normal(fan_out): fc1.weight std %.5f (formula %.5f), mean %.5f\n", std, want, mean);
    ck_assert_msg(fabs(std / want - 1.0) < 0.02 && fabs(mean) < 0.003, "std %g, want %g", std, want);
    const nn_tensor *b = param(&run, "fc2.bias");
    for (int64_t i = 0; i < b->numel; i++) ck_assert(b->data[i] >= 0.5f && b->data[i] <= 0.75f);
    nn_run_deinit(&run);
    nn_config_free(cfg);

    json = "{\"model\": {\"name\": \"lenet5\", \"init\": {\"bias\": {\"name\": \"xavier_uniform\"}}}}";
    ck_assert_int_eq(setup(&run, json, &cfg), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(),
                     "x.json: model.init.bias.name: xavier_uniform needs a tensor of at least 2 dimensions; biases have 1");
    nn_run_deinit(&run);
    nn_config_free(cfg);

    json = "{\"model\": {\"name\": \"lenet5\", \"init\": {\"weight\": {\"name\": \"uniform\", \"a\": 1, \"b\": 0}}}}";
    ck_assert_int_eq(setup(&run, json, &cfg), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "x.json: model.init.weight.b: uniform needs a <= b");
    nn_run_deinit(&run);
    nn_config_free(cfg);
}
END_TEST

START_TEST(norm_layers_keep_their_init)
{
    /* A BatchNorm's weight and bias are 1-d with a 1-d sibling: untouched. */
    nn_arena a;
    nn_arena_init(&a, "test", 0);
    nn_params p;
    nn_params_init(&p, &a);
    nn_batchnorm_layer bn;
    nn_linear_layer fc;
    ck_assert_int_eq(nn_batchnorm_layer_init(&bn, &p, "bn", 4, NN_BATCHNORM_MOMENTUM, NN_BATCHNORM_EPS), 0);
    ck_assert_int_eq(nn_linear_layer_init(&fc, &p, "fc", 4, 3, 1), 0);
    nn_config *cfg;
    ck_assert_int_eq(nn_config_parse(&cfg, "{\"model\": {\"init\": {\"bias\": {\"name\": \"ones\"}, "
                                           "\"weight\": {\"name\": \"zeros\"}}}}", "x.json"), NN_OK);
    ck_assert_int_eq(nn_init_choice_apply(&p, cfg), NN_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 1, 0);
    ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
    for (int i = 0; i < 4; i++) {
        ck_assert(bn.weight->data[i] == 1.0f && bn.bias->data[i] == 0.0f);
        ck_assert(bn.running_var->data[i] == 1.0f);
    }
    for (int i = 0; i < 3; i++) ck_assert(fc.bias->data[i] == 1.0f);
    for (int i = 0; i < 12; i++) ck_assert(fc.weight->data[i] == 0.0f);
    ck_assert_int_eq(bn.num_batches_tracked->ndim, 0);
    ck_assert(bn.num_batches_tracked->data[0] == 0.0f);
    nn_config_free(cfg);
    nn_arena_deinit(&a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("trainer_options");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, init_override_applies_to_weights_and_biases);
    tcase_add_test(tc, norm_layers_keep_their_init);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(suite)
