/* nnzoo bench CONFIG [--steps N] [--json] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/rng.h"
#include "core/threads.h"
#include "train/progress.h"

static const char help[] =
    "usage: nnzoo bench CONFIG [options]\n"
    "\n"
    "Times full training steps (forward, backward, optimizer update) of CONFIG's model at\n"
    "its train.batch_size on random input, after a warm-up, and prints samples/s.\n"
    "\n"
    "options:\n"
    "  --steps N            timed steps (default 200)\n"
    "  --json               one JSON line: model, batch_size, threads, steps, ms_per_step, samples_per_s\n"
    "  --set PATH=VALUE     override a config key (repeatable)\n"
    "  --threads N          threads to use (default: one per core)\n";

int cmd_bench(int argc, char **argv)
{
    cli_common c = {0};
    long steps = 200;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--steps")) {
            char *end;
            if (i + 1 >= argc || (steps = strtol(argv[++i], &end, 10), *end) || steps < 1)
                return cli_usage_error("bench", "--steps: expected a positive number");
            continue;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        int r = cli_common_option(&c, argc, argv, &i, "bench");
        if (r < 0) return EXIT_USAGE;
        if (r == 0) return cli_usage_error("bench", "unknown option \"%s\"", a);
    }
    nn_config *cfg;
    nn_run run;
    int code = cli_setup(&c, "bench", &cfg, &run, NN_RUN_NO_DATA);
    if (!code) code = cli_config_done(cfg, &run);
    if (!code) {
        const nn_model_input *in = &run.model.input;
        int n = run.set.batch_size;
        long per = (long)in->channels * in->height * in->width;
        nn_rng rng;
        nn_rng_seed(&rng, 1, 99);
        for (long i = 0; i < per * n; i++) run.x[i] = nn_rng_normal(&rng);
        for (int i = 0; i < n; i++) run.y[i] = (int32_t)nn_rng_below(&rng, (uint32_t)in->num_classes);
        long warmup = steps / 10 > 10 ? steps / 10 : 10;
        float loss = 0.0f;
        int correct;
        nn_status st = NN_OK;
        double t0 = 0.0;
        for (long s = 0; s < warmup + steps && st == NN_OK; s++) {
            if (s == warmup) t0 = nn_now();
            st = nn_run_step(&run, run.x, run.y, n, &loss, &correct);
        }
        double secs = nn_now() - t0;
        if (st != NN_OK) {
            code = cli_fail(st);
        } else {
            double ms = 1e3 * secs / (double)steps, rate = (double)n * (double)steps / secs;
            if (json)
                printf("{\"model\": \"%s\", \"batch_size\": %d, \"threads\": %d, \"steps\": %ld, \"ms_per_step\": %.4f, \"samples_per_s\": %.1f, \"final_loss\": %.4f}\n",
                       run.model.def->name, n, nn_threads_get(), steps, ms, rate, (double)loss);
            else
                printf("%s: batch %d, %d threads: %.3f ms/step, %.0f samples/s (%ld steps)\n",
                       run.model.def->name, n, nn_threads_get(), ms, rate, steps);
        }
    }
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
