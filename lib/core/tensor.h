/* float32 tensors: contiguous, row-major, PyTorch layouts (NCHW).
 *
 * A tensor does not own its memory: `data` and `grad` point into an arena
 * (the step arena for activations, the flat parameter buffers for
 * parameters). `node` links an activation to the tape entry that made it. */
#ifndef NN_CORE_TENSOR_H
#define NN_CORE_TENSOR_H

#include <stdint.h>

#include "core/arena.h"

#define NN_MAX_DIMS 5

struct nn_node;

typedef struct nn_tensor {
    float *data;
    float *grad;              /* NULL until backward needs it (or for no-grad tensors) */
    int64_t numel;
    int ndim;
    int shape[NN_MAX_DIMS];
    int requires_grad;        /* a parameter, or computed from one */
    struct nn_node *node;     /* the op that produced it, NULL for leaves */
    const char *name;         /* parameters: the state_dict key; else NULL */
} nn_tensor;

/* Product of shape[0..ndim). */
int64_t nn_shape_numel(int ndim, const int *shape);

/* Makes a tensor header and uninitialized data in `a`; NULL (message set) when
 * the arena is out of room. */
nn_tensor *nn_tensor_new(nn_arena *a, int ndim, const int *shape);

/* Makes a tensor header in `a` that views existing memory. */
nn_tensor *nn_tensor_view(nn_arena *a, float *data, int ndim, const int *shape);

/* Same shape? */
int nn_tensor_same_shape(const nn_tensor *x, const nn_tensor *y);

/* Writes "(2, 3, 4)" into buf; returns buf. */
char *nn_shape_str(char *buf, size_t size, int ndim, const int *shape);

/* Shape literal helper: NN_SHAPE(2, 3) -> (const int[]){2, 3}, 2 */
#define NN_SHAPE(...) (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}

#endif
