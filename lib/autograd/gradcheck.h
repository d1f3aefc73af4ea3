/* Finite-difference gradient checking, the one harness every op test uses.
 *
 * `fn` computes some tensor y from the inputs on the given tape. The checker
 * takes L = sum(y * r) for a fixed random r, gets dL/dinput by backward, and
 * compares it element by element with the central difference
 * (L(x + eps) - L(x - eps)) / (2 eps), summed in double. */
#ifndef NN_AUTOGRAD_GRADCHECK_H
#define NN_AUTOGRAD_GRADCHECK_H

#include "autograd/tape.h"

typedef nn_tensor *(*nn_gradcheck_fn)(nn_tape *t, nn_tensor **inputs, void *ctx);

typedef struct nn_gradcheck_result {
    double max_abs_err;     /* max |analytic - numeric| */
    double max_rel_err;     /* max |analytic - numeric| / max(|analytic|, |numeric|, 1e-3) */
    int worst_input;        /* where the tolerance was exceeded most */
    long worst_index;
    double worst_analytic, worst_numeric;
    int failures;           /* elements with |a - n| > atol + rtol * max(|a|, |n|) */
    long checked;           /* elements compared */
} nn_gradcheck_result;

/* Checks the gradient of every input with requires_grad set. The inputs'
 * data must outlive the call; their grad pointers are left NULL. Returns
 * NN_OK when all elements are within tolerance; otherwise NN_ERR_RUNTIME with
 * a message naming the worst element. `res` is filled either way. */
nn_status nn_gradcheck(nn_gradcheck_fn fn, nn_tensor **inputs, int n, void *ctx, double eps,
                       double atol, double rtol, nn_gradcheck_result *res);

#endif
