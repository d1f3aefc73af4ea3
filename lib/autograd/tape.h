/* The define-by-run tape.
 *
 * Every op called with a tape that records appends one node: the op, its
 * inputs, its output and whatever its forward saved for the backward (in the
 * step arena). nn_tape_backward() walks the nodes newest first and calls
 * each op's backward, which accumulates (+=) into its inputs' gradients; so
 * a tensor used twice (a residual, a shared embedding) gets both parts.
 *
 * Ops do not know the tape's owner: they see only this header and record a
 * pointer to their nn_op_def (name + backward), which lib/ops keeps in a
 * table indexed by an append-only enum. */
#ifndef NN_AUTOGRAD_TAPE_H
#define NN_AUTOGRAD_TAPE_H

#include "core/arena.h"
#include "core/tensor.h"

#define NN_NODE_MAX_INPUTS 4

struct nn_node;
struct nn_tape;

typedef struct nn_op_def {
    const char *name;
    /* Adds the gradient of node->out into the grad of each input that
     * requires one (those grads exist before the call). Scratch comes from
     * t->arena; fails only when that is full. */
    nn_status (*backward)(struct nn_tape *t, const struct nn_node *node);
} nn_op_def;

typedef struct nn_node {
    const nn_op_def *op;
    nn_tensor *out;
    nn_tensor *in[NN_NODE_MAX_INPUTS];
    int n_in;
    void *saved;              /* op-specific, in the step arena */
    struct nn_node *prev;     /* the node recorded before this one */
} nn_node;

/* Time spent per op, summed over the steps a profile is attached to. An
 * op's forward time is the time since the previous op was recorded, so it
 * includes the model's own code between ops. */
#define NN_PROFILE_MAX_OPS 64
typedef struct nn_profile {
    const nn_op_def *op[NN_PROFILE_MAX_OPS];
    double forward[NN_PROFILE_MAX_OPS], backward[NN_PROFILE_MAX_OPS];
    long calls[NN_PROFILE_MAX_OPS];
    int n;
    double mark;              /* when the last op was recorded */
} nn_profile;

typedef struct nn_tape {
    nn_arena *arena;          /* the step arena: activations, saved state, nodes */
    nn_node *last;            /* newest node; the list runs back through prev */
    int n_nodes;
    int recording;            /* 0: forward only (evaluation), no nodes, no grads */
    int training;             /* train-mode behaviour of ops like dropout */
    uint64_t seed;            /* this step's base for stochastic ops (nn_tape_next_seed) */
    uint64_t seeds_drawn;
    nn_profile *profile;      /* NULL, or where to add op timings */
} nn_tape;

/* Attaches a profile to a fresh tape and starts its forward clock. */
void nn_tape_profile(nn_tape *t, nn_profile *p);

/* Adds time to the row of `op` (also for work that is not an op, such as
 * the optimizer, given a row of its own). */
void nn_profile_add(nn_profile *p, const nn_op_def *op, double forward, double backward);

/* Starts an empty tape over `arena` (the caller resets the arena). */
void nn_tape_init(nn_tape *t, nn_arena *arena, int recording, int training);

/* A fresh 64-bit seed for the next stochastic op of this step (a dropout
 * layer), a hash of (t->seed, how many were drawn before). The trainer sets
 * t->seed from its RNG each step, so a resumed run draws the same seeds and
 * the masks do not depend on thread count. */
uint64_t nn_tape_next_seed(nn_tape *t);

/* Makes the output tensor of an op: shape `shape`, data from the step arena,
 * requires_grad when the tape records and any of the n inputs requires grad.
 * Returns NULL (message set) when out of memory. */
nn_tensor *nn_tape_output(nn_tape *t, int ndim, const int *shape, nn_tensor *const *in, int n);

/* Records node `op` for `out` (a tensor from nn_tape_output) when out
 * requires grad; `saved` is op-private state. Returns 0, or -1 when the
 * arena is full (message set). */
int nn_tape_record(nn_tape *t, const nn_op_def *op, nn_tensor *out, nn_tensor *const *in, int n,
                   void *saved);

/* Backpropagates from the scalar `loss` (gradient 1). Gradients of
 * intermediate tensors are made zeroed in the step arena as needed;
 * parameters accumulate into their own grad buffers. */
nn_status nn_tape_backward(nn_tape *t, nn_tensor *loss);

/* As nn_tape_backward from any tensor `y`, seeded with gradient `dy` (y's
 * shape); used by the gradient checker. */
nn_status nn_tape_backward_from(nn_tape *t, nn_tensor *y, const float *dy);

#endif
