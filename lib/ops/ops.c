/* The op table: the tape calls nn_op_defs[id].backward. */
#include "ops/ops.h"

const nn_op_def nn_op_defs[NN_OP_COUNT] = {
    [NN_OP_LINEAR] = {"linear", nn_linear_backward},
    [NN_OP_CONV2D] = {"conv2d", nn_conv2d_backward},
    [NN_OP_MAXPOOL2D] = {"maxpool2d", nn_maxpool2d_backward},
    [NN_OP_RELU] = {"relu", nn_relu_backward},
    [NN_OP_RESHAPE] = {"reshape", nn_reshape_backward},
    [NN_OP_SOFTMAX_CROSS_ENTROPY] = {"softmax_cross_entropy", nn_softmax_cross_entropy_backward},
};

/* Adding an op fails here until its row above is written and the count
 * bumped; the ops test also checks that no row is left empty. */
_Static_assert(NN_OP_COUNT == 6, "new op: add its row to nn_op_defs, then update this count");
