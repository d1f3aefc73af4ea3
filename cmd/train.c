/* nnzoo train CONFIG [-o RUNDIR] [--set path=value]... [--resume RUNDIR] [--threads N] [--init-only] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "io/atomic_file.h"

static const char help[] =
    "usage: nnzoo train CONFIG [options]\n"
    "\n"
    "Trains the model CONFIG describes and writes into the run folder: config.json (the\n"
    "resolved config), metrics.jsonl (a line per epoch and every train.log_every steps),\n"
    "last.safetensors and best.safetensors (best validation accuracy).\n"
    "\n"
    "options:\n"
    "  -o RUNDIR            run folder (default: runs/<config name>, numbered if taken)\n"
    "  --set PATH=VALUE     override a config key, e.g. --set train.epochs=3 (repeatable)\n"
    "  --resume RUNDIR      continue RUNDIR's run from its last.safetensors, bit for bit\n"
    "  --threads N          threads to use (default: one per core)\n"
    "  --init-only          write the initial weights as RUNDIR/init.safetensors and stop\n"
    "\n"
    "Ctrl-C or SIGTERM saves last.safetensors after the current step and exits with 130.\n"
    "Exit codes: 0 done, 1 the run failed (e.g. the loss diverged), 2 bad usage, config or data.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* A second Ctrl-C kills at once, for a user who does not want to wait. */
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* runs/<config file name without .json>, then -2, -3, ... if taken. */
static void default_run_dir(char *out, size_t size, const char *config_path)
{
    const char *base = strrchr(config_path, '/');
    base = base ? base + 1 : config_path;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".json")) len -= 5;
    snprintf(out, size, "runs/%.*s", (int)len, base);
    for (int i = 2; exists(out); i++) snprintf(out, size, "runs/%.*s-%d", (int)len, base, i);
}

int cmd_train(int argc, char **argv)
{
    cli_common c = {0};
    const char *out_dir = NULL, *resume_dir = NULL;
    int init_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--resume")) {
            if (i + 1 >= argc) return cli_usage_error("train", "%s needs a folder", a);
            *(!strcmp(a, "-o") ? &out_dir : &resume_dir) = argv[++i];
            continue;
        }
        if (!strcmp(a, "--init-only")) {
            init_only = 1;
            continue;
        }
        int r = cli_common_option(&c, argc, argv, &i, "train");
        if (r < 0) return EXIT_USAGE;
        if (r == 0) return cli_usage_error("train", "unknown option \"%s\"", a);
    }
    char dir[4096], path[4200];
    if (out_dir) snprintf(dir, sizeof dir, "%s", out_dir);
    else if (resume_dir) snprintf(dir, sizeof dir, "%s", resume_dir);
    else if (c.config_path) default_run_dir(dir, sizeof dir, c.config_path);
    char resume_path[4200] = "";
    if (resume_dir) {
        snprintf(resume_path, sizeof resume_path, "%s/last.safetensors", resume_dir);
        if (!exists(resume_path))
            return cli_usage_error("train", "--resume %s: no last.safetensors there to resume from", resume_dir);
    }
    /* Never train over another run's checkpoints. */
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    if (c.config_path && exists(path) && !(resume_dir && !strcmp(resume_path, path)) && !init_only)
        return cli_usage_error("train", "%s already holds a run (last.safetensors); continue it with --resume %s or pick another -o",
                               dir, dir);

    nn_config *cfg;
    nn_run run;
    int code = cli_setup(&c, "train", &cfg, &run, init_only ? NN_RUN_NO_DATA : NN_RUN_LOAD_DATA);
    if (!code) code = cli_config_done(cfg, &run);
    if (!code && make_dirs(dir)) {
        fprintf(stderr, "nnzoo: %s: cannot create the run folder: %s\n", dir, strerror(errno));
        code = EXIT_RUNTIME;
    }
    nn_status st = NN_OK;
    if (!code && init_only) {
        snprintf(path, sizeof path, "%s/init.safetensors", dir);
        st = nn_checkpoint_save(path, &run.model.params, NULL, NULL, run.config_json);
        if (st == NN_OK) printf("wrote %s (%lld parameters)\n", path, (long long)run.model.params.total);
    } else if (!code) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        nn_file_part part = {run.config_json, strlen(run.config_json)};
        st = nn_write_file_atomic(path, &part, 1);
        if (st == NN_OK && resume_dir) st = nn_checkpoint_load(resume_path, &run.model.params, &run.opt, &run.state);
        if (st == NN_OK) {
            fprintf(stderr, "nnzoo: training %s (%lld parameters) into %s\n", run.model.def->name,
                    (long long)run.model.params.total, dir);
            catch_stop_signals();
            nn_run_io io = {dir, stderr, &stop_requested};
            int r = nn_run_train(&run, &io);
            if (r == NN_RUN_STOPPED) {
                fprintf(stderr, "nnzoo: stopped at step %lld; saved %s/last.safetensors\n",
                        (long long)run.state.step, dir);
                code = EXIT_STOPPED;
            } else {
                st = (nn_status)r;
            }
        }
    }
    if (!code && st != NN_OK) code = cli_fail(st);
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
