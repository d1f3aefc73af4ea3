/* Fused LSTM and GRU cells (see rnn_cell.h for the two-node design). */
#include "ops/rnn_cell.h"

#include <math.h>
#include <string.h>

#include "core/gemm.h"
#include "ops/ops.h"

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* State shared by a cell's two nodes, in the step arena. */
typedef struct cell_saved {
    nn_tensor *x, *h, *c, *w_ih, *w_hh, *b_ih, *b_hh;   /* c: LSTM only */
    int n, in, hid;
    float *gates;    /* LSTM (N, 4H): i f g o; GRU (N, 3H): r z n (activated) */
    float *aux;      /* LSTM: tanh(c') (N, H); GRU: h W_hn^T + b_hn (N, H) */
    float *dgi;      /* gradient of the x-side pre-activations (N, GH) */
    float *dgh;      /* GRU: of the h-side ones (N, 3H); LSTM: dgi (the same) */
    float *dct;      /* LSTM: dL/dc' including the path through h' (N, H) */
} cell_saved;

/* out (N, GH) = x w_ih^T (+ b_ih), and += h w_hh^T (+ b_hh) when hh_into is
 * NULL, else hh_into (N, GH) = h w_hh^T + b_hh on its own. */
static void cell_gemms(float *gi, float *hh_into, const cell_saved *s, int gh)
{
    nn_gemm(0, 1, s->n, gh, s->in, 1.0f, s->x->data, s->in, s->w_ih->data, s->in, 0.0f, gi, gh);
    float *gh_out = hh_into ? hh_into : gi;
    nn_gemm(0, 1, s->n, gh, s->hid, 1.0f, s->h->data, s->hid, s->w_hh->data, s->hid,
            hh_into ? 0.0f : 1.0f, gh_out, gh);
    for (int r = 0; r < s->n; r++)
        for (int j = 0; j < gh; j++) {
            if (s->b_ih) gi[(long)r * gh + j] += s->b_ih->data[j];
            if (s->b_hh) gh_out[(long)r * gh + j] += s->b_hh->data[j];
        }
}

/* db[j] += sum over rows of dg[r][j], in row order. */
static void col_sum_add(float *db, const float *dg, int rows, int cols)
{
    for (int j = 0; j < cols; j++) {
        float acc = 0.0f;
        for (int r = 0; r < rows; r++) acc += dg[(long)r * cols + j];
        db[j] += acc;
    }
}

static int check_2d(const nn_tensor *a, int d0, int d1)
{
    return a->ndim == 2 && a->shape[0] == d0 && a->shape[1] == d1;
}

/* Shape checks shared by both cells; g gates. Returns 0 or -1 (message set). */
static int check_cell(const char *name, int g, const nn_tensor *x, const nn_tensor *h,
                      const nn_tensor *c, const nn_tensor *w_ih, const nn_tensor *w_hh,
                      const nn_tensor *b_ih, const nn_tensor *b_hh)
{
    char xs[64], hs[64], ws[64], vs[64];
    if (x->ndim != 2 || h->ndim != 2 || h->shape[0] != x->shape[0] ||
        (c && !check_2d(c, h->shape[0], h->shape[1]))) {
        nn_error(NN_ERR_INPUT, "%s: input %s and state %s must be (N, I) and (N, H)", name,
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape),
                 nn_shape_str(hs, sizeof hs, h->ndim, h->shape));
        return -1;
    }
    int in = x->shape[1], hid = h->shape[1];
    if (!check_2d(w_ih, g * hid, in) || !check_2d(w_hh, g * hid, hid) ||
        (b_ih && (b_ih->ndim != 1 || b_ih->shape[0] != g * hid)) ||
        (b_hh && (b_hh->ndim != 1 || b_hh->shape[0] != g * hid))) {
        nn_error(NN_ERR_INPUT,
                 "%s: weights w_ih %s, w_hh %s do not fit input (N, %d) and hidden size %d "
                 "(expected (%d, %d), (%d, %d) and biases (%d))",
                 name, nn_shape_str(ws, sizeof ws, w_ih->ndim, w_ih->shape),
                 nn_shape_str(vs, sizeof vs, w_hh->ndim, w_hh->shape), in, hid, g * hid, in,
                 g * hid, hid, g * hid);
        return -1;
    }
    return 0;
}

static cell_saved *new_saved(nn_tape *t, nn_tensor *x, nn_tensor *h, nn_tensor *c,
                             nn_tensor *w_ih, nn_tensor *w_hh, nn_tensor *b_ih, nn_tensor *b_hh,
                             int g)
{
    cell_saved *s = nn_arena_alloc(t->arena, sizeof *s);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    *s = (cell_saved){.x = x, .h = h, .c = c, .w_ih = w_ih, .w_hh = w_hh, .b_ih = b_ih,
                      .b_hh = b_hh, .n = x->shape[0], .in = x->shape[1], .hid = h->shape[1]};
    s->gates = NN_ARENA_NEW(t->arena, float, (long)s->n * g * s->hid);
    s->aux = NN_ARENA_NEW(t->arena, float, (long)s->n * s->hid);
    return s->gates && s->aux ? s : NULL;
}

/* Records the main node, then the params node (which runs first). */
static int record_pair(nn_tape *t, nn_op_id main_op, nn_op_id params_op, nn_tensor *y,
                       nn_tensor *const *main_in, int n_main, nn_tensor *const *params_in,
                       int n_params, cell_saved *s)
{
    if (nn_tape_record(t, &nn_op_defs[main_op], y, main_in, n_main, s)) return -1;
    return nn_tape_record(t, &nn_op_defs[params_op], y, params_in, n_params, s);
}

/* ---- LSTM ---- */

nn_tensor *nn_lstm_cell_fused(nn_tape *t, nn_tensor *x, nn_tensor *h, nn_tensor *c,
                              nn_tensor *w_ih, nn_tensor *w_hh, nn_tensor *b_ih, nn_tensor *b_hh)
{
    if (!x || !h || !c || !w_ih || !w_hh) return NULL;
    if (check_cell("lstm_cell", 4, x, h, c, w_ih, w_hh, b_ih, b_hh)) return NULL;
    nn_tensor *all[7] = {x, h, c, w_ih, w_hh, b_ih, b_hh};
    int n = x->shape[0], hid = h->shape[1], gh = 4 * hid;
    nn_tensor *y = nn_tape_output(t, NN_SHAPE(n, 2 * hid), all, 7);
    cell_saved *s = y ? new_saved(t, x, h, c, w_ih, w_hh, b_ih, b_hh, 4) : NULL;
    if (!s) return NULL;
    cell_gemms(s->gates, NULL, s, gh);
    for (int r = 0; r < n; r++) {
        float *gr = s->gates + (long)r * gh, *yr = y->data + (long)r * 2 * hid;
        const float *cr = c->data + (long)r * hid;
        for (int j = 0; j < hid; j++) {
            float i = sigmoidf(gr[j]), f = sigmoidf(gr[hid + j]);
            float g = tanhf(gr[2 * hid + j]), o = sigmoidf(gr[3 * hid + j]);
            gr[j] = i, gr[hid + j] = f, gr[2 * hid + j] = g, gr[3 * hid + j] = o;
            float c1 = f * cr[j] + i * g, tc = tanhf(c1);
            s->aux[(long)r * hid + j] = tc;
            yr[j] = o * tc;
            yr[hid + j] = c1;
        }
    }
    if (record_pair(t, NN_OP_LSTM_CELL, NN_OP_LSTM_CELL_PARAMS, y, all, 4, all + 4, 3, s))
        return NULL;
    return y;
}

nn_status nn_lstm_cell(nn_tape *t, nn_tensor *x, nn_tensor *h, nn_tensor *c, nn_tensor *w_ih,
                       nn_tensor *w_hh, nn_tensor *b_ih, nn_tensor *b_hh, nn_tensor **h_out,
                       nn_tensor **c_out)
{
    *h_out = *c_out = NULL;
    nn_tensor *hc = nn_lstm_cell_fused(t, x, h, c, w_ih, w_hh, b_ih, b_hh);
    if (!hc) return nn_error_status() != NN_OK ? nn_error_status() : NN_ERR_INPUT;
    int hid = h->shape[1];
    nn_tensor *h1 = nn_slice(t, hc, 1, 0, hid), *c1 = h1 ? nn_slice(t, hc, 1, hid, 2 * hid) : NULL;
    if (!c1) return nn_error_status();
    *h_out = h1, *c_out = c1;
    return NN_OK;
}

/* Runs first: gate gradients from d[h'|c'], then dW_hh, db_ih, db_hh. */
nn_status nn_lstm_cell_params_backward(nn_tape *t, const nn_node *node)
{
    cell_saved *s = node->saved;
    int n = s->n, hid = s->hid, gh = 4 * hid;
    s->dgi = NN_ARENA_NEW(t->arena, float, (long)n * gh);
    s->dct = NN_ARENA_NEW(t->arena, float, (long)n * hid);
    if (!s->dgi || !s->dct) return nn_error_status() != NN_OK ? nn_error_status() : NN_ERR_RUNTIME;
    s->dgh = s->dgi;
    const float *dy = node->out->grad;
    for (int r = 0; r < n; r++) {
        const float *gr = s->gates + (long)r * gh, *dyr = dy + (long)r * 2 * hid;
        const float *cr = s->c->data + (long)r * hid, *tcr = s->aux + (long)r * hid;
        float *dg = s->dgi + (long)r * gh;
        for (int j = 0; j < hid; j++) {
            float i = gr[j], f = gr[hid + j], g = gr[2 * hid + j], o = gr[3 * hid + j];
            float tc = tcr[j], dh1 = dyr[j];
            float dct = dyr[hid + j] + dh1 * o * (1.0f - tc * tc);
            s->dct[(long)r * hid + j] = dct;
            dg[j] = dct * g * i * (1.0f - i);
            dg[hid + j] = dct * cr[j] * f * (1.0f - f);
            dg[2 * hid + j] = dct * i * (1.0f - g * g);
            dg[3 * hid + j] = dh1 * tc * o * (1.0f - o);
        }
    }
    if (s->w_hh->requires_grad)
        nn_gemm(1, 0, gh, hid, n, 1.0f, s->dgh, gh, s->h->data, hid, 1.0f, s->w_hh->grad, hid);
    if (s->b_ih && s->b_ih->requires_grad) col_sum_add(s->b_ih->grad, s->dgi, n, gh);
    if (s->b_hh && s->b_hh->requires_grad) col_sum_add(s->b_hh->grad, s->dgh, n, gh);
    return NN_OK;
}

/* Runs second, with the saved gate gradients: dx, dh, dc, dW_ih. */
nn_status nn_lstm_cell_backward(nn_tape *t, const nn_node *node)
{
    cell_saved *s = node->saved;
    int n = s->n, in = s->in, hid = s->hid, gh = 4 * hid;
    NN_ASSERT(s->dgi);   /* the params node ran */
    if (s->x->requires_grad)
        nn_gemm(0, 0, n, in, gh, 1.0f, s->dgi, gh, s->w_ih->data, in, 1.0f, s->x->grad, in);
    if (s->h->requires_grad)
        nn_gemm(0, 0, n, hid, gh, 1.0f, s->dgh, gh, s->w_hh->data, hid, 1.0f, s->h->grad, hid);
    if (s->w_ih->requires_grad)
        nn_gemm(1, 0, gh, in, n, 1.0f, s->dgi, gh, s->x->data, in, 1.0f, s->w_ih->grad, in);
    if (s->c->requires_grad)
        for (int r = 0; r < n; r++)
            for (int j = 0; j < hid; j++)
                s->c->grad[(long)r * hid + j] +=
                    s->dct[(long)r * hid + j] * s->gates[(long)r * gh + hid + j];
    (void)t;
    return NN_OK;
}

/* ---- GRU ---- */

nn_tensor *nn_gru_cell(nn_tape *t, nn_tensor *x, nn_tensor *h, nn_tensor *w_ih, nn_tensor *w_hh,
                       nn_tensor *b_ih, nn_tensor *b_hh)
{
    if (!x || !h || !w_ih || !w_hh) return NULL;
    if (check_cell("gru_cell", 3, x, h, NULL, w_ih, w_hh, b_ih, b_hh)) return NULL;
    nn_tensor *all[6] = {x, h, w_ih, w_hh, b_ih, b_hh};
    int n = x->shape[0], hid = h->shape[1], gh = 3 * hid;
    nn_tensor *y = nn_tape_output(t, NN_SHAPE(n, hid), all, 6);
    cell_saved *s = y ? new_saved(t, x, h, NULL, w_ih, w_hh, b_ih, b_hh, 3) : NULL;
    float *hh = s ? NN_ARENA_NEW(t->arena, float, (long)n * gh) : NULL;
    if (!hh) return NULL;
    cell_gemms(s->gates, hh, s, gh);
    for (int r = 0; r < n; r++) {
        float *gr = s->gates + (long)r * gh;
        const float *hr = hh + (long)r * gh, *hp = h->data + (long)r * hid;
        for (int j = 0; j < hid; j++) {
            float rg = sigmoidf(gr[j] + hr[j]), z = sigmoidf(gr[hid + j] + hr[hid + j]);
            float hn = hr[2 * hid + j], ng = tanhf(gr[2 * hid + j] + rg * hn);
            gr[j] = rg, gr[hid + j] = z, gr[2 * hid + j] = ng;
            s->aux[(long)r * hid + j] = hn;
            y->data[(long)r * hid + j] = (1.0f - z) * ng + z * hp[j];
        }
    }
    if (record_pair(t, NN_OP_GRU_CELL, NN_OP_GRU_CELL_PARAMS, y, all, 4, all + 4, 2, s))
        return NULL;
    return y;
}

/* Runs first: the gradients of both pre-activation sides, then db_ih, db_hh. */
nn_status nn_gru_cell_params_backward(nn_tape *t, const nn_node *node)
{
    cell_saved *s = node->saved;
    int n = s->n, hid = s->hid, gh = 3 * hid;
    s->dgi = NN_ARENA_NEW(t->arena, float, (long)n * gh);
    s->dgh = NN_ARENA_NEW(t->arena, float, (long)n * gh);
    if (!s->dgi || !s->dgh) return nn_error_status() != NN_OK ? nn_error_status() : NN_ERR_RUNTIME;
    const float *dy = node->out->grad;
    for (int r = 0; r < n; r++) {
        const float *gr = s->gates + (long)r * gh, *hp = s->h->data + (long)r * hid;
        float *di = s->dgi + (long)r * gh, *dh = s->dgh + (long)r * gh;
        for (int j = 0; j < hid; j++) {
            float rg = gr[j], z = gr[hid + j], ng = gr[2 * hid + j];
            float d = dy[(long)r * hid + j];
            float dan = d * (1.0f - z) * (1.0f - ng * ng);
            float dar = dan * s->aux[(long)r * hid + j] * rg * (1.0f - rg);
            float daz = d * (hp[j] - ng) * z * (1.0f - z);
            di[j] = dh[j] = dar;
            di[hid + j] = dh[hid + j] = daz;
            di[2 * hid + j] = dan;
            dh[2 * hid + j] = dan * rg;
        }
    }
    if (s->b_ih && s->b_ih->requires_grad) col_sum_add(s->b_ih->grad, s->dgi, n, gh);
    if (s->b_hh && s->b_hh->requires_grad) col_sum_add(s->b_hh->grad, s->dgh, n, gh);
    return NN_OK;
}

/* Runs second: dx, dh (gates and the direct z h path), dW_ih, dW_hh. */
nn_status nn_gru_cell_backward(nn_tape *t, const nn_node *node)
{
    cell_saved *s = node->saved;
    int n = s->n, in = s->in, hid = s->hid, gh = 3 * hid;
    NN_ASSERT(s->dgi);   /* the params node ran */
    if (s->x->requires_grad)
        nn_gemm(0, 0, n, in, gh, 1.0f, s->dgi, gh, s->w_ih->data, in, 1.0f, s->x->grad, in);
    if (s->w_ih->requires_grad)
        nn_gemm(1, 0, gh, in, n, 1.0f, s->dgi, gh, s->x->data, in, 1.0f, s->w_ih->grad, in);
    if (s->w_hh->requires_grad)
        nn_gemm(1, 0, gh, hid, n, 1.0f, s->dgh, gh, s->h->data, hid, 1.0f, s->w_hh->grad, hid);
    if (s->h->requires_grad) {
        nn_gemm(0, 0, n, hid, gh, 1.0f, s->dgh, gh, s->w_hh->data, hid, 1.0f, s->h->grad, hid);
        const float *dy = node->out->grad;
        for (int r = 0; r < n; r++)
            for (int j = 0; j < hid; j++)
                s->h->grad[(long)r * hid + j] +=
                    dy[(long)r * hid + j] * s->gates[(long)r * gh + hid + j];
    }
    (void)t;
    return NN_OK;
}
