/* Every differentiable op nnzoo has, and the table the tape dispatches on.
 *
 * Each op family lives in one file with its forward and backward side by
 * side. The forward takes the tape, then inputs, then sizes; it returns the
 * output tensor, or NULL with a message set (bad shapes, arena full). Any
 * NULL input makes the op return NULL, so a model can call ops in a row and
 * check once at the end. With a tape that does not record (evaluation) the
 * ops compute their outputs and keep nothing for backward. */
#ifndef NN_OPS_OPS_H
#define NN_OPS_OPS_H

#include <stdint.h>

#include "autograd/tape.h"

/* Append-only: the numbers are indices into nn_op_defs. */
typedef enum nn_op_id {
    NN_OP_LINEAR,
    NN_OP_CONV2D,
    NN_OP_MAXPOOL2D,
    NN_OP_RELU,
    NN_OP_RESHAPE,
    NN_OP_SOFTMAX_CROSS_ENTROPY,
    NN_OP_ADD,
    NN_OP_SUB,
    NN_OP_MUL,
    NN_OP_DIV,
    NN_OP_NEG,
    NN_OP_EXP,
    NN_OP_LOG,
    NN_OP_SQRT,
    NN_OP_POW,
    NN_OP_SUM,
    NN_OP_MEAN,
    NN_OP_MAX,
    NN_OP_RELU6,
    NN_OP_LEAKY_RELU,
    NN_OP_ELU,
    NN_OP_SIGMOID,
    NN_OP_TANH,
    NN_OP_HARDSIGMOID,
    NN_OP_HARDSWISH,
    NN_OP_SILU,
    NN_OP_GELU,
    NN_OP_SOFTMAX,
    NN_OP_LOG_SOFTMAX,
    NN_OP_AVGPOOL2D,
    NN_OP_ADAPTIVE_AVGPOOL2D,
    NN_OP_BATCHNORM,
    NN_OP_LAYERNORM,
    NN_OP_DROPOUT,
    NN_OP_EMBEDDING,
    NN_OP_MATMUL,
    NN_OP_PERMUTE,
    NN_OP_CONCAT,
    NN_OP_SLICE,
    NN_OP_WHERE,
    NN_OP_MASKED_FILL,
    NN_OP_GATHER,
    NN_OP_INDEX_SELECT,
    NN_OP_SCATTER_ADD,
    NN_OP_MSE_LOSS,
    NN_OP_L1_LOSS,
    NN_OP_SMOOTH_L1_LOSS,
    NN_OP_HUBER_LOSS,
    NN_OP_BCE_LOSS,
    NN_OP_BCE_WITH_LOGITS,
    NN_OP_KL_DIV,
    NN_OP_NLL_LOSS,
    NN_OP_COSINE_EMBEDDING_LOSS,
    NN_OP_SCE_LOSS,
    NN_OP_SPMM,
    NN_OP_SEGMENT_SUM,
    NN_OP_SEGMENT_MEAN,
    NN_OP_SEGMENT_MAX,
    NN_OP_SEGMENT_SOFTMAX,
    NN_OP_LSTM_CELL,
    NN_OP_LSTM_CELL_PARAMS,
    NN_OP_GRU_CELL,
    NN_OP_GRU_CELL_PARAMS,
    NN_OP_ATTENTION,
    NN_OP_COUNT
} nn_op_id;

extern const nn_op_def nn_op_defs[NN_OP_COUNT];

/* y = x w^T + b.  x: (..., in), w: (out, in), b: (out) or NULL -> y: (..., out) */
nn_tensor *nn_linear(nn_tape *t, nn_tensor *x, nn_tensor *w, nn_tensor *b);
nn_status nn_linear_backward(nn_tape *t, const nn_node *node);

typedef struct nn_conv2d_args {
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dilation_h, dilation_w;
    int groups;
    int relu;          /* fuse max(y, 0) into the output (conv -> ReLU) */
} nn_conv2d_args;

/* Square stride/padding, no dilation, one group. */
nn_conv2d_args nn_conv2d_simple(int stride, int pad);

/* 2-d convolution (cross-correlation, as PyTorch), optionally followed by
 * ReLU in the same pass (args.relu: the ReLU costs nothing there, and saves
 * an activation and its gradient).
 * x: (N, C, H, W), w: (O, C/groups, KH, KW), b: (O) or NULL -> y: (N, O, OH, OW)
 * with OH = (H + 2 pad_h - dilation_h (KH - 1) - 1) / stride_h + 1. */
nn_tensor *nn_conv2d(nn_tape *t, nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_conv2d_args args);
nn_status nn_conv2d_backward(nn_tape *t, const nn_node *node);

/* Max pooling. x: (N, C, H, W) -> y: (N, C, OH, OW); padding counts as -inf. */
nn_tensor *nn_maxpool2d(nn_tape *t, nn_tensor *x, int kernel, int stride, int pad);
nn_status nn_maxpool2d_backward(nn_tape *t, const nn_node *node);

/* y = max(x, 0), any shape (an elementwise unary op: see below). */
nn_tensor *nn_relu(nn_tape *t, nn_tensor *x);

/* Same data, new shape of the same numel; one entry may be -1 (inferred). */
nn_tensor *nn_reshape(nn_tape *t, nn_tensor *x, int ndim, const int *shape);
nn_status nn_reshape_backward(nn_tape *t, const nn_node *node);

/* (N, d1, d2, ...) -> (N, d1 * d2 * ...), as torch.flatten(x, 1). */
nn_tensor *nn_flatten(nn_tape *t, nn_tensor *x);

/* Mean cross-entropy of softmax(logits) against class indices, fused so the
 * backward is (softmax - onehot) / N. logits: (N, C), labels: N ints in
 * [0, C) -> a scalar. `labels` must outlive the backward. */
nn_tensor *nn_softmax_cross_entropy(nn_tape *t, nn_tensor *logits, const int32_t *labels);
nn_status nn_softmax_cross_entropy_backward(nn_tape *t, const nn_node *node);

/* Broadcasting binary ops, as NumPy and PyTorch: shapes are right-aligned and
 * each pair of dims must be equal or one of them 1 (at most NN_MAX_DIMS).
 * a: (..., a_i, ...), b: (..., b_i, ...) -> y: (..., max(a_i, b_i), ...);
 * e.g. (2, 3, 4) and (3, 1) -> (2, 3, 4). */
nn_tensor *nn_add(nn_tape *t, nn_tensor *a, nn_tensor *b);   /* y = a + b */
nn_tensor *nn_sub(nn_tape *t, nn_tensor *a, nn_tensor *b);   /* y = a - b */
nn_tensor *nn_mul(nn_tape *t, nn_tensor *a, nn_tensor *b);   /* y = a * b */
nn_tensor *nn_div(nn_tape *t, nn_tensor *a, nn_tensor *b);   /* y = a / b */
/* The backward of add, sub, mul and div (the node's op says which): each
 * input's gradient summed over the dims it was broadcast on. */
nn_status nn_binary_backward(nn_tape *t, const nn_node *node);

/* Elementwise unary ops, x: any shape -> y: x's shape. At the kinks the
 * gradient is PyTorch's (relu, relu6, hardsigmoid: 0; leaky_relu: slope;
 * hardswish: -1/2 at -3, 1 at 3). */
nn_tensor *nn_relu6(nn_tape *t, nn_tensor *x);                   /* min(max(x, 0), 6) */
nn_tensor *nn_leaky_relu(nn_tape *t, nn_tensor *x, float slope); /* x > 0 ? x : slope x */
nn_tensor *nn_elu(nn_tape *t, nn_tensor *x, float alpha);        /* x > 0 ? x : alpha (e^x - 1) */
nn_tensor *nn_sigmoid(nn_tape *t, nn_tensor *x);                 /* 1 / (1 + e^-x) */
nn_tensor *nn_tanh(nn_tape *t, nn_tensor *x);
nn_tensor *nn_hardsigmoid(nn_tape *t, nn_tensor *x);             /* relu6(x + 3) / 6 */
nn_tensor *nn_hardswish(nn_tape *t, nn_tensor *x);               /* x relu6(x + 3) / 6 */
nn_tensor *nn_silu(nn_tape *t, nn_tensor *x);                    /* x sigmoid(x), also "swish" */
/* x Phi(x) with the exact normal CDF (erf), torch's default; with
 * tanh_approx, torch's approximate="tanh" form. */
nn_tensor *nn_gelu(nn_tape *t, nn_tensor *x, int tanh_approx);
nn_tensor *nn_neg(nn_tape *t, nn_tensor *x);                     /* -x */
nn_tensor *nn_exp(nn_tape *t, nn_tensor *x);
nn_tensor *nn_log(nn_tape *t, nn_tensor *x);                     /* natural log; NaN below 0 */
nn_tensor *nn_sqrt(nn_tape *t, nn_tensor *x);
nn_tensor *nn_pow(nn_tape *t, nn_tensor *x, float exponent);     /* x^exponent */
/* The backward of every elementwise unary op above, relu included. */
nn_status nn_unary_backward(nn_tape *t, const nn_node *node);

/* Axis lists for the reductions: nn_sum(t, x, NN_AXES(0, 2), 1). */
#define NN_AXES(...) NN_SHAPE(__VA_ARGS__)

/* Reductions over the n_axes axes in `axes` (negative counts from the end;
 * n_axes == 0: all of them), as torch.sum / torch.mean / torch.amax with dim
 * and keepdim. x: (d0, ..., dk) -> y: x's shape with the reduced axes at 1
 * (keepdim) or removed (so reducing every axis gives a scalar, ndim 0).
 * max gives each element equal to the maximum an equal share of the
 * gradient, as torch.amax (not torch.max(x, dim), which picks the first). */
nn_tensor *nn_sum(nn_tape *t, nn_tensor *x, int n_axes, const int *axes, int keepdim);
nn_tensor *nn_mean(nn_tape *t, nn_tensor *x, int n_axes, const int *axes, int keepdim);
nn_tensor *nn_max(nn_tape *t, nn_tensor *x, int n_axes, const int *axes, int keepdim);
/* The backward of sum, mean and max. */
nn_status nn_reduce_backward(nn_tape *t, const nn_node *node);

/* Softmax and log-softmax along `axis` (negative counts from the end),
 * computed stably. x: any shape -> y: x's shape. */
nn_tensor *nn_softmax(nn_tape *t, nn_tensor *x, int axis);
nn_tensor *nn_log_softmax(nn_tape *t, nn_tensor *x, int axis);
/* The backward of softmax and log_softmax. */
nn_status nn_softmax_backward(nn_tape *t, const nn_node *node);

/* Matrix product over the last two dims, as torch.matmul for 2+ dims: the
 * leading (batch) dims broadcast. a: (..., n, k), b: (..., k, m) ->
 * y: (broadcast(a..., b...), n, m); e.g. (n, k) x (k, m), (B, n, k) x
 * (B, k, m), (B, n, k) x (k, m), (2, 1, n, k) x (3, k, m). 1-d inputs are
 * not supported (reshape them to a row or column). */
nn_tensor *nn_matmul(nn_tape *t, nn_tensor *a, nn_tensor *b);
nn_status nn_matmul_backward(nn_tape *t, const nn_node *node);

/* Reorders dims, as torch.permute (the output is a contiguous copy).
 * x: (d0, ..., dk), perm: k+1 distinct axes (negative from the end) ->
 * y: (d_perm[0], ..., d_perm[k]). */
nn_tensor *nn_permute(nn_tape *t, nn_tensor *x, int ndim, const int *perm);
/* Swaps two dims (a permute, recorded as one). x: (..., a, ..., b, ...) ->
 * y: (..., b, ..., a, ...). */
nn_tensor *nn_transpose(nn_tape *t, nn_tensor *x, int dim0, int dim1);
nn_status nn_permute_backward(nn_tape *t, const nn_node *node);

/* Joins n (1 to NN_NODE_MAX_INPUTS) tensors along `axis`, as torch.cat;
 * chain calls for more. xs[i]: equal shapes but on axis -> y: the sum of
 * their extents on axis. */
nn_tensor *nn_concat(nn_tape *t, int n, nn_tensor *const *xs, int axis);
nn_status nn_concat_backward(nn_tape *t, const nn_node *node);

/* x[..., start:end, ...] on `axis` (a copy; negative start/end count from
 * the end of the axis; step 1). x: (..., d, ...) -> y: (..., end - start, ...). */
nn_tensor *nn_slice(nn_tape *t, nn_tensor *x, int axis, int start, int end);
nn_status nn_slice_backward(nn_tape *t, const nn_node *node);

/* Cuts x along `axis` into n slices of sizes[i] (summing to x's extent),
 * as torch.split with a list: ys[i] = slice(x, axis, at_i, at_i + sizes[i]).
 * Fills ys (n pointers, caller-owned array); on failure all are NULL and the
 * status is returned with a message. */
nn_status nn_split(nn_tape *t, nn_tensor **ys, nn_tensor *x, int axis, int n, const int *sizes);

/* Masks and indices: caller-owned contiguous arrays in the shape each op
 * gives; masks uint8_t (nonzero is true), indices int32_t in [0, extent).
 * The backward reads them, so they must outlive it (as labels above). */

/* y = mask ? a : b, as torch.where; a and b broadcast (as nn_add), mask has
 * the broadcast shape. a: (...), b: (...), mask: y's shape -> y. */
nn_tensor *nn_where(nn_tape *t, const uint8_t *mask, nn_tensor *a, nn_tensor *b);
nn_status nn_where_backward(nn_tape *t, const nn_node *node);

/* y = mask ? value : x, as torch.masked_fill. x: any shape, mask: x's shape. */
nn_tensor *nn_masked_fill(nn_tape *t, nn_tensor *x, const uint8_t *mask, float value);
nn_status nn_masked_fill_backward(nn_tape *t, const nn_node *node);

/* As torch.gather: y[i][j][k] = x[i][index[i][j][k]][k] for axis 1.
 * x: (d0, ..., dk), index: index_shape (x's ndim; each extent at most x's
 * except on axis) -> y: index_shape. Indices may repeat (gradients add). */
nn_tensor *nn_gather(nn_tape *t, nn_tensor *x, int axis, const int32_t *index,
                     const int *index_shape);
nn_status nn_gather_backward(nn_tape *t, const nn_node *node);

/* As torch.index_select: the n slices index[0..n) of x along axis.
 * x: (..., d, ...), index: (n) -> y: (..., n, ...). */
nn_tensor *nn_index_select(nn_tape *t, nn_tensor *x, int axis, const int32_t *index, int n);
nn_status nn_index_select_backward(nn_tape *t, const nn_node *node);

/* As torch.scatter_add (out of place): y = x, then
 * y[i][index[i][j][k]][k] += src[i][j][k] for axis 1, in element order.
 * x: (d0, ..., dk), index and src: index_shape (as gather) -> y: x's shape. */
nn_tensor *nn_scatter_add(nn_tape *t, nn_tensor *x, int axis, const int32_t *index,
                          const int *index_shape, nn_tensor *src);
nn_status nn_scatter_add_backward(nn_tape *t, const nn_node *node);

/* Average pooling, as torch.nn.functional.avg_pool2d (square kernel, no
 * divisor_override). x: (N, C, H, W) -> y: (N, C, OH, OW) with
 * OH = (H + 2 pad - kernel) / stride + 1, rounded up with ceil_mode (the last
 * window must start inside the input or its left padding). The divisor is
 * the window's extent clipped to the padded input (count_include_pad) or
 * to the input (not). */
nn_tensor *nn_avgpool2d(nn_tape *t, nn_tensor *x, int kernel, int stride, int pad, int ceil_mode,
                        int count_include_pad);
/* Adaptive average pooling, as torch: output row i averages input rows
 * [floor(i H / out_h), ceil((i + 1) H / out_h)), columns alike.
 * x: (N, C, H, W) -> y: (N, C, out_h, out_w). */
nn_tensor *nn_adaptive_avgpool2d(nn_tape *t, nn_tensor *x, int out_h, int out_w);
/* Global average pooling: nn_adaptive_avgpool2d(x, 1, 1), x: (N, C, H, W) -> (N, C, 1, 1). */
nn_tensor *nn_global_avgpool2d(nn_tape *t, nn_tensor *x);
/* The backward of avgpool2d and adaptive_avgpool2d. */
nn_status nn_avgpool2d_backward(nn_tape *t, const nn_node *node);

/* Batch normalization over channel dim 1, as torch's BatchNorm1d / 2d.
 * x: (N, C), (N, C, L) or (N, C, H, W); weight, bias: (C) or NULL;
 * running_mean, running_var: (C) buffers (no gradient) or both NULL.
 * With t->training (or no running stats) it normalizes with the batch's mean
 * and biased variance, and (training) updates the running stats in place:
 * r = (1 - momentum) r + momentum s, with the unbiased variance (torch's
 * momentum is 0.1). In eval it normalizes with the running stats.
 * y = (x - mean) / sqrt(var + eps) * weight + bias, x's shape. */
nn_tensor *nn_batchnorm(nn_tape *t, nn_tensor *x, nn_tensor *weight, nn_tensor *bias,
                        nn_tensor *running_mean, nn_tensor *running_var, float momentum, float eps);

/* The activations batch-norm can apply in its own pass. */
typedef enum nn_bn_act { NN_BN_ACT_NONE, NN_BN_ACT_RELU, NN_BN_ACT_RELU6 } nn_bn_act;

/* nn_batchnorm followed by relu or relu6, in one op: the same values and
 * gradients as the two ops, bit for bit (relu6's gradient is 0 at 0 and 6
 * as nn_relu6's), without the intermediate tensor and its two passes. */
nn_tensor *nn_batchnorm_act(nn_tape *t, nn_tensor *x, nn_tensor *weight, nn_tensor *bias,
                            nn_tensor *running_mean, nn_tensor *running_var, float momentum,
                            float eps, nn_bn_act act);
nn_status nn_batchnorm_backward(nn_tape *t, const nn_node *node);

/* Layer normalization over the last norm_ndim dims, as torch's LayerNorm
 * (biased variance). x: (..., D1..Dk), weight, bias: (D1..Dk) or NULL -> y: x's shape. */
nn_tensor *nn_layernorm(nn_tape *t, nn_tensor *x, int norm_ndim, nn_tensor *weight, nn_tensor *bias,
                        float eps);
nn_status nn_layernorm_backward(nn_tape *t, const nn_node *node);

/* Inverted dropout: with t->training, each element is zeroed with
 * probability p and the rest scaled by 1 / (1 - p); otherwise (or p = 0) it
 * returns x itself. x: any shape -> y: x's shape. The mask is a pure
 * function of (seed, element index) (a splitmix64 hash), so it is the same
 * on any thread count. Give each dropout call of each step its own seed:
 * the trainer draws it with nn_rng_u32 from nn_train_state.rng (two draws
 * for 64 bits), so a resumed checkpoint repeats the masks. */
nn_tensor *nn_dropout(nn_tape *t, nn_tensor *x, float p, uint64_t seed);
nn_status nn_dropout_backward(nn_tape *t, const nn_node *node);
/* 1 if nn_dropout(seed, p) keeps element i (for tests and tools). */
int nn_dropout_keep(uint64_t seed, int64_t i, float p);

/* Embedding lookup, as torch's Embedding. weight: (num, dim); idx: int32
 * indices in [0, num) of shape (shape[0..ndim)) -> y: (shape..., dim).
 * Rows of padding_idx (in [-num, num), negative counts from the end, as
 * torch; NN_NO_PADDING_IDX for none) get no gradient, though the forward
 * still reads them; the backward scatter-adds in index order, so it is
 * deterministic. `idx` must outlive the backward. */
#define NN_NO_PADDING_IDX INT32_MIN
nn_tensor *nn_embedding(nn_tape *t, nn_tensor *weight, const int32_t *idx, int ndim, const int *shape,
                        int padding_idx);
nn_status nn_embedding_backward(nn_tape *t, const nn_node *node);


/* ---- Losses (loss.c; cross-entropy in cross_entropy.c), as PyTorch's ----
 * Reduction as torch's `reduction`: the mean over all elements (rows for
 * the per-row losses), the sum, or none (the unreduced losses). The target
 * gets no gradient and must outlive the backward. */
typedef enum nn_reduction {
    NN_REDUCTION_MEAN,
    NN_REDUCTION_SUM,
    NN_REDUCTION_NONE,
    NN_REDUCTION_BATCHMEAN,   /* kl_div only: sum / N */
} nn_reduction;

/* Cross-entropy of softmax(logits) against class indices, fused (backward
 * (1 - s)(p - onehot) + s (p - 1/C) per row). logits: (N, C), labels: N ints
 * in [0, C) or ignore_index -> a scalar, or (N) with none (0 where ignored).
 * Mean divides by the non-ignored rows; label smoothing s as torch 1.13:
 * (1 - s) nll + s/C sum_j -log p_j. */
nn_tensor *nn_cross_entropy(nn_tape *t, nn_tensor *logits, const int32_t *labels,
                            nn_reduction reduction, int ignore_index, float label_smoothing);
/* nn_cross_entropy with class weights, as torch 1.13's `weight`: weight:
 * (C) floats, or NULL (then the same as nn_cross_entropy, bit for bit),
 * caller-owned and outliving the backward. Row r's loss is
 * (1 - s) w[y_r] nll_r + s/C sum_j w[j] (-log p_rj); the mean divides the
 * sum of both terms by sum_r w[y_r] over the non-ignored rows. */
nn_tensor *nn_cross_entropy_weighted(nn_tape *t, nn_tensor *logits, const int32_t *labels,
                                     nn_reduction reduction, int ignore_index,
                                     float label_smoothing, const float *weight);

/* Pointwise losses. x, target: the same shape -> a scalar, or x's shape (none). */
/* (x - target)^2 */
nn_tensor *nn_mse_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red);
/* |x - target| */
nn_tensor *nn_l1_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red);
/* d = |x - target|: d < beta ? d^2 / (2 beta) : d - beta / 2 (beta 0: l1) */
nn_tensor *nn_smooth_l1_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red,
                             float beta);
/* d = |x - target|: d < delta ? d^2 / 2 : delta (d - delta / 2) */
nn_tensor *nn_huber_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red,
                         float delta);
/* x: probabilities; -(target log x + (1 - target) log(1 - x)), logs clamped at -100 */
nn_tensor *nn_bce_loss(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red);
/* x: logits; bce(sigmoid(x), target), computed stably */
nn_tensor *nn_bce_with_logits(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red);
/* bce and bce_with_logits with per-class weights over the last dim, as
 * torch 1.13's `weight` and `pos_weight` given shape (C) (the usual
 * multi-label use; weights of any other broadcastable shape are not
 * supported): x: (..., C), weight, pos_weight: (C) floats or NULL,
 * caller-owned and outliving the backward. Element (..., c) is
 * weight[c] (1 - y) x + (1 + (pos_weight[c] - 1) y) (log(1 + e^-|x|) + max(-x, 0))
 * for logits, weight[c] bce(x, y) for probabilities; the mean stays over
 * all elements. NULL weights give the unweighted losses bit for bit. */
nn_tensor *nn_bce_loss_weighted(nn_tape *t, nn_tensor *x, const nn_tensor *target,
                                nn_reduction red, const float *weight);
nn_tensor *nn_bce_with_logits_weighted(nn_tape *t, nn_tensor *x, const nn_tensor *target,
                                       nn_reduction red, const float *weight,
                                       const float *pos_weight);
/* x: log q; target p (log p with log_target): p (log p - x), 0 where p = 0.
 * Reduction may be NN_REDUCTION_BATCHMEAN (sum / x's first dim). */
nn_tensor *nn_kl_div(nn_tape *t, nn_tensor *x, const nn_tensor *target, nn_reduction red,
                     int log_target);
/* The backward of the pointwise losses. */
nn_status nn_pointwise_loss_backward(nn_tape *t, const nn_node *node);

/* -x[r, labels[r]]. x: (N, C) log-probabilities, labels: N ints in [0, C)
 * or ignore_index -> a scalar or (N); mean divides by the non-ignored rows. */
nn_tensor *nn_nll_loss(nn_tape *t, nn_tensor *x, const int32_t *labels, nn_reduction red,
                       int ignore_index);
/* nn_nll_loss with class weights: -w[labels[r]] x[r, labels[r]]; weight:
 * (C) floats or NULL, caller-owned and outliving the backward. The mean
 * divides by the weights' sum over the non-ignored rows, as torch. */
nn_tensor *nn_nll_loss_weighted(nn_tape *t, nn_tensor *x, const int32_t *labels, nn_reduction red,
                                int ignore_index, const float *weight);
nn_status nn_nll_loss_backward(nn_tape *t, const nn_node *node);

/* Per row, c = cos(a_r, b_r) as torch (|.|^2 + 1e-12 under the root):
 * 1 - c where target is 1, max(0, c - margin) where it is -1.
 * a, b: (N, D), target: (N) of +-1 -> a scalar or (N). Both a and b get gradients. */
nn_tensor *nn_cosine_embedding_loss(nn_tape *t, nn_tensor *a, nn_tensor *b,
                                    const nn_tensor *target, nn_reduction red, float margin);
/* GraphMAE's scaled cosine error: (1 - cos(x_r, y_r))^alpha per row, with
 * F.normalize's cosine. x, y: (N, D) -> a scalar (GraphMAE: mean) or (N). */
nn_tensor *nn_sce_loss(nn_tape *t, nn_tensor *x, nn_tensor *y, nn_reduction red, float alpha);
/* The backward of cosine_embedding and sce. */
nn_status nn_cosine_loss_backward(nn_tape *t, const nn_node *node);

#endif
