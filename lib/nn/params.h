/* A model's parameters: one flat buffer of values and one of gradients,
 * with a named tensor view per parameter (`conv1.weight`, the PyTorch
 * state_dict key). Zeroing all gradients is one memset, an optimizer is one
 * loop over the buffer, a checkpoint is one pass over the views.
 *
 * Building is two-phase: nn_params_add() declares each parameter (shape,
 * name, how to initialize it), nn_params_finalize() allocates both buffers
 * in the persistent arena and points the views into them.
 *
 * Initializers are torch.nn.init's, with its argument names and defaults.
 * Those that need fan-in and fan-out (xavier_*, kaiming_*) or a matrix
 * (orthogonal) compute them from the parameter's shape at finalize, as
 * torch.nn.init._calculate_fan_in_and_fan_out does:
 *   fan_in = shape[1] * prod(shape[2:]), fan_out = shape[0] * prod(shape[2:]),
 * so a Linear weight (out, in) has fan_in = in and a Conv weight
 * (out, in/groups, kh, kw) has fan_in = in/groups * kh * kw. All draws come
 * from the nn_rng passed to nn_params_finalize, one parameter after the
 * other in declaration order, element by element in row-major order.
 *
 * PyTorch's default for each layer type, so an untrained model has the
 * statistics of the same PyTorch module (use these in layer builders):
 *   Linear, Conv*d, ConvTranspose*d   weight and bias  nn_init_torch_default(fan_in)
 *                                     U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in
 *                                     of the weight (ConvTranspose: weight shape
 *                                     (in, out/groups, k...), so fan_in = out/groups * k...)
 *   Embedding                         weight           nn_init_torch_embedding() N(0, 1)
 *                                     (the layer zeroes the padding_idx row itself)
 *   BatchNorm*d, LayerNorm, GroupNorm weight / bias    nn_init_torch_norm_weight() 1 /
 *                                                      nn_init_torch_norm_bias() 0
 *                                     (BatchNorm's running_mean 0, running_var 1 are
 *                                     buffers, not parameters)
 *   RNN, LSTM, GRU (every weight and bias)             nn_init_torch_rnn(hidden_size)
 *                                     U(-1/sqrt(hidden), 1/sqrt(hidden))
 *   MultiheadAttention                in_proj_weight nn_init_xavier_uniform(1),
 *                                     in_proj_bias and out_proj.bias zeros,
 *                                     out_proj.weight as Linear */
#ifndef NN_NN_PARAMS_H
#define NN_NN_PARAMS_H

#include "core/rng.h"
#include "core/tensor.h"

/* Append-only: nn_init_defs[] is indexed by it. */
typedef enum nn_init_kind {
    NN_INIT_ZEROS,
    NN_INIT_ONES,
    NN_INIT_UNIFORM,          /* U(shift - scale, shift + scale) */
    NN_INIT_NORMAL,           /* N(shift, scale^2) */
    NN_INIT_XAVIER_UNIFORM,   /* U(-b, b), b = gain sqrt(6 / (fan_in + fan_out)) */
    NN_INIT_XAVIER_NORMAL,    /* N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)) */
    NN_INIT_KAIMING_UNIFORM,  /* U(-b, b), b = gain(nonlinearity, a) sqrt(3 / fan) */
    NN_INIT_KAIMING_NORMAL,   /* N(0, s^2), s = gain(nonlinearity, a) / sqrt(fan) */
    NN_INIT_ORTHOGONAL,       /* gain Q, Q from the QR of a N(0, 1) matrix */
    NN_INIT_COUNT
} nn_init_kind;

/* Which fan kaiming_* divides by (torch's `mode`). */
typedef enum nn_init_fan {
    NN_INIT_FAN_IN,
    NN_INIT_FAN_OUT,
} nn_init_fan;

/* torch.nn.init.calculate_gain's nonlinearities; names in
 * nn_nonlinearity_names[], same order. */
typedef enum nn_nonlinearity {
    NN_NONLIN_LINEAR,
    NN_NONLIN_CONV1D,
    NN_NONLIN_CONV2D,
    NN_NONLIN_CONV3D,
    NN_NONLIN_CONV_TRANSPOSE1D,
    NN_NONLIN_CONV_TRANSPOSE2D,
    NN_NONLIN_CONV_TRANSPOSE3D,
    NN_NONLIN_SIGMOID,
    NN_NONLIN_TANH,
    NN_NONLIN_RELU,
    NN_NONLIN_LEAKY_RELU,
    NN_NONLIN_SELU,
    NN_NONLIN_COUNT
} nn_nonlinearity;

/* How to fill one parameter. Build it with the constructors below (a
 * positional literal such as (nn_init){NN_INIT_ZEROS, 0} trips
 * -Wmissing-field-initializers); fields left 0 in a designated literal are
 * the plain case: (nn_init){.kind = NN_INIT_UNIFORM, .scale = b} is
 * U(-b, b), (nn_init){.kind = NN_INIT_NORMAL, .scale = s} is N(0, s^2). */
typedef struct nn_init {
    nn_init_kind kind;
    float scale;        /* UNIFORM: half-width; NORMAL: std; XAVIER_*, ORTHOGONAL: gain */
    float shift;        /* UNIFORM: midpoint; NORMAL: mean */
    float a;            /* KAIMING_*: the negative slope for leaky_relu */
    nn_init_fan mode;   /* KAIMING_* */
    nn_nonlinearity nonlinearity; /* KAIMING_* */
} nn_init;

/* torch.nn.init's initializers, one constructor each, with torch's
 * arguments (torch's defaults: uniform(0, 1), normal(0, 1), gain 1,
 * kaiming a 0, NN_INIT_FAN_IN, NN_NONLIN_LEAKY_RELU). */
nn_init nn_init_zeros(void);
nn_init nn_init_ones(void);
nn_init nn_init_uniform(double a, double b);          /* U(a, b) */
nn_init nn_init_normal(double mean, double std);
nn_init nn_init_xavier_uniform(double gain);
nn_init nn_init_xavier_normal(double gain);
nn_init nn_init_kaiming_uniform(double a, nn_init_fan mode, nn_nonlinearity nonlinearity);
nn_init nn_init_kaiming_normal(double a, nn_init_fan mode, nn_nonlinearity nonlinearity);
nn_init nn_init_orthogonal(double gain);

/* PyTorch's default for Linear and Conv weights and biases alike:
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5) for
 * the weight, the same bound for the bias); 0 when fan_in is 0. The bound
 * is 1.0f / sqrtf(fan_in) in float, and it draws bound * (2u - 1): the
 * same bits as every earlier nnzoo version. */
nn_init nn_init_torch_default(int fan_in);
/* Embedding's weight: N(0, 1). */
nn_init nn_init_torch_embedding(void);
/* BatchNorm / LayerNorm / GroupNorm affine weight (ones) and bias (zeros). */
nn_init nn_init_torch_norm_weight(void);
nn_init nn_init_torch_norm_bias(void);
/* RNN / LSTM / GRU weights and biases: U(-1/sqrt(hidden), 1/sqrt(hidden)). */
nn_init nn_init_torch_rnn(int hidden_size);

/* torch.nn.init.calculate_gain: 1 for linear, conv*, sigmoid; 5/3 tanh;
 * sqrt(2) relu; sqrt(2 / (1 + param^2)) leaky_relu with negative slope
 * `param` (torch's default when it is not given is 0.01; kaiming passes
 * its `a`); 3/4 selu. */
double nn_init_gain(nn_nonlinearity nonlinearity, double param);

/* Fans of a tensor of that shape, as torch: fan_in = shape[1] * receptive
 * field, fan_out = shape[0] * receptive field, the receptive field being
 * the product of shape[2:]. Returns 0, or -1 when ndim < 2 (torch raises). */
int nn_init_fans(int ndim, const int *shape, int64_t *fan_in, int64_t *fan_out);

/* 1 if the kind needs fans or a matrix, so a tensor of at least 2 dims. */
int nn_init_needs_matrix(nn_init_kind kind);

/* Fills x (shape[0..ndim), row-major) from `init`, drawing from `rng`.
 * Returns NN_OK; NN_ERR_INPUT (message set) when the kind needs 2 dims and
 * the shape has fewer; NN_ERR_RUNTIME when orthogonal cannot get its
 * scratch memory (8 * numel bytes plus a little, malloc'd and freed). */
nn_status nn_init_fill(float *x, int ndim, const int *shape, nn_init init, nn_rng *rng);

/* ---- the initializers by name, for the config and `nnzoo list` ---- */

typedef struct nn_init_arg {
    const char *name;               /* torch.nn.init's argument name */
    double def, min, max;           /* a choice: def is the index of the default */
    const char *const *choices;     /* NULL for a number; else NULL-terminated
                                     * names, and the value is the index */
} nn_init_arg;

#define NN_INIT_MAX_ARGS 3

typedef struct nn_init_def {
    const char *name;               /* "kaiming_uniform": torch.nn.init.kaiming_uniform_ */
    nn_init_kind kind;
    const nn_init_arg *args;
    int n_args;
} nn_init_def;

/* Indexed by nn_init_kind; names "zeros", "ones", "uniform", "normal",
 * "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
 * "orthogonal". */
extern const nn_init_def nn_init_defs[NN_INIT_COUNT];
extern const char *const nn_nonlinearity_names[];   /* NULL-terminated */
extern const char *const nn_init_fan_names[];       /* "fan_in", "fan_out", NULL */

/* The initializer named `name`, or NULL. */
const nn_init_def *nn_init_find(const char *name);

/* Checks argument values that the ranges alone do not (uniform's a < b).
 * Returns the index of the argument to blame and sets *why, or -1. */
int nn_init_check(const nn_init_def *def, const double *args, const char **why);

/* The nn_init for `def` with argument values `args` (def->n_args of them,
 * in table order, a choice as its index); they must pass nn_init_check. */
nn_init nn_init_make(const nn_init_def *def, const double *args);

/* ---- the parameter set ---- */

typedef struct nn_params {
    nn_arena *arena;          /* persistent */
    nn_tensor **items;        /* views, in declaration (= state_dict) order */
    nn_init *inits;
    int count, capacity;
    float *values, *grads;    /* the flat buffers, after finalize */
    int64_t total;            /* trainable floats: all of grads, the head of values */
    int64_t buffer_total;     /* floats of buffers, in values after the trainable ones */
} nn_params;

void nn_params_init(nn_params *p, nn_arena *persistent);

/* Declares a parameter; the returned tensor gets its data at finalize.
 * `name` is copied. NULL when the arena is full, or (NN_ERR_INPUT, message
 * naming the parameter) when `init` needs 2 dims and the shape has fewer. */
nn_tensor *nn_params_add(nn_params *p, const char *name, int ndim, const int *shape, nn_init init);

/* Declares a buffer: state that is saved and loaded with the parameters
 * (a checkpoint has it under `name`) but is not trained, such as
 * BatchNorm's running_mean and running_var. Its tensor has requires_grad 0
 * and no grad, so the tape never gives it a gradient, and its values lie
 * after every trainable parameter's in `values`, outside [0, total) where
 * optimizers, clipping and zero_grad work. Otherwise as nn_params_add. */
nn_tensor *nn_params_add_buffer(nn_params *p, const char *name, int ndim, const int *shape, nn_init init);

/* nn_params_add and nn_params_add_buffer under the name
 * `<prefix>.<suffix>` (torch's module path and attribute), as layer
 * builders declare theirs; NULL with an NN_ERR_INPUT message naming it when
 * the name is longer than 255 characters. */
nn_tensor *nn_params_add_named(nn_params *p, const char *prefix, const char *suffix, int ndim,
                               const int *shape, nn_init init);
nn_tensor *nn_params_add_buffer_named(nn_params *p, const char *prefix, const char *suffix, int ndim,
                                      const int *shape, nn_init init);

/* Allocates the flat buffers and fills every parameter from its nn_init,
 * in declaration order, drawing from `rng`. */
nn_status nn_params_finalize(nn_params *p, nn_rng *rng);

/* Sets every gradient to zero. */
void nn_params_zero_grad(nn_params *p);

/* The parameter with that name, or NULL. */
nn_tensor *nn_params_find(const nn_params *p, const char *name);

#endif
