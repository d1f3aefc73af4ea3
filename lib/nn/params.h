/* A model's parameters: one flat buffer of values and one of gradients,
 * with a named tensor view per parameter (`conv1.weight`, the PyTorch
 * state_dict key). Zeroing all gradients is one memset, an optimizer is one
 * loop over the buffer, a checkpoint is one pass over the views.
 *
 * Building is two-phase: nn_params_add() declares each parameter (shape,
 * name, how to initialize it), nn_params_finalize() allocates both buffers
 * in the persistent arena and points the views into them. */
#ifndef NN_NN_PARAMS_H
#define NN_NN_PARAMS_H

#include "core/rng.h"
#include "core/tensor.h"

typedef enum nn_init_kind {
    NN_INIT_ZEROS,
    NN_INIT_ONES,
    NN_INIT_UNIFORM,     /* U(-bound, bound) */
    NN_INIT_NORMAL,      /* N(0, bound^2) */
} nn_init_kind;

typedef struct nn_init {
    nn_init_kind kind;
    float bound;
} nn_init;

/* PyTorch's default for Linear and Conv weights and biases alike:
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)). */
nn_init nn_init_torch_default(int fan_in);

typedef struct nn_params {
    nn_arena *arena;          /* persistent */
    nn_tensor **items;        /* views, in declaration (= state_dict) order */
    nn_init *inits;
    int count, capacity;
    float *values, *grads;    /* the flat buffers, after finalize */
    int64_t total;            /* floats in each buffer */
} nn_params;

void nn_params_init(nn_params *p, nn_arena *persistent);

/* Declares a parameter; the returned tensor gets its data at finalize.
 * `name` is copied. NULL when the arena is full. */
nn_tensor *nn_params_add(nn_params *p, const char *name, int ndim, const int *shape, nn_init init);

/* Allocates the flat buffers and fills every parameter from its nn_init,
 * in declaration order, drawing from `rng`. */
nn_status nn_params_finalize(nn_params *p, nn_rng *rng);

/* Sets every gradient to zero. */
void nn_params_zero_grad(nn_params *p);

/* The parameter with that name, or NULL. */
nn_tensor *nn_params_find(const nn_params *p, const char *name);

#endif
