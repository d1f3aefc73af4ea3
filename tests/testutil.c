#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/cpu.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "nn/params.h"

#include <check.h>

void tu_fill_uniform(nn_tensor *t, uint64_t seed, float lo, float hi)
{
    nn_rng r;
    nn_rng_seed(&r, seed, 1);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = lo + (hi - lo) * nn_rng_uniform(&r);
}

nn_tensor *tu_random(nn_arena *a, uint64_t seed, float lo, float hi, int ndim, const int *shape)
{
    nn_tensor *t = nn_tensor_new(a, ndim, shape);
    tu_fill_uniform(t, seed, lo, hi);
    return t;
}

nn_tensor *tu_distinct(nn_arena *a, uint64_t seed, float gap, int ndim, const int *shape)
{
    nn_tensor *t = nn_tensor_new(a, ndim, shape);
    tu_fill_distinct(t, seed, gap);
    return t;
}

void tu_fill_distinct(nn_tensor *t, uint64_t seed, float gap)
{
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)(t->numel > 0 ? t->numel : 1));
    for (int64_t i = 0; i < t->numel; i++) idx[i] = (int32_t)i;
    nn_rng r;
    nn_rng_seed(&r, seed, 2);
    nn_rng_shuffle(&r, idx, t->numel);
    /* Centered on 0, half positive half negative, none within gap/2 of 0. */
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = ((float)idx[i] - (float)t->numel / 2.0f + 0.5f) * gap;
    free(idx);
}

float *tu_copy_floats(const float *src, int64_t n)
{
    float *d = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (n > 0) memcpy(d, src, sizeof(float) * (size_t)n);
    return d;
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

void tu_assert_ops_tested(const char *file, nn_op_id first, nn_op_id last, const nn_op_id *ops,
                          int n)
{
    for (int id = (int)first; id <= (int)last; id++) {
        int found = 0;
        for (int i = 0; i < n; i++) found |= (int)ops[i] == id;
        ck_assert_msg(found, "op %s has no golden test in %s", nn_op_defs[id].name, file);
    }
}

/* ---- case specs ---- */

int tu_spec_parse(const char *spec, const char *const *names, int n, int *kind, tu_spec_set_fn set,
                  void *args)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", spec);
    const char *word = strtok_r(buf, " ", &save);
    *kind = -1;
    for (int i = 0; word && i < n && *kind < 0; i++)
        if (strcmp(word, names[i]) == 0) *kind = i;
    if (*kind < 0) return 0;
    char *pair;
    while ((pair = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(pair, '=');
        if (!eq) return 0;
        *eq = '\0';
        if (!set(pair, eq + 1, args)) return 0;
    }
    return 1;
}

void tu_spec_ints(const char *value, int *list, int *n, int max)
{
    for (char *s = (char *)value; *s && *n < max;) {
        list[(*n)++] = (int)strtol(s, &s, 10);
        if (*s == ',') s++;
    }
}

/* ---- op tests against a golden file ---- */

void tu_cases_open(tu_cases *c, const char *path, nn_arena *arena)
{
    memset(c, 0, sizeof *c);
    c->g = tu_golden_open(path);
    c->arena = arena;
    c->ok = 1;
    const char *list = nn_safetensors_meta(c->g, "cases");
    ck_assert_msg(list != NULL, "golden values: %s has no `cases` metadata", path);
    c->names = strdup(list);
    /* The longest name, so that the report's columns line up. */
    for (const char *p = list; *p; p += strspn(p, " ")) {
        size_t len = strcspn(p, " ");
        if ((int)len > c->width) c->width = (int)len;
        p += len;
    }
}

int tu_cases_next(tu_cases *c)
{
    c->name = c->save ? strtok_r(NULL, " ", &c->save) : strtok_r(c->names, " ", &c->save);
    if (!c->name) return 0;
    nn_arena_reset(c->arena);
    c->diff = 0.0;
    memset(&c->grad, 0, sizeof c->grad);
    char key[sizeof c->key];
    snprintf(key, sizeof key, "case.%s", c->name);
    c->spec = nn_safetensors_meta(c->g, key);
    ck_assert_msg(c->spec != NULL, "golden case %s: no spec `%s`", c->name, key);
    return 1;
}

const char *tu_cases_key(tu_cases *c, const char *what)
{
    int len = snprintf(c->key, sizeof c->key, "%s.%s", c->name, what);
    ck_assert_msg(len > 0 && (size_t)len < sizeof c->key, "golden key %s.%s is too long", c->name,
                  what);
    return c->key;
}

int tu_cases_has(tu_cases *c, const char *what)
{
    int ndim, shape[8];
    return nn_safetensors_shape(c->g, tu_cases_key(c, what), &ndim, shape) == 0;
}

nn_tensor *tu_cases_tensor(tu_cases *c, const char *what)
{
    return tu_golden_tensor(c->arena, c->g, tu_cases_key(c, what));
}

int32_t *tu_cases_ints(tu_cases *c, const char *what, nn_tensor **f)
{
    nn_tensor *x = tu_cases_tensor(c, what);
    int32_t *v = NN_ARENA_NEW(c->arena, int32_t, x->numel > 0 ? x->numel : 1);
    for (int64_t i = 0; i < x->numel; i++) v[i] = (int32_t)x->data[i];
    if (f) *f = x;
    return v;
}

uint8_t *tu_cases_mask(tu_cases *c, const char *what)
{
    if (!tu_cases_has(c, what)) return NULL;
    nn_tensor *x = tu_cases_tensor(c, what);
    uint8_t *m = NN_ARENA_NEW(c->arena, uint8_t, x->numel > 0 ? x->numel : 1);
    for (int64_t i = 0; i < x->numel; i++) m[i] = x->data[i] != 0.0f;
    return m;
}

/* names[i], or "x<i>" when there are no names; `prefix` goes in front. */
static const char *input_name(char *buf, size_t size, const char *prefix,
                              const char *const *names, int i)
{
    if (names) snprintf(buf, size, "%s%s", prefix, names[i]);
    else snprintf(buf, size, "%sx%d", prefix, i);
    return buf;
}

void tu_cases_inputs(tu_cases *c, nn_tensor **in, int n, const char *const *names)
{
    char what[64];
    for (int i = 0; i < n; i++) {
        in[i] = tu_cases_tensor(c, input_name(what, sizeof what, "", names, i));
        in[i]->requires_grad = 1;
    }
}

nn_tensor *tu_cases_forward(tu_cases *c, nn_gradcheck_fn fn, nn_tensor **in, void *ctx,
                            int training)
{
    ck_assert_msg(!c->stepping, "%s: tu_cases_forward twice without tu_cases_backward", c->name);
    c->n++;
    nn_arena_init(&c->step, "step", 0);
    c->stepping = 1;
    nn_tape_init(&c->tape, &c->step, 1, training);
    nn_tensor *y = fn(&c->tape, in, ctx);
    ck_assert_msg(y != NULL, "%s: %s", c->name, nn_error_message());
    return y;
}

void tu_cases_compare(tu_cases *c, const char *what, const float *got, long n, double atol,
                      double rtol)
{
    c->ok &= tu_golden_compare(c->g, tu_cases_key(c, what), got, n, atol, rtol, &c->diff);
    c->golden_max = fmax(c->golden_max, c->diff);
}

void tu_cases_compare_y(tu_cases *c, const nn_tensor *y, double atol, double rtol)
{
    ck_assert_msg(tu_golden_same_shape(c->g, tu_cases_key(c, "y"), y),
                  "%s: output shape differs from PyTorch's", c->name);
    tu_cases_compare(c, "y", y->data, (long)y->numel, atol, rtol);
}

void tu_cases_backward(tu_cases *c, nn_tensor *y, nn_tensor **in, int n,
                       const char *const *names, double atol, double rtol)
{
    ck_assert_msg(c->stepping, "%s: tu_cases_backward without tu_cases_forward", c->name);
    nn_tensor *dy = tu_cases_tensor(c, "dy");
    ck_assert_msg(dy->numel == y->numel, "%s: dy has %lld values, y %lld", c->name,
                  (long long)dy->numel, (long long)y->numel);
    ck_assert_msg(nn_tape_backward_from(&c->tape, y, dy->data) == NN_OK, "%s: backward: %s", c->name,
                  nn_error_message());
    char what[64];
    for (int i = 0; i < n; i++)
        tu_cases_compare(c, input_name(what, sizeof what, "d", names, i), in[i]->grad,
                         (long)in[i]->numel, atol, rtol);
    for (int i = 0; i < n; i++) in[i]->grad = NULL;
    nn_arena_deinit(&c->step);
    c->stepping = 0;
}

void tu_fill_case_uniform(nn_tensor *x, int i, int case_no, const void *ctx)
{
    (void)ctx;
    tu_fill_uniform(x, 100 + 10 * (uint64_t)case_no + (uint64_t)i, -2, 2);
}

void tu_cases_gradcheck(tu_cases *c, nn_gradcheck_fn fn, nn_tensor **in, int n, void *ctx,
                        tu_fill_fn fill, double eps, double atol, double rtol)
{
    enum { MAX_INPUTS = 8 };
    ck_assert_int_le(n, MAX_INPUTS);
    nn_tensor *copy[MAX_INPUTS];
    for (int i = 0; i < n; i++) {
        copy[i] = nn_tensor_new(c->arena, in[i]->ndim, in[i]->shape);
        if (in[i]->numel > 0)
            memcpy(copy[i]->data, in[i]->data, sizeof(float) * (size_t)in[i]->numel);
        if (fill) fill(copy[i], i, c->n, ctx);
        copy[i]->requires_grad = 1;
    }
    if (nn_gradcheck(fn, copy, n, ctx, eps, atol, rtol, &c->grad) != NN_OK) {
        fprintf(stderr, "%s: %s\n", c->name, nn_error_message());
        c->ok = 0;
    }
    ck_assert_msg(c->grad.checked > 0, "%s: the gradient check compared no elements", c->name);
    c->grad_abs = fmax(c->grad_abs, c->grad.max_abs_err);
    c->grad_rel = fmax(c->grad_rel, c->grad.max_rel_err);
    c->n_gradchecks++;
}

void tu_cases_print(const tu_cases *c)
{
    printf("  %-*s torch max |diff| %.2e   gradcheck %4ld elements, max abs err %.2e, rel %.2e\n",
           c->width, c->name, c->diff, c->grad.checked, c->grad.max_abs_err, c->grad.max_rel_err);
}

void tu_cases_close(tu_cases *c, const char *label)
{
    if (c->stepping) nn_arena_deinit(&c->step);
    c->stepping = 0;
    free(c->names);
    c->names = NULL;
    c->name = c->spec = NULL;
    nn_safetensors_close(c->g);
    c->g = NULL;
    printf("%-20s %2d cases: max |diff| from torch %.2e", label, c->n, c->golden_max);
    if (c->n_gradchecks)
        printf(", gradcheck max abs err %.2e, rel %.2e", c->grad_abs, c->grad_rel);
    printf("\n");
    ck_assert_msg(c->n > 0, "%s has no golden case", label);
    ck_assert_msg(c->ok, "%s: differs from PyTorch%s (see above)", label,
                  c->n_gradchecks ? " or from finite differences" : "");
}

int tu_compare_state_dict(const char *keys_file, const char *name, const struct nn_params *p)
{
    char line[512];
    FILE *f = fopen(keys_file, "r");
    ck_assert_msg(f != NULL, "cannot open %s (written by the torchvision_*keys.py scripts in tests/golden/)",
                  keys_file);
    int i = 0, bad = 0;
    long long params = -1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') {
            sscanf(line, "# params %lld", &params);
            continue;
        }
        char *save = NULL, *key = strtok_r(line, " \n", &save);
        if (!key) continue;
        int shape[NN_MAX_DIMS], ndim = 0;
        for (char *d; (d = strtok_r(NULL, " \n", &save));) {
            ck_assert_int_lt(ndim, NN_MAX_DIMS);
            shape[ndim++] = atoi(d);
        }
        if (i >= p->count) {
            if (bad++ < 5) printf("%s: missing entry %d `%s`\n", name, i, key);
            i++;
            continue;
        }
        const nn_tensor *x = p->items[i++];
        char got[64], want[64];
        nn_shape_str(got, sizeof got, x->ndim, x->shape);
        nn_shape_str(want, sizeof want, ndim, shape);
        if (strcmp(x->name, key) || strcmp(got, want))
            if (bad++ < 5)
                printf("%s: entry %d is `%s` %s, torch has `%s` %s\n", name, i - 1, x->name, got,
                       key, want);
    }
    fclose(f);
    if (i != p->count) {
        printf("%s: %d entries, torch has %d\n", name, p->count, i);
        bad++;
    }
    if (params != p->total) {
        printf("%s: %lld parameters, torch has %lld\n", name, (long long)p->total, params);
        bad++;
    }
    return bad;
}

/* One level's run of fn: the output and the input gradients, malloc'd. */
typedef struct level_run {
    float *y, *dx[8];
    long ny;
} level_run;

static level_run run_at_level(nn_gradcheck_fn fn, nn_tensor **in, int n, void *ctx, int training)
{
    level_run r = {0};
    nn_arena step;
    nn_arena_init(&step, "levels", 0);
    nn_tape tape;
    nn_tape_init(&tape, &step, 1, training);
    nn_tensor *y = fn(&tape, in, ctx);
    ck_assert_msg(y != NULL, "%s", nn_error_message());
    nn_tensor *dy = tu_random(&step, 4242, -1, 1, y->ndim, y->shape);
    ck_assert_msg(nn_tape_backward_from(&tape, y, dy->data) == NN_OK, "backward: %s", nn_error_message());
    r.ny = (long)y->numel;
    r.y = tu_copy_floats(y->data, y->numel);
    for (int i = 0; i < n; i++) {
        r.dx[i] = in[i]->grad ? tu_copy_floats(in[i]->grad, in[i]->numel) : NULL;
        in[i]->grad = NULL;
    }
    nn_arena_deinit(&step);
    return r;
}

/* 1 if a[0..n) and b[0..n) hold the same bits; else prints the first
 * difference under `what` and returns 0. */
static int same_bits(const char *what, const char *level, const float *a, const float *b, long n)
{
    for (long i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float))) {
            printf("%s: %s differs from scalar at %ld: %.9g, scalar %.9g\n", what, level, i, b[i], a[i]);
            return 0;
        }
    return 1;
}

void tu_levels_agree(const char *what, nn_gradcheck_fn fn, nn_tensor **in, int n, void *ctx,
                     int training)
{
    ck_assert_int_le(n, 8);
    const nn_cpu_level was = nn_cpu_level_get();
    ck_assert_int_eq(nn_cpu_level_set(NN_CPU_SCALAR), 0);
    level_run ref = run_at_level(fn, in, n, ctx, training);
    char line[160];
    int len = snprintf(line, sizeof line, "levels %-32s scalar", what), ok = 1;
    for (int l = NN_CPU_SCALAR + 1; l <= (int)nn_cpu_level_best(); l++) {
        ck_assert_int_eq(nn_cpu_level_set((nn_cpu_level)l), 0);
        level_run got = run_at_level(fn, in, n, ctx, training);
        const char *name = nn_cpu_level_name((nn_cpu_level)l);
        ok &= got.ny == ref.ny && same_bits(what, name, ref.y, got.y, ref.ny);
        for (int i = 0; i < n; i++) {
            if (!ref.dx[i]) continue;
            ok &= got.dx[i] && same_bits(what, name, ref.dx[i], got.dx[i], (long)in[i]->numel);
            free(got.dx[i]);
        }
        free(got.y);
        len += snprintf(line + len, sizeof line - (size_t)len, " = %s", name);
    }
    for (int i = 0; i < n; i++) free(ref.dx[i]);
    free(ref.y);
    nn_cpu_level_set(was);
    printf("%s%s\n", line, nn_cpu_level_best() == NN_CPU_SCALAR ? " (no vector level here)" : "");
    ck_assert_msg(ok, "%s: a CPU level's results differ from the scalar level's", what);
}
