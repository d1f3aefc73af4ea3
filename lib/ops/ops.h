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

#endif
