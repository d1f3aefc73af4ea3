/* nnzoo export CONFIG (--checkpoint FILE | --init) -o OUT [--format safetensors] */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: nnzoo export CONFIG (--checkpoint FILE | --init) -o OUT.safetensors [options]\n"
    "\n"
    "Writes the weights in FILE as the model's PyTorch state_dict alone: every parameter\n"
    "and buffer under its state_dict key, in declaration order, F32, with BatchNorm's\n"
    "num_batches_tracked as 0-d I64 (torch's dtype); __metadata__ has format \"pt\", the\n"
    "model's name (nnzoo_model) and the resolved config (nnzoo_config).\n"
    "safetensors.torch.load_file(OUT) gives a dict that the matching torch module loads\n"
    "with load_state_dict(sd, strict=True). OUT is written atomically: on any error an\n"
    "existing OUT is left as it was.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE    weights: a .safetensors from nnzoo train, nnzoo export, or a\n"
    "                       torch state_dict saved as safetensors\n"
    "  --init               instead of a checkpoint, the config's initial weights (seeded by\n"
    "                       train.seed: those of nnzoo train --init-only)\n"
    "  -o OUT               the file to write\n"
    "  --format FORMAT      safetensors (the default); onnx is not supported yet\n"
    "  --set PATH=VALUE     override a config key (repeatable)\n"
    "  --threads N          threads to use\n";

int cmd_export(int argc, char **argv)
{
    cli_common c = {0};
    const char *checkpoint = NULL, *out = NULL, *format = "safetensors";
    int init = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--checkpoint") || !strcmp(a, "-o") || !strcmp(a, "--format")) {
            if (i + 1 >= argc) return cli_usage_error("export", "%s needs a value", a);
            *(!strcmp(a, "-o") ? &out : !strcmp(a, "--format") ? &format : &checkpoint) = argv[++i];
            continue;
        }
        if (!strcmp(a, "--init")) {
            init = 1;
            continue;
        }
        int r = cli_common_option(&c, argc, argv, &i, "export");
        if (r < 0) return EXIT_USAGE;
        if (r == 0) return cli_usage_error("export", "unknown option \"%s\"", a);
    }
    if (!strcmp(format, "onnx"))
        return cli_usage_error("export", "--format onnx: not yet supported; use --format safetensors");
    if (strcmp(format, "safetensors"))
        return cli_usage_error("export", "--format: expected safetensors, found \"%s\"", format);
    if (!checkpoint == !init)
        return cli_usage_error("export", checkpoint ? "give --checkpoint FILE or --init, not both"
                                                    : "missing --checkpoint FILE (or --init)");
    if (!out) return cli_usage_error("export", "missing -o OUT.safetensors");
    nn_config *cfg;
    nn_run run;
    int code = cli_setup(&c, "export", &cfg, &run, NN_RUN_NO_DATA);
    if (!code) code = cli_config_done(cfg, &run);
    if (!code) {
        nn_params *p = &run.model.params;
        nn_status st = init ? NN_OK : nn_checkpoint_load_weights(checkpoint, p);
        if (st == NN_OK) st = nn_checkpoint_save_state_dict(out, p, run.model.def->name, run.config_json);
        if (st != NN_OK) code = cli_fail(st);
        else
            printf("wrote %s (%s: %d tensors, %lld parameters, %lld buffer values)\n", out,
                   run.model.def->name, p->count, (long long)p->total, (long long)p->buffer_total);
    }
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
