/* nnzoo: train, evaluate and benchmark the model zoo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/gemm.h"

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

/* How long OpenMP's idle threads spin before they sleep, in libgomp's spins
 * (a `pause` each: ~16 ns on a 2023 Xeon, 10-40 ns elsewhere), i.e. ~0.16 ms.
 * A training step is many short parallel regions: a thread that sleeps
 * between them must be woken each time, which costs more than most regions
 * take (LeNet-5 step: 2.3 ms spinning, 3.5 ms sleeping), so idle threads
 * must spin through the gaps inside a step. But a thread that spins without
 * end (OMP_WAIT_POLICY=active, nnzoo's setting before) takes the core from
 * whoever else needs it, our own descheduled threads included, and every
 * region then waits a time slice: 11-15x slower steps next to one other
 * CPU-bound process. A bounded spin covers the gaps and then gives the core
 * back; the step governor (core/governor.h) decides whether all cores are
 * worth it at all. Longer spins cost the busy machine: with 100000 (~1.6 ms)
 * the default took 2.2x (LeNet-5) and 1.3x (MobileNetV3-Small) the time of
 * --threads 1 next to a CPU-bound process, for a LeNet-5 step ~10% shorter
 * on a quiet one. libgomp's own default, 300000 spins (~5 ms), spins through
 * whole time slices. */
#define SPIN_COUNT "10000"

/* libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT, and OpenBLAS reads
 * OPENBLAS_CORETYPE, once, as they load, before main: so when nnzoo wants a
 * setting the user has not chosen, it sets it and starts again (once: the
 * second start finds them set). If exec fails, it goes on as is.
 * - The spin: see SPIN_COUNT.
 * - OpenBLAS's kernels: 0.3.21 takes its SSE3 ("Prescott") kernels on CPUs
 *   newer than itself, e.g. a 2023 Xeon with AVX-512, where its SkylakeX
 *   sgemm is 5-6x faster (core/gemm.h). */
static void start_with_runtime_settings(char **argv)
{
    int again = 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        setenv("GOMP_SPINCOUNT", SPIN_COUNT, 1);
        again = 1;
    }
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : nn_gemm_better_coretype();
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        again = 1;
    }
    if (again) execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    start_with_runtime_settings(argv);
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
