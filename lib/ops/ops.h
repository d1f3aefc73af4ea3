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

/* y = max(x, 0), any shape. */
nn_tensor *nn_relu(nn_tape *t, nn_tensor *x);
nn_status nn_relu_backward(nn_tape *t, const nn_node *node);

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

#endif
