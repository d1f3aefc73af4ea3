#include "nn/graph_layers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static nn_status failed(void)
{
    nn_status st = nn_error_status();
    return st != NN_OK ? st : NN_ERR_RUNTIME;
}

/* Checks the counts and every index of edge_index (2, num_edges); sets
 * *kept to the number of edges that are not self-loops. */
static nn_status check_edges(const char *what, int num_nodes, const int32_t *edge_index,
                             int num_edges, int *kept)
{
    if (num_nodes < 0 || num_edges < 0 || (num_edges > 0 && !edge_index) ||
        (int64_t)num_edges + num_nodes > INT32_MAX)
        return nn_error(NN_ERR_INPUT, "%s: %d nodes and %d edges, expected counts in [0, %d] "
                        "and an edge_index array", what, num_nodes, num_edges, INT32_MAX);
    *kept = 0;
    for (int e = 0; e < num_edges; e++) {
        int32_t s = edge_index[e], d = edge_index[(int64_t)num_edges + e];
        if (s < 0 || s >= num_nodes || d < 0 || d >= num_nodes)
            return nn_error(NN_ERR_INPUT, "%s: edge %d (%d -> %d) names a node outside [0, %d)",
                            what, e, (int)s, (int)d, num_nodes);
        *kept += s != d;
    }
    return NN_OK;
}

nn_status nn_graph_edges_init(nn_graph_edges *g, nn_arena *a, int num_nodes,
                              const int32_t *edge_index, int num_edges, int self_loops)
{
    memset(g, 0, sizeof *g);
    int kept;
    NN_TRY(check_edges("graph edges", num_nodes, edge_index, num_edges, &kept));
    int total = self_loops ? kept + num_nodes : num_edges;
    int32_t *src = NN_ARENA_NEW(a, int32_t, total > 0 ? total : 1);
    int32_t *dst = NN_ARENA_NEW(a, int32_t, total > 0 ? total : 1);
    if (!src || !dst) return failed();
    int at = 0;
    for (int e = 0; e < num_edges; e++) {
        int32_t s = edge_index[e], d = edge_index[(int64_t)num_edges + e];
        if (self_loops && s == d) continue;
        src[at] = s, dst[at++] = d;
    }
    for (int i = 0; self_loops && i < num_nodes; i++) src[at] = dst[at] = i, at++;
    NN_ASSERT(at == total);
    *g = (nn_graph_edges){num_nodes, total, src, dst};
    return NN_OK;
}

nn_status nn_gcn_adjacency_init(nn_csr *adj, nn_arena *a, int num_nodes, const int32_t *edge_index,
                                int num_edges)
{
    memset(adj, 0, sizeof *adj);
    int kept;
    NN_TRY(check_edges("gcn adjacency", num_nodes, edge_index, num_edges, &kept));
    int nnz = kept + num_nodes;
    int32_t *row_ptr = NN_ARENA_NEW(a, int32_t, (int64_t)num_nodes + 1);
    int32_t *col = NN_ARENA_NEW(a, int32_t, nnz > 0 ? nnz : 1);
    float *val = NN_ARENA_NEW(a, float, nnz > 0 ? nnz : 1);
    if (!row_ptr || !col || !val) return failed();
    /* Row sizes (incoming edges plus the loop) into row_ptr[i + 1], their
     * prefix sums, then row_ptr[i] serves as row i's fill cursor and ends
     * at row i + 1's start; shifting it right by one restores the starts. */
    row_ptr[0] = 0;
    for (int i = 0; i < num_nodes; i++) row_ptr[i + 1] = 1;
    for (int e = 0; e < num_edges; e++) {
        int32_t s = edge_index[e], d = edge_index[(int64_t)num_edges + e];
        if (s != d) row_ptr[d + 1]++;
    }
    for (int i = 0; i < num_nodes; i++) row_ptr[i + 1] += row_ptr[i];
    for (int e = 0; e < num_edges; e++) {
        int32_t s = edge_index[e], d = edge_index[(int64_t)num_edges + e];
        if (s != d) col[row_ptr[d]++] = s;
    }
    for (int i = 0; i < num_nodes; i++) col[row_ptr[i]++] = i;
    for (int i = num_nodes; i > 0; i--) row_ptr[i] = row_ptr[i - 1];
    row_ptr[0] = 0;
    for (int i = 0; i < num_nodes; i++)
        for (int32_t k = row_ptr[i]; k < row_ptr[i + 1]; k++) {
            int32_t j = col[k];
            double di = row_ptr[i + 1] - row_ptr[i], dj = row_ptr[j + 1] - row_ptr[j];
            val[k] = (float)(1.0 / sqrt(di * dj));
        }
    *adj = (nn_csr){num_nodes, num_nodes, row_ptr, col, val};
    return NN_OK;
}

/* ---- GCN ---- */

int nn_gcn_layer_init(nn_gcn_layer *l, nn_params *p, const char *prefix, int in, int out, int bias)
{
    memset(l, 0, sizeof *l);
    if (in < 1 || out < 1) {
        nn_error(NN_ERR_INPUT, "gcn %s: %d input and %d output features, expected both >= 1",
                 prefix, in, out);
        return -1;
    }
    /* PyG's state_dict order: the layer's own bias, then its Linear. */
    if (bias && !(l->bias = nn_params_add_named(p, prefix, "bias", NN_SHAPE(out), nn_init_zeros()))) return -1;
    l->lin.weight = nn_params_add_named(p, prefix, "lin.weight", NN_SHAPE(out, in), nn_init_xavier_uniform(1.0));
    return l->lin.weight ? 0 : -1;
}

nn_tensor *nn_gcn_layer_forward(const nn_gcn_layer *l, nn_tape *t, const nn_csr *adj, nn_tensor *x)
{
    if (!x) return NULL;
    int in = l->lin.weight->shape[1];
    if (x->ndim != 2 || x->shape[0] != adj->cols || x->shape[1] != in) {
        char xs[64];
        nn_error(NN_ERR_INPUT, "gcn: x is %s, expected (num_nodes, in) = (%d, %d)",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape), adj->cols, in);
        return NULL;
    }
    nn_tensor *y = nn_spmm(t, adj, nn_linear_layer_forward(&l->lin, t, x));
    return l->bias ? nn_add(t, y, l->bias) : y;
}

/* ---- GAT ---- */

int nn_gat_layer_init(nn_gat_layer *l, nn_params *p, const char *prefix, int in, int out,
                      int heads, int concat, float dropout, int bias)
{
    memset(l, 0, sizeof *l);
    l->heads = heads;
    l->out = out;
    l->concat = concat;
    l->negative_slope = NN_GAT_NEGATIVE_SLOPE;
    l->dropout = dropout;
    if (in < 1 || out < 1 || heads < 1 || !(dropout >= 0.0f && dropout < 1.0f)) {
        nn_error(NN_ERR_INPUT, "gat %s: in %d, out %d, heads %d must be >= 1 and dropout %g in "
                 "[0, 1)", prefix, in, out, heads, (double)dropout);
        return -1;
    }
    /* PyG's glorot takes fan_in and fan_out from the last two dims. */
    double b = sqrt(6.0 / (heads + out));
    l->att_src = nn_params_add_named(p, prefix, "att_src", NN_SHAPE(1, heads, out), nn_init_uniform(-b, b));
    l->att_dst = l->att_src ? nn_params_add_named(p, prefix, "att_dst", NN_SHAPE(1, heads, out),
                                        nn_init_uniform(-b, b))
                            : NULL;
    if (!l->att_dst) return -1;
    if (bias && !(l->bias = nn_params_add_named(p, prefix, "bias", NN_SHAPE(concat ? heads * out : out),
                                      nn_init_zeros())))
        return -1;
    l->lin.weight = nn_params_add_named(p, prefix, "lin.weight", NN_SHAPE(heads * out, in),
                              nn_init_xavier_uniform(1.0));
    return l->lin.weight ? 0 : -1;
}

nn_tensor *nn_gat_layer_forward(const nn_gat_layer *l, nn_tape *t, const nn_graph_edges *g,
                                nn_tensor *x)
{
    if (!x) return NULL;
    int n = g->num_nodes, e = g->num_edges, h = l->heads, c = l->out;
    int in = l->lin.weight->shape[1];
    if (x->ndim != 2 || x->shape[0] != n || x->shape[1] != in) {
        char xs[64];
        nn_error(NN_ERR_INPUT, "gat: x is %s, expected (num_nodes, in) = (%d, %d)",
                 nn_shape_str(xs, sizeof xs, x->ndim, x->shape), n, in);
        return NULL;
    }
    nn_tensor *z = nn_reshape(t, nn_linear_layer_forward(&l->lin, t, x), NN_SHAPE(n, h, c));
    /* Per node and head, its score as a source and as a target: (n, h). */
    nn_tensor *s_src = nn_sum(t, nn_mul(t, z, l->att_src), NN_AXES(-1), 0);
    nn_tensor *s_dst = nn_sum(t, nn_mul(t, z, l->att_dst), NN_AXES(-1), 0);
    nn_tensor *score = nn_add(t, nn_index_select(t, s_src, 0, g->src, e),
                              nn_index_select(t, s_dst, 0, g->dst, e));
    nn_tensor *alpha = nn_segment_softmax(t, nn_leaky_relu(t, score, l->negative_slope), g->dst, n);
    alpha = nn_dropout_layer_forward(t, alpha, l->dropout);
    /* Messages alpha_ji z_j (e, h, c), summed into each target. */
    nn_tensor *msg = nn_mul(t, nn_index_select(t, z, 0, g->src, e),
                            nn_reshape(t, alpha, NN_SHAPE(e, h, 1)));
    nn_tensor *y = nn_segment_sum(t, msg, g->dst, n);
    y = l->concat ? nn_reshape(t, y, NN_SHAPE(n, h * c)) : nn_mean(t, y, NN_AXES(1), 0);
    return l->bias ? nn_add(t, y, l->bias) : y;
}
