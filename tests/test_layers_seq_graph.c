/* The sequence and graph layer builders (nn/sequence_layers.h,
 * nn/graph_layers.h).
 *
 * Against tests/golden/layers_seq_graph.safetensors (written by
 * tests/golden/layers_seq_graph_reference.py with PyTorch; GCN and GAT in
 * plain torch with PyG's formulas): each case builds its layer, checks that
 * the parameter names and their order are torch's, loads torch's weights
 * by name, and compares the outputs, every parameter's gradient and every
 * input's gradient of sum(out * dout). Then finite-difference gradient
 * checks of a 2-layer bidirectional LSTM over padded sequences and of a GAT
 * layer; padded steps that cannot matter; dropout (between recurrent
 * layers, on GAT's attention) only in training; PyTorch's initializers; the GCN adjacency; and clear
 * errors for bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "nn/graph_layers.h"
#include "nn/sequence_layers.h"
#include "ops/ops.h"
#include "testutil.h"

#define GOLDEN "tests/golden/layers_seq_graph.safetensors"
/* float32 here against float64 in torch: a few float32 roundings per op
 * along the longest chain (two recurrent layers over five steps, both ways);
 * the largest measured difference is below 4e-6. */
#define TOL 1e-5

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

/* Integer argument `key=` of a case's spec, or def. */
static int spec_arg(const char *spec, const char *key, int def)
{
    char pat[32];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *at = strstr(spec, pat);
    return at ? atoi(at + strlen(pat)) : def;
}

/* One case: its layer's parameters, the inputs that get gradients and the
 * outputs, each under the golden file's names. */
typedef struct golden_case {
    const nn_safetensors *g;
    const char *name;
    const char *spec;
    nn_params p;
    nn_tensor *in[3];
    const char *in_names[3];
    int n_in;
    nn_tensor *out[3];
    const char *out_names[3];
    int n_out;
    double out_diff, grad_diff;
} golden_case;

static void case_open(golden_case *c, const nn_safetensors *g, const char *name)
{
    memset(c, 0, sizeof *c);
    c->g = g;
    c->name = name;
    char key[128];
    snprintf(key, sizeof key, "%s.spec", name);
    c->spec = nn_safetensors_meta(g, key);
    ck_assert_msg(c->spec != NULL, "%s: no spec in the golden file", name);
    nn_params_init(&c->p, &arena);
}

/* Finalizes the declared parameters, checks their names and order against
 * torch's (metadata <case>.names) and loads torch's values by name. */
static void case_load_params(golden_case *c)
{
    nn_rng rng;
    nn_rng_seed(&rng, 5, 0);
    ck_assert_int_eq(nn_params_finalize(&c->p, &rng), NN_OK);
    char key[256];
    snprintf(key, sizeof key, "%s.names", c->name);
    const char *names = nn_safetensors_meta(c->g, key);
    ck_assert_msg(names != NULL, "%s: no parameter names in the golden file", c->name);
    char *list = strdup(names), *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
        ck_assert_msg(i < c->p.count, "%s: torch has more parameters than the %d here (next %s)",
                      c->name, c->p.count, tok);
        ck_assert_msg(!strcmp(c->p.items[i]->name, tok), "%s: parameter %d is %s, torch's is %s",
                      c->name, i, c->p.items[i]->name, tok);
    }
    free(list);
    ck_assert_msg(i == c->p.count, "%s: %d parameters here, %d in torch", c->name, c->p.count, i);
    for (i = 0; i < c->p.count; i++) {
        nn_tensor *w = c->p.items[i];
        snprintf(key, sizeof key, "%s.p.%s", c->name, w->name);
        ck_assert_msg(nn_safetensors_read(c->g, key, w->ndim, w->shape, w->data) == NN_OK, "%s",
                      nn_error_message());
    }
}

static nn_tensor *case_tensor(const golden_case *c, const char *what)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c->name, what);
    return tu_golden_tensor(&arena, c->g, key);
}

/* Golden input `what` as a leaf that wants a gradient. */
static nn_tensor *case_input(golden_case *c, const char *what)
{
    nn_tensor *x = case_tensor(c, what);
    x->requires_grad = 1;
    c->in[c->n_in] = x;
    c->in_names[c->n_in++] = what;
    return x;
}

/* Golden float tensor `what` (indices, lengths, masks) as int32 / uint8. */
static int32_t *case_ints(const golden_case *c, const char *what, int *n)
{
    nn_tensor *f = case_tensor(c, what);
    int32_t *v = NN_ARENA_NEW(&arena, int32_t, f->numel);
    for (int64_t i = 0; i < f->numel; i++) v[i] = (int32_t)f->data[i];
    if (n) *n = (int)f->numel;
    return v;
}

static uint8_t *case_mask(const golden_case *c, const char *what)
{
    nn_tensor *f = case_tensor(c, what);
    uint8_t *m = NN_ARENA_NEW(&arena, uint8_t, f->numel);
    for (int64_t i = 0; i < f->numel; i++) m[i] = f->data[i] != 0.0f;
    return m;
}

static void case_output(golden_case *c, const char *what, nn_tensor *y)
{
    ck_assert_msg(y != NULL, "%s: %s is NULL: %s", c->name, what, nn_error_message());
    c->out[c->n_out] = y;
    c->out_names[c->n_out++] = what;
}

/* Compares the outputs, backpropagates sum(out * dout) and compares every
 * input's and parameter's gradient; prints the max differences. */
static void case_check(golden_case *c, nn_tape *t)
{
    char key[256], dkey[64];
    int ok = 1;
    nn_tensor *loss = NULL;
    for (int i = 0; i < c->n_out; i++) {
        nn_tensor *y = c->out[i];
        snprintf(key, sizeof key, "%s.%s", c->name, c->out_names[i]);
        ck_assert_msg(tu_golden_same_shape(c->g, key, y), "%s: shape differs from torch's", key);
        ok &= tu_golden_compare(c->g, key, y->data, (long)y->numel, TOL, TOL, &c->out_diff);
        snprintf(dkey, sizeof dkey, "d%s", c->out_names[i]);
        nn_tensor *part = nn_sum(t, nn_mul(t, y, case_tensor(c, dkey)), 0, NULL, 0);
        loss = loss ? nn_add(t, loss, part) : part;
    }
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(nn_tape_backward(t, loss), NN_OK);
    for (int i = 0; i < c->n_in; i++) {
        snprintf(key, sizeof key, "%s.d%s", c->name, c->in_names[i]);
        ck_assert_ptr_nonnull(c->in[i]->grad);
        ok &= tu_golden_compare(c->g, key, c->in[i]->grad, (long)c->in[i]->numel, TOL, TOL,
                                &c->grad_diff);
    }
    for (int i = 0; i < c->p.count; i++) {
        nn_tensor *w = c->p.items[i];
        snprintf(key, sizeof key, "%s.g.%s", c->name, w->name);
        ok &= tu_golden_compare(c->g, key, w->grad, (long)w->numel, TOL, TOL, &c->grad_diff);
    }
    printf("%-10s max |diff| from torch: outputs %.2e, gradients (%d inputs, %d parameters) %.2e\n",
           c->name, c->out_diff, c->n_in, c->p.count, c->grad_diff);
    ck_assert_msg(ok, "%s: differs from torch (see above)", c->name);
}

/* ---- against torch ---- */

static void run_rnn_case(const nn_safetensors *g, const char *name, const char *prefix)
{
    golden_case c;
    case_open(&c, g, name);
    int lstm = !strncmp(c.spec, "lstm", 4);
    nn_rnn_args args = nn_rnn_default_args();
    args.num_layers = spec_arg(c.spec, "layers", 1);
    args.bidirectional = spec_arg(c.spec, "bidirectional", 0);
    args.batch_first = spec_arg(c.spec, "batch_first", 0);
    nn_rnn_layer l;
    ck_assert_int_eq(nn_rnn_layer_init(&l, &c.p, prefix, lstm ? NN_RNN_LSTM : NN_RNN_GRU,
                                       spec_arg(c.spec, "input", 0), spec_arg(c.spec, "hidden", 0),
                                       args), 0);
    case_load_params(&c);
    nn_tensor *x = case_input(&c, "x"), *h0 = NULL, *c0 = NULL;
    if (spec_arg(c.spec, "h0", 0)) {
        h0 = case_input(&c, "h0");
        if (lstm) c0 = case_input(&c, "c0");
    }
    int32_t *lengths = spec_arg(c.spec, "lengths", 0) ? case_ints(&c, "lengths", NULL) : NULL;
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *y, *hn, *cn;
    ck_assert_msg(nn_rnn_layer_forward(&l, &t, x, lengths, h0, c0, &y, &hn, &cn) == NN_OK, "%s: %s",
                  name, nn_error_message());
    case_output(&c, "y", y);
    case_output(&c, "h_n", hn);
    if (lstm) case_output(&c, "c_n", cn);
    else ck_assert_ptr_null(cn);
    case_check(&c, &t);
    nn_arena_deinit(&step);
}

START_TEST(lstm_matches_torch)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    run_rnn_case(g, "lstm", "encoder.rnn");
    nn_safetensors_close(g);
}
END_TEST

START_TEST(gru_matches_torch)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    run_rnn_case(g, "gru", "gru");
    run_rnn_case(g, "gru_bi", "gru");
    nn_safetensors_close(g);
}
END_TEST

static void run_mha_case(const nn_safetensors *g, const char *name)
{
    golden_case c;
    case_open(&c, g, name);
    nn_mha_layer l;
    ck_assert_int_eq(nn_mha_layer_init(&l, &c.p, "attn", spec_arg(c.spec, "embed", 0),
                                       spec_arg(c.spec, "heads", 0), 1,
                                       spec_arg(c.spec, "batch_first", 0)), 0);
    case_load_params(&c);
    nn_tensor *q = case_input(&c, "q"), *k = q, *v = q;
    if (!spec_arg(c.spec, "self", 0)) k = case_input(&c, "k"), v = case_input(&c, "v");
    uint8_t *pad = case_mask(&c, "pad");
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    case_output(&c, "y", nn_mha_layer_forward(&l, &t, q, k, v, pad, spec_arg(c.spec, "causal", 0)));
    case_check(&c, &t);
    nn_arena_deinit(&step);
}

START_TEST(mha_matches_torch)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    run_mha_case(g, "mha_self");
    run_mha_case(g, "mha_cross");
    nn_safetensors_close(g);
}
END_TEST

START_TEST(embedding_and_layernorm_match_torch)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;

    golden_case c;
    case_open(&c, g, "embedding");
    nn_embedding_layer emb;
    ck_assert_int_eq(nn_embedding_layer_init(&emb, &c.p, "embed", 10, 4, 2), 0);
    case_load_params(&c);
    int n_idx;
    int32_t *idx = case_ints(&c, "idx", &n_idx);
    ck_assert_int_eq(n_idx, 10);
    nn_tape_init(&t, &step, 1, 1);
    case_output(&c, "y", nn_embedding_layer_forward(&emb, &t, idx, NN_SHAPE(2, 5)));
    case_check(&c, &t);

    nn_arena_reset(&step);
    case_open(&c, g, "layernorm");
    nn_layernorm_layer ln;
    ck_assert_int_eq(nn_layernorm_layer_init(&ln, &c.p, "norm", NN_SHAPE(4, 5), NN_LAYERNORM_EPS, 1), 0);
    case_load_params(&c);
    nn_tensor *x = case_input(&c, "x");
    nn_tape_init(&t, &step, 1, 1);
    case_output(&c, "y", nn_layernorm_layer_forward(&ln, &t, x));
    case_check(&c, &t);
    nn_arena_deinit(&step);
    nn_safetensors_close(g);
}
END_TEST

static void run_graph_case(const nn_safetensors *g, const char *name)
{
    golden_case c;
    case_open(&c, g, name);
    int gcn = !strncmp(c.spec, "gcn", 3), nodes = spec_arg(c.spec, "nodes", 0);
    int fin = spec_arg(c.spec, "in", 0), fout = spec_arg(c.spec, "out", 0);
    nn_gcn_layer gl;
    nn_gat_layer al;
    if (gcn) ck_assert_int_eq(nn_gcn_layer_init(&gl, &c.p, "conv", fin, fout, 1), 0);
    else
        ck_assert_int_eq(nn_gat_layer_init(&al, &c.p, "conv", fin, fout, spec_arg(c.spec, "heads", 1),
                                           spec_arg(c.spec, "concat", 1), 0.0f, 1), 0);
    case_load_params(&c);
    int n_edges;
    int32_t *edges = case_ints(&c, "edges", &n_edges);
    n_edges /= 2;
    nn_tensor *x = case_input(&c, "x");
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    if (gcn) {
        nn_csr adj;
        ck_assert_int_eq(nn_gcn_adjacency_init(&adj, &arena, nodes, edges, n_edges), NN_OK);
        case_output(&c, "y", nn_gcn_layer_forward(&gl, &t, &adj, x));
    } else {
        nn_graph_edges ge;
        ck_assert_int_eq(nn_graph_edges_init(&ge, &arena, nodes, edges, n_edges, 1), NN_OK);
        case_output(&c, "y", nn_gat_layer_forward(&al, &t, &ge, x));
    }
    case_check(&c, &t);
    nn_arena_deinit(&step);
}

START_TEST(graph_layers_match_torch)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    run_graph_case(g, "gcn");
    run_graph_case(g, "gat");
    run_graph_case(g, "gat_mean");
    nn_safetensors_close(g);
}
END_TEST

/* ---- finite differences ---- */

static void check_grad(const char *what, nn_gradcheck_fn fn, nn_tensor **in, int n, void *ctx)
{
    nn_gradcheck_result r = {0};
    nn_status st = nn_gradcheck(fn, in, n, ctx, 1e-2, 1e-3, 1e-2, &r);
    printf("%-34s gradcheck %4ld elements, max abs err %.2e, rel %.2e\n", what, r.checked,
           r.max_abs_err, r.max_rel_err);
    if (st != NN_OK) fprintf(stderr, "%s: %s\n", what, nn_error_message());
    ck_assert_int_eq(st, NN_OK);
    ck_assert_int_gt(r.checked, 0);
}

/* Everything a layer's forward returns, flattened into one row, so one
 * gradient check covers all outputs. */
static nn_tensor *flat_concat(nn_tape *t, int n, nn_tensor **ys)
{
    nn_tensor *rows[3];
    for (int i = 0; i < n; i++) rows[i] = nn_reshape(t, ys[i], NN_SHAPE(1, -1));
    return nn_concat(t, n, rows, 1);
}

typedef struct rnn_ctx {
    const nn_rnn_layer *l;
    const int32_t *lengths;
} rnn_ctx;

/* in: x, h0, c0, then the layer's parameters (used through the layer). */
static nn_tensor *call_lstm(nn_tape *t, nn_tensor **in, void *ctx)
{
    const rnn_ctx *c = ctx;
    nn_tensor *ys[3];
    if (nn_rnn_layer_forward(c->l, t, in[0], c->lengths, in[1], in[2], &ys[0], &ys[1], &ys[2]) != NN_OK)
        return NULL;
    return flat_concat(t, 3, ys);
}

START_TEST(lstm_gradcheck)
{
    enum { N = 2, T = 3, I = 2, H = 2 };
    nn_params p;
    nn_params_init(&p, &arena);
    nn_rnn_args args = nn_rnn_default_args();
    args.num_layers = 2;
    args.bidirectional = 1;
    args.batch_first = 1;
    nn_rnn_layer l;
    ck_assert_int_eq(nn_rnn_layer_init(&l, &p, "rnn", NN_RNN_LSTM, I, H, args), 0);
    nn_rng rng;
    nn_rng_seed(&rng, 11, 0);
    ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
    nn_tensor *in[3 + 16];
    in[0] = tu_random(&arena, 1, -1, 1, NN_SHAPE(N, T, I));
    in[1] = tu_random(&arena, 2, -1, 1, NN_SHAPE(4, N, H));
    in[2] = tu_random(&arena, 3, -1, 1, NN_SHAPE(4, N, H));
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    ck_assert_int_eq(p.count, 16);
    for (int i = 0; i < p.count; i++) in[3 + i] = p.items[i];
    int32_t lengths[N] = {2, 3};
    rnn_ctx ctx = {&l, lengths};
    check_grad("lstm 2 layers, bidirectional, padded", call_lstm, in, 3 + p.count, &ctx);
}
END_TEST

typedef struct gat_ctx {
    const nn_gat_layer *l;
    const nn_graph_edges *g;
} gat_ctx;

static nn_tensor *call_gat(nn_tape *t, nn_tensor **in, void *ctx)
{
    const gat_ctx *c = ctx;
    return nn_gat_layer_forward(c->l, t, c->g, in[0]);
}

START_TEST(gat_gradcheck)
{
    enum { NODES = 5, FIN = 3, FOUT = 2, HEADS = 2 };
    /* A ring both ways plus a chord 0 -> 2 and an existing loop on 4. */
    static const int32_t edges[2][12] = {{0, 1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 4},
                                         {1, 0, 2, 1, 3, 2, 4, 3, 0, 4, 2, 4}};
    nn_graph_edges g;
    ck_assert_int_eq(nn_graph_edges_init(&g, &arena, NODES, &edges[0][0], 12, 1), NN_OK);
    ck_assert_int_eq(g.num_edges, 11 + NODES);
    for (int concat = 1; concat >= 0; concat--) {
        nn_params p;
        nn_params_init(&p, &arena);
        nn_gat_layer l;
        ck_assert_int_eq(nn_gat_layer_init(&l, &p, "gat", FIN, FOUT, HEADS, concat, 0.0f, 1), 0);
        nn_rng rng;
        nn_rng_seed(&rng, 21, 0);
        ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
        /* A nonzero bias, and scores away from leaky_relu's kink. */
        for (int64_t i = 0; i < l.bias->numel; i++) l.bias->data[i] = 0.1f * (float)(i + 1);
        nn_tensor *in[5] = {tu_random(&arena, 31, -1, 1, NN_SHAPE(NODES, FIN))};
        in[0]->requires_grad = 1;
        for (int i = 0; i < p.count; i++) in[1 + i] = p.items[i];
        gat_ctx ctx = {&l, &g};
        check_grad(concat ? "gat 2 heads, concat" : "gat 2 heads, mean", call_gat, in, 1 + p.count,
                   &ctx);
    }
}
END_TEST

/* ---- behaviour ---- */

static nn_rnn_layer make_rnn(nn_params *p, nn_rnn_mode mode, int in, int hid, int layers, int bidir,
                             int batch_first, float dropout, uint64_t seed)
{
    nn_params_init(p, &arena);
    nn_rnn_args args = nn_rnn_default_args();
    args.num_layers = layers;
    args.bidirectional = bidir;
    args.batch_first = batch_first;
    args.dropout = dropout;
    nn_rnn_layer l;
    ck_assert_int_eq(nn_rnn_layer_init(&l, p, "rnn", mode, in, hid, args), 0);
    nn_rng rng;
    nn_rng_seed(&rng, seed, 0);
    ck_assert_int_eq(nn_params_finalize(p, &rng), NN_OK);
    return l;
}

/* Values at padded steps change nothing, and a sequence in a padded batch
 * ends where it would alone, in both directions. */
START_TEST(padded_steps_do_not_matter)
{
    enum { N = 3, T = 4, I = 3, H = 2 };
    for (int mode = NN_RNN_LSTM; mode <= NN_RNN_GRU; mode++) {
        nn_params p;
        nn_rnn_layer l = make_rnn(&p, (nn_rnn_mode)mode, I, H, 2, 1, 0, 0.0f, 7);
        nn_tensor *x = tu_random(&arena, 41, -1, 1, NN_SHAPE(T, N, I));
        nn_tensor *x2 = tu_random(&arena, 41, -1, 1, NN_SHAPE(T, N, I));
        const int32_t lengths[N] = {4, 1, 3};
        for (int s = 0; s < T; s++)
            for (int b = 0; b < N; b++)
                if (s >= lengths[b])
                    for (int i = 0; i < I; i++) x2->data[(s * N + b) * I + i] = 100.0f + (float)i;
        nn_tape t;
        nn_tape_init(&t, &arena, 0, 0);
        nn_tensor *y, *hn, *y2, *hn2, *y1, *hn1;
        ck_assert_int_eq(nn_rnn_layer_forward(&l, &t, x, lengths, NULL, NULL, &y, &hn, NULL), NN_OK);
        ck_assert_int_eq(nn_rnn_layer_forward(&l, &t, x2, lengths, NULL, NULL, &y2, &hn2, NULL), NN_OK);
        ck_assert(memcmp(y->data, y2->data, sizeof(float) * (size_t)y->numel) == 0);
        ck_assert(memcmp(hn->data, hn2->data, sizeof(float) * (size_t)hn->numel) == 0);
        for (int s = 0; s < T; s++)
            for (int b = 0; b < N; b++)
                for (int j = 0; s >= lengths[b] && j < 2 * H; j++)
                    ck_assert_float_eq(y->data[(s * N + b) * 2 * H + j], 0.0f);
        /* Sequence 2 alone, cut to its 3 steps. */
        nn_tensor *x1 = nn_tensor_new(&arena, NN_SHAPE(3, 1, I));
        for (int s = 0; s < 3; s++)
            memcpy(x1->data + s * I, x->data + (s * N + 2) * I, sizeof(float) * I);
        ck_assert_int_eq(nn_rnn_layer_forward(&l, &t, x1, NULL, NULL, NULL, &y1, &hn1, NULL), NN_OK);
        for (int s = 0; s < 3; s++)
            ck_assert(tu_close("y of sequence 2", y->data + (s * N + 2) * 2 * H, y1->data + s * 2 * H,
                               2 * H, 1e-6, 1e-6));
        for (int ld = 0; ld < 4; ld++)
            ck_assert(tu_close("h_n of sequence 2", hn->data + (ld * N + 2) * H, hn1->data + ld * H, H,
                               1e-6, 1e-6));
    }
}
END_TEST

START_TEST(dropout_only_in_training)
{
    enum { N = 2, T = 5, I = 3, H = 4 };
    nn_params p;
    nn_rnn_layer l = make_rnn(&p, NN_RNN_GRU, I, H, 3, 0, 1, 0.5f, 9);
    nn_tensor *x = tu_random(&arena, 51, -1, 1, NN_SHAPE(N, T, I));
    nn_tape eval, train;
    nn_tape_init(&eval, &arena, 0, 0);
    nn_tape_init(&train, &arena, 1, 1);
    train.seed = 1234;
    nn_tensor *ye, *yt, *he, *ht;
    ck_assert_int_eq(nn_rnn_layer_forward(&l, &eval, x, NULL, NULL, NULL, &ye, &he, NULL), NN_OK);
    ck_assert_int_eq(eval.seeds_drawn, 0);
    ck_assert_int_eq(nn_rnn_layer_forward(&l, &train, x, NULL, NULL, NULL, &yt, &ht, NULL), NN_OK);
    /* One seed per step between each pair of layers. */
    ck_assert_int_eq(train.seeds_drawn, 2 * T);
    ck_assert(memcmp(ye->data, yt->data, sizeof(float) * (size_t)ye->numel) != 0);
    /* The first layer sees no dropout: its final state agrees. */
    ck_assert(memcmp(he->data, ht->data, sizeof(float) * N * H) == 0);
    /* Without dropout, training gives the evaluation output. */
    l.args.dropout = 0.0f;
    nn_tape_init(&train, &arena, 1, 1);
    ck_assert_int_eq(nn_rnn_layer_forward(&l, &train, x, NULL, NULL, NULL, &yt, &ht, NULL), NN_OK);
    ck_assert(memcmp(ye->data, yt->data, sizeof(float) * (size_t)ye->numel) == 0);

    /* GAT: dropout on the attention coefficients, one seed per forward. */
    static const int32_t ring[2][8] = {{0, 1, 1, 2, 2, 3, 3, 0}, {1, 0, 2, 1, 3, 2, 0, 3}};
    nn_graph_edges g;
    ck_assert_int_eq(nn_graph_edges_init(&g, &arena, 4, &ring[0][0], 8, 1), NN_OK);
    nn_params_init(&p, &arena);
    nn_gat_layer gat;
    ck_assert_int_eq(nn_gat_layer_init(&gat, &p, "gat", 3, 2, 2, 1, 0.5f, 1), 0);
    nn_rng rng;
    nn_rng_seed(&rng, 13, 0);
    ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
    nn_tensor *xg = tu_random(&arena, 61, -1, 1, NN_SHAPE(4, 3));
    nn_tape_init(&eval, &arena, 0, 0);
    nn_tape_init(&train, &arena, 1, 1);
    train.seed = 99;
    ye = nn_gat_layer_forward(&gat, &eval, &g, xg);
    yt = nn_gat_layer_forward(&gat, &train, &g, xg);
    ck_assert(ye && yt);
    ck_assert_int_eq(eval.seeds_drawn, 0);
    ck_assert_int_eq(train.seeds_drawn, 1);
    ck_assert(memcmp(ye->data, yt->data, sizeof(float) * (size_t)ye->numel) != 0);
}
END_TEST

/* Every value of w in [lo, hi], and (for enough values) some near each end. */
static void assert_range(const nn_tensor *w, double lo, double hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < w->numel; i++) mn = fmin(mn, w->data[i]), mx = fmax(mx, w->data[i]);
    ck_assert_msg(mn >= lo - 1e-7 && mx <= hi + 1e-7, "%s: values in [%g, %g], expected [%g, %g]",
                  w->name, mn, mx, lo, hi);
    if (w->numel >= 64 && hi > lo)
        ck_assert_msg(mn < lo + 0.1 * (hi - lo) && mx > hi - 0.1 * (hi - lo),
                      "%s: values in [%g, %g] do not fill [%g, %g]", w->name, mn, mx, lo, hi);
}

START_TEST(initializers_are_torchs)
{
    nn_params p;
    nn_params_init(&p, &arena);
    nn_embedding_layer emb;
    nn_layernorm_layer ln;
    nn_mha_layer mha;
    nn_gcn_layer gcn;
    nn_gat_layer gat;
    nn_rnn_args args = nn_rnn_default_args();
    args.bidirectional = 1;
    nn_rnn_layer lstm;
    ck_assert_int_eq(nn_embedding_layer_init(&emb, &p, "emb", 50, 8, -1), 0);
    ck_assert_int_eq(emb.padding_idx, 49);
    ck_assert_int_eq(nn_layernorm_layer_init(&ln, &p, "ln", NN_SHAPE(6), 1e-6f, 1), 0);
    ck_assert_int_eq(nn_mha_layer_init(&mha, &p, "mha", 16, 4, 1, 0), 0);
    ck_assert_int_eq(nn_gcn_layer_init(&gcn, &p, "gcn", 12, 10, 1), 0);
    ck_assert_int_eq(nn_gat_layer_init(&gat, &p, "gat", 12, 8, 4, 1, 0.0f, 1), 0);
    ck_assert_int_eq(nn_rnn_layer_init(&lstm, &p, "lstm", NN_RNN_LSTM, 5, 9, args), 0);
    nn_rng rng;
    nn_rng_seed(&rng, 3, 0);
    ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);

    const float *pad_row = emb.weight->data + 49 * 8;
    int nonzero = 0;
    for (int j = 0; j < 8; j++) nonzero += pad_row[j] != 0.0f;
    ck_assert_int_gt(nonzero, 0);
    nn_embedding_layer_zero_padding(&emb);
    for (int j = 0; j < 8; j++) ck_assert_float_eq(pad_row[j], 0.0f);
    for (int j = 0; j < 8; j++) ck_assert_float_ne(emb.weight->data[48 * 8 + j], 0.0f);

    assert_range(ln.weight, 1, 1);
    assert_range(ln.bias, 0, 0);
    double b = sqrt(6.0 / (16 + 48));
    assert_range(mha.in_proj_weight, -b, b);
    assert_range(mha.in_proj_bias, 0, 0);
    assert_range(mha.out_proj.weight, -0.25, 0.25);
    assert_range(mha.out_proj.bias, 0, 0);
    b = sqrt(6.0 / (12 + 10));
    assert_range(gcn.lin.weight, -b, b);
    assert_range(gcn.bias, 0, 0);
    b = sqrt(6.0 / (12 + 32));
    assert_range(gat.lin.weight, -b, b);
    b = sqrt(6.0 / (4 + 8));   /* PyG's glorot on (1, heads, out): the last two dims */
    assert_range(gat.att_src, -b, b);
    assert_range(gat.att_dst, -b, b);
    assert_range(gat.bias, 0, 0);
    ck_assert_int_eq(gat.bias->numel, 32);
    for (int i = 0; i < 2; i++) {
        const nn_rnn_weights *w = &lstm.w[i];
        const nn_tensor *all[4] = {w->w_ih, w->w_hh, w->b_ih, w->b_hh};
        for (int k = 0; k < 4; k++) assert_range(all[k], -1.0 / 3.0, 1.0 / 3.0);
    }
    ck_assert_str_eq(lstm.w[1].w_hh->name, "lstm.weight_hh_l0_reverse");
    ck_assert_int_eq(lstm.w[1].w_ih->shape[0], 36);
}
END_TEST

START_TEST(gcn_adjacency_is_normalized)
{
    /* 0 <-> 1, 1 -> 2, a loop on 2 (replaced), a duplicate 1 -> 2. */
    static const int32_t edges[2][5] = {{0, 1, 1, 2, 1}, {1, 0, 2, 2, 2}};
    nn_csr a;
    ck_assert_int_eq(nn_gcn_adjacency_init(&a, &arena, 3, &edges[0][0], 5), NN_OK);
    /* In-degrees with the loop: 2, 2, 3. Row 2: 1, 1 (twice), 2 (loop). */
    static const int32_t row_ptr[4] = {0, 2, 4, 7}, col[7] = {1, 0, 0, 1, 1, 1, 2};
    ck_assert_int_eq(a.rows, 3);
    ck_assert_int_eq(a.cols, 3);
    ck_assert(memcmp(a.row_ptr, row_ptr, sizeof row_ptr) == 0);
    ck_assert(memcmp(a.col_idx, col, sizeof col) == 0);
    const float want[7] = {0.5f, 0.5f, 0.5f, 0.5f, (float)(1 / sqrt(6.0)), (float)(1 / sqrt(6.0)),
                           1.0f / 3.0f};
    ck_assert(tu_close("gcn adjacency", a.values, want, 7, 1e-7, 0));
    /* An isolated node keeps its loop. */
    ck_assert_int_eq(nn_gcn_adjacency_init(&a, &arena, 4, &edges[0][0], 5), NN_OK);
    ck_assert_int_eq(a.row_ptr[4] - a.row_ptr[3], 1);
    ck_assert_float_eq(a.values[a.row_ptr[3]], 1.0f);
}
END_TEST

START_TEST(bad_arguments_are_errors)
{
    nn_params p;
    nn_params_init(&p, &arena);
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);

    nn_embedding_layer emb;
    ck_assert_int_eq(nn_embedding_layer_init(&emb, &p, "emb", 5, 2, 5), -1);
    ck_assert_str_eq(nn_error_message(), "embedding emb: padding_idx 5 is out of range [-5, 5)");
    nn_mha_layer mha;
    ck_assert_int_eq(nn_mha_layer_init(&mha, &p, "attn", 10, 3, 1, 0), -1);
    ck_assert_str_eq(nn_error_message(),
                     "multihead attention attn: embed_dim 10 must be a positive multiple of "
                     "num_heads 3");
    nn_rnn_layer rnn;
    nn_rnn_args args = nn_rnn_default_args();
    args.dropout = 1.0f;
    ck_assert_int_eq(nn_rnn_layer_init(&rnn, &p, "rnn", NN_RNN_GRU, 3, 2, args), -1);
    ck_assert_str_eq(nn_error_message(), "gru rnn: input_size 3, hidden_size 2, num_layers 1 must be "
                     ">= 1 and dropout 1 in [0, 1)");

    nn_rnn_layer l = make_rnn(&p, NN_RNN_LSTM, 4, 2, 1, 0, 1, 0.0f, 1);
    nn_tensor *x = tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 3, 4));
    nn_tensor *bad = tu_random(&arena, 1, -1, 1, NN_SHAPE(2, 3, 5));
    nn_tensor *y = x, *hn = x, *cn = x;
    ck_assert_int_eq(nn_rnn_layer_forward(&l, &t, bad, NULL, NULL, NULL, &y, &hn, &cn), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "lstm: input (2, 3, 5), expected (N, T, 4) with N, T >= 1");
    ck_assert(!y && !hn && !cn);
    const int32_t lengths[2] = {3, 0};
    ck_assert_int_eq(nn_rnn_layer_forward(&l, &t, x, lengths, NULL, NULL, &y, &hn, &cn), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "lstm: lengths[1] is 0, expected 1 to 3 (the sequence length)");
    nn_tensor *h0 = tu_random(&arena, 2, -1, 1, NN_SHAPE(2, 2, 2));
    ck_assert_int_eq(nn_rnn_layer_forward(&l, &t, x, NULL, h0, NULL, &y, &hn, &cn), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(),
                     "lstm: h0 is (2, 2, 2), expected (layers * directions, N, H) = (1, 2, 2)");
    /* A NULL input passes through with the status of its message. */
    nn_error(NN_ERR_INPUT, "earlier failure");
    ck_assert_int_eq(nn_rnn_layer_forward(&l, &t, NULL, NULL, NULL, NULL, &y, NULL, NULL), NN_ERR_INPUT);
    ck_assert_ptr_null(y);

    nn_params_init(&p, &arena);
    ck_assert_int_eq(nn_mha_layer_init(&mha, &p, "attn", 4, 2, 1, 1), 0);
    nn_rng rng;
    nn_rng_seed(&rng, 1, 0);
    ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
    nn_tensor *q = tu_random(&arena, 3, -1, 1, NN_SHAPE(2, 3, 4));
    nn_tensor *k = tu_random(&arena, 4, -1, 1, NN_SHAPE(3, 5, 4));
    ck_assert_ptr_null(nn_mha_layer_forward(&mha, &t, q, k, k, NULL, 0));
    ck_assert_str_eq(nn_error_message(),
                     "multihead attention: query (2, 3, 4), key (3, 5, 4), value (3, 5, 4) do not "
                     "fit (N, L, E), (N, S, E), (N, S, E) with E = 4");
    ck_assert_ptr_null(nn_mha_layer_forward(&mha, &t, q, NULL, k, NULL, 0));

    static const int32_t edges[2][2] = {{0, 0}, {1, 7}};
    nn_graph_edges g;
    nn_csr a;
    ck_assert_int_eq(nn_graph_edges_init(&g, &arena, 6, &edges[0][0], 2, 1), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "graph edges: edge 1 (0 -> 7) names a node outside [0, 6)");
    ck_assert_int_eq(nn_gcn_adjacency_init(&a, &arena, 6, &edges[0][0], 2), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "gcn adjacency: edge 1 (0 -> 7) names a node outside [0, 6)");
    nn_params_init(&p, &arena);
    nn_gcn_layer gcn;
    ck_assert_int_eq(nn_gcn_layer_init(&gcn, &p, "gcn", 3, 2, 1), 0);
    ck_assert_int_eq(nn_params_finalize(&p, &rng), NN_OK);
    ck_assert_int_eq(nn_gcn_adjacency_init(&a, &arena, 8, &edges[0][0], 2), NN_OK);
    ck_assert_ptr_null(nn_gcn_layer_forward(&gcn, &t, &a, q));
    ck_assert_str_eq(nn_error_message(), "gcn: x is (2, 3, 4), expected (num_nodes, in) = (8, 3)");
}
END_TEST

static Suite *layers_seq_graph_suite(void)
{
    Suite *s = suite_create("layers_seq_graph");
    TCase *tc = tcase_create("layers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lstm_matches_torch);
    tcase_add_test(tc, gru_matches_torch);
    tcase_add_test(tc, mha_matches_torch);
    tcase_add_test(tc, embedding_and_layernorm_match_torch);
    tcase_add_test(tc, graph_layers_match_torch);
    tcase_add_test(tc, lstm_gradcheck);
    tcase_add_test(tc, gat_gradcheck);
    tcase_add_test(tc, padded_steps_do_not_matter);
    tcase_add_test(tc, dropout_only_in_training);
    tcase_add_test(tc, initializers_are_torchs);
    tcase_add_test(tc, gcn_adjacency_is_normalized);
    tcase_add_test(tc, bad_arguments_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(layers_seq_graph_suite)
