/* Elementwise activations. */
#include "ops/ops.h"

/* y = max(x, 0) */
static void relu_forward(float *y, const float *x, long n)
{
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dx += dy where the output was positive (the subgradient at 0 is 0, as in PyTorch). */
static void relu_backward(float *dx, const float *dy, const float *y, long n)
{
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (long i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

nn_tensor *nn_relu(nn_tape *t, nn_tensor *x)
{
    if (!x) return NULL;
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    relu_forward(y->data, x->data, x->numel);
    if (nn_tape_record(t, &nn_op_defs[NN_OP_RELU], y, &x, 1, NULL)) return NULL;
    return y;
}

nn_status nn_relu_backward(nn_tape *t, const nn_node *node)
{
    relu_backward(node->in[0]->grad, node->out->grad, node->out->data, node->out->numel);
    (void)t;
    return NN_OK;
}
