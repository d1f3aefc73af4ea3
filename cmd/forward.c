/* nnzoo forward CONFIG --checkpoint FILE --input X.safetensors -o Y.safetensors */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/safetensors.h"

static const char help[] =
    "usage: nnzoo forward CONFIG --checkpoint FILE --input X.safetensors -o Y.safetensors [options]\n"
    "\n"
    "Runs CONFIG's model with the weights in FILE, in eval mode (BatchNorm uses its running\n"
    "statistics, dropout is off), on the F32 tensor \"input\" (N, C, H, W) of X, and writes\n"
    "the F32 tensor \"logits\" (N, classes) to Y (atomically). C must be the model's input\n"
    "channels; H and W may differ from the dataset's where the model allows it. The batch\n"
    "is run train.eval_batch_size images at a time.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE    weights: a .safetensors from nnzoo train, nnzoo export, or a\n"
    "                       torch state_dict saved as safetensors\n"
    "  --input X            a .safetensors holding the tensor \"input\"\n"
    "  -o Y                 the file to write\n"
    "  --set PATH=VALUE     override a config key (repeatable)\n"
    "  --threads N          threads to use\n";

/* Reads tensor "input" of `path` into *x (malloc'd), checking that it is
 * (N, C, H, W) with the model's C. */
static nn_status read_input(const char *path, const nn_model_input *in, float **x, int shape[4])
{
    nn_safetensors *f;
    NN_TRY(nn_safetensors_open(&f, path));
    int ndim = 0, s[8];
    nn_status st = NN_OK;
    char buf[128];
    if (nn_safetensors_shape(f, "input", &ndim, s))
        st = nn_error(NN_ERR_INPUT, "%s: no tensor `input`", path);
    else if (ndim != 4 || s[0] < 1 || s[1] != in->channels || s[2] < 1 || s[3] < 1)
        st = nn_error(NN_ERR_INPUT, "%s: tensor `input`: shape %s, expected (N, %d, H, W) with N, H, W >= 1",
                      path, nn_shape_str(buf, sizeof buf, ndim, s), in->channels);
    if (st == NN_OK) {
        *x = malloc(sizeof(float) * (size_t)nn_shape_numel(4, s));
        st = *x ? nn_safetensors_read(f, "input", 4, s, *x)
                : nn_error(NN_ERR_RUNTIME, "%s: out of memory reading `input`", path);
        memcpy(shape, s, sizeof(int) * 4);
    }
    nn_safetensors_close(f);
    return st;
}

/* Logits of all n images of x (shape[0] of them), chunk images at a time,
 * into *logits (malloc'd, n * *classes). */
static nn_status run_forward(nn_run *r, float *x, const int shape[4], int chunk, float **logits,
                             int *classes)
{
    const int n = shape[0];
    const int64_t per = (int64_t)shape[1] * shape[2] * shape[3];
    *logits = NULL;
    for (int at = 0; at < n; at += chunk) {
        int b = n - at < chunk ? n - at : chunk;
        nn_arena_reset(&r->step_arena);
        nn_tape t;
        nn_tape_init(&t, &r->step_arena, 0, 0);
        nn_tensor *xt = nn_tensor_view(t.arena, x + at * per, NN_SHAPE(b, shape[1], shape[2], shape[3]));
        nn_tensor *y = xt ? r->model.def->forward(&r->model, &t, xt) : NULL;
        if (!y) {
            nn_status st = nn_error_status();
            return st == NN_OK ? NN_ERR_RUNTIME : st;
        }
        NN_ASSERT(y->ndim == 2 && y->shape[0] == b);
        if (!*logits) {
            *classes = y->shape[1];
            *logits = malloc(sizeof(float) * (size_t)n * (size_t)*classes);
            if (!*logits) return nn_error(NN_ERR_RUNTIME, "out of memory for %d x %d logits", n, *classes);
        }
        memcpy(*logits + (int64_t)at * *classes, y->data, sizeof(float) * (size_t)y->numel);
    }
    return NN_OK;
}

int cmd_forward(int argc, char **argv)
{
    cli_common c = {0};
    const char *checkpoint = NULL, *input = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--checkpoint") || !strcmp(a, "--input") || !strcmp(a, "-o")) {
            if (i + 1 >= argc) return cli_usage_error("forward", "%s needs a value", a);
            *(!strcmp(a, "-o") ? &out : !strcmp(a, "--input") ? &input : &checkpoint) = argv[++i];
            continue;
        }
        int r = cli_common_option(&c, argc, argv, &i, "forward");
        if (r < 0) return EXIT_USAGE;
        if (r == 0) return cli_usage_error("forward", "unknown option \"%s\"", a);
    }
    if (!checkpoint) return cli_usage_error("forward", "missing --checkpoint FILE");
    if (!input) return cli_usage_error("forward", "missing --input X.safetensors");
    if (!out) return cli_usage_error("forward", "missing -o Y.safetensors");
    nn_config *cfg;
    nn_run run;
    int code = cli_setup(&c, "forward", &cfg, &run, NN_RUN_NO_DATA);
    if (!code) code = cli_config_done(cfg, &run);
    if (!code) {
        float *x = NULL, *logits = NULL;
        int shape[4] = {0}, classes = 0;
        nn_status st = nn_checkpoint_load_weights(checkpoint, &run.model.params);
        if (st == NN_OK) st = read_input(input, &run.model.input, &x, shape);
        if (st == NN_OK) st = run_forward(&run, x, shape, run.set.eval_batch_size, &logits, &classes);
        if (st == NN_OK) {
            nn_st_tensor t = {"logits", logits, 2, (const int[]){shape[0], classes}};
            nn_st_meta meta[] = {{"nnzoo_model", run.model.def->name}};
            st = nn_safetensors_write(out, &t, 1, meta, 1);
        }
        if (st != NN_OK) code = cli_fail(st);
        else printf("wrote %s (logits %d x %d)\n", out, shape[0], classes);
        free(x);
        free(logits);
    }
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
