/* nnzoo bench CONFIG [--steps N] [--warmup N] [--json] [--profile] */
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
    "  --warmup N           untimed steps first (default max(steps / 10, 10))\n"
    "  --json               one JSON line: model, batch_size, threads, threads_auto,\n"
    "                       steps_at_1_thread, steps, ms_per_step, samples_per_s, final_loss\n"
    "  --profile            also print the time per op, forward and backward\n"
    "  --set PATH=VALUE     override a config key (repeatable)\n"
    "  --threads N          threads to use (default: one per core, or one thread for the\n"
    "                       steps where that is faster, e.g. on a busy machine)\n";

/* One line per op: ms per step forward and backward, and share of the step. */
static void print_profile(const nn_profile *p, long steps, double ms_per_step)
{
    printf("%-24s %6s %10s %10s %7s\n", "op", "calls", "fwd ms", "bwd ms", "share");
    double sum = 0.0;
    for (int i = 0; i < p->n; i++) {
        double f = 1e3 * p->forward[i] / (double)steps, b = 1e3 * p->backward[i] / (double)steps;
        sum += f + b;
        printf("%-24s %6ld %10.4f %10.4f %6.1f%%\n", p->op[i]->name, p->calls[i] / steps, f, b,
               100.0 * (f + b) / ms_per_step);
    }
    printf("%-24s %6s %21.4f %6.1f%%\n", "(rest of the step)", "", ms_per_step - sum,
           100.0 * (ms_per_step - sum) / ms_per_step);
}

int cmd_bench(int argc, char **argv)
{
    cli_common c = {0};
    long steps = 200, warmup = -1;
    int json = 0, profile = 0;
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
        if (!strcmp(a, "--warmup")) {
            char *end;
            if (i + 1 >= argc || (warmup = strtol(argv[++i], &end, 10), *end) || warmup < 0)
                return cli_usage_error("bench", "--warmup: expected a number of steps, 0 or more");
            continue;
        }
        if (!strcmp(a, "--json") || !strcmp(a, "--profile")) {
            *(!strcmp(a, "--json") ? &json : &profile) = 1;
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
        if (warmup < 0) warmup = steps / 10 > 10 ? steps / 10 : 10;
        float loss = 0.0f;
        int correct;
        nn_status st = NN_OK;
        double t0 = 0.0;
        nn_profile prof = {0};
        /* Timed steps the governor ran on one thread (the rest on all cores). */
        int64_t one_before = 0;
        for (long s = 0; s < warmup + steps && st == NN_OK; s++) {
            if (s == warmup) {
                t0 = nn_now();
                one_before = run.governor.at[NN_GOVERNOR_ONE];
                if (profile) run.profile = &prof;
            }
            st = nn_run_step(&run, run.x, run.y, n, &loss, &correct);
        }
        double secs = nn_now() - t0;
        const int automatic = nn_threads_automatic() > 1;
        const long at_one = automatic ? (long)(run.governor.at[NN_GOVERNOR_ONE] - one_before) : 0;
        const int threads = automatic ? nn_threads_automatic() : nn_threads_get();
        if (st != NN_OK) {
            code = cli_fail(st);
        } else {
            double ms = 1e3 * secs / (double)steps, rate = (double)n * (double)steps / secs;
            if (json)
                printf("{\"model\": \"%s\", \"batch_size\": %d, \"threads\": %d, \"threads_auto\": %s, \"steps_at_1_thread\": %ld, \"steps\": %ld, \"ms_per_step\": %.4f, \"samples_per_s\": %.1f, \"final_loss\": %.4f}\n",
                       run.model.def->name, n, threads, automatic ? "true" : "false",
                       automatic ? at_one : (threads == 1 ? steps : 0), steps, ms, rate, (double)loss);
            else if (automatic)
                printf("%s: batch %d, %d threads (auto: %ld of %ld steps on 1): %.3f ms/step, %.0f samples/s (%ld steps)\n",
                       run.model.def->name, n, threads, at_one, steps, ms, rate, steps);
            else
                printf("%s: batch %d, %d threads: %.3f ms/step, %.0f samples/s (%ld steps)\n",
                       run.model.def->name, n, threads, ms, rate, steps);
            if (profile) print_profile(&prof, steps, ms);
        }
    }
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
