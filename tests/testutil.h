/* Helpers shared by the test programs. */
#ifndef NN_TESTS_TESTUTIL_H
#define NN_TESTS_TESTUTIL_H

#include <stdint.h>

#include "autograd/gradcheck.h"
#include "core/arena.h"
#include "core/tensor.h"
#include "ops/ops.h"

/* A tensor in `a` filled with uniform values in [lo, hi) from `seed`. */
nn_tensor *tu_random(nn_arena *a, uint64_t seed, float lo, float hi, int ndim, const int *shape);

/* Values spaced at least `gap` apart (shuffled), for ops with kinks (max,
 * relu) where a finite difference must not cross a tie. */
nn_tensor *tu_distinct(nn_arena *a, uint64_t seed, float gap, int ndim, const int *shape);

/* 1 if |got - want| <= atol + rtol |want| everywhere; otherwise prints the
 * first differing values and the max difference under `what`, returns 0. */
int tu_close(const char *what, const float *got, const float *want, long n, double atol,
             double rtol);

/* Golden values from the .safetensors files in tests/golden/ (written by the PyTorch
 * scripts there). tu_golden_open aborts the test with a clear message if
 * the file is missing; tu_golden returns tensor `name` as malloc'd floats
 * (numel in *n), failing the test if it is absent. */
struct nn_safetensors;
struct nn_safetensors *tu_golden_open(const char *path);
float *tu_golden(const struct nn_safetensors *f, const char *name, long *n);

/* Golden tensor `name` as a tensor in arena `a`. */
nn_tensor *tu_golden_tensor(nn_arena *a, const struct nn_safetensors *g, const char *name);

/* tu_close of got[0..n) against golden tensor `name`, which must have n
 * values; the max absolute difference is folded into *max_diff. */
int tu_golden_compare(const struct nn_safetensors *g, const char *name, const float *got, long n,
                      double atol, double rtol, double *max_diff);

/* 1 if y has golden tensor `name`'s shape (the writer stores a 0-d tensor
 * as (1), which matches a 0-d y). */
int tu_golden_same_shape(const struct nn_safetensors *g, const char *name, const nn_tensor *y);

/* Runs a shell command and returns its output (malloc'd) and exit status. */
char *tu_run(const char *cmd, int *status);

/* Fills t in place with the values tu_random (tu_distinct) would give a new
 * tensor of its shape for the same arguments. */
void tu_fill_uniform(nn_tensor *t, uint64_t seed, float lo, float hi);
void tu_fill_distinct(nn_tensor *t, uint64_t seed, float gap);

/* A malloc'd copy of src[0..n), to keep an output past its step arena. */
float *tu_copy_floats(const float *src, int64_t n);

/* Fails the test unless every op id from first to last is one of ops[0..n),
 * naming the op and `file`, the test that should cover it. */
void tu_assert_ops_tested(const char *file, nn_op_id first, nn_op_id last, const nn_op_id *ops,
                          int n);

/* ---- CPU levels ---- */

/* Runs fn(in, ctx) forward and backward (a fixed random dy; inputs with
 * requires_grad get gradients) at the scalar level and at every other CPU
 * level this binary and CPU have (core/cpu.h), and checks that each level's
 * output and input gradients equal the scalar level's bit for bit (NaNs
 * included). Prints one line naming the levels compared; restores the
 * level in use. Fails the test on any difference, showing the first. */
void tu_levels_agree(const char *what, nn_gradcheck_fn fn, nn_tensor **in, int n, void *ctx,
                     int training);

/* ---- Case specs ---- */

/* Takes one key=value pair of a spec into `args`; 0 if it does not know the key. */
typedef int (*tu_spec_set_fn)(const char *key, const char *value, void *args);

/* Parses a golden case's spec "<kind> key=value key=value ...": *kind gets
 * the index of the first word in names[0..n), then set() takes each pair.
 * Returns 1 if the spec is well formed; 0 if the kind is not in names, a
 * word has no '=' or set() refused a key. */
int tu_spec_parse(const char *spec, const char *const *names, int n, int *kind, tu_spec_set_fn set,
                  void *args);

/* Appends the integers of a list "0,-2,3" to list[*n..max), *n counting. */
void tu_spec_ints(const char *value, int *list, int *n, int max);

/* ---- Op tests against a golden file ----
 *
 * A golden file from tests/golden/ lists its case names in the `cases`
 * metadata; case <name> has a spec in `case.<name>` and tensors
 * `<name>.<what>`: the inputs, `y`, the upstream gradient `dy` and the input
 * gradients `d<input>`. An op test walks the cases, parses each spec, runs
 * its op on the golden inputs and then a gradient check:
 *
 *     tu_cases c;
 *     tu_cases_open(&c, GOLDEN, &arena);
 *     while (tu_cases_next(&c)) {
 *         parse c.spec, skip the cases of other ops;
 *         tu_cases_inputs(&c, in, n, names);
 *         y = tu_cases_forward(&c, call_op, in, &args, 1);
 *         tu_cases_compare_y(&c, y, atol, rtol);
 *         tu_cases_backward(&c, y, in, n, names, atol, rtol);
 *         tu_cases_gradcheck(&c, call_op, in, n, &args, fill, eps, atol, rtol);
 *         tu_cases_print(&c);
 *     }
 *     tu_cases_close(&c, "op name");
 *
 * A golden mismatch or a failed gradient check prints what differs (the
 * case, the tensor, the first differing values and the max difference) and
 * marks the walk failed, so every case runs and reports; tu_cases_close
 * then fails the test. Broken files, missing tensors and ops that return
 * NULL fail the test at once. */
typedef struct tu_cases {
    struct nn_safetensors *g;   /* the golden file */
    nn_arena *arena;            /* the caller's: reset at every case, holds its tensors */
    const char *name;           /* the current case */
    const char *spec;           /* its `case.<name>` metadata */
    int n;                      /* cases run so far (tu_cases_forward counts them) */
    int ok;                     /* 0 once a comparison or gradient check failed */
    double diff;                /* the current case's max |difference| from the golden values */
    nn_gradcheck_result grad;   /* the current case's gradient check (zeros if none) */
    double golden_max, grad_abs, grad_rel;  /* over all cases */
    int n_gradchecks;
    int width;                  /* the longest case name, to align the report */
    /* private */
    nn_arena step;
    nn_tape tape;
    int stepping;
    char *names, *save, key[128];
} tu_cases;

/* Opens golden file `path` (failing the test if it is missing or has no
 * `cases`) and starts before its first case. */
void tu_cases_open(tu_cases *c, const char *path, nn_arena *arena);

/* Moves to the next case: sets name and spec (failing the test if the spec
 * is missing), resets the arena, diff and grad. 0 after the last case. */
int tu_cases_next(tu_cases *c);

/* "<name>.<what>" for the current case, valid until the next call. */
const char *tu_cases_key(tu_cases *c, const char *what);

/* 1 if the current case has tensor `what`. */
int tu_cases_has(tu_cases *c, const char *what);

/* The current case's tensor `what` in the arena (failing the test if absent). */
nn_tensor *tu_cases_tensor(tu_cases *c, const char *what);

/* Tensor `what` as int32 values (indices, segment ids) in the arena, at
 * least one element; the float tensor, for its shape, in *f if f is set. */
int32_t *tu_cases_ints(tu_cases *c, const char *what, nn_tensor **f);

/* Tensor `what` as a 0/1 mask in the arena, or NULL if the case has none. */
uint8_t *tu_cases_mask(tu_cases *c, const char *what);

/* Loads inputs in[0..n) from tensors names[i] ("x0", "x1", ... if names is
 * NULL), each with requires_grad set. */
void tu_cases_inputs(tu_cases *c, nn_tensor **in, int n, const char *const *names);

/* Counts the case and runs fn(in, ctx) on a recording tape (train-mode ops
 * if `training`) over a step arena of its own, which tu_cases_backward ends.
 * Fails the test, naming the case, if fn returns NULL. */
nn_tensor *tu_cases_forward(tu_cases *c, nn_gradcheck_fn fn, nn_tensor **in, void *ctx,
                            int training);

/* Compares got[0..n) with the case's tensor `what` (tu_golden_compare):
 * the max difference goes into diff, a mismatch is printed and clears ok. */
void tu_cases_compare(tu_cases *c, const char *what, const float *got, long n, double atol,
                      double rtol);

/* Asserts y has the shape of the case's `y` (tu_golden_same_shape), then
 * compares its values. */
void tu_cases_compare_y(tu_cases *c, const nn_tensor *y, double atol, double rtol);

/* Backpropagates the case's `dy` (asserting it has y's size) from y and
 * compares each in[i]->grad with `d<names[i]>` ("dx0", ... if names is
 * NULL); then ends the step and clears the grads, which lived in it. */
void tu_cases_backward(tu_cases *c, nn_tensor *y, nn_tensor **in, int n,
                       const char *const *names, double atol, double rtol);

/* How a gradient check gets input i from a copy of the golden one: `fill`
 * overwrites it in place (case_no is c->n, for seeds). */
typedef void (*tu_fill_fn)(nn_tensor *x, int i, int case_no, const void *ctx);

/* Fresh values for a gradient check: uniform in [-2, 2), seed
 * 100 + 10 * case_no + i. A tu_fill_fn. */
void tu_fill_case_uniform(nn_tensor *x, int i, int case_no, const void *ctx);

/* nn_gradcheck of fn (ctx) on copies of in[0..n) in the arena (same shapes;
 * the same values, or those `fill` puts in). Sets grad, folds its errors into
 * the totals; a failure is printed under the case's name and clears ok.
 * Asserts that some elements were checked. */
void tu_cases_gradcheck(tu_cases *c, nn_gradcheck_fn fn, nn_tensor **in, int n, void *ctx,
                        tu_fill_fn fill, double eps, double atol, double rtol);

/* Prints the current case's line: max difference from the golden values,
 * then the gradient check's elements and errors. */
void tu_cases_print(const tu_cases *c);

/* Closes the file, prints the totals under `label` and fails the test if no
 * case ran or any failed. */
void tu_cases_close(tu_cases *c, const char *label);

/* Checks every state_dict entry of p against keys_file (tests/golden/
 * <model>_keys.txt: "key dim dim ..." lines in order and a "# params N"
 * line, written by the torchvision_*keys.py scripts): key and shape of
 * each, the entry count and the trainable count. Returns the number of
 * mismatches, the first few printed under `name`. */
struct nn_params;
int tu_compare_state_dict(const char *keys_file, const char *name, const struct nn_params *p);

#endif
