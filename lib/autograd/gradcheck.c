#include "autograd/gradcheck.h"

#include <math.h>
#include <string.h>

#include "core/rng.h"

/* L = sum(y * r) of one forward pass without recording. */
static nn_status eval_loss(nn_gradcheck_fn fn, nn_tensor **inputs, void *ctx, nn_arena *arena,
                           const float *r, double *out)
{
    nn_arena_reset(arena);
    nn_tape t;
    nn_tape_init(&t, arena, 0, 1);
    nn_tensor *y = fn(&t, inputs, ctx);
    if (!y) return NN_ERR_RUNTIME;
    double sum = 0.0;
    for (int64_t i = 0; i < y->numel; i++) sum += (double)y->data[i] * r[i];
    *out = sum;
    return NN_OK;
}

nn_status nn_gradcheck(nn_gradcheck_fn fn, nn_tensor **inputs, int n, void *ctx, double eps,
                       double atol, double rtol, nn_gradcheck_result *res)
{
    memset(res, 0, sizeof *res);
    res->worst_input = -1;
    nn_arena arena;
    nn_arena_init(&arena, "gradcheck", 0);
    nn_status st = NN_OK;
    float *r = NULL, **analytic = calloc((size_t)n, sizeof *analytic);

    /* Analytic gradients, seeded with a fixed random r. */
    nn_tape t;
    nn_tape_init(&t, &arena, 1, 1);
    for (int i = 0; i < n; i++) inputs[i]->grad = NULL;
    nn_tensor *y = fn(&t, inputs, ctx);
    if (!y || !analytic) {
        st = NN_ERR_RUNTIME;
        goto out;
    }
    r = malloc(sizeof(float) * (size_t)y->numel);
    nn_rng rng;
    nn_rng_seed(&rng, 1234, 7);
    for (int64_t i = 0; i < y->numel; i++) r[i] = 2.0f * nn_rng_uniform(&rng) - 1.0f;
    if ((st = nn_tape_backward_from(&t, y, r)) != NN_OK) goto out;
    for (int i = 0; i < n; i++) {
        if (!inputs[i]->requires_grad) continue;
        analytic[i] = malloc(sizeof(float) * (size_t)inputs[i]->numel);
        memcpy(analytic[i], inputs[i]->grad, sizeof(float) * (size_t)inputs[i]->numel);
        inputs[i]->grad = NULL;
    }

    double worst_excess = 0.0;
    for (int i = 0; i < n; i++) {
        if (!analytic[i]) continue;
        float *x = inputs[i]->data;
        for (int64_t j = 0; j < inputs[i]->numel; j++) {
            float saved = x[j];
            double lp, lm;
            x[j] = saved + (float)eps;
            st = eval_loss(fn, inputs, ctx, &arena, r, &lp);
            x[j] = saved - (float)eps;
            if (st == NN_OK) st = eval_loss(fn, inputs, ctx, &arena, r, &lm);
            x[j] = saved;
            if (st != NN_OK) goto out;
            /* Divide by the step actually taken after float rounding. */
            double h = (double)(saved + (float)eps) - (double)(saved - (float)eps);
            double num = (lp - lm) / h, ana = analytic[i][j];
            double err = fabs(ana - num), scale = fmax(fabs(ana), fabs(num));
            double rel = err / fmax(scale, 1e-3);
            res->checked++;
            if (err > res->max_abs_err) res->max_abs_err = err;
            if (rel > res->max_rel_err) res->max_rel_err = rel;
            double excess = err - (atol + rtol * scale);
            if (excess > 0) res->failures++;
            if (excess > worst_excess || res->worst_input < 0) {
                if (excess > worst_excess) worst_excess = excess;
                res->worst_input = i;
                res->worst_index = (long)j;
                res->worst_analytic = ana;
                res->worst_numeric = num;
            }
        }
    }
    if (res->failures)
        st = nn_error(NN_ERR_RUNTIME,
                      "gradcheck: %d of %ld elements off; worst: input %d element %ld analytic %.6g numeric %.6g",
                      res->failures, res->checked, res->worst_input, res->worst_index,
                      res->worst_analytic, res->worst_numeric);
out:
    for (int i = 0; i < n; i++) {
        inputs[i]->grad = NULL;
        if (analytic) free(analytic[i]);
    }
    free(analytic);
    free(r);
    nn_arena_deinit(&arena);
    return st;
}
