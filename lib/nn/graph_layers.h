/* Graph layers: GCN (Kipf & Welling) and GAT (Velickovic et al.) as
 * PyTorch Geometric's GCNConv and GATConv, with PyG's state_dict keys and
 * initializers, plus the graph preprocessing they need (self-loops, the
 * normalized adjacency). Forwards are compositions of the ops in
 * ops/graph.h and ops/ops.h (no gradient code of their own).
 *
 * Graphs come as PyG's edge_index: (2, E) int32, row-major, so
 * edge_index[e] is the source and edge_index[E + e] the target of edge e,
 * and messages flow source -> target (PyG's default flow). Node features
 * are (num_nodes, F). Multi-edges are kept (each copy counts). */
#ifndef NN_NN_GRAPH_LAYERS_H
#define NN_NN_GRAPH_LAYERS_H

#include <stdint.h>

#include "nn/layers.h"
#include "ops/graph.h"

/* An edge list ready for message passing. */
typedef struct nn_graph_edges {
    int num_nodes;
    int num_edges;              /* self-loops included */
    const int32_t *src, *dst;   /* (num_edges) each, in the arena given to init */
} nn_graph_edges;

/* Copies edge_index (2, num_edges) into `a`; with self_loops, as PyG's
 * remove_self_loops then add_self_loops: every existing loop dropped, one
 * loop per node appended after the other edges, in node order. The arrays
 * must outlive the backward of any layer that uses them (use the
 * persistent arena for a fixed graph, the step arena for a batch's).
 * Returns NN_OK; NN_ERR_INPUT with a message naming the edge when an index
 * is outside [0, num_nodes) or a count is negative or too large;
 * NN_ERR_RUNTIME when the arena is full. */
nn_status nn_graph_edges_init(nn_graph_edges *g, nn_arena *a, int num_nodes,
                              const int32_t *edge_index, int num_edges, int self_loops);

/* GCN's normalized adjacency A_hat = D^-1/2 (A + I) D^-1/2 as a
 * (num_nodes, num_nodes) CSR in `a`, as PyG's gcn_norm (unweighted,
 * add_remaining_self_loops): row i (a target) holds its incoming edges j -> i
 * in edge order, then its one self-loop, each weighted 1 / sqrt(d_i d_j)
 * with d the in-degree counting the loop. Build it once per graph; the
 * arrays must outlive the backward of the layers that use it. Errors as
 * nn_graph_edges_init. */
nn_status nn_gcn_adjacency_init(nn_csr *adj, nn_arena *a, int num_nodes, const int32_t *edge_index,
                                int num_edges);

/* ---- GCN ---- */

/* PyG's GCNConv(in, out, bias): `<prefix>.bias` (out) zeros and
 * `<prefix>.lin.weight` (out, in) glorot (xavier_uniform, gain 1), the
 * Linear holding no bias of its own. improved, cached (build the
 * adjacency once instead), normalize=False and edge weights are not
 * supported. */
typedef struct nn_gcn_layer {
    nn_linear_layer lin;   /* weight (out, in); bias NULL */
    nn_tensor *bias;       /* (out) or NULL */
} nn_gcn_layer;

/* -1 on bad sizes or a full arena. */
int nn_gcn_layer_init(nn_gcn_layer *l, nn_params *p, const char *prefix, int in, int out,
                      int bias);

/* spmm(adj, x W^T) + b, as PyG (the linear map first). adj: from
 * nn_gcn_adjacency_init (num_nodes, num_nodes), x: (num_nodes, in) ->
 * (num_nodes, out) in the step arena. */
nn_tensor *nn_gcn_layer_forward(const nn_gcn_layer *l, nn_tape *t, const nn_csr *adj, nn_tensor *x);

/* ---- GAT ---- */

/* PyG's default negative slope of the attention's leaky ReLU. */
#define NN_GAT_NEGATIVE_SLOPE 0.2f

/* PyG's GATConv(in, out, heads, concat, negative_slope, dropout, bias) for
 * an int in_channels, with PyG's current names: `<prefix>.att_src`,
 * `.att_dst` (1, heads, out), `.bias` (heads out with concat, else out),
 * `.lin.weight` (heads out, in). (PyG before the `lin` rename registered
 * the same Linear twice, as `lin_src.weight` and `lin_dst.weight`; rename
 * one of them to load such a file.) Init as PyG: glorot on lin.weight
 * (xavier_uniform), PyG's glorot on att_* (U(-b, b), b = sqrt(6 / (heads +
 * out)): it takes the last two dims as fans), bias zeros. edge_dim,
 * fill_value and residual are not supported. */
typedef struct nn_gat_layer {
    nn_linear_layer lin;          /* weight (heads out, in); bias NULL */
    nn_tensor *att_src, *att_dst; /* (1, heads, out) */
    nn_tensor *bias;              /* (heads out) or (out), or NULL */
    int heads, out, concat;
    float negative_slope;         /* NN_GAT_NEGATIVE_SLOPE unless changed after init */
    float dropout;                /* on the attention coefficients, in training */
} nn_gat_layer;

/* dropout in [0, 1). -1 on bad sizes or a full arena. */
int nn_gat_layer_init(nn_gat_layer *l, nn_params *p, const char *prefix, int in, int out,
                      int heads, int concat, float dropout, int bias);

/* Per head h and edge j -> i of g (self-loops as given to g; PyG adds
 * them): with z = x W^T as (num_nodes, heads, out),
 *   e_ji = leaky_relu(att_src . z_j + att_dst . z_i),
 *   alpha_ji = softmax of e over the edges into i (dropout in training),
 *   y_i = sum_j alpha_ji z_j, heads concatenated or averaged, plus bias.
 * x: (g->num_nodes, in) -> (num_nodes, heads out) with concat, else
 * (num_nodes, out), in the step arena. A dropout seed comes from
 * nn_tape_next_seed. A node with no incoming edge gets 0 (plus bias). */
nn_tensor *nn_gat_layer_forward(const nn_gat_layer *l, nn_tape *t, const nn_graph_edges *g,
                                nn_tensor *x);

#endif
