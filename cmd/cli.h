/* What the commands share: option parsing, building a run from a config,
 * and turning statuses into exit codes. Only cmd/ calls exit(). */
#ifndef NN_CMD_CLI_H
#define NN_CMD_CLI_H

#include "io/config.h"
#include "train/run.h"

#define NNZOO_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_STOPPED = 130 };

/* Options every config-taking command accepts. */
typedef struct cli_common {
    const char *config_path;
    const char *sets[64];
    int n_sets;
    int threads;
} cli_common;

/* Tries argv[*i] (and its value) as a common option or the CONFIG
 * positional. Returns 1 if consumed, 0 if not, -1 on a usage error
 * (printed). */
int cli_common_option(cli_common *c, int argc, char **argv, int *i, const char *command);

/* Prints "nnzoo: <message>" (the library's last error) and returns the
 * exit code for status st. */
int cli_fail(nn_status st);

/* Prints "nnzoo <command>: <what>" and returns EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads the config, applies --set, sets threads, finds the model and
 * dataset and sets up the run. On failure the message is printed and the
 * exit code returned; on success 0. The caller frees cfg and run. */
int cli_setup(const cli_common *c, const char *command, nn_config **cfg, nn_run *run, nn_run_data data);

/* Finishes reading the config: unknown keys are an error; the resolved
 * config goes to the run for its checkpoints. Returns 0 or the exit code. */
int cli_config_done(nn_config *cfg, nn_run *run);

/* Prints the version, the kernel level in use (and the levels built in and
 * supported here) and the GEMM backend, for `nnzoo --version`. */
void cli_version_print(void);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_predict(int argc, char **argv);

#endif
