/* A port of torch/optim/lbfgs.py (PyTorch 1.13): the same iterations, the
 * same stopping tests, the same float32 roundings of the vectors and of
 * the scalars PyTorch keeps as float32 tensors (dot products, ro, H_diag);
 * the strong Wolfe line search works in double. */
#include "optim/lbfgs.h"

#include <math.h>
#include <string.h>

#include "optim/optimizer.h"

/* _strong_wolfe's constants, which LBFGS.step does not pass on. */
#define WOLFE_C1 1e-4
#define WOLFE_C2 0.9
#define WOLFE_TOLERANCE_CHANGE 1e-9
#define WOLFE_MAX_LS 25

nn_lbfgs_options nn_lbfgs_defaults(void)
{
    return (nn_lbfgs_options){
        .lr = 1.0,
        .max_iter = 20,
        .max_eval = 0,
        .tolerance_grad = 1e-7,
        .tolerance_change = 1e-9,
        .history_size = 100,
        .line_search_fn = NN_LBFGS_NO_LINE_SEARCH,
    };
}

nn_status nn_lbfgs_init(nn_lbfgs *s, nn_params *params, const nn_lbfgs_options *opt)
{
    NN_ASSERT(opt->max_iter >= 1 && opt->max_eval >= 0 && opt->history_size >= 1 && opt->lr >= 0.0);
    memset(s, 0, sizeof *s);
    s->opt = *opt;
    s->params = params;
    s->h_diag = 1.0f;
    const size_t n = (size_t)params->total, rows = (size_t)opt->history_size + 1;
    nn_arena *a = params->arena;
    s->d = NN_ARENA_NEW(a, float, n);
    s->prev_grad = NN_ARENA_NEW(a, float, n);
    s->dirs = NN_ARENA_NEW(a, float, rows * n);
    s->stps = NN_ARENA_NEW(a, float, rows * n);
    s->ro = NN_ARENA_NEW(a, float, rows);
    s->al = NN_ARENA_NEW(a, float, rows);
    if (!s->d || !s->prev_grad || !s->dirs || !s->stps || !s->ro || !s->al) return NN_ERR_RUNTIME;
    if (opt->line_search_fn == NN_LBFGS_STRONG_WOLFE) {
        if (!(s->x0 = NN_ARENA_NEW(a, float, n))) return NN_ERR_RUNTIME;
        for (int i = 0; i < NN_LBFGS_POOL; i++)
            if (!(s->pool[i] = NN_ARENA_NEW(a, float, n))) return NN_ERR_RUNTIME;
    }
    return NN_OK;
}

/* ---- vectors ---- */

static float dotf(const float *a, const float *b, int64_t n) { return (float)nn_optim_dot(a, b, n); }

static float abs_max(const float *a, int64_t n)
{
    float m = 0.0f;
    #pragma omp parallel for schedule(static) reduction(max : m) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) m = fabsf(a[i]) > m ? fabsf(a[i]) : m;
    return m;
}

/* max |float32(d * t)|, PyTorch's d.mul(t).abs().max(). */
static float abs_max_scaled(const float *d, float t, int64_t n)
{
    float m = 0.0f;
    #pragma omp parallel for schedule(static) reduction(max : m) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) m = fabsf(d[i] * t) > m ? fabsf(d[i] * t) : m;
    return m;
}

/* y = x + t * d (ATen's add with alpha is a fused multiply-add). */
static void axpy(float *y, float t, const float *d, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) y[i] = fmaf(t, d[i], x[i]);
}

static nn_status evaluate(nn_lbfgs *s, nn_lbfgs_closure closure, void *ctx, float *loss)
{
    nn_params_zero_grad(s->params);
    s->func_evals++;
    return closure(ctx, loss);
}

/* The search direction d = -H g by the two-loop recursion over the history. */
static void direction(nn_lbfgs *s, const float *g)
{
    const int64_t n = s->params->total;
    const int rows = s->opt.history_size + 1;
    float *d = s->d;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) d[i] = -g[i];
    for (int k = s->count - 1; k >= 0; k--) {
        const int64_t row = (s->first + k) % rows;
        s->al[k] = dotf(s->stps + row * n, d, n) * s->ro[row];
        axpy(d, -s->al[k], s->dirs + row * n, d, n);
    }
    const float h = s->h_diag;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) d[i] *= h;
    for (int k = 0; k < s->count; k++) {
        const int64_t row = (s->first + k) % rows;
        const float be = dotf(s->dirs + row * n, d, n) * s->ro[row];
        axpy(d, s->al[k] - be, s->stps + row * n, d, n);
    }
}

/* Adds y = g - prev_grad and s = t * d to the history when y . s > 1e-10
 * (dropping the oldest pair when full), and rescales H_diag. */
static void update_history(nn_lbfgs *s, const float *g)
{
    const int64_t n = s->params->total;
    const int rows = s->opt.history_size + 1;
    /* The ring has one row more than the history, so the new pair can be
     * written before it is known whether it is kept. */
    const int64_t row = (s->first + s->count) % rows;
    float *y = s->dirs + row * n, *st = s->stps + row * n;
    const float t = (float)s->t, *prev = s->prev_grad, *d = s->d;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        y[i] = g[i] - prev[i];
        st[i] = d[i] * t;
    }
    const float ys = dotf(y, st, n);
    if (!(ys > 1e-10f)) return;
    if (s->count == s->opt.history_size) {
        s->first = (s->first + 1) % rows;
        s->count--;
    }
    s->count++;
    s->ro[row] = 1.0f / ys;
    s->h_diag = ys / dotf(y, y, n);
}

/* ---- strong Wolfe line search ---- */

/* Minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), within
 * [lo, hi]; the midpoint when the cubic has no minimum. Python's min and max,
 * whose results with NaN depend on the argument order, are kept as written. */
static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                                double lo, double hi)
{
    const double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    const double d2_square = d1 * d1 - g1 * g2;
    if (!(d2_square >= 0.0)) return (lo + hi) / 2.0;
    const double d2 = sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
    const double above = lo > min_pos ? lo : min_pos;
    return hi < above ? hi : above;
}

/* A pool row that none of the `n_live` gradients still in use occupies. */
static float *free_row(nn_lbfgs *s, const float *const *live, int n_live)
{
    for (int i = 0; i < NN_LBFGS_POOL; i++) {
        int used = 0;
        for (int j = 0; j < n_live; j++) used |= live[j] == s->pool[i];
        if (!used) return s->pool[i];
    }
    NN_ASSERT(!"lbfgs: gradient pool exhausted");
    return NULL;
}

/* Loss and gradient (into `out`) at x0 + t d; the parameters are left at x0. */
static nn_status probe(nn_lbfgs *s, nn_lbfgs_closure closure, void *ctx, double t, float *out,
                       double *f)
{
    nn_params *p = s->params;
    const int64_t n = p->total;
    axpy(p->values, (float)t, s->d, s->x0, n);
    float loss;
    NN_TRY(evaluate(s, closure, ctx, &loss));
    *f = loss;
    memcpy(out, p->grads, sizeof(float) * (size_t)n);
    memcpy(p->values, s->x0, sizeof(float) * (size_t)n);
    return NN_OK;
}

/* torch.optim.lbfgs._strong_wolfe from t along s->d, at loss f, gradient
 * s->flat_grad and directional derivative gtd. Sets *t, *f_out, s->flat_grad
 * (a pool row) to the point found and *evals to the closure calls made. */
static nn_status strong_wolfe(nn_lbfgs *s, nn_lbfgs_closure closure, void *ctx, double *t_io,
                              double f, double gtd, double *f_out, int *evals)
{
    nn_params *p = s->params;
    const int64_t n = p->total;
    const float *d = s->d;
    const double d_norm = abs_max(d, n);
    memcpy(s->x0, p->values, sizeof(float) * (size_t)n);
    const float *g = s->flat_grad;
    if (g == p->grads) {
        float *copy = free_row(s, NULL, 0);
        memcpy(copy, g, sizeof(float) * (size_t)n);
        g = copy;
    }
    double t = *t_io, f_new;
    float *g_new = free_row(s, &g, 1);
    NN_TRY(probe(s, closure, ctx, t, g_new, &f_new));
    int ls_evals = 1;
    double gtd_new = dotf(g_new, d, n);

    /* Bracket an interval containing a point satisfying the Wolfe criteria. */
    double t_prev = 0.0, f_prev = f, gtd_prev = gtd;
    const float *g_prev = g;
    double b[2] = {0}, bf[2] = {0}, bgtd[2] = {0};
    const float *bg[2] = {NULL, NULL};
    int done = 0, ls_iter = 0;
    while (ls_iter < WOLFE_MAX_LS) {
        const int overshot = f_new > f + WOLFE_C1 * t * gtd || (ls_iter > 1 && f_new >= f_prev);
        if (!overshot && fabs(gtd_new) <= -WOLFE_C2 * gtd) {
            b[0] = b[1] = t;
            bf[0] = bf[1] = f_new;
            bg[0] = bg[1] = g_new;
            bgtd[0] = bgtd[1] = gtd_new;
            done = 1;
            break;
        }
        if (overshot || gtd_new >= 0.0) {
            b[0] = t_prev, b[1] = t;
            bf[0] = f_prev, bf[1] = f_new;
            bg[0] = g_prev, bg[1] = g_new;
            bgtd[0] = gtd_prev, bgtd[1] = gtd_new;
            break;
        }
        const double min_step = t + 0.01 * (t - t_prev), max_step = t * 10.0, tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new;
        gtd_prev = gtd_new;
        const float *live[] = {g, g_prev};
        g_new = free_row(s, live, 2);
        NN_TRY(probe(s, closure, ctx, t, g_new, &f_new));
        ls_evals++;
        gtd_new = dotf(g_new, d, n);
        ls_iter++;
    }
    if (ls_iter == WOLFE_MAX_LS) {
        b[0] = 0.0, b[1] = t;
        bf[0] = f, bf[1] = f_new;
        bg[0] = g, bg[1] = g_new;
    }

    /* Zoom: shrink the bracket until a point satisfies the criteria. */
    int insuf_progress = 0;
    int low = bf[0] <= bf[1] ? 0 : 1, high = 1 - low;
    while (!done && ls_iter < WOLFE_MAX_LS) {
        if (fabs(b[1] - b[0]) * d_norm < WOLFE_TOLERANCE_CHANGE) break;
        t = cubic_interpolate(b[0], bf[0], bgtd[0], b[1], bf[1], bgtd[1], b[0] <= b[1] ? b[0] : b[1],
                              b[0] <= b[1] ? b[1] : b[0]);
        /* Too close to an end (twice, or outside): move 10% of the bracket in. */
        const double bmax = b[0] > b[1] ? b[0] : b[1], bmin = b[0] < b[1] ? b[0] : b[1];
        const double eps = 0.1 * (bmax - bmin);
        if (fmin(bmax - t, t - bmin) < eps) {
            if (insuf_progress || t >= bmax || t <= bmin) {
                t = fabs(t - bmax) < fabs(t - bmin) ? bmax - eps : bmin + eps;
                insuf_progress = 0;
            } else {
                insuf_progress = 1;
            }
        } else {
            insuf_progress = 0;
        }
        const float *live[] = {g, g_prev, bg[0], bg[1]};
        g_new = free_row(s, live, 4);
        NN_TRY(probe(s, closure, ctx, t, g_new, &f_new));
        ls_evals++;
        gtd_new = dotf(g_new, d, n);
        ls_iter++;
        if (f_new > f + WOLFE_C1 * t * gtd || f_new >= bf[low]) {
            /* Armijo fails, or no lower than the lowest point. */
            b[high] = t, bf[high] = f_new, bg[high] = g_new, bgtd[high] = gtd_new;
            low = bf[0] <= bf[1] ? 0 : 1;
            high = 1 - low;
        } else {
            if (fabs(gtd_new) <= -WOLFE_C2 * gtd) {
                done = 1;
            } else if (gtd_new * (b[high] - b[low]) >= 0.0) {
                b[high] = b[low], bf[high] = bf[low], bg[high] = bg[low], bgtd[high] = bgtd[low];
            }
            b[low] = t, bf[low] = f_new, bg[low] = g_new, bgtd[low] = gtd_new;
        }
    }
    *t_io = b[low];
    *f_out = bf[low];
    s->flat_grad = bg[low];
    *evals = ls_evals;
    return NN_OK;
}

/* ---- the step ---- */

nn_status nn_lbfgs_step(nn_lbfgs *s, nn_lbfgs_closure closure, void *ctx, float *loss_out)
{
    const nn_lbfgs_options *o = &s->opt;
    nn_params *p = s->params;
    const int64_t n = p->total;
    const int max_eval = o->max_eval > 0 ? o->max_eval : o->max_iter * 5 / 4;
    /* PyTorch compares float32 tensors with these, so in float32. */
    const float tol_grad = (float)o->tolerance_grad, tol_change = (float)o->tolerance_change;

    float first_loss;
    NN_TRY(evaluate(s, closure, ctx, &first_loss));
    *loss_out = first_loss;
    double loss = first_loss;
    int current_evals = 1;
    s->flat_grad = p->grads;
    if (abs_max(s->flat_grad, n) <= tol_grad) return NN_OK;

    for (int n_iter = 1; n_iter <= o->max_iter; n_iter++) {
        s->n_iter++;
        const float *g = s->flat_grad;
        if (s->n_iter == 1) {
            s->count = s->first = 0;
            s->h_diag = 1.0f;
            direction(s, g);
        } else {
            update_history(s, g);
            direction(s, g);
        }
        memcpy(s->prev_grad, g, sizeof(float) * (size_t)n);
        s->prev_loss = loss;

        if (s->n_iter == 1) {
            const float r = 1.0f / (float)nn_optim_sum_abs(g, n);
            s->t = (r < 1.0f ? r : 1.0f) * (float)o->lr;
        } else {
            s->t = o->lr;
        }
        const float gtd = dotf(g, s->d, n);
        if (gtd > -tol_change) break;

        int ls_evals = 0, opt_cond = 0;
        if (o->line_search_fn == NN_LBFGS_STRONG_WOLFE) {
            NN_TRY(strong_wolfe(s, closure, ctx, &s->t, loss, gtd, &loss, &ls_evals));
            axpy(p->values, (float)s->t, s->d, p->values, n);
            opt_cond = abs_max(s->flat_grad, n) <= tol_grad;
        } else {
            axpy(p->values, (float)s->t, s->d, p->values, n);
            /* No evaluation after the last iteration: the next step makes it. */
            if (n_iter != o->max_iter) {
                float l;
                NN_TRY(evaluate(s, closure, ctx, &l));
                loss = l;
                s->flat_grad = p->grads;
                opt_cond = abs_max(s->flat_grad, n) <= tol_grad;
                ls_evals = 1;
            }
        }
        current_evals += ls_evals;

        if (n_iter == o->max_iter || current_evals >= max_eval || opt_cond) break;
        if (abs_max_scaled(s->d, (float)s->t, n) <= tol_change) break;
        if (fabs(loss - s->prev_loss) < o->tolerance_change) break;
    }
    return NN_OK;
}

/* ---- as a table optimizer, for the trainer and its checkpoints ---- */

enum { LR, MAX_ITER, MAX_EVAL, TOLERANCE_GRAD, TOLERANCE_CHANGE, HISTORY_SIZE, LINE_SEARCH_FN };

static const char *const line_search_names[] = {"none", "strong_wolfe", NULL};

static const nn_hparam lbfgs_hparams[] = {
    [LR] = {"lr", NN_HPARAM_NUMBER, 1.0, 0.0, 1e6},
    [MAX_ITER] = {"max_iter", NN_HPARAM_NUMBER, 20, 1, 1e6},
    [MAX_EVAL] = {"max_eval", NN_HPARAM_NUMBER, 0, 0, 1e6},   /* 0: max_iter * 5 / 4, torch's None */
    [TOLERANCE_GRAD] = {"tolerance_grad", NN_HPARAM_NUMBER, 1e-7, 0.0, 1e6},
    [TOLERANCE_CHANGE] = {"tolerance_change", NN_HPARAM_NUMBER, 1e-9, 0.0, 1e6},
    [HISTORY_SIZE] = {"history_size", NN_HPARAM_NUMBER, 100, 1, 1e5},
    [LINE_SEARCH_FN] = {"line_search_fn", NN_HPARAM_CHOICE, 0, 0, 1, 0, line_search_names},
};

/* The iteration state that outlives a step, kept in o->scalar so that
 * checkpoints save it as they save any optimizer's scalars. */
enum { S_FIRST, S_COUNT, S_T, S_H_DIAG, S_PREV_LOSS, S_N_ITER, S_FUNC_EVALS, N_SCALARS };
static const char *const lbfgs_scalars[] = {"first", "count", "t", "h_diag", "prev_loss", "n_iter", "func_evals"};
_Static_assert(sizeof lbfgs_scalars / sizeof lbfgs_scalars[0] == N_SCALARS, "a name per scalar");

static int lbfgs_check(const double *hp, const char **why)
{
    static const int whole[] = {MAX_ITER, MAX_EVAL, HISTORY_SIZE};
    for (int i = 0; i < 3; i++)
        if (hp[whole[i]] != floor(hp[whole[i]])) {
            *why = "expected a whole number";
            return whole[i];
        }
    return -1;
}

static nn_status lbfgs_setup(nn_optimizer *o)
{
    nn_lbfgs *s = nn_arena_calloc(o->params->arena, sizeof *s);
    if (!s) return NN_ERR_RUNTIME;
    nn_lbfgs_options opt = {
        .lr = o->hp[LR],
        .max_iter = (int)o->hp[MAX_ITER],
        .max_eval = (int)o->hp[MAX_EVAL],
        .tolerance_grad = o->hp[TOLERANCE_GRAD],
        .tolerance_change = o->hp[TOLERANCE_CHANGE],
        .history_size = (int)o->hp[HISTORY_SIZE],
        .line_search_fn = o->hp[LINE_SEARCH_FN] != 0.0 ? NN_LBFGS_STRONG_WOLFE : NN_LBFGS_NO_LINE_SEARCH,
    };
    NN_TRY(nn_lbfgs_init(s, o->params, &opt));
    o->impl = s;
    o->scalar[S_H_DIAG] = s->h_diag;
    return NN_OK;
}

static nn_status lbfgs_step_closure(nn_optimizer *o, nn_optim_closure closure, void *ctx, float *loss)
{
    nn_lbfgs *s = o->impl;
    s->opt.lr = o->lr;   /* a schedule may have changed it */
    s->first = (int)o->scalar[S_FIRST];
    s->count = (int)o->scalar[S_COUNT];
    s->t = o->scalar[S_T];
    s->h_diag = (float)o->scalar[S_H_DIAG];
    s->prev_loss = o->scalar[S_PREV_LOSS];
    s->n_iter = (int64_t)o->scalar[S_N_ITER];
    s->func_evals = (int64_t)o->scalar[S_FUNC_EVALS];
    nn_status st = nn_lbfgs_step(s, closure, ctx, loss);
    o->scalar[S_FIRST] = s->first;
    o->scalar[S_COUNT] = s->count;
    o->scalar[S_T] = s->t;
    o->scalar[S_H_DIAG] = s->h_diag;
    o->scalar[S_PREV_LOSS] = s->prev_loss;
    o->scalar[S_N_ITER] = (double)s->n_iter;
    o->scalar[S_FUNC_EVALS] = (double)s->func_evals;
    o->steps++;
    return st;
}

static void lbfgs_extra(const nn_optimizer *o, int i, nn_optim_extra *out)
{
    const nn_lbfgs *s = o->impl;
    const int n = (int)o->params->total, rows = s->opt.history_size + 1;
    switch (i) {
    case 0: *out = (nn_optim_extra){"lbfgs.d", s->d, 1, {n, 0}}; break;
    case 1: *out = (nn_optim_extra){"lbfgs.prev_flat_grad", s->prev_grad, 1, {n, 0}}; break;
    case 2: *out = (nn_optim_extra){"lbfgs.old_dirs", s->dirs, 2, {rows, n}}; break;
    case 3: *out = (nn_optim_extra){"lbfgs.old_stps", s->stps, 2, {rows, n}}; break;
    default: *out = (nn_optim_extra){"lbfgs.ro", s->ro, 1, {rows, 0}}; break;
    }
}

const nn_optimizer_def nn_optimizer_lbfgs = {
    .name = "lbfgs",
    .hparams = lbfgs_hparams,
    .n_hparams = sizeof lbfgs_hparams / sizeof lbfgs_hparams[0],
    .scalar_names = lbfgs_scalars,
    .n_scalars = N_SCALARS,
    .check = lbfgs_check,
    .setup = lbfgs_setup,
    .step_closure = lbfgs_step_closure,
    .n_extra = 5,
    .extra = lbfgs_extra,
};
