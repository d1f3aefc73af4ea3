/* nnzoo: train, evaluate and benchmark the model zoo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: nnzoo COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  train CONFIG   train a model; writes config, metrics and checkpoints to a run folder\n"
    "  eval CONFIG    score a checkpoint on the test or validation split\n"
    "  predict CONFIG classify PNG/JPEG images with a checkpoint: top classes and probabilities\n"
    "  bench CONFIG   time full training steps on random input\n"
    "  export CONFIG  write a checkpoint's weights as the model's PyTorch state_dict\n"
    "  forward CONFIG run the model on a tensor from a file and write the logits\n"
    "  summary CONFIG layers, output shapes, parameters and multiply-adds\n"
    "  list           print every model, dataset, op and optimizer\n"
    "\n"
    "  nnzoo COMMAND --help   options of one command\n"
    "  nnzoo --version        the version\n";

/* OpenMP's idle threads should spin, not sleep, between the many short
 * parallel regions of a training step: waking a sleeping thread costs more
 * than most regions take (LeNet-5 step: 2.3 ms spinning, 3.5 ms sleeping).
 * libgomp reads OMP_WAIT_POLICY once, as it loads, before main: so when the
 * user has not chosen, set it and start again. If exec fails, go on as is. */
static void spin_while_idle(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "active", 1);
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    spin_while_idle(argv);
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        cli_version_print();
        return EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"train", cmd_train},   {"eval", cmd_eval},       {"bench", cmd_bench},
                    {"export", cmd_export}, {"forward", cmd_forward}, {"summary", cmd_summary},
                    {"predict", cmd_predict}, {"list", cmd_list}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "nnzoo: unknown command \"%s\" (see nnzoo --help)\n", cmd);
    return EXIT_USAGE;
}
