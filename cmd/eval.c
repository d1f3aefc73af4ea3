/* nnzoo eval CONFIG --checkpoint FILE [--split test|val] [--json] */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: nnzoo eval CONFIG --checkpoint FILE [options]\n"
    "\n"
    "Scores the weights in FILE on a split of CONFIG's dataset.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE    weights: a .safetensors from nnzoo train (last, best or init),\n"
    "                       nnzoo export, or a torch state_dict saved as safetensors\n"
    "  --split test|val     which split (default: test)\n"
    "  --json               one JSON line on stdout: split, loss, accuracy, samples\n"
    "  --set PATH=VALUE     override a config key (repeatable)\n"
    "  --threads N          threads to use\n";

int cmd_eval(int argc, char **argv)
{
    cli_common c = {0};
    const char *checkpoint = NULL, *split = "test";
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--checkpoint") || !strcmp(a, "--split")) {
            if (i + 1 >= argc) return cli_usage_error("eval", "%s needs a value", a);
            *(!strcmp(a, "--split") ? &split : &checkpoint) = argv[++i];
            continue;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        int r = cli_common_option(&c, argc, argv, &i, "eval");
        if (r < 0) return EXIT_USAGE;
        if (r == 0) return cli_usage_error("eval", "unknown option \"%s\"", a);
    }
    if (!checkpoint) return cli_usage_error("eval", "missing --checkpoint FILE");
    if (strcmp(split, "test") && strcmp(split, "val"))
        return cli_usage_error("eval", "--split: expected test or val, found \"%s\"", split);
    nn_config *cfg;
    nn_run run;
    int code = cli_setup(&c, "eval", &cfg, &run, NN_RUN_LOAD_DATA);
    /* Training-only keys are fine in an eval config: it is the same file. */
    if (!code) code = cli_config_done(cfg, &run);
    if (!code) {
        nn_loader *l = !strcmp(split, "val") ? &run.val : &run.test;
        double loss, acc;
        nn_status st = nn_checkpoint_load_weights(checkpoint, &run.model.params);
        if (st == NN_OK && l->count == 0)
            st = nn_error(NN_ERR_INPUT, "%s: the val split is empty (data.val_size is 0)", c.config_path);
        if (st == NN_OK) st = nn_run_evaluate(&run, l, &loss, &acc);
        if (st != NN_OK) code = cli_fail(st);
        else if (json)
            printf("{\"split\": \"%s\", \"loss\": %.6f, \"accuracy\": %.6f, \"samples\": %lld, \"checkpoint\": \"%s\"}\n",
                   split, loss, acc, (long long)l->count, checkpoint);
        else
            printf("%s: %s loss %.4f accuracy %.4f (%lld samples)\n", checkpoint, split, loss, acc,
                   (long long)l->count);
    }
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
