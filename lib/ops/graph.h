/* Graph ops for message passing: sparse (CSR) x dense products and
 * per-segment reductions and softmax over edges.
 *
 * Index arrays are caller-owned int32 and must outlive the backward (as the
 * indices of ops.h). All sums run in a fixed order that does not depend on
 * the thread count: rows and segments are split across threads, never the
 * terms of one sum, and nothing uses atomics. */
#ifndef NN_OPS_GRAPH_H
#define NN_OPS_GRAPH_H

#include <stdint.h>

#include "autograd/tape.h"

/* A sparse (rows, cols) matrix in compressed sparse row form: the nonzeros
 * of row r are k in [row_ptr[r], row_ptr[r + 1]), at column col_idx[k] with
 * value values[k] (values NULL: all ones). row_ptr has rows + 1 entries,
 * starting at 0, non-decreasing; columns may repeat within a row (they add).
 * Caller-owned; the values are constants (no gradient). */
typedef struct nn_csr {
    int rows, cols;
    const int32_t *row_ptr;   /* rows + 1 */
    const int32_t *col_idx;   /* row_ptr[rows] */
    const float *values;      /* row_ptr[rows], or NULL for ones */
} nn_csr;

/* y = A x, as torch.sparse.mm(A, x). A: (rows, cols) CSR, x: (cols, F) ->
 * y: (rows, F). The backward dx += A^T dy runs over a transpose of A built
 * (by a stable counting sort) in the step arena during the forward, so each
 * row of dx is summed in A's row order. Returns NULL (message set) on a bad
 * CSR or shape. */
nn_tensor *nn_spmm(nn_tape *t, const nn_csr *a, nn_tensor *x);
nn_status nn_spmm_backward(nn_tape *t, const nn_node *node);

/* Per-segment reductions, as torch_scatter's scatter(reduce=...) or
 * torch.scatter_reduce(include_self=False) on dim 0 into zeros.
 * x: (E, ...), seg: E ids in [0, n_segments) (any order) -> y: (n_segments, ...).
 * Each segment is summed in increasing row order. Empty segments give 0
 * (and pass no gradient). max's gradient goes to the first row (lowest
 * index) holding the maximum, as torch.max(x, dim) does, not split among
 * ties as torch.amax. */
nn_tensor *nn_segment_sum(nn_tape *t, nn_tensor *x, const int32_t *seg, int n_segments);
nn_tensor *nn_segment_mean(nn_tape *t, nn_tensor *x, const int32_t *seg, int n_segments);
nn_tensor *nn_segment_max(nn_tape *t, nn_tensor *x, const int32_t *seg, int n_segments);
/* The backward of segment_sum, segment_mean and segment_max. */
nn_status nn_segment_reduce_backward(nn_tape *t, const nn_node *node);

/* Softmax over the rows of each segment, separately per trailing column
 * (GAT's edge softmax, torch_scatter's scatter_softmax), stable (the
 * segment's maximum is subtracted; sums in double). scores: (E) or (E, H, ...),
 * seg: E ids in [0, n_segments) -> y: scores' shape. */
nn_tensor *nn_segment_softmax(nn_tape *t, nn_tensor *scores, const int32_t *seg, int n_segments);
nn_status nn_segment_softmax_backward(nn_tape *t, const nn_node *node);

#endif
