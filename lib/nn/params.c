#include "nn/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- constructors ---- */

nn_init nn_init_zeros(void) { return (nn_init){.kind = NN_INIT_ZEROS}; }
nn_init nn_init_ones(void) { return (nn_init){.kind = NN_INIT_ONES}; }

nn_init nn_init_uniform(double a, double b)
{
    /* Stored as midpoint and half-width, so symmetric bounds draw exactly
     * b * (2u - 1), as nn_init_torch_default always has. */
    return (nn_init){.kind = NN_INIT_UNIFORM, .scale = (float)(0.5 * (b - a)), .shift = (float)(0.5 * (a + b))};
}

nn_init nn_init_normal(double mean, double std)
{
    return (nn_init){.kind = NN_INIT_NORMAL, .scale = (float)std, .shift = (float)mean};
}

nn_init nn_init_xavier_uniform(double gain) { return (nn_init){.kind = NN_INIT_XAVIER_UNIFORM, .scale = (float)gain}; }
nn_init nn_init_xavier_normal(double gain) { return (nn_init){.kind = NN_INIT_XAVIER_NORMAL, .scale = (float)gain}; }
nn_init nn_init_orthogonal(double gain) { return (nn_init){.kind = NN_INIT_ORTHOGONAL, .scale = (float)gain}; }

nn_init nn_init_kaiming_uniform(double a, nn_init_fan mode, nn_nonlinearity nonlinearity)
{
    return (nn_init){.kind = NN_INIT_KAIMING_UNIFORM, .a = (float)a, .mode = mode, .nonlinearity = nonlinearity};
}

nn_init nn_init_kaiming_normal(double a, nn_init_fan mode, nn_nonlinearity nonlinearity)
{
    return (nn_init){.kind = NN_INIT_KAIMING_NORMAL, .a = (float)a, .mode = mode, .nonlinearity = nonlinearity};
}

nn_init nn_init_torch_default(int fan_in)
{
    return (nn_init){.kind = NN_INIT_UNIFORM, .scale = fan_in > 0 ? 1.0f / sqrtf((float)fan_in) : 0.0f};
}

nn_init nn_init_torch_embedding(void) { return nn_init_normal(0.0, 1.0); }
nn_init nn_init_torch_norm_weight(void) { return nn_init_ones(); }
nn_init nn_init_torch_norm_bias(void) { return nn_init_zeros(); }

nn_init nn_init_torch_rnn(int hidden_size)
{
    return nn_init_uniform(hidden_size > 0 ? -1.0 / sqrt((double)hidden_size) : 0.0,
                           hidden_size > 0 ? 1.0 / sqrt((double)hidden_size) : 0.0);
}

/* ---- gains and fans ---- */

double nn_init_gain(nn_nonlinearity nonlinearity, double param)
{
    switch (nonlinearity) {
    case NN_NONLIN_TANH: return 5.0 / 3.0;
    case NN_NONLIN_RELU: return sqrt(2.0);
    case NN_NONLIN_LEAKY_RELU: return sqrt(2.0 / (1.0 + param * param));
    case NN_NONLIN_SELU: return 3.0 / 4.0;
    default: return 1.0;   /* linear, conv*, conv_transpose*, sigmoid */
    }
}

int nn_init_fans(int ndim, const int *shape, int64_t *fan_in, int64_t *fan_out)
{
    if (ndim < 2) return -1;
    int64_t receptive = 1;
    for (int i = 2; i < ndim; i++) receptive *= shape[i];
    *fan_in = (int64_t)shape[1] * receptive;
    *fan_out = (int64_t)shape[0] * receptive;
    return 0;
}

int nn_init_needs_matrix(nn_init_kind kind)
{
    return kind == NN_INIT_XAVIER_UNIFORM || kind == NN_INIT_XAVIER_NORMAL ||
           kind == NN_INIT_KAIMING_UNIFORM || kind == NN_INIT_KAIMING_NORMAL ||
           kind == NN_INIT_ORTHOGONAL;
}

/* ---- filling ---- */

/* x = shift + scale * (2u - 1). The shift is added only when it is not 0,
 * so symmetric bounds give exactly scale * (2u - 1), signed zeros included. */
static void fill_uniform(float *x, int64_t n, float scale, float shift, nn_rng *rng)
{
    for (int64_t i = 0; i < n; i++) {
        x[i] = scale * (2.0f * nn_rng_uniform(rng) - 1.0f);
        if (shift != 0.0f) x[i] += shift;
    }
}

static void fill_normal(float *x, int64_t n, float std, float mean, nn_rng *rng)
{
    for (int64_t i = 0; i < n; i++) {
        x[i] = std * nn_rng_normal(rng);
        if (mean != 0.0f) x[i] += mean;
    }
}

/* torch.nn.init.orthogonal_: a (rows, cols) matrix of N(0, 1) draws, with
 * cols = numel / rows, transposed when rows < cols so that it is tall
 * (m >= n); its reduced QR; the columns of Q multiplied by the signs of R's
 * diagonal (which makes the result unique and Haar-distributed); Q
 * transposed back and scaled by gain. Householder QR in double, on
 * columns stored contiguously. */
static nn_status fill_orthogonal(float *x, int rows, int64_t cols, float gain, nn_rng *rng)
{
    const int64_t numel = (int64_t)rows * cols;
    const int wide = rows < cols;
    const int64_t m = wide ? cols : rows, n = wide ? rows : cols;
    double *a = malloc(sizeof(double) * (size_t)(2 * m * n + n)); /* B, then Q; R's diagonal */
    if (!a) return nn_error(NN_ERR_RUNTIME, "orthogonal init of a %d x %lld matrix: out of memory", rows, (long long)cols);
    double *q = a + m * n, *diag = q + m * n;

    /* B (m x n) column-major: column j is B[., j]. Wide: B = A^T, whose
     * column j is row j of A, so B is A's draws in order; tall: transpose. */
    for (int64_t k = 0; k < numel; k++) {
        double v = (double)nn_rng_normal(rng);
        if (wide) a[k] = v;
        else a[(k % cols) * m + k / cols] = v;
    }
    /* Householder: column k of `a` becomes the reflector v_k (below and on
     * the diagonal), normalized so that H_k = I - 2 v v^T. */
    for (int64_t k = 0; k < n; k++) {
        double *col = a + k * m;
        double norm2 = 0.0;
        for (int64_t i = k; i < m; i++) norm2 += col[i] * col[i];
        const double norm = sqrt(norm2);
        if (norm == 0.0) {   /* nothing to reflect: H_k = I, R_kk = 0 */
            diag[k] = 0.0;
            continue;
        }
        const double alpha = col[k] >= 0.0 ? -norm : norm;
        diag[k] = alpha;
        col[k] -= alpha;
        const double vnorm = sqrt(2.0 * norm * (norm + fabs(col[k] + alpha)));
        for (int64_t i = k; i < m; i++) col[i] /= vnorm;
        for (int64_t j = k + 1; j < n; j++) {
            double *cj = a + j * m, dot = 0.0;
            for (int64_t i = k; i < m; i++) dot += col[i] * cj[i];
            for (int64_t i = k; i < m; i++) cj[i] -= 2.0 * dot * col[i];
        }
    }
    /* Q = H_0 ... H_{n-1} [I; 0], applied from the last reflector back. */
    memset(q, 0, sizeof(double) * (size_t)(m * n));
    for (int64_t j = 0; j < n; j++) q[j * m + j] = 1.0;
    for (int64_t k = n - 1; k >= 0; k--) {
        if (diag[k] == 0.0) continue;
        const double *v = a + k * m;
        for (int64_t j = k; j < n; j++) {
            double *qj = q + j * m, dot = 0.0;
            for (int64_t i = k; i < m; i++) dot += v[i] * qj[i];
            for (int64_t i = k; i < m; i++) qj[i] -= 2.0 * dot * v[i];
        }
    }
    /* Column j times sign(R_jj) (torch: d.sign(), 0 for 0), times gain.
     * Tall: x[i][j] = Q[i][j]; wide: x = Q^T, row i of x is column i of Q. */
    for (int64_t j = 0; j < n; j++) {
        const double s = (diag[j] > 0.0) - (diag[j] < 0.0);
        const double *qj = q + j * m;
        for (int64_t i = 0; i < m; i++) {
            const float v = (float)(s * qj[i] * (double)gain);
            if (wide) x[j * cols + i] = v;
            else x[i * cols + j] = v;
        }
    }
    free(a);
    return NN_OK;
}

nn_status nn_init_fill(float *x, int ndim, const int *shape, nn_init init, nn_rng *rng)
{
    const int64_t numel = nn_shape_numel(ndim, shape);
    int64_t fan_in = 0, fan_out = 0;
    if (nn_init_needs_matrix(init.kind) && nn_init_fans(ndim, shape, &fan_in, &fan_out))
        return nn_error(NN_ERR_INPUT, "%s init needs a tensor of at least 2 dimensions, got %d",
                        nn_init_defs[init.kind].name, ndim);
    if (numel == 0) return NN_OK;
    switch (init.kind) {
    case NN_INIT_ZEROS:
        for (int64_t i = 0; i < numel; i++) x[i] = 0.0f;
        break;
    case NN_INIT_ONES:
        for (int64_t i = 0; i < numel; i++) x[i] = 1.0f;
        break;
    case NN_INIT_UNIFORM: fill_uniform(x, numel, init.scale, init.shift, rng); break;
    case NN_INIT_NORMAL: fill_normal(x, numel, init.scale, init.shift, rng); break;
    case NN_INIT_XAVIER_UNIFORM:
    case NN_INIT_XAVIER_NORMAL: {
        const double std = init.scale * sqrt(2.0 / (double)(fan_in + fan_out));
        if (init.kind == NN_INIT_XAVIER_UNIFORM) fill_uniform(x, numel, (float)(sqrt(3.0) * std), 0.0f, rng);
        else fill_normal(x, numel, (float)std, 0.0f, rng);
        break;
    }
    case NN_INIT_KAIMING_UNIFORM:
    case NN_INIT_KAIMING_NORMAL: {
        const int64_t fan = init.mode == NN_INIT_FAN_OUT ? fan_out : fan_in;
        const double std = nn_init_gain(init.nonlinearity, init.a) / sqrt((double)fan);
        if (init.kind == NN_INIT_KAIMING_UNIFORM) fill_uniform(x, numel, (float)(sqrt(3.0) * std), 0.0f, rng);
        else fill_normal(x, numel, (float)std, 0.0f, rng);
        break;
    }
    case NN_INIT_ORTHOGONAL: return fill_orthogonal(x, shape[0], numel / shape[0], init.scale, rng);
    case NN_INIT_COUNT: NN_ASSERT(0 && "bad nn_init kind");
    }
    return NN_OK;
}

/* ---- the table ---- */

const char *const nn_nonlinearity_names[] = {
    [NN_NONLIN_LINEAR] = "linear",
    [NN_NONLIN_CONV1D] = "conv1d",
    [NN_NONLIN_CONV2D] = "conv2d",
    [NN_NONLIN_CONV3D] = "conv3d",
    [NN_NONLIN_CONV_TRANSPOSE1D] = "conv_transpose1d",
    [NN_NONLIN_CONV_TRANSPOSE2D] = "conv_transpose2d",
    [NN_NONLIN_CONV_TRANSPOSE3D] = "conv_transpose3d",
    [NN_NONLIN_SIGMOID] = "sigmoid",
    [NN_NONLIN_TANH] = "tanh",
    [NN_NONLIN_RELU] = "relu",
    [NN_NONLIN_LEAKY_RELU] = "leaky_relu",
    [NN_NONLIN_SELU] = "selu",
    [NN_NONLIN_COUNT] = NULL,
};
_Static_assert(sizeof nn_nonlinearity_names / sizeof nn_nonlinearity_names[0] == NN_NONLIN_COUNT + 1,
               "a name for every nonlinearity");

const char *const nn_init_fan_names[] = {[NN_INIT_FAN_IN] = "fan_in", [NN_INIT_FAN_OUT] = "fan_out", NULL};

#define BIG 1e6
static const nn_init_arg uniform_args[] = {{"a", 0.0, -BIG, BIG, NULL}, {"b", 1.0, -BIG, BIG, NULL}};
static const nn_init_arg normal_args[] = {{"mean", 0.0, -BIG, BIG, NULL}, {"std", 1.0, 0.0, BIG, NULL}};
static const nn_init_arg gain_args[] = {{"gain", 1.0, 0.0, BIG, NULL}};
static const nn_init_arg kaiming_args[] = {
    {"a", 0.0, -BIG, BIG, NULL},
    {"mode", NN_INIT_FAN_IN, 0, 0, nn_init_fan_names},
    {"nonlinearity", NN_NONLIN_LEAKY_RELU, 0, 0, nn_nonlinearity_names},
};
#define ARGS(x) x, (int)(sizeof x / sizeof x[0])

const nn_init_def nn_init_defs[NN_INIT_COUNT] = {
    [NN_INIT_ZEROS] = {"zeros", NN_INIT_ZEROS, NULL, 0},
    [NN_INIT_ONES] = {"ones", NN_INIT_ONES, NULL, 0},
    [NN_INIT_UNIFORM] = {"uniform", NN_INIT_UNIFORM, ARGS(uniform_args)},
    [NN_INIT_NORMAL] = {"normal", NN_INIT_NORMAL, ARGS(normal_args)},
    [NN_INIT_XAVIER_UNIFORM] = {"xavier_uniform", NN_INIT_XAVIER_UNIFORM, ARGS(gain_args)},
    [NN_INIT_XAVIER_NORMAL] = {"xavier_normal", NN_INIT_XAVIER_NORMAL, ARGS(gain_args)},
    [NN_INIT_KAIMING_UNIFORM] = {"kaiming_uniform", NN_INIT_KAIMING_UNIFORM, ARGS(kaiming_args)},
    [NN_INIT_KAIMING_NORMAL] = {"kaiming_normal", NN_INIT_KAIMING_NORMAL, ARGS(kaiming_args)},
    [NN_INIT_ORTHOGONAL] = {"orthogonal", NN_INIT_ORTHOGONAL, ARGS(gain_args)},
};

const nn_init_def *nn_init_find(const char *name)
{
    for (int i = 0; i < NN_INIT_COUNT; i++)
        if (!strcmp(nn_init_defs[i].name, name)) return &nn_init_defs[i];
    return NULL;
}

int nn_init_check(const nn_init_def *def, const double *args, const char **why)
{
    if (def->kind == NN_INIT_UNIFORM && !(args[0] <= args[1])) {
        *why = "uniform needs a <= b";
        return 1;
    }
    return -1;
}

nn_init nn_init_make(const nn_init_def *def, const double *args)
{
    const char *why;
    NN_ASSERT(def->n_args <= NN_INIT_MAX_ARGS && nn_init_check(def, args, &why) < 0);
    switch (def->kind) {
    case NN_INIT_UNIFORM: return nn_init_uniform(args[0], args[1]);
    case NN_INIT_NORMAL: return nn_init_normal(args[0], args[1]);
    case NN_INIT_XAVIER_UNIFORM: return nn_init_xavier_uniform(args[0]);
    case NN_INIT_XAVIER_NORMAL: return nn_init_xavier_normal(args[0]);
    case NN_INIT_KAIMING_UNIFORM:
        return nn_init_kaiming_uniform(args[0], (nn_init_fan)args[1], (nn_nonlinearity)args[2]);
    case NN_INIT_KAIMING_NORMAL:
        return nn_init_kaiming_normal(args[0], (nn_init_fan)args[1], (nn_nonlinearity)args[2]);
    case NN_INIT_ORTHOGONAL: return nn_init_orthogonal(args[0]);
    case NN_INIT_ONES: return nn_init_ones();
    default: return nn_init_zeros();
    }
}

/* ---- the parameter set ---- */

void nn_params_init(nn_params *p, nn_arena *persistent)
{
    memset(p, 0, sizeof *p);
    p->arena = persistent;
}

static int grow(nn_params *p)
{
    int cap = p->capacity ? 2 * p->capacity : 32;
    nn_tensor **items = NN_ARENA_NEW(p->arena, nn_tensor *, cap);
    nn_init *inits = NN_ARENA_NEW(p->arena, nn_init, cap);
    if (!items || !inits) return -1;
    if (p->count) {
        memcpy(items, p->items, sizeof *items * (size_t)p->count);
        memcpy(inits, p->inits, sizeof *inits * (size_t)p->count);
    }
    p->items = items;
    p->inits = inits;
    p->capacity = cap;
    return 0;
}

static nn_tensor *add(nn_params *p, const char *name, int ndim, const int *shape, nn_init init,
                      int trainable)
{
    NN_ASSERT(!p->values && "nn_params_add after finalize");
    NN_ASSERT(!nn_params_find(p, name));
    NN_ASSERT(init.kind >= 0 && init.kind < NN_INIT_COUNT);
    if (nn_init_needs_matrix(init.kind) && ndim < 2) {
        char buf[64];
        nn_error(NN_ERR_INPUT, "parameter %s: %s init needs a tensor of at least 2 dimensions "
                 "(fan-in and fan-out), got shape %s", name, nn_init_defs[init.kind].name,
                 nn_shape_str(buf, sizeof buf, ndim, shape));
        return NULL;
    }
    if (p->count == p->capacity && grow(p)) return NULL;
    nn_tensor *t = nn_tensor_view(p->arena, NULL, ndim, shape);
    char *copy = nn_arena_alloc(p->arena, strlen(name) + 1);
    if (!t || !copy) return NULL;
    strcpy(copy, name);
    t->name = copy;
    t->requires_grad = trainable;
    p->inits[p->count] = init;
    p->items[p->count++] = t;
    *(trainable ? &p->total : &p->buffer_total) += t->numel;
    return t;
}

nn_tensor *nn_params_add(nn_params *p, const char *name, int ndim, const int *shape, nn_init init)
{
    return add(p, name, ndim, shape, init, 1);
}

nn_tensor *nn_params_add_buffer(nn_params *p, const char *name, int ndim, const int *shape, nn_init init)
{
    return add(p, name, ndim, shape, init, 0);
}

/* add() under the name `<prefix>.<suffix>`; NULL (message set) when it does
 * not fit. */
static nn_tensor *add_named(nn_params *p, const char *prefix, const char *suffix, int ndim,
                            const int *shape, nn_init init, int trainable)
{
    char name[256];
    if ((size_t)snprintf(name, sizeof name, "%s.%s", prefix, suffix) >= sizeof name) {
        nn_error(NN_ERR_INPUT, "parameter %s.%s: the name is longer than %zu characters", prefix,
                 suffix, sizeof name - 1);
        return NULL;
    }
    return add(p, name, ndim, shape, init, trainable);
}

nn_tensor *nn_params_add_named(nn_params *p, const char *prefix, const char *suffix, int ndim,
                               const int *shape, nn_init init)
{
    return add_named(p, prefix, suffix, ndim, shape, init, 1);
}

nn_tensor *nn_params_add_buffer_named(nn_params *p, const char *prefix, const char *suffix, int ndim,
                                      const int *shape, nn_init init)
{
    return add_named(p, prefix, suffix, ndim, shape, init, 0);
}

nn_status nn_params_finalize(nn_params *p, nn_rng *rng)
{
    p->values = NN_ARENA_NEW(p->arena, float, p->total + p->buffer_total);
    p->grads = nn_arena_calloc(p->arena, sizeof(float) * (size_t)p->total);
    if (!p->values || !p->grads) return NN_ERR_RUNTIME;
    /* Trainable parameters first, buffers after; each group in declaration order. */
    int64_t off = 0, buf_off = p->total;
    for (int i = 0; i < p->count; i++) {
        nn_tensor *t = p->items[i];
        int64_t *at = t->requires_grad ? &off : &buf_off;
        t->data = p->values + *at;
        t->grad = t->requires_grad ? p->grads + *at : NULL;
        nn_status st = nn_init_fill(t->data, t->ndim, t->shape, p->inits[i], rng);
        if (st != NN_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", nn_error_message());
            return nn_error(st, "parameter %s: %s", t->name, why);
        }
        *at += t->numel;
    }
    return NN_OK;
}

void nn_params_zero_grad(nn_params *p) { memset(p->grads, 0, sizeof(float) * (size_t)p->total); }

nn_tensor *nn_params_find(const nn_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->items[i]->name, name)) return p->items[i];
    return NULL;
}
