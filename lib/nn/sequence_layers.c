#include "nn/sequence_layers.h"

#include <stdio.h>
#include <string.h>

#include "ops/attention.h"
#include "ops/rnn_cell.h"

/* The status of the message an op or builder left, for callers that only
 * got a NULL back. */
static nn_status failed(void)
{
    nn_status st = nn_error_status();
    return st != NN_OK ? st : NN_ERR_RUNTIME;
}

/* ---- Embedding ---- */

int nn_embedding_layer_init(nn_embedding_layer *l, nn_params *p, const char *prefix, int num,
                            int dim, int padding_idx)
{
    l->weight = NULL;
    if (num < 1 || dim < 1) {
        nn_error(NN_ERR_INPUT, "embedding %s: %d embeddings of dimension %d, expected both >= 1",
                 prefix, num, dim);
        return -1;
    }
    if (padding_idx != NN_NO_PADDING_IDX && (padding_idx < -num || padding_idx >= num)) {
        nn_error(NN_ERR_INPUT, "embedding %s: padding_idx %d is out of range [%d, %d)", prefix,
                 padding_idx, -num, num);
        return -1;
    }
    l->padding_idx = padding_idx == NN_NO_PADDING_IDX ? NN_NO_PADDING_IDX
                     : padding_idx < 0                ? padding_idx + num
                                                      : padding_idx;
    l->weight = nn_params_add_named(p, prefix, "weight", NN_SHAPE(num, dim), nn_init_torch_embedding());
    return l->weight ? 0 : -1;
}

void nn_embedding_layer_zero_padding(const nn_embedding_layer *l)
{
    if (l->padding_idx == NN_NO_PADDING_IDX) return;
    NN_ASSERT(l->weight->data && "nn_embedding_layer_zero_padding before nn_params_finalize");
    int dim = l->weight->shape[1];
    memset(l->weight->data + (int64_t)l->padding_idx * dim, 0, sizeof(float) * (size_t)dim);
}

nn_tensor *nn_embedding_layer_forward(const nn_embedding_layer *l, nn_tape *t, const int32_t *idx,
                                      int ndim, const int *shape)
{
    return nn_embedding(t, l->weight, idx, ndim, shape, l->padding_idx);
}

/* ---- LayerNorm ---- */

int nn_layernorm_layer_init(nn_layernorm_layer *l, nn_params *p, const char *prefix, int norm_ndim,
                            const int *normalized_shape, float eps, int affine)
{
    l->weight = l->bias = NULL;
    l->norm_ndim = norm_ndim;
    l->eps = eps;
    int ok = norm_ndim >= 1 && norm_ndim <= NN_MAX_DIMS;
    for (int i = 0; ok && i < norm_ndim; i++) ok = normalized_shape[i] >= 1;
    if (!ok) {
        nn_error(NN_ERR_INPUT, "layernorm %s: normalized_shape needs 1 to %d dims, each >= 1 "
                 "(got %d dims)", prefix, NN_MAX_DIMS, norm_ndim);
        return -1;
    }
    if (!affine) return 0;
    l->weight = nn_params_add_named(p, prefix, "weight", norm_ndim, normalized_shape,
                          nn_init_torch_norm_weight());
    l->bias = nn_params_add_named(p, prefix, "bias", norm_ndim, normalized_shape, nn_init_torch_norm_bias());
    return l->weight && l->bias ? 0 : -1;
}

nn_tensor *nn_layernorm_layer_forward(const nn_layernorm_layer *l, nn_tape *t, nn_tensor *x)
{
    return nn_layernorm(t, x, l->norm_ndim, l->weight, l->bias, l->eps);
}

/* ---- LSTM and GRU ---- */

nn_rnn_args nn_rnn_default_args(void)
{
    return (nn_rnn_args){.num_layers = 1, .bias = 1};
}

static const char *rnn_name(nn_rnn_mode mode) { return mode == NN_RNN_LSTM ? "lstm" : "gru"; }

int nn_rnn_layer_init(nn_rnn_layer *l, nn_params *p, const char *prefix, nn_rnn_mode mode,
                      int input_size, int hidden_size, nn_rnn_args args)
{
    l->mode = mode;
    l->input_size = input_size;
    l->hidden_size = hidden_size;
    l->args = args;
    l->w = NULL;
    if (input_size < 1 || hidden_size < 1 || args.num_layers < 1 ||
        !(args.dropout >= 0.0f && args.dropout < 1.0f)) {
        nn_error(NN_ERR_INPUT, "%s %s: input_size %d, hidden_size %d, num_layers %d must be >= 1 "
                 "and dropout %g in [0, 1)", rnn_name(mode), prefix, input_size, hidden_size,
                 args.num_layers, (double)args.dropout);
        return -1;
    }
    int dirs = args.bidirectional ? 2 : 1, rows = (mode == NN_RNN_LSTM ? 4 : 3) * hidden_size;
    l->w = NN_ARENA_NEW(p->arena, nn_rnn_weights, args.num_layers * dirs);
    if (!l->w) return -1;
    nn_init init = nn_init_torch_rnn(hidden_size);
    for (int k = 0; k < args.num_layers; k++)
        for (int d = 0; d < dirs; d++) {
            nn_rnn_weights *w = &l->w[k * dirs + d];
            const char *rev = d ? "_reverse" : "";
            int in = k == 0 ? input_size : hidden_size * dirs;
            char name[64];
            memset(w, 0, sizeof *w);
            snprintf(name, sizeof name, "weight_ih_l%d%s", k, rev);
            w->w_ih = nn_params_add_named(p, prefix, name, NN_SHAPE(rows, in), init);
            snprintf(name, sizeof name, "weight_hh_l%d%s", k, rev);
            w->w_hh = w->w_ih ? nn_params_add_named(p, prefix, name, NN_SHAPE(rows, hidden_size), init) : NULL;
            if (!w->w_hh) return -1;
            if (!args.bias) continue;
            snprintf(name, sizeof name, "bias_ih_l%d%s", k, rev);
            w->b_ih = nn_params_add_named(p, prefix, name, NN_SHAPE(rows), init);
            snprintf(name, sizeof name, "bias_hh_l%d%s", k, rev);
            w->b_hh = w->b_ih ? nn_params_add_named(p, prefix, name, NN_SHAPE(rows), init) : NULL;
            if (!w->b_hh) return -1;
        }
    return 0;
}

/* Joins xs[0..n) along axis as a tree of concats of up to
 * NN_NODE_MAX_INPUTS each, so every value is copied about log4(n) times
 * rather than n times by a chain. Overwrites xs; NULL if any is NULL. */
static nn_tensor *concat_many(nn_tape *t, nn_tensor **xs, int n, int axis)
{
    while (n > 1) {
        int m = 0;
        for (int i = 0; i < n; i += NN_NODE_MAX_INPUTS) {
            int k = n - i < NN_NODE_MAX_INPUTS ? n - i : NN_NODE_MAX_INPUTS;
            xs[m++] = k == 1 ? xs[i] : nn_concat(t, k, xs + i, axis);
        }
        n = m;
    }
    return xs[0];
}

static int has_shape3(const nn_tensor *x, int d0, int d1, int d2)
{
    return x->ndim == 3 && x->shape[0] == d0 && x->shape[1] == d1 && x->shape[2] == d2;
}

/* Shape and length checks of nn_rnn_layer_forward; 0 or -1 (message set). */
static int rnn_check(const nn_rnn_layer *l, const nn_tensor *x, const int32_t *lengths,
                     const nn_tensor *h0, const nn_tensor *c0, int steps, int n)
{
    const char *kind = rnn_name(l->mode);
    int ld = l->args.num_layers * (l->args.bidirectional ? 2 : 1), hid = l->hidden_size;
    char xs[64];
    if (x->ndim != 3 || x->shape[2] != l->input_size || steps < 1 || n < 1) {
        nn_error(NN_ERR_INPUT, "%s: input %s, expected (%s, %d) with N, T >= 1", kind,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape),
                 l->args.batch_first ? "N, T" : "T, N", l->input_size);
        return -1;
    }
    if (c0 && l->mode != NN_RNN_LSTM) {
        nn_error(NN_ERR_INPUT, "gru: c0 given, but a GRU has no cell state");
        return -1;
    }
    const nn_tensor *states[2] = {h0, c0};
    for (int i = 0; i < 2; i++)
        if (states[i] && !has_shape3(states[i], ld, n, hid)) {
            nn_error(NN_ERR_INPUT, "%s: %s is %s, expected (layers * directions, N, H) = "
                     "(%d, %d, %d)", kind, i ? "c0" : "h0",
                     nn_shape_str(xs, sizeof xs, states[i]->ndim, states[i]->shape), ld, n, hid);
            return -1;
        }
    for (int b = 0; lengths && b < n; b++)
        if (lengths[b] < 1 || lengths[b] > steps) {
            nn_error(NN_ERR_INPUT, "%s: lengths[%d] is %d, expected 1 to %d (the sequence length)",
                     kind, b, (int)lengths[b], steps);
            return -1;
        }
    return 0;
}

/* pad[s]: an (N, H) mask of the rows whose sequence has ended by step s,
 * or NULL where none has. Returns 0 when the arena is full. */
static int rnn_pad_masks(nn_tape *t, uint8_t **pad, const int32_t *lengths, int steps, int n,
                         int hid)
{
    for (int s = 0; s < steps; s++) {
        pad[s] = NULL;
        int any = 0;
        for (int b = 0; lengths && b < n; b++) any |= s >= lengths[b];
        if (!any) continue;
        if (!(pad[s] = NN_ARENA_NEW(t->arena, uint8_t, (int64_t)n * hid))) return 0;
        for (int b = 0; b < n; b++) memset(pad[s] + (int64_t)b * hid, s >= lengths[b], (size_t)hid);
    }
    return 1;
}

/* One layer and direction over the step inputs xs[0..steps): fills
 * out[s] (N, H) and the final states *h, *c (which hold the initial ones on
 * entry). Returns NN_OK or the failing cell's status. */
static nn_status rnn_direction(const nn_rnn_layer *l, nn_tape *t, const nn_rnn_weights *w,
                               nn_tensor *const *xs, uint8_t *const *pad, int steps, int reverse,
                               nn_tensor **out, nn_tensor **h, nn_tensor **c)
{
    for (int j = 0; j < steps; j++) {
        int s = reverse ? steps - 1 - j : j;
        nn_tensor *h1, *c1 = NULL;
        if (l->mode == NN_RNN_LSTM) {
            nn_status st = nn_lstm_cell(t, xs[s], *h, *c, w->w_ih, w->w_hh, w->b_ih, w->b_hh, &h1, &c1);
            if (st != NN_OK) return st;
        } else if (!(h1 = nn_gru_cell(t, xs[s], *h, w->w_ih, w->w_hh, w->b_ih, w->b_hh))) {
            return failed();
        }
        if (!pad[s]) {
            out[s] = *h = h1;
            *c = c1;
            continue;
        }
        /* Ended sequences keep their state and output zeros, as a packed sequence. */
        out[s] = nn_masked_fill(t, h1, pad[s], 0.0f);
        *h = nn_where(t, pad[s], *h, h1);
        if (c1) *c = nn_where(t, pad[s], *c, c1);
    }
    return NN_OK;
}

nn_status nn_rnn_layer_forward(const nn_rnn_layer *l, nn_tape *t, nn_tensor *x,
                               const int32_t *lengths, nn_tensor *h0, nn_tensor *c0, nn_tensor **y,
                               nn_tensor **h_n, nn_tensor **c_n)
{
    *y = NULL;
    if (h_n) *h_n = NULL;
    if (c_n) *c_n = NULL;
    if (!x) return failed();
    const nn_rnn_args *a = &l->args;
    int lstm = l->mode == NN_RNN_LSTM, dirs = a->bidirectional ? 2 : 1, hid = l->hidden_size;
    int ld = a->num_layers * dirs, in = l->input_size;
    int steps = x->ndim == 3 ? x->shape[a->batch_first ? 1 : 0] : 0;
    int n = x->ndim == 3 ? x->shape[a->batch_first ? 0 : 1] : 0;
    if (rnn_check(l, x, lengths, h0, c0, steps, n)) return NN_ERR_INPUT;

    uint8_t **pad = NN_ARENA_NEW(t->arena, uint8_t *, steps);
    nn_tensor **xs = NN_ARENA_NEW(t->arena, nn_tensor *, steps);
    nn_tensor **out = NN_ARENA_NEW(t->arena, nn_tensor *, 2 * (int64_t)steps);
    nn_tensor **hs = NN_ARENA_NEW(t->arena, nn_tensor *, ld);
    nn_tensor **cs = NN_ARENA_NEW(t->arena, nn_tensor *, ld);
    if (!pad || !xs || !out || !hs || !cs || !rnn_pad_masks(t, pad, lengths, steps, n, hid))
        return failed();
    nn_tensor *zeros = NULL;
    if (!h0 || (lstm && !c0)) {
        if (!(zeros = nn_tensor_new(t->arena, NN_SHAPE(n, hid)))) return failed();
        memset(zeros->data, 0, sizeof(float) * (size_t)zeros->numel);
    }
    /* States as (layers * dirs * N, H), so layer k direction d is a row slice. */
    nn_tensor *h0r = h0 ? nn_reshape(t, h0, NN_SHAPE(ld * n, hid)) : NULL;
    nn_tensor *c0r = c0 ? nn_reshape(t, c0, NN_SHAPE(ld * n, hid)) : NULL;
    /* Layer 0's step inputs (N, in): row blocks of x as (T N, in), or
     * column blocks of x as (N, T in) with batch_first. */
    nn_tensor *xr = a->batch_first ? nn_reshape(t, x, NN_SHAPE(n, steps * in))
                                   : nn_reshape(t, x, NN_SHAPE(steps * n, in));
    if (!xr || (h0 && !h0r) || (c0 && !c0r)) return failed();
    for (int s = 0; s < steps; s++)
        xs[s] = a->batch_first ? nn_slice(t, xr, 1, s * in, (s + 1) * in)
                               : nn_slice(t, xr, 0, s * n, (s + 1) * n);

    for (int k = 0; k < a->num_layers; k++) {
        for (int d = 0; d < dirs; d++) {
            int i = k * dirs + d;
            hs[i] = h0r ? nn_slice(t, h0r, 0, i * n, (i + 1) * n) : zeros;
            cs[i] = !lstm ? NULL : c0r ? nn_slice(t, c0r, 0, i * n, (i + 1) * n) : zeros;
            nn_status st = rnn_direction(l, t, &l->w[i], xs, pad, steps, d, out + (int64_t)d * steps,
                                         &hs[i], &cs[i]);
            if (st != NN_OK) return st;
        }
        /* The next layer's (or the output's) steps: [forward | reverse]. */
        int drop = k + 1 < a->num_layers && t->training && a->dropout > 0.0f;
        for (int s = 0; s < steps; s++) {
            nn_tensor *o = dirs == 1 ? out[s] : nn_concat(t, 2, (nn_tensor *[]){out[s], out[steps + s]}, 1);
            xs[s] = drop ? nn_dropout_layer_forward(t, o, a->dropout) : o;
        }
    }

    /* Steps (N, D H) joined on axis 0 are (T N, D H) = (T, N, D H); on
     * axis 1 they are (N, T D H) = (N, T, D H). */
    nn_tensor *ys = concat_many(t, xs, steps, a->batch_first ? 1 : 0);
    *y = a->batch_first ? nn_reshape(t, ys, NN_SHAPE(n, steps, dirs * hid))
                        : nn_reshape(t, ys, NN_SHAPE(steps, n, dirs * hid));
    nn_tensor *hn = nn_reshape(t, concat_many(t, hs, ld, 0), NN_SHAPE(ld, n, hid));
    nn_tensor *cn = lstm ? nn_reshape(t, concat_many(t, cs, ld, 0), NN_SHAPE(ld, n, hid)) : NULL;
    if (!*y || !hn || (lstm && !cn)) {
        *y = NULL;
        return failed();
    }
    if (h_n) *h_n = hn;
    if (c_n) *c_n = cn;
    return NN_OK;
}

/* ---- Multi-head attention ---- */

int nn_mha_layer_init(nn_mha_layer *l, nn_params *p, const char *prefix, int embed_dim,
                      int num_heads, int bias, int batch_first)
{
    memset(l, 0, sizeof *l);
    l->embed_dim = embed_dim;
    l->num_heads = num_heads;
    l->batch_first = batch_first;
    if (embed_dim < 1 || num_heads < 1 || embed_dim % num_heads) {
        nn_error(NN_ERR_INPUT, "multihead attention %s: embed_dim %d must be a positive multiple "
                 "of num_heads %d", prefix, embed_dim, num_heads);
        return -1;
    }
    int e = embed_dim;
    l->in_proj_weight = nn_params_add_named(p, prefix, "in_proj_weight", NN_SHAPE(3 * e, e),
                                  nn_init_xavier_uniform(1.0));
    if (!l->in_proj_weight) return -1;
    if (bias && !(l->in_proj_bias = nn_params_add_named(p, prefix, "in_proj_bias", NN_SHAPE(3 * e),
                                              nn_init_zeros())))
        return -1;
    /* torch resets out_proj's bias to 0 but keeps its Linear weight init. */
    l->out_proj.weight = nn_params_add_named(p, prefix, "out_proj.weight", NN_SHAPE(e, e),
                                   nn_init_torch_default(e));
    if (!l->out_proj.weight) return -1;
    if (bias && !(l->out_proj.bias = nn_params_add_named(p, prefix, "out_proj.bias", NN_SHAPE(e),
                                               nn_init_zeros())))
        return -1;
    return 0;
}

/* (L, N, E) -> (N, heads, L, E / heads); from (N, L, E) with batch_first. */
static nn_tensor *split_heads(nn_tape *t, nn_tensor *x, int heads, int batch_first)
{
    if (!x) return NULL;
    nn_tensor *r = nn_reshape(t, x, NN_SHAPE(x->shape[0], x->shape[1], heads, x->shape[2] / heads));
    return batch_first ? nn_permute(t, r, NN_AXES(0, 2, 1, 3)) : nn_permute(t, r, NN_AXES(1, 2, 0, 3));
}

/* The inverse of split_heads: (N, heads, L, D) -> (L, N, heads D) or (N, L, heads D). */
static nn_tensor *merge_heads(nn_tape *t, nn_tensor *y, int batch_first)
{
    if (!y) return NULL;
    int n = y->shape[0], l = y->shape[2], e = y->shape[1] * y->shape[3];
    if (batch_first) return nn_reshape(t, nn_permute(t, y, NN_AXES(0, 2, 1, 3)), NN_SHAPE(n, l, e));
    return nn_reshape(t, nn_permute(t, y, NN_AXES(2, 0, 1, 3)), NN_SHAPE(l, n, e));
}

nn_tensor *nn_mha_layer_forward(const nn_mha_layer *l, nn_tape *t, nn_tensor *query,
                                nn_tensor *key, nn_tensor *value, const uint8_t *key_padding_mask,
                                int causal)
{
    if (!query || !key || !value) return NULL;
    int e = l->embed_dim, bf = l->batch_first, nb = bf ? 0 : 1;
    if (query->ndim != 3 || key->ndim != 3 || !nn_tensor_same_shape(key, value) ||
        query->shape[2] != e || key->shape[2] != e || key->shape[nb] != query->shape[nb] ||
        query->shape[1 - nb] < 1 || key->shape[1 - nb] < 1 || query->shape[nb] < 1) {
        char qs[64], ks[64], vs[64];
        nn_error(NN_ERR_INPUT, "multihead attention: query %s, key %s, value %s do not fit %s "
                 "with E = %d",
                 nn_shape_str(qs, sizeof qs, query->ndim, query->shape),
                 nn_shape_str(ks, sizeof ks, key->ndim, key->shape),
                 nn_shape_str(vs, sizeof vs, value->ndim, value->shape),
                 bf ? "(N, L, E), (N, S, E), (N, S, E)" : "(L, N, E), (S, N, E), (S, N, E)", e);
        return NULL;
    }
    const int thirds[3] = {e, e, e};
    nn_tensor *q, *k, *v;
    if (query == key && key == value) {
        /* Self-attention: one (.., 3E) projection, then q | k | v. */
        nn_tensor *qkv[3];
        nn_tensor *all = nn_linear(t, query, l->in_proj_weight, l->in_proj_bias);
        if (nn_split(t, qkv, all, 2, 3, thirds) != NN_OK) return NULL;
        q = qkv[0], k = qkv[1], v = qkv[2];
    } else {
        nn_tensor *w[3], *b[3] = {NULL, NULL, NULL};
        if (nn_split(t, w, l->in_proj_weight, 0, 3, thirds) != NN_OK) return NULL;
        if (l->in_proj_bias && nn_split(t, b, l->in_proj_bias, 0, 3, thirds) != NN_OK) return NULL;
        q = nn_linear(t, query, w[0], b[0]);
        k = nn_linear(t, key, w[1], b[1]);
        v = nn_linear(t, value, w[2], b[2]);
    }
    int h = l->num_heads;
    nn_tensor *y = nn_attention(t, split_heads(t, q, h, bf), split_heads(t, k, h, bf),
                                split_heads(t, v, h, bf), causal, key_padding_mask, 0.0f);
    return nn_linear_layer_forward(&l->out_proj, t, merge_heads(t, y, bf));
}
