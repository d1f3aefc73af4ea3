#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/rng.h"
#include "io/safetensors.h"

#include <check.h>

nn_tensor *tu_random(nn_arena *a, uint64_t seed, float lo, float hi, int ndim, const int *shape)
{
    nn_tensor *t = nn_tensor_new(a, ndim, shape);
    nn_rng r;
    nn_rng_seed(&r, seed, 1);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = lo + (hi - lo) * nn_rng_uniform(&r);
    return t;
}

nn_tensor *tu_distinct(nn_arena *a, uint64_t seed, float gap, int ndim, const int *shape)
{
    nn_tensor *t = nn_tensor_new(a, ndim, shape);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)t->numel);
    for (int64_t i = 0; i < t->numel; i++) idx[i] = (int32_t)i;
    nn_rng r;
    nn_rng_seed(&r, seed, 2);
    nn_rng_shuffle(&r, idx, t->numel);
    /* Centered on 0, half positive half negative, none within gap/2 of 0. */
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = ((float)idx[i] - (float)t->numel / 2.0f + 0.5f) * gap;
    free(idx);
    return t;
}

int tu_close(const char *what, const float *got, const float *want, long n, double atol,
             double rtol)
{
    long bad = 0, first = -1;
    double max_diff = 0.0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > max_diff || d != d) max_diff = d;
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            if (first < 0) first = i;
            bad++;
        }
    }
    if (!bad) return 1;
    fprintf(stderr, "%s: %ld of %ld values differ, max difference %.3g; first at [%ld]:", what, bad,
            n, max_diff, first);
    for (long i = first; i < n && i < first + 4; i++)
        fprintf(stderr, " got %.8g want %.8g;", got[i], want[i]);
    fprintf(stderr, "\n");
    return 0;
}

char *tu_run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return buf;
}

struct nn_safetensors *tu_golden_open(const char *path)
{
    nn_safetensors *f = NULL;
    nn_status st = nn_safetensors_open(&f, path);
    ck_assert_msg(st == NN_OK, "golden values: %s (regenerate with the script in tests/golden/)",
                  nn_error_message());
    return f;
}

float *tu_golden(const struct nn_safetensors *f, const char *name, long *n)
{
    int ndim, shape[8];
    ck_assert_msg(nn_safetensors_shape(f, name, &ndim, shape) == 0, "golden values: no tensor `%s`", name);
    long count = nn_shape_numel(ndim, shape);
    float *data = malloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
    ck_assert_int_eq(nn_safetensors_read(f, name, ndim, shape, data), NN_OK);
    *n = count;
    return data;
}

nn_tensor *tu_golden_tensor(nn_arena *a, const struct nn_safetensors *g, const char *name)
{
    int ndim, shape[8];
    ck_assert_msg(nn_safetensors_shape(g, name, &ndim, shape) == 0, "golden values: no tensor `%s`", name);
    nn_tensor *x = nn_tensor_new(a, ndim, shape);
    ck_assert_int_eq(nn_safetensors_read(g, name, ndim, shape, x->data), NN_OK);
    return x;
}

int tu_golden_compare(const struct nn_safetensors *g, const char *name, const float *got, long n,
                      double atol, double rtol, double *max_diff)
{
    long want_n;
    float *want = tu_golden(g, name, &want_n);
    ck_assert_msg(want_n == n, "%s: %ld values in the golden file, %ld here", name, want_n, n);
    for (long i = 0; i < n; i++) *max_diff = fmax(*max_diff, fabs((double)got[i] - (double)want[i]));
    int ok = tu_close(name, got, want, n, atol, rtol);
    free(want);
    return ok;
}

int tu_golden_same_shape(const struct nn_safetensors *g, const char *name, const nn_tensor *y)
{
    int ndim, shape[8];
    ck_assert_int_eq(nn_safetensors_shape(g, name, &ndim, shape), 0);
    if (y->ndim == 0) return ndim == 1 && shape[0] == 1;
    if (ndim != y->ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (shape[d] != y->shape[d]) return 0;
    return 1;
}
