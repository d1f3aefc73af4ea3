/* nnzoo summary CONFIG [--json] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/rng.h"
#include "ops/ops.h"

static const char help[] =
    "usage: nnzoo summary CONFIG [options]\n"
    "\n"
    "Prints CONFIG's model layer by layer (name, op, output shape, parameters,\n"
    "multiply-adds) for one image of the dataset's size, and the totals: parameters,\n"
    "buffers, multiply-adds, model size, and the memory of one training step at batch 1.\n"
    "\n"
    "It runs one forward pass in eval mode on random input and reads the ops it recorded:\n"
    "an op that uses parameters is named after them (layer1.0.conv1.weight: layer1.0.conv1),\n"
    "any other by the op. Multiply-adds: conv2d numel(out) * C_in/groups * kh * kw, linear\n"
    "numel(out) * in, matmul numel(out) * k, attention B H Lq Lk (D + Dv), LSTM/GRU cells\n"
    "N * gates * H * (I + H), batchnorm and layernorm one per output element (eval: a\n"
    "scale and shift), every other op 0. The model size counts parameters and buffers as\n"
    "F32; the training step is the step arena's peak over a forward and backward.\n"
    "\n"
    "options:\n"
    "  --json               one JSON object on stdout: layers and totals\n"
    "  --set PATH=VALUE     override a config key (repeatable)\n"
    "  --threads N          threads to use\n";

typedef struct layer_row {
    char name[256];
    const nn_op_def *op;
    const nn_tensor *out;
    int64_t params, macs;
} layer_row;

/* Multiply-adds of one recorded op (see the help text). */
static int64_t node_macs(const nn_node *n)
{
    const nn_op_def *op = n->op;
    const nn_tensor *y = n->out;
    if (op == &nn_op_defs[NN_OP_CONV2D]) {
        const nn_tensor *w = n->in[1];
        return y->numel * w->shape[1] * w->shape[2] * w->shape[3];
    }
    if (op == &nn_op_defs[NN_OP_LINEAR]) return y->numel * n->in[1]->shape[1];
    if (op == &nn_op_defs[NN_OP_MATMUL]) return y->numel * n->in[0]->shape[n->in[0]->ndim - 1];
    if (op == &nn_op_defs[NN_OP_ATTENTION]) {
        const nn_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
        return (int64_t)q->shape[0] * q->shape[1] * q->shape[2] * k->shape[2] * (q->shape[3] + v->shape[3]);
    }
    int gates = op == &nn_op_defs[NN_OP_LSTM_CELL] ? 4 : op == &nn_op_defs[NN_OP_GRU_CELL] ? 3 : 0;
    if (gates) {
        const nn_tensor *x = n->in[0], *h = n->in[1];
        return (int64_t)x->shape[0] * gates * h->shape[1] * (x->shape[1] + h->shape[1]);
    }
    if (op == &nn_op_defs[NN_OP_BATCHNORM] || op == &nn_op_defs[NN_OP_LAYERNORM]) return y->numel;
    return 0;
}

/* The row of node n: named after its first parameter input without the last
 * name component, else after the op; parameters not counted on an earlier
 * row (a shared weight counts once). */
static void describe(layer_row *row, const nn_node *n, const nn_params *p, unsigned char *seen)
{
    row->op = n->op;
    row->out = n->out;
    row->macs = node_macs(n);
    row->params = 0;
    snprintf(row->name, sizeof row->name, "%s", n->op->name);
    int named = 0;
    for (int i = 0; i < n->n_in; i++) {
        const nn_tensor *x = n->in[i];
        if (!x || !x->name) continue;
        const char *dot = strrchr(x->name, '.');
        if (!named && dot) snprintf(row->name, sizeof row->name, "%.*s", (int)(dot - x->name), x->name);
        named = 1;
        for (int j = 0; j < p->count; j++)
            if (p->items[j] == x && !seen[j]) {
                seen[j] = 1;
                row->params += x->numel;
            }
    }
}

/* 1234567 -> "1,234,567" */
static const char *grouped(char *buf, size_t size, int64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRId64, v), o = 0;
    for (int i = 0; i < n && o + 2 < (int)size; i++) {
        if (i && digits[i - 1] != '-' && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

typedef struct totals {
    int64_t params, trainable, buffers, macs, step_bytes;
    double model_mb;
} totals;

static void print_table(const char *model, const int *in_shape, const layer_row *rows, int n,
                        const totals *t)
{
    char s[128], a[32], b[32];
    printf("%s, input %s\n\n", model, nn_shape_str(s, sizeof s, 4, in_shape));
    printf("%-36s %-20s %-22s %12s %16s\n", "layer", "op", "output shape", "params", "MACs");
    for (int i = 0; i < n; i++)
        printf("%-36s %-20s %-22s %12s %16s\n", rows[i].name, rows[i].op->name,
               nn_shape_str(s, sizeof s, rows[i].out->ndim, rows[i].out->shape),
               grouped(a, sizeof a, rows[i].params), grouped(b, sizeof b, rows[i].macs));
    printf("\nparameters      %s (trainable %s)\n", grouped(a, sizeof a, t->params),
           grouped(b, sizeof b, t->trainable));
    printf("buffers         %s values\n", grouped(a, sizeof a, t->buffers));
    printf("MACs            %s (%.2f %s) per image\n", grouped(a, sizeof a, t->macs),
           (double)t->macs / (t->macs >= 100000000 ? 1e9 : 1e6), t->macs >= 100000000 ? "G" : "M");
    /* Which ops the multiply-adds come from, for comparing with tools that
     * count only some (torchinfo leaves out batchnorm's per-element work). */
    for (int i = 0; i < n; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++) first = rows[j].op != rows[i].op;
        if (!first) continue;
        int64_t sum = 0;
        for (int j = i; j < n; j++)
            if (rows[j].op == rows[i].op) sum += rows[j].macs;
        if (sum) printf("  %-13s %s\n", rows[i].op->name, grouped(a, sizeof a, sum));
    }
    printf("model size      %.2f MB (parameters and buffers, F32)\n", t->model_mb);
    printf("training step   %.2f MB of activations and saved state (batch 1, forward and backward)\n",
           (double)t->step_bytes / 1e6);
}

static void print_json(const char *model, const int *in_shape, const layer_row *rows, int n,
                       const totals *t)
{
    printf("{\"model\": \"%s\", \"input\": [%d, %d, %d, %d], \"layers\": [", model, in_shape[0], in_shape[1],
           in_shape[2], in_shape[3]);
    for (int i = 0; i < n; i++) {
        printf("%s{\"name\": \"%s\", \"op\": \"%s\", \"shape\": [", i ? ", " : "", rows[i].name, rows[i].op->name);
        for (int d = 0; d < rows[i].out->ndim; d++) printf("%s%d", d ? ", " : "", rows[i].out->shape[d]);
        printf("], \"params\": %" PRId64 ", \"macs\": %" PRId64 "}", rows[i].params, rows[i].macs);
    }
    printf("], \"params\": %" PRId64 ", \"trainable_params\": %" PRId64 ", \"buffers\": %" PRId64
           ", \"macs\": %" PRId64 ", \"model_mb\": %.4f, \"train_step_mb\": %.4f}\n",
           t->params, t->trainable, t->buffers, t->macs, t->model_mb, (double)t->step_bytes / 1e6);
}

/* One recording forward at batch 1 (eval mode) and the rows of its nodes,
 * in order; then a backward from the logits for the step's memory. */
static nn_status summarize(nn_run *r, int json)
{
    const nn_model_input *in = &r->model.input;
    const int in_shape[4] = {1, in->channels, in->height, in->width};
    nn_rng rng;
    nn_rng_seed(&rng, 1, 99);
    for (int64_t i = 0; i < nn_shape_numel(4, in_shape); i++) r->x[i] = nn_rng_normal(&rng);
    nn_arena_reset(&r->step_arena);
    nn_tape t;
    nn_tape_init(&t, &r->step_arena, 1, 0);
    nn_tensor *xt = nn_tensor_view(t.arena, r->x, 4, in_shape);
    nn_tensor *y = xt ? r->model.def->forward(&r->model, &t, xt) : NULL;
    if (!y) {
        nn_status st = nn_error_status();
        return st == NN_OK ? NN_ERR_RUNTIME : st;
    }
    const nn_params *p = &r->model.params;
    /* The tape runs newest first: put the nodes in forward order. */
    int n = 0;
    for (const nn_node *node = t.last; node; node = node->prev) n++;
    const nn_node **order = malloc(sizeof *order * ((size_t)n + 1));
    layer_row *rows = calloc((size_t)n + 1, sizeof *rows);
    unsigned char *seen = calloc((size_t)p->count + 1, 1);
    float *dy = malloc(sizeof(float) * (size_t)y->numel);
    nn_status st = order && rows && seen && dy
        ? NN_OK : nn_error(NN_ERR_RUNTIME, "out of memory summarizing %d ops", n);
    if (st == NN_OK) {
        int k = n;
        for (const nn_node *node = t.last; node; node = node->prev) order[--k] = node;
        for (int i = 0; i < n; i++) describe(&rows[i], order[i], p, seen);
    }
    totals tot = {0};
    for (int i = 0; i < p->count; i++)
        if (p->items[i]->requires_grad) tot.trainable += p->items[i]->numel;
    tot.params = p->total;
    tot.buffers = p->buffer_total;
    for (int i = 0; st == NN_OK && i < n; i++) tot.macs += rows[i].macs;
    tot.model_mb = (double)(p->total + p->buffer_total) * sizeof(float) / 1e6;
    for (int64_t i = 0; st == NN_OK && i < y->numel; i++) dy[i] = 1.0f;
    if (st == NN_OK) st = nn_tape_backward_from(&t, y, dy);
    tot.step_bytes = (int64_t)r->step_arena.high_water;
    if (st == NN_OK) {
        if (json) print_json(r->model.def->name, in_shape, rows, n, &tot);
        else print_table(r->model.def->name, in_shape, rows, n, &tot);
    }
    free(order);
    free(rows);
    free(seen);
    free(dy);
    return st;
}

int cmd_summary(int argc, char **argv)
{
    cli_common c = {0};
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        int r = cli_common_option(&c, argc, argv, &i, "summary");
        if (r < 0) return EXIT_USAGE;
        if (r == 0) return cli_usage_error("summary", "unknown option \"%s\"", a);
    }
    nn_config *cfg;
    nn_run run;
    int code = cli_setup(&c, "summary", &cfg, &run, NN_RUN_NO_DATA);
    if (!code) code = cli_config_done(cfg, &run);
    if (!code) {
        nn_status st = summarize(&run, json);
        if (st != NN_OK) code = cli_fail(st);
    }
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
