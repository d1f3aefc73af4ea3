/* Helpers shared by the test programs. */
#ifndef NN_TESTS_TESTUTIL_H
#define NN_TESTS_TESTUTIL_H

#include <stdint.h>

#include "core/arena.h"
#include "core/tensor.h"

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

#endif
