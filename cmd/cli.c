#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/gemm.h"
#include "core/threads.h"
#include "datasets/datasets.h"
#include "models/models.h"

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nnzoo %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see nnzoo %s --help)\n", command);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_fail(nn_status st)
{
    fprintf(stderr, "nnzoo: %s\n", nn_error_message());
    return st == NN_ERR_INPUT ? EXIT_USAGE : EXIT_RUNTIME;
}

int cli_common_option(cli_common *c, int argc, char **argv, int *i, const char *command)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--set") || !strcmp(a, "--threads")) {
        if (*i + 1 >= argc) return cli_usage_error(command, "%s needs a value", a), -1;
        const char *v = argv[++*i];
        if (!strcmp(a, "--set")) {
            if (c->n_sets == (int)(sizeof c->sets / sizeof c->sets[0]))
                return cli_usage_error(command, "too many --set options"), -1;
            c->sets[c->n_sets++] = v;
        } else {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 256)
                return cli_usage_error(command, "--threads: expected a number from 1 to 256, found \"%s\"", v), -1;
            c->threads = (int)n;
        }
        return 1;
    }
    if (a[0] == '-' && a[1]) return 0;
    if (c->config_path) return cli_usage_error(command, "unexpected argument \"%s\"", a), -1;
    c->config_path = a;
    return 1;
}

/* "a, b, c" of a NULL-terminated list of names, for choices. */
static void model_names(const char **out, int max)
{
    int n = 0;
    for (; nn_models[n] && n < max - 1; n++) out[n] = nn_models[n]->name;
    out[n] = NULL;
}

static void dataset_names(const char **out, int max)
{
    int n = 0;
    for (; nn_datasets[n] && n < max - 1; n++) out[n] = nn_datasets[n]->name;
    out[n] = NULL;
}

int cli_setup(const cli_common *c, const char *command, nn_config **cfg, nn_run *run, nn_run_data data)
{
    *cfg = NULL;
    memset(run, 0, sizeof *run);
    if (!c->config_path) return cli_usage_error(command, "missing CONFIG");
    nn_threads_set(c->threads);
    nn_status st = nn_config_load(cfg, c->config_path);
    for (int i = 0; st == NN_OK && i < c->n_sets; i++) st = nn_config_set(*cfg, c->sets[i]);
    const char *models[64], *datasets[64], *model_name = NULL, *dataset_name = NULL;
    model_names(models, 64);
    dataset_names(datasets, 64);
    if (st == NN_OK) st = nn_config_string(*cfg, "model.name", NULL, models, &model_name);
    if (st == NN_OK) st = nn_config_string(*cfg, "data.name", "fashion_mnist", datasets, &dataset_name);
    if (st == NN_OK)
        st = nn_run_setup(run, *cfg, nn_model_find(model_name), nn_dataset_find(dataset_name), data);
    return st == NN_OK ? 0 : cli_fail(st);
}

int cli_config_done(nn_config *cfg, nn_run *run)
{
    nn_status st = nn_config_check_unknown(cfg);
    if (st != NN_OK) return cli_fail(st);
    nn_run_set_config_json(run, nn_config_to_json(cfg));
    return 0;
}

void cli_version_print(void)
{
    printf("nnzoo %s\n", NNZOO_VERSION);
    /* The levels this binary has: a native build stops at its target's. */
    printf("kernels: %s (built: scalar%s%s; best on this CPU: %s)\n", nn_cpu_level_name(nn_cpu_level_get()),
           NN_HAVE_AVX2 ? ", avx2" : "", NN_HAVE_AVX512 ? ", avx512" : "",
           nn_cpu_level_name(nn_cpu_level_best()));
    printf("gemm: %s\n", nn_gemm_backend());
}
