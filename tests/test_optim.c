/* The optimizers against PyTorch: 20-step parameter trajectories of every
 * optimizer (several hyperparameter settings each) and of L-BFGS, gradient
 * clipping and the L1 penalty, compared with
 * tests/golden/optim_trajectories.safetensors, which
 * tests/golden/optim_reference.py writes with Debian's python3-torch. Also:
 * optimizer state (scalars included) across a checkpoint, the clipping hook
 * in a training step, deterministic norms, and the config's optimizer keys
 * with their error messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/rng.h"
#include "core/threads.h"
#include "datasets/datasets.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/models.h"
#include "optim/clip.h"
#include "optim/lbfgs.h"
#include "optim/optimizer.h"
#include "testutil.h"
#include "train/checkpoint.h"
#include "train/run.h"

#define GOLDEN "tests/golden/optim_trajectories.safetensors"
#define RTOL 1e-6
/* Every golden value is at least 0.16 in magnitude; this only keeps the
 * test meaningful should one come close to 0. */
#define ATOL 1e-9

/* The problem of optim_reference.py: w (3, 4) then b (5,), flat. */
enum { NW = 12, NB = 5, N = NW + NB, STEPS = 20 };

typedef struct problem {
    float x0[N], a[N], k[N], c[N];
} problem;

/* ---- the problem, as in optim_reference.py ---- */

/* Golden tensors `<prefix>.w` and `<prefix>.b`, concatenated into dst (n_rows
 * rows of N: row r is w's row r then b's). */
static void read_pair(const nn_safetensors *f, const char *prefix, float *dst, int n_rows)
{
    char key[128];
    long nw, nb;
    snprintf(key, sizeof key, "%s.w", prefix);
    float *w = tu_golden(f, key, &nw);
    snprintf(key, sizeof key, "%s.b", prefix);
    float *b = tu_golden(f, key, &nb);
    ck_assert_msg(nw == (long)n_rows * NW && nb == (long)n_rows * NB, "%s: unexpected sizes", prefix);
    for (int r = 0; r < n_rows; r++) {
        memcpy(dst + r * N, w + r * NW, sizeof(float) * NW);
        memcpy(dst + r * N + NW, b + r * NB, sizeof(float) * NB);
    }
    free(w);
    free(b);
}

static void read_problem(const nn_safetensors *f, problem *pr)
{
    read_pair(f, "x0", pr->x0, 1);
    read_pair(f, "a", pr->a, 1);
    read_pair(f, "k", pr->k, 1);
    read_pair(f, "c", pr->c, 1);
}

/* grad = a * u + k * u * u * u with u = p - c, float32, left to right (one
 * operation per statement, so no compiler fuses a multiply-add). */
static void gradient(const problem *pr, const float *p, float *g)
{
    for (int i = 0; i < N; i++) {
        const float u = p[i] - pr->c[i];
        const float au = pr->a[i] * u;
        const float kuuu = pr->k[i] * u * u * u;
        g[i] = au + kuuu;
    }
}

/* sum(0.5 a u^2 + 0.25 k u^4) per tensor, then w's plus b's, in float32. */
static float loss_at(const problem *pr, const float *p)
{
    const int from[] = {0, NW, N};
    float total = 0.0f;
    for (int t = 0; t < 2; t++) {
        double s = 0.0;
        for (int i = from[t]; i < from[t + 1]; i++) {
            const float u = p[i] - pr->c[i];
            const float quad = 0.5f * pr->a[i] * u * u;
            const float quart = 0.25f * pr->k[i] * u * u * u * u;
            const float term = quad + quart;
            s += term;
        }
        total += (float)s;
    }
    return total;
}

/* Parameters "w" (3, 4) and "b" (5) in `a`, set to x0. */
static void make_params(nn_params *p, nn_arena *a, const problem *pr)
{
    nn_params_init(p, a);
    ck_assert_ptr_nonnull(nn_params_add(p, "w", NN_SHAPE(3, 4), (nn_init){.kind = NN_INIT_ZEROS}));
    ck_assert_ptr_nonnull(nn_params_add(p, "b", NN_SHAPE(5), (nn_init){.kind = NN_INIT_ZEROS}));
    nn_rng rng;
    nn_rng_seed(&rng, 1, 1);
    ck_assert_int_eq(nn_params_finalize(p, &rng), NN_OK);
    ck_assert_int_eq(p->total, N);
    memcpy(p->values, pr->x0, sizeof pr->x0);
}

/* ---- the variants, as VARIANTS in optim_reference.py ---- */

typedef struct hp_value {
    const char *name;
    double v[2];              /* v[1]: a pair's second element */
} hp_value;

typedef struct variant {
    const char *name;
    const nn_optimizer_def *def;
    hp_value hp[7];           /* values other than the defaults; ends at name NULL */
} variant;

static const variant variants[] = {
    {"sgd", &nn_optimizer_sgd, {{"lr", {0.05}}}},
    {"sgd_momentum", &nn_optimizer_sgd,
     {{"lr", {0.02}}, {"momentum", {0.8}}, {"dampening", {0.1}}, {"weight_decay", {0.01}}}},
    {"sgd_nesterov", &nn_optimizer_sgd,
     {{"lr", {0.02}}, {"momentum", {0.9}}, {"nesterov", {1}}, {"weight_decay", {0.001}}}},
    {"adagrad", &nn_optimizer_adagrad, {{"lr", {0.3}}}},
    {"adagrad_decay", &nn_optimizer_adagrad,
     {{"lr", {0.3}}, {"lr_decay", {0.05}}, {"weight_decay", {0.01}},
      {"initial_accumulator_value", {0.1}}, {"eps", {1e-6}}}},
    {"adadelta", &nn_optimizer_adadelta, {{"lr", {1.0}}}},
    {"adadelta_wd", &nn_optimizer_adadelta,
     {{"lr", {5.0}}, {"rho", {0.8}}, {"eps", {1e-4}}, {"weight_decay", {0.01}}}},
    {"rmsprop", &nn_optimizer_rmsprop, {{"lr", {0.01}}}},
    {"rmsprop_momentum", &nn_optimizer_rmsprop, {{"lr", {0.01}}, {"momentum", {0.5}}}},
    {"rmsprop_centered", &nn_optimizer_rmsprop,
     {{"lr", {0.01}}, {"alpha", {0.9}}, {"eps", {1e-6}}, {"weight_decay", {0.01}},
      {"momentum", {0.9}}, {"centered", {1}}}},
    {"adam", &nn_optimizer_adam, {{"lr", {0.05}}}},
    {"adam_amsgrad", &nn_optimizer_adam,
     {{"lr", {0.05}}, {"betas", {0.8, 0.99}}, {"eps", {1e-6}}, {"weight_decay", {0.01}},
      {"amsgrad", {1}}}},
    {"adamw", &nn_optimizer_adamw, {{"lr", {0.05}}, {"weight_decay", {0.1}}}},
    {"adamw_amsgrad", &nn_optimizer_adamw,
     {{"lr", {0.05}}, {"betas", {0.85, 0.995}}, {"weight_decay", {0.05}}, {"amsgrad", {1}}}},
    {"adamax", &nn_optimizer_adamax, {{"lr", {0.05}}}},
    {"adamax_wd", &nn_optimizer_adamax,
     {{"lr", {0.05}}, {"betas", {0.8, 0.99}}, {"eps", {1e-6}}, {"weight_decay", {0.01}}}},
    {"nadam", &nn_optimizer_nadam, {{"lr", {0.05}}}},
    {"nadam_wd", &nn_optimizer_nadam,
     {{"lr", {0.05}}, {"betas", {0.8, 0.99}}, {"eps", {1e-6}}, {"weight_decay", {0.01}},
      {"momentum_decay", {0.01}}}},
    {"rprop", &nn_optimizer_rprop, {{"lr", {0.05}}}},
    {"rprop_etas", &nn_optimizer_rprop,
     {{"lr", {0.05}}, {"etas", {0.3, 1.5}}, {"step_sizes", {1e-3, 0.2}}}},
    {"asgd", &nn_optimizer_asgd, {{"lr", {0.05}}}},
    {"asgd_t0", &nn_optimizer_asgd,
     {{"lr", {0.05}}, {"lambd", {1e-3}}, {"alpha", {0.6}}, {"t0", {5}}, {"weight_decay", {0.01}}}},
};
enum { N_VARIANTS = (int)(sizeof variants / sizeof variants[0]) };

static const char *const lbfgs_names[] = {"lbfgs", "lbfgs_damped", "lbfgs_wolfe"};
enum { N_LBFGS = (int)(sizeof lbfgs_names / sizeof lbfgs_names[0]) };

static nn_lbfgs_options lbfgs_options(int i)
{
    nn_lbfgs_options o = nn_lbfgs_defaults();
    switch (i) {
    case 0: o.lr = 1.0, o.max_iter = 3, o.history_size = 10; break;
    case 1: o.lr = 0.2, o.max_iter = 2, o.history_size = 3; break;
    case 2: o.lr = 1.0, o.max_iter = 2, o.history_size = 5, o.line_search_fn = NN_LBFGS_STRONG_WOLFE; break;
    }
    return o;
}

/* The defaults of v->def with v's values set by name. */
static void variant_hparams(const variant *v, double *hp)
{
    const nn_optimizer_def *def = v->def;
    for (int i = 0; i < def->n_hparams; i++) hp[i] = def->hparams[i].def;
    for (const hp_value *h = v->hp; h->name; h++) {
        int i = 0;
        while (i < def->n_hparams && strcmp(def->hparams[i].name, h->name)) i++;
        ck_assert_msg(i < def->n_hparams, "%s: %s has no hyperparameter `%s`", v->name, def->name, h->name);
        hp[i] = h->v[0];
        if (def->hparams[i].type == NN_HPARAM_PAIR) hp[i + 1] = h->v[1];
    }
}

/* ---- comparing trajectories ---- */

typedef struct trajectory {
    const char *name;
    float want[STEPS * N];
    double max_rel, max_abs;
    const char *torch;
} trajectory;

static nn_safetensors *golden;
static problem prob;

static void open_golden(void)
{
    golden = tu_golden_open(GOLDEN);
    read_problem(golden, &prob);
}

static void close_golden(void) { nn_safetensors_close(golden); }

static void load_trajectory(trajectory *t, const char *name)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "traj.%s", name);
    read_pair(golden, prefix, t->want, STEPS);
    t->name = name;
    t->max_rel = t->max_abs = 0.0;
    t->torch = nn_safetensors_meta(golden, "torch");
}

/* Parameters after step s (0-based) against the golden row. */
static int check_step(trajectory *t, int s, const float *p)
{
    const float *want = t->want + s * N;
    for (int i = 0; i < N; i++) {
        const double d = fabs((double)p[i] - (double)want[i]);
        t->max_abs = fmax(t->max_abs, d);
        if (want[i] != 0.0f) t->max_rel = fmax(t->max_rel, d / fabs((double)want[i]));
    }
    char what[96];
    snprintf(what, sizeof what, "%s, parameters after step %d", t->name, s + 1);
    return tu_close(what, p, want, N, ATOL, RTOL);
}

static void report(const trajectory *t)
{
    printf("  %-18s vs torch %s: max rel err %.2e, max abs err %.2e over %d steps\n", t->name,
           t->torch ? t->torch : "?", t->max_rel, t->max_abs, STEPS);
}

/* `steps` optimizer steps on the problem, checking each against the golden
 * row from step `first` on. */
static void run_steps(nn_optimizer *o, trajectory *t, int first, int steps)
{
    nn_params *p = o->params;
    for (int s = first; s < first + steps; s++) {
        gradient(&prob, p->values, p->grads);
        o->def->step(o);
        ck_assert_msg(check_step(t, s, p->values), "%s: differs from PyTorch at step %d", t->name, s + 1);
    }
}

START_TEST(trajectories_match_pytorch)
{
    const variant *v = &variants[_i];
    open_golden();
    nn_arena a;
    nn_arena_init(&a, "test", 0);
    nn_params p;
    make_params(&p, &a, &prob);
    double hp[NN_OPTIM_MAX_HPARAMS];
    variant_hparams(v, hp);
    nn_optimizer o;
    ck_assert_int_eq(nn_optimizer_init(&o, v->def, &p, hp), NN_OK);
    static trajectory t;
    load_trajectory(&t, v->name);
    run_steps(&o, &t, 0, STEPS);
    ck_assert_int_eq(o.steps, STEPS);
    report(&t);
    nn_arena_deinit(&a);
    close_golden();
}
END_TEST

typedef struct closure_ctx {
    nn_params *p;
    int calls;
} closure_ctx;

static nn_status closure(void *ctx, float *loss)
{
    closure_ctx *c = ctx;
    float g[N];
    gradient(&prob, c->p->values, g);
    for (int i = 0; i < N; i++) c->p->grads[i] += g[i];
    *loss = loss_at(&prob, c->p->values);
    c->calls++;
    return NN_OK;
}

START_TEST(lbfgs_matches_pytorch)
{
    open_golden();
    nn_arena a;
    nn_arena_init(&a, "test", 0);
    nn_params p;
    make_params(&p, &a, &prob);
    const nn_lbfgs_options opt = lbfgs_options(_i);
    nn_lbfgs s;
    ck_assert_int_eq(nn_lbfgs_init(&s, &p, &opt), NN_OK);
    static trajectory t;
    load_trajectory(&t, lbfgs_names[_i]);
    closure_ctx ctx = {&p, 0};
    for (int step = 0; step < STEPS; step++) {
        float loss;
        const int before = ctx.calls;
        ck_assert_int_eq(nn_lbfgs_step(&s, closure, &ctx, &loss), NN_OK);
        ck_assert_int_ge(ctx.calls - before, 1);
        ck_assert_msg(check_step(&t, step, p.values), "%s: differs from PyTorch at step %d", t.name, step + 1);
    }
    ck_assert_int_eq(s.func_evals, ctx.calls);
    /* The same iterations and evaluations as PyTorch: the stopping tests agree. */
    char key[96];
    snprintf(key, sizeof key, "%s.n_iter", t.name);
    const char *n_iter = nn_safetensors_meta(golden, key);
    snprintf(key, sizeof key, "%s.func_evals", t.name);
    const char *func_evals = nn_safetensors_meta(golden, key);
    ck_assert_ptr_nonnull(n_iter);
    ck_assert_ptr_nonnull(func_evals);
    ck_assert_int_eq(s.n_iter, atoll(n_iter));
    ck_assert_int_eq(s.func_evals, atoll(func_evals));
    report(&t);
    printf("  %-18s %lld iterations, %lld evaluations, as PyTorch\n", "", (long long)s.n_iter,
           (long long)s.func_evals);
    nn_arena_deinit(&a);
    close_golden();
}
END_TEST

/* L-BFGS through the optimizer table (as the trainer runs it) follows the
 * same PyTorch trajectories, and a checkpoint taken halfway resumes it bit
 * for bit: the history and scalars it saves are all the state there is. */
START_TEST(lbfgs_table_matches_pytorch_and_resumes)
{
    open_golden();
    nn_arena a;
    nn_arena_init(&a, "test", 0);
    nn_params p;
    make_params(&p, &a, &prob);
    const nn_lbfgs_options lo = lbfgs_options(_i);
    const double hp[] = {lo.lr, lo.max_iter, lo.max_eval, lo.tolerance_grad, lo.tolerance_change,
                         lo.history_size, lo.line_search_fn == NN_LBFGS_STRONG_WOLFE};
    ck_assert_int_eq(nn_optimizer_lbfgs.n_hparams, 7);
    nn_optimizer o, resumed;
    ck_assert_int_eq(nn_optimizer_init(&o, &nn_optimizer_lbfgs, &p, hp), NN_OK);
    static trajectory t;
    load_trajectory(&t, lbfgs_names[_i]);
    closure_ctx ctx = {&p, 0};
    char path[] = "/tmp/nnzoo_test_lbfgs_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    nn_optimizer *cur = &o;
    for (int step = 0; step < STEPS; step++) {
        if (step == STEPS / 2) {
            ck_assert_int_eq(nn_checkpoint_save(path, &p, &o, NULL, NULL), NN_OK);
            ck_assert_int_eq(nn_optimizer_init(&resumed, &nn_optimizer_lbfgs, &p, hp), NN_OK);
            for (int64_t i = 0; i < p.total; i++) p.values[i] = 0.0f;
            ck_assert_int_eq(nn_checkpoint_load(path, &p, &resumed, NULL), NN_OK);
            cur = &resumed;
        }
        float loss;
        ck_assert_int_eq(cur->def->step_closure(cur, closure, &ctx, &loss), NN_OK);
        ck_assert_msg(check_step(&t, step, p.values), "%s (table, resumed at %d): differs from PyTorch at step %d",
                      t.name, STEPS / 2, step + 1);
    }
    unlink(path);
    nn_arena_deinit(&a);
    close_golden();
}
END_TEST

START_TEST(golden_file_has_no_untested_variant)
{
    open_golden();
    int trajectories = 0;
    for (int i = 0; i < nn_safetensors_count(golden); i++)
        trajectories += !strncmp(nn_safetensors_name(golden, i), "traj.", 5);
    ck_assert_int_eq(trajectories, 2 * (N_VARIANTS + N_LBFGS));
    /* and every registered optimizer has a variant (L-BFGS has its own cases) */
    for (int i = 0; nn_optimizers[i]; i++) {
        int found = nn_optimizers[i] == &nn_optimizer_lbfgs;
        for (int j = 0; j < N_VARIANTS; j++) found |= variants[j].def == nn_optimizers[i];
        ck_assert_msg(found, "optimizer %s has no golden trajectory", nn_optimizers[i]->name);
    }
    close_golden();
}
END_TEST

/* State saved after 10 steps and loaded into a fresh optimizer continues to
 * the same 20-step trajectory, bit for bit: buffers, the step count and the
 * scalars (NAdam's mu_product, ASGD's eta and mu) all survive. */
START_TEST(state_survives_a_checkpoint)
{
    static const char *const names[] = {"nadam_wd", "asgd_t0", "adam_amsgrad", "rprop_etas", "adagrad_decay"};
    const variant *v = NULL;
    for (int j = 0; j < N_VARIANTS; j++)
        if (!strcmp(variants[j].name, names[_i])) v = &variants[j];
    ck_assert_ptr_nonnull(v);
    open_golden();
    double hp[NN_OPTIM_MAX_HPARAMS];
    variant_hparams(v, hp);
    static trajectory t;
    load_trajectory(&t, v->name);

    nn_arena a1, a2;
    nn_arena_init(&a1, "first", 0);
    nn_arena_init(&a2, "second", 0);
    nn_params p1, p2;
    make_params(&p1, &a1, &prob);
    make_params(&p2, &a2, &prob);
    nn_optimizer o1, o2;
    ck_assert_int_eq(nn_optimizer_init(&o1, v->def, &p1, hp), NN_OK);
    ck_assert_int_eq(nn_optimizer_init(&o2, v->def, &p2, hp), NN_OK);
    run_steps(&o1, &t, 0, STEPS / 2);

    char path[] = "/tmp/nnzoo_test_optim_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(nn_checkpoint_save(path, &p1, &o1, NULL, NULL), NN_OK);
    nn_status st = nn_checkpoint_load(path, &p2, &o2, NULL);
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    unlink(path);
    ck_assert_int_eq(o2.steps, STEPS / 2);
    for (int j = 0; j < v->def->n_scalars; j++) ck_assert(o2.scalar[j] == o1.scalar[j]);

    run_steps(&o1, &t, STEPS / 2, STEPS / 2);
    run_steps(&o2, &t, STEPS / 2, STEPS / 2);
    ck_assert_int_eq(memcmp(p1.values, p2.values, sizeof(float) * N), 0);
    nn_arena_deinit(&a1);
    nn_arena_deinit(&a2);
    close_golden();
}
END_TEST

START_TEST(scalar_state_errors_name_the_key)
{
    open_golden();
    nn_arena a;
    nn_arena_init(&a, "test", 0);
    nn_params p;
    make_params(&p, &a, &prob);
    double hp[NN_OPTIM_MAX_HPARAMS];
    for (int i = 0; i < nn_optimizer_nadam.n_hparams; i++) hp[i] = nn_optimizer_nadam.hparams[i].def;
    nn_optimizer nadam;
    ck_assert_int_eq(nn_optimizer_init(&nadam, &nn_optimizer_nadam, &p, hp), NN_OK);
    /* A NAdam checkpoint written by hand: first without mu_product, then with a bad one. */
    char path[] = "/tmp/nnzoo_test_optim_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    const nn_tensor *w = p.items[0], *b = p.items[1];
    const nn_st_tensor tensors[] = {
        {"w", w->data, w->ndim, w->shape}, {"b", b->data, b->ndim, b->shape},
        {"optimizer.exp_avg.w", nadam.state[0], w->ndim, w->shape},
        {"optimizer.exp_avg.b", nadam.state[0] + NW, b->ndim, b->shape},
        {"optimizer.exp_avg_sq.w", nadam.state[1], w->ndim, w->shape},
        {"optimizer.exp_avg_sq.b", nadam.state[1] + NW, b->ndim, b->shape},
    };
    nn_st_meta meta[] = {{"optimizer", "nadam"}, {"optimizer_steps", "3"}, {"optimizer.mu_product", "x"}};
    ck_assert_int_eq(nn_safetensors_write(path, tensors, 6, meta, 2), NN_OK);
    ck_assert_int_eq(nn_checkpoint_load(path, &p, &nadam, NULL), NN_ERR_INPUT);
    char want[256];
    snprintf(want, sizeof want, "%s: no `optimizer.mu_product` in its metadata (nadam's state)", path);
    ck_assert_str_eq(nn_error_message(), want);
    ck_assert_int_eq(nn_safetensors_write(path, tensors, 6, meta, 3), NN_OK);
    ck_assert_int_eq(nn_checkpoint_load(path, &p, &nadam, NULL), NN_ERR_INPUT);
    snprintf(want, sizeof want, "%s: metadata `optimizer.mu_product` is \"x\", expected a finite number", path);
    ck_assert_str_eq(nn_error_message(), want);
    unlink(path);
    nn_arena_deinit(&a);
    close_golden();
}
END_TEST

/* ---- clipping and L1 ---- */

START_TEST(clipping_and_l1_match_pytorch)
{
    open_golden();
    nn_arena a;
    nn_arena_init(&a, "test", 0);
    nn_params p;
    make_params(&p, &a, &prob);
    float want[N], total;
    long n;

    gradient(&prob, p.values, p.grads);
    float *t = tu_golden(golden, "clip_norm.total", &n);
    total = t[0];
    free(t);
    const float norm = nn_clip_grad_norm(&p, 1.0f);
    read_pair(golden, "clip_norm", want, 1);
    printf("  clip_grad_norm_: norm %.9g (torch %.9g)\n", norm, total);
    ck_assert(tu_close("clip_grad_norm_ total norm", &norm, &total, 1, 0.0, RTOL));
    ck_assert(total > 2.0f); /* so the clipping did something */
    ck_assert(tu_close("clip_grad_norm_", p.grads, want, N, ATOL, RTOL));

    /* Below the limit nothing changes. */
    gradient(&prob, p.values, p.grads);
    float before[N];
    memcpy(before, p.grads, sizeof before);
    ck_assert(tu_close("clip_grad_norm_ total norm", (float[]){nn_clip_grad_norm(&p, 1e3f)}, &total, 1, 0.0, RTOL));
    ck_assert_int_eq(memcmp(before, p.grads, sizeof before), 0);

    nn_clip_grad_value(&p, 0.5f);
    read_pair(golden, "clip_value", want, 1);
    ck_assert(tu_close("clip_grad_value_", p.grads, want, N, 0.0, 0.0));

    gradient(&prob, p.values, p.grads);
    read_pair(golden, "l1.x", p.values, 1);
    nn_clip_add_l1(&p, 0.01f);
    read_pair(golden, "l1", want, 1);
    ck_assert(tu_close("L1 penalty", p.grads, want, N, 0.0, 0.0));
    nn_arena_deinit(&a);
    close_golden();
}
END_TEST

START_TEST(norms_do_not_depend_on_the_thread_count)
{
    enum { BIG = 1000003 };
    float *x = malloc(sizeof(float) * BIG);
    nn_rng r;
    nn_rng_seed(&r, 5, 5);
    for (int i = 0; i < BIG; i++) x[i] = nn_rng_normal(&r) * (1.0f + (float)(i % 1000));
    double d[3], s[3];
    const int threads[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        nn_threads_set(threads[i]);
        d[i] = nn_optim_dot(x, x, BIG);
        s[i] = nn_optim_sum_abs(x, BIG);
    }
    nn_threads_set(0);
    ck_assert(d[0] == d[1] && d[1] == d[2]);
    ck_assert(s[0] == s[1] && s[1] == s[2]);
    /* and they are the sums: compare with a plain serial sum in long double */
    long double ld = 0, ls = 0;
    for (int i = 0; i < BIG; i++) {
        ld += (long double)x[i] * x[i];
        ls += fabsl((long double)x[i]);
    }
    ck_assert(fabs(d[0] - (double)ld) <= 1e-12 * (double)ld);
    ck_assert(fabs(s[0] - (double)ls) <= 1e-12 * (double)ls);
    free(x);
}
END_TEST

/* ---- the config ---- */

#define ORIGIN "configs/x.json"

static nn_config *parse(const char *text)
{
    nn_config *c = NULL;
    nn_status st = nn_config_parse(&c, text, ORIGIN);
    ck_assert_msg(st == NN_OK, "parse failed: %s", nn_error_message());
    return c;
}

static void expect_error(nn_status st, const char *msg)
{
    ck_assert_int_eq(st, NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), msg);
}

START_TEST(config_numbers_reads_arrays_and_names_errors)
{
    const double def[2] = {0.9, 0.999}, lo[2] = {0, 0}, hi[2] = {1, 1};
    double out[2] = {0};
    nn_config *c = parse("{\"o\": {\"betas\": [0.8, 0.99]}}");
    ck_assert_int_eq(nn_config_numbers(c, "o.betas", 2, def, lo, hi, NN_CONFIG_OPEN_MAX, out), NN_OK);
    ck_assert(out[0] == 0.8 && out[1] == 0.99);
    /* Absent: the defaults, written into the resolved config. */
    ck_assert_int_eq(nn_config_numbers(c, "p.betas", 2, def, lo, hi, NN_CONFIG_OPEN_MAX, out), NN_OK);
    ck_assert(out[0] == 0.9 && out[1] == 0.999);
    ck_assert_int_eq(nn_config_check_unknown(c), NN_OK);
    char *json = nn_config_to_json(c);
    nn_config *back = parse(json);
    free(json);
    out[0] = out[1] = 0;
    ck_assert_int_eq(nn_config_numbers(back, "p.betas", 2, lo, lo, hi, NN_CONFIG_OPEN_MAX, out), NN_OK);
    ck_assert(out[0] == 0.9 && out[1] == 0.999);
    nn_config_free(back);
    nn_config_free(c);

    static const struct { const char *value, *found; } bad[] = {
        {"[0.9, 1]", "[0.9,1]"},        /* 1 is excluded */
        {"[-0.1, 0.5]", "[-0.1,0.5]"},
        {"[0.9]", "[0.9]"},
        {"[0.9, 0.99, 0.999]", "[0.9,0.99,0.999]"},
        {"0.9", "0.9"},
        {"[0.9, \"0.99\"]", "[0.9,\"0.99\"]"},
        {"{\"beta1\": 0.9}", "{\"beta1\":0.9}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128], msg[256];
        snprintf(text, sizeof text, "{\"o\": {\"betas\": %s}}", bad[i].value);
        c = parse(text);
        out[0] = out[1] = -7;
        snprintf(msg, sizeof msg, ORIGIN ": o.betas: expected an array of 2 numbers in [0, 1), found %s",
                 bad[i].found);
        expect_error(nn_config_numbers(c, "o.betas", 2, def, lo, hi, NN_CONFIG_OPEN_MAX, out), msg);
        ck_assert(out[0] == -7 && out[1] == -7); /* untouched on error */
        nn_config_free(c);
    }

    /* Ranges that differ per element are all listed. */
    c = parse("{\"o\": {\"etas\": [0.5, 0.9]}}");
    const double edef[2] = {0.5, 1.2}, elo[2] = {0, 1}, ehi[2] = {1, 1e6};
    expect_error(nn_config_numbers(c, "o.etas", 2, edef, elo, ehi, NN_CONFIG_OPEN_MIN | NN_CONFIG_OPEN_MAX, out),
                 ORIGIN ": o.etas: expected an array of 2 numbers in (0, 1) and (1, 1e+06), found [0.5,0.9]");
    nn_config_free(c);
}
END_TEST

static nn_config *cfg;
static nn_run run;

/* nn_run_setup on LeNet-5 (no data) with `train` as the train section. */
static nn_status setup_run(const char *train)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"model\": {\"name\": \"lenet5\"}, \"train\": %s}", train);
    cfg = parse(text);
    const char *name;
    ck_assert_int_eq(nn_config_string(cfg, "model.name", NULL, NULL, &name), NN_OK);
    nn_error_clear();
    return nn_run_setup(&run, cfg, &nn_model_lenet5, &nn_dataset_fashion_mnist, NN_RUN_NO_DATA);
}

static void teardown_run(void)
{
    nn_run_deinit(&run);
    nn_config_free(cfg);
}

START_TEST(optimizer_from_config_with_pytorch_names)
{
    nn_status st = setup_run("{\"optimizer\": {\"name\": \"adamw\", \"lr\": 3e-4, \"betas\": [0.8, 0.95], "
                             "\"weight_decay\": 0.05}, \"clip_grad_norm\": 1.5, \"l1\": 1e-5}");
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(nn_config_check_unknown(cfg), NN_OK);
    ck_assert_ptr_eq(run.opt.def, &nn_optimizer_adamw);
    /* lr, beta1, beta2, eps, weight_decay, amsgrad */
    const double want[] = {3e-4, 0.8, 0.95, 1e-8, 0.05, 0};
    for (int i = 0; i < 6; i++) ck_assert_double_eq(run.opt.hp[i], want[i]);
    ck_assert_double_eq(run.set.clip_grad_norm, 1.5);
    ck_assert_double_eq(run.set.clip_grad_value, 0.0);
    ck_assert_double_eq(run.set.l1, 1e-5);
    /* Defaults land in the resolved config, the pair as an array. */
    char *json = nn_config_to_json(cfg);
    ck_assert_ptr_nonnull(strstr(json, "\"amsgrad\":\tfalse"));
    ck_assert_ptr_nonnull(strstr(json, "\"clip_grad_value\":\t0"));
    free(json);
    teardown_run();

    st = setup_run("{\"optimizer\": {\"name\": \"rprop\"}}");
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    const double rprop[] = {0.01, 0.5, 1.2, 1e-6, 50};
    for (int i = 0; i < 5; i++) ck_assert_double_eq(run.opt.hp[i], rprop[i]);
    teardown_run();
}
END_TEST

START_TEST(optimizer_config_errors)
{
    static const struct { const char *train, *msg; } cases[] = {
        {"{\"optimizer\": {\"name\": \"Adam\"}}",
         ORIGIN ": train.optimizer.name: expected one of sgd, adagrad, adadelta, rmsprop, adam, adamw, "
                "adamax, nadam, rprop, asgd, lbfgs; found \"Adam\" (did you mean `adam`?)"},
        {"{\"optimizer\": {\"name\": \"lion\"}}",
         ORIGIN ": train.optimizer.name: expected one of sgd, adagrad, adadelta, rmsprop, adam, adamw, "
                "adamax, nadam, rprop, asgd, lbfgs; found \"lion\""},
        {"{\"optimizer\": {\"name\": \"adam\", \"betas\": [0.9, 1.0]}}",
         ORIGIN ": train.optimizer.betas: expected an array of 2 numbers in [0, 1), found [0.9,1]"},
        {"{\"optimizer\": {\"name\": \"nadam\", \"betas\": 0.9}}",
         ORIGIN ": train.optimizer.betas: expected an array of 2 numbers in [0, 1), found 0.9"},
        {"{\"optimizer\": {\"name\": \"rprop\", \"etas\": [0.5, 0.9]}}",
         ORIGIN ": train.optimizer.etas: expected an array of 2 numbers in (0, 1) and (1, 1e+06), found [0.5,0.9]"},
        {"{\"optimizer\": {\"name\": \"sgd\", \"nesterov\": true}}",
         ORIGIN ": train.optimizer.nesterov: Nesterov momentum needs momentum > 0 and dampening 0 "
                "(as in torch.optim.SGD)"},
        {"{\"optimizer\": {\"name\": \"sgd\", \"momentum\": 0.9, \"dampening\": 0.1, \"nesterov\": true}}",
         ORIGIN ": train.optimizer.nesterov: Nesterov momentum needs momentum > 0 and dampening 0 "
                "(as in torch.optim.SGD)"},
        {"{\"optimizer\": {\"name\": \"rmsprop\", \"alpha\": -0.5}}",
         ORIGIN ": train.optimizer.alpha: expected a number in [0, 1], found -0.5"},
        {"{\"clip_grad_norm\": -1}",
         ORIGIN ": train.clip_grad_norm: expected a number in [0, 1e+06], found -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_error(setup_run(cases[i].train), cases[i].msg);
        teardown_run();
    }
    /* A hyperparameter of another optimizer is an unknown key. */
    ck_assert_int_eq(setup_run("{\"optimizer\": {\"name\": \"adam\", \"momentum\": 0.9}}"), NN_OK);
    expect_error(nn_config_check_unknown(cfg),
                 ORIGIN ": unknown key `train.optimizer.momentum` (did you mean `train.optimizer.name`?)");
    teardown_run();
}
END_TEST

/* ---- the hook in the training step ---- */

/* One SGD step (lr 1, no momentum) on a fixed batch; returns the parameters
 * before and after in malloc'd copies. */
static void one_step(const char *extra, float **before, float **after, int64_t *n)
{
    char train[256];
    snprintf(train, sizeof train, "{\"batch_size\": 8, \"seed\": 3, \"optimizer\": {\"name\": \"sgd\", \"lr\": 1.0}%s}",
             extra);
    nn_status st = setup_run(train);
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    nn_rng r;
    nn_rng_seed(&r, 3, 3);
    for (int i = 0; i < 8 * 28 * 28; i++) run.x[i] = nn_rng_normal(&r);
    for (int i = 0; i < 8; i++) run.y[i] = (int32_t)nn_rng_below(&r, 10);
    const nn_params *p = &run.model.params;
    *n = p->total;
    *before = malloc(sizeof(float) * (size_t)p->total);
    *after = malloc(sizeof(float) * (size_t)p->total);
    memcpy(*before, p->values, sizeof(float) * (size_t)p->total);
    float loss;
    int correct;
    ck_assert_int_eq(nn_run_step(&run, run.x, run.y, 8, &loss, &correct), NN_OK);
    memcpy(*after, p->values, sizeof(float) * (size_t)p->total);
    teardown_run();
}

START_TEST(training_step_clips_and_adds_l1)
{
    float *p0, *p1;
    int64_t n;
    /* Unclipped, the step is the gradient: much longer than 0.01. */
    one_step("", &p0, &p1, &n);
    double raw = 0.0;
    float *g = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        g[i] = p0[i] - p1[i];
        raw += (double)g[i] * g[i];
    }
    raw = sqrt(raw);
    ck_assert(raw > 0.1);
    free(p0);
    free(p1);

    one_step(", \"clip_grad_norm\": 0.01", &p0, &p1, &n);
    double len = 0.0;
    for (int64_t i = 0; i < n; i++) len += ((double)p0[i] - p1[i]) * ((double)p0[i] - p1[i]);
    printf("  clip_grad_norm 0.01 in a LeNet-5 step: step length %.6g (unclipped %.4g)\n", sqrt(len), raw);
    ck_assert(fabs(sqrt(len) - 0.01) < 1e-5);
    free(p0);
    free(p1);

    one_step(", \"clip_grad_value\": 1e-4", &p0, &p1, &n);
    double largest = 0.0;
    for (int64_t i = 0; i < n; i++) largest = fmax(largest, fabs((double)p0[i] - p1[i]));
    ck_assert(largest <= 1.0001e-4 && largest >= 0.9999e-4);
    free(p0);
    free(p1);

    /* The L1 penalty moves each weight by a further l1 towards 0. */
    one_step(", \"l1\": 0.001", &p0, &p1, &n);
    for (int64_t i = 0; i < n; i++) {
        const double sign = (p0[i] > 0) - (p0[i] < 0);
        const double extra = (double)p0[i] - p1[i] - g[i];
        if (fabs(extra - 0.001 * sign) > 1e-6) ck_abort_msg("L1 at [%lld]: %g, expected %g", (long long)i, extra, 0.001 * sign);
    }
    free(p0);
    free(p1);
    free(g);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 60);
    printf("optimizers vs PyTorch (%s), %d steps each:\n", GOLDEN, STEPS);
    tcase_add_loop_test(tc, trajectories_match_pytorch, 0, N_VARIANTS);
    tcase_add_loop_test(tc, lbfgs_matches_pytorch, 0, N_LBFGS);
    tcase_add_loop_test(tc, lbfgs_table_matches_pytorch_and_resumes, 0, N_LBFGS);
    tcase_add_test(tc, golden_file_has_no_untested_variant);
    tcase_add_loop_test(tc, state_survives_a_checkpoint, 0, 5);
    tcase_add_test(tc, scalar_state_errors_name_the_key);
    tcase_add_test(tc, clipping_and_l1_match_pytorch);
    tcase_add_test(tc, norms_do_not_depend_on_the_thread_count);
    tcase_add_test(tc, config_numbers_reads_arrays_and_names_errors);
    tcase_add_test(tc, optimizer_from_config_with_pytorch_names);
    tcase_add_test(tc, optimizer_config_errors);
    tcase_add_test(tc, training_step_clips_and_adds_l1);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(optim_suite)
