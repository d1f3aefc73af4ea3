/* The op table: the tape calls nn_op_defs[id].backward. */
#include "ops/ops.h"

const nn_op_def nn_op_defs[NN_OP_COUNT] = {
    [NN_OP_LINEAR] = {"linear", nn_linear_backward},
    [NN_OP_CONV2D] = {"conv2d", nn_conv2d_backward},
    [NN_OP_MAXPOOL2D] = {"maxpool2d", nn_maxpool2d_backward},
    [NN_OP_RELU] = {"relu", nn_unary_backward},
    [NN_OP_RESHAPE] = {"reshape", nn_reshape_backward},
    [NN_OP_SOFTMAX_CROSS_ENTROPY] = {"softmax_cross_entropy", nn_softmax_cross_entropy_backward},
    [NN_OP_ADD] = {"add", nn_binary_backward},
    [NN_OP_SUB] = {"sub", nn_binary_backward},
    [NN_OP_MUL] = {"mul", nn_binary_backward},
    [NN_OP_DIV] = {"div", nn_binary_backward},
    [NN_OP_NEG] = {"neg", nn_unary_backward},
    [NN_OP_EXP] = {"exp", nn_unary_backward},
    [NN_OP_LOG] = {"log", nn_unary_backward},
    [NN_OP_SQRT] = {"sqrt", nn_unary_backward},
    [NN_OP_POW] = {"pow", nn_unary_backward},
    [NN_OP_SUM] = {"sum", nn_reduce_backward},
    [NN_OP_MEAN] = {"mean", nn_reduce_backward},
    [NN_OP_MAX] = {"max", nn_reduce_backward},
    [NN_OP_RELU6] = {"relu6", nn_unary_backward},
    [NN_OP_LEAKY_RELU] = {"leaky_relu", nn_unary_backward},
    [NN_OP_ELU] = {"elu", nn_unary_backward},
    [NN_OP_SIGMOID] = {"sigmoid", nn_unary_backward},
    [NN_OP_TANH] = {"tanh", nn_unary_backward},
    [NN_OP_HARDSIGMOID] = {"hardsigmoid", nn_unary_backward},
    [NN_OP_HARDSWISH] = {"hardswish", nn_unary_backward},
    [NN_OP_SILU] = {"silu", nn_unary_backward},
    [NN_OP_GELU] = {"gelu", nn_unary_backward},
    [NN_OP_SOFTMAX] = {"softmax", nn_softmax_backward},
    [NN_OP_LOG_SOFTMAX] = {"log_softmax", nn_softmax_backward},
};

/* Adding an op fails here until its row above is written and the count
 * bumped; the ops test also checks that no row is left empty. */
_Static_assert(NN_OP_COUNT == 29, "new op: add its row to nn_op_defs, then update this count");
