/* L-BFGS, iteration for iteration as torch.optim.LBFGS: a closure-based
 * optimizer that evaluates the loss several times per step, for problems
 * whose data fits in one batch (full-batch training, e.g. small graphs).
 * It does not use the nn_optimizer_def table: its step needs the closure.
 *
 * Memory: 2 (history_size + 1) + 2 floats per parameter for the history and
 * direction, plus 6 per parameter with the strong Wolfe line search; all
 * taken from the parameters' persistent arena at init. Dot products are
 * summed in a fixed order (nn_optim_dot), so results do not depend on the
 * thread count. */
#ifndef NN_OPTIM_LBFGS_H
#define NN_OPTIM_LBFGS_H

#include "nn/params.h"

/* Gradients the strong Wolfe search keeps at once. */
#define NN_LBFGS_POOL 5

typedef enum { NN_LBFGS_NO_LINE_SEARCH, NN_LBFGS_STRONG_WOLFE } nn_lbfgs_line_search;

/* torch.optim.LBFGS's arguments; nn_lbfgs_defaults() gives its defaults. */
typedef struct nn_lbfgs_options {
    double lr;                 /* 1 */
    int max_iter;              /* 20: iterations per step */
    int max_eval;              /* 0: max_iter * 5 / 4; closure calls per step */
    double tolerance_grad;     /* 1e-7: stop when max |grad| is below */
    double tolerance_change;   /* 1e-9: stop when the loss or step changes less */
    int history_size;          /* 100 */
    nn_lbfgs_line_search line_search_fn;  /* none, or "strong_wolfe" */
} nn_lbfgs_options;

nn_lbfgs_options nn_lbfgs_defaults(void);

typedef struct nn_lbfgs {
    nn_lbfgs_options opt;
    nn_params *params;
    float *d;                  /* search direction */
    float *prev_grad;          /* flat gradient at the previous iteration */
    float *dirs, *stps;        /* history of y (gradient change) and s (step): a ring
                                * of history_size + 1 rows of params->total floats */
    float *ro;                 /* 1 / (y . s) per row */
    float *al;                 /* scratch, one per row */
    float *x0;                 /* strong Wolfe: the parameters at the search's start */
    float *pool[NN_LBFGS_POOL];  /* strong Wolfe: gradients at the points tried */
    const float *flat_grad;    /* the current gradient: params->grads or a pool row */
    int first, count;          /* ring rows first .. first + count - 1 (mod size) */
    double t;                  /* the last step length */
    float h_diag;              /* scale of the initial inverse Hessian */
    double prev_loss;
    int64_t n_iter;            /* iterations over all steps */
    int64_t func_evals;        /* closure calls over all steps */
} nn_lbfgs;

/* Evaluates the loss at params->values into *loss and adds its gradient into
 * params->grads (zeroed before each call). A status other than NN_OK stops
 * the step and is returned. */
typedef nn_status (*nn_lbfgs_closure)(void *ctx, float *loss);

/* Sets up `s` for `params` (which must outlive it); NN_ERR_RUNTIME with the
 * arena's message when memory runs out. */
nn_status nn_lbfgs_init(nn_lbfgs *s, nn_params *params, const nn_lbfgs_options *opt);

/* One torch.optim.LBFGS.step(closure): up to max_iter iterations, updating
 * params->values. *loss gets the loss at the starting point (what PyTorch's
 * step returns). */
nn_status nn_lbfgs_step(nn_lbfgs *s, nn_lbfgs_closure closure, void *ctx, float *loss);

#endif
