/* Elementwise unary ops: the activations (relu ... gelu) and the math
 * functions (neg, exp, log, sqrt, pow by a scalar).
 *
 * One mechanism for all: each op is a case of unary_value (the forward) and
 * unary_grad (its contribution to dx, given dy, x and y), selected by the
 * op's id. Forward and backward run the inputs in blocks and pick the case
 * once per block, so each case's loop is compiled on its own and the simple
 * ones vectorize. An op's one parameter (slope, alpha, exponent, tanh
 * approximation) is saved with the node. Where the derivative has a kink the
 * value taken there is PyTorch's (noted at each case). */
#include "ops/ops.h"

#include <math.h>

enum { UNARY_BLOCK = 4096 };

static const float SQRT1_2 = 0.70710678118654752f;
static const float INV_SQRT_2PI = 0.39894228040143268f;   /* 1 / sqrt(2 pi) */
static const float SQRT_2_PI = 0.79788456080286536f;      /* sqrt(2 / pi) */
static const float GELU_C = 0.044715f;

static inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline __attribute__((always_inline)) float unary_value(nn_op_id op, float x, float p)
{
    switch (op) {
    case NN_OP_RELU: return x > 0.0f ? x : 0.0f;
    case NN_OP_RELU6: return x > 0.0f ? (x < 6.0f ? x : 6.0f) : 0.0f;
    case NN_OP_LEAKY_RELU: return x > 0.0f ? x : x * p;
    case NN_OP_ELU: return x > 0.0f ? x : p * expm1f(x);
    case NN_OP_SIGMOID: return sigmoid(x);
    case NN_OP_TANH: return tanhf(x);
    case NN_OP_HARDSIGMOID: return x <= -3.0f ? 0.0f : x >= 3.0f ? 1.0f : (x + 3.0f) / 6.0f;
    case NN_OP_HARDSWISH: return x <= -3.0f ? 0.0f : x >= 3.0f ? x : x * (x + 3.0f) / 6.0f;
    case NN_OP_SILU: return x / (1.0f + expf(-x));
    case NN_OP_GELU:
        if (p != 0.0f) return 0.5f * x * (1.0f + tanhf(SQRT_2_PI * (x + GELU_C * x * x * x)));
        return 0.5f * x * (1.0f + erff(x * SQRT1_2));
    case NN_OP_NEG: return -x;
    case NN_OP_EXP: return expf(x);
    case NN_OP_LOG: return logf(x);
    case NN_OP_SQRT: return sqrtf(x);
    case NN_OP_POW: return powf(x, p);
    default: NN_ASSERT(!"not a unary op");
    }
    return 0.0f;
}

static inline __attribute__((always_inline)) float unary_grad(nn_op_id op, float dy, float x,
                                                              float y, float p)
{
    switch (op) {
    case NN_OP_RELU: return y > 0.0f ? dy : 0.0f;                      /* 0 at 0 */
    case NN_OP_RELU6: return x > 0.0f && x < 6.0f ? dy : 0.0f;         /* 0 at 0 and 6 */
    case NN_OP_LEAKY_RELU: return x > 0.0f ? dy : dy * p;              /* slope at 0 */
    case NN_OP_ELU: return x > 0.0f ? dy : dy * p * expf(x);
    case NN_OP_SIGMOID: return dy * (1.0f - y) * y;
    case NN_OP_TANH: return dy * (1.0f - y * y);
    case NN_OP_HARDSIGMOID: return x > -3.0f && x < 3.0f ? dy * (1.0f / 6.0f) : 0.0f; /* 0 at +-3 */
    case NN_OP_HARDSWISH: /* -1/2 at -3, 1 at 3, as PyTorch's vector kernel (its
                           * scalar loop, run on short tails, gives 3/2 at 3) */
        return x < -3.0f ? 0.0f : x < 3.0f ? dy * (x / 3.0f + 0.5f) : dy;
    case NN_OP_SILU: {
        float s = sigmoid(x);
        return dy * s * (1.0f + x * (1.0f - s));
    }
    case NN_OP_GELU:
        if (p != 0.0f) {
            float x2 = x * x, th = tanhf(SQRT_2_PI * (x + GELU_C * x2 * x));
            return dy * (0.5f * (1.0f + th) +
                         0.5f * x * (1.0f - th * th) * SQRT_2_PI * (1.0f + 3.0f * GELU_C * x2));
        }
        return dy * (0.5f * (1.0f + erff(x * SQRT1_2)) + x * (INV_SQRT_2PI * expf(-0.5f * x * x)));
    case NN_OP_NEG: return -dy;
    case NN_OP_EXP: return dy * y;
    case NN_OP_LOG: return dy / x;
    case NN_OP_SQRT: return dy / (2.0f * y);
    case NN_OP_POW: return p == 0.0f ? 0.0f : dy * (p * powf(x, p - 1.0f));
    default: NN_ASSERT(!"not a unary op");
    }
    return 0.0f;
}

/* Every unary op, for the per-block dispatch. */
#define UNARY_OPS(X)                                                                       \
    X(NN_OP_RELU) X(NN_OP_RELU6) X(NN_OP_LEAKY_RELU) X(NN_OP_ELU) X(NN_OP_SIGMOID)        \
    X(NN_OP_TANH) X(NN_OP_HARDSIGMOID) X(NN_OP_HARDSWISH) X(NN_OP_SILU) X(NN_OP_GELU)     \
    X(NN_OP_NEG) X(NN_OP_EXP) X(NN_OP_LOG) X(NN_OP_SQRT) X(NN_OP_POW)

/* y[0..n) = op(x) */
static void unary_forward_block(nn_op_id op, float *restrict y, const float *x, int64_t n, float p)
{
    switch (op) {
#define CASE(id)                                                        \
    case id:                                                            \
        for (int64_t i = 0; i < n; i++) y[i] = unary_value(id, x[i], p); \
        break;
        UNARY_OPS(CASE)
#undef CASE
    default: NN_ASSERT(!"not a unary op");
    }
}

/* dx[0..n) += the op's gradient, given dy, x and y */
static void unary_backward_block(nn_op_id op, float *restrict dx, const float *dy, const float *x,
                                 const float *y, int64_t n, float p)
{
    switch (op) {
#define CASE(id)                                                                     \
    case id:                                                                         \
        for (int64_t i = 0; i < n; i++) dx[i] += unary_grad(id, dy[i], x[i], y[i], p); \
        break;
        UNARY_OPS(CASE)
#undef CASE
    default: NN_ASSERT(!"not a unary op");
    }
}

static void unary_forward(nn_op_id op, float *y, const float *x, int64_t n, float p)
{
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t at = 0; at < n; at += UNARY_BLOCK)
        unary_forward_block(op, y + at, x + at, n - at < UNARY_BLOCK ? n - at : UNARY_BLOCK, p);
}

static void unary_backward(nn_op_id op, float *dx, const float *dy, const float *x, const float *y,
                           int64_t n, float p)
{
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t at = 0; at < n; at += UNARY_BLOCK)
        unary_backward_block(op, dx + at, dy + at, x + at, y + at,
                             n - at < UNARY_BLOCK ? n - at : UNARY_BLOCK, p);
}

static nn_tensor *unary(nn_tape *t, nn_op_id op, nn_tensor *x, float p)
{
    if (!x) return NULL;
    nn_tensor *y = nn_tape_output(t, x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    unary_forward(op, y->data, x->data, x->numel, p);
    float *saved = NULL;
    if (y->requires_grad && p != 0.0f) {
        if (!(saved = NN_ARENA_NEW(t->arena, float, 1))) return NULL;
        *saved = p;
    }
    if (nn_tape_record(t, &nn_op_defs[op], y, &x, 1, saved)) return NULL;
    return y;
}

nn_status nn_unary_backward(nn_tape *t, const nn_node *node)
{
    const nn_tensor *x = node->in[0], *y = node->out;
    float p = node->saved ? *(const float *)node->saved : 0.0f;
    unary_backward((nn_op_id)(node->op - nn_op_defs), x->grad, y->grad, x->data, y->data, x->numel,
                   p);
    (void)t;
    return NN_OK;
}

nn_tensor *nn_relu(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_RELU, x, 0.0f); }
nn_tensor *nn_relu6(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_RELU6, x, 0.0f); }
nn_tensor *nn_leaky_relu(nn_tape *t, nn_tensor *x, float slope)
{
    return unary(t, NN_OP_LEAKY_RELU, x, slope);
}
nn_tensor *nn_elu(nn_tape *t, nn_tensor *x, float alpha) { return unary(t, NN_OP_ELU, x, alpha); }
nn_tensor *nn_sigmoid(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_SIGMOID, x, 0.0f); }
nn_tensor *nn_tanh(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_TANH, x, 0.0f); }
nn_tensor *nn_hardsigmoid(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_HARDSIGMOID, x, 0.0f); }
nn_tensor *nn_hardswish(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_HARDSWISH, x, 0.0f); }
nn_tensor *nn_silu(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_SILU, x, 0.0f); }
nn_tensor *nn_gelu(nn_tape *t, nn_tensor *x, int tanh_approx)
{
    return unary(t, NN_OP_GELU, x, tanh_approx ? 1.0f : 0.0f);
}
nn_tensor *nn_neg(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_NEG, x, 0.0f); }
nn_tensor *nn_exp(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_EXP, x, 0.0f); }
nn_tensor *nn_log(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_LOG, x, 0.0f); }
nn_tensor *nn_sqrt(nn_tape *t, nn_tensor *x) { return unary(t, NN_OP_SQRT, x, 0.0f); }
nn_tensor *nn_pow(nn_tape *t, nn_tensor *x, float exponent)
{
    return unary(t, NN_OP_POW, x, exponent);
}
