#include "optim/optimizer.h"

#include <math.h>
#include <string.h>

const nn_optimizer_def *const nn_optimizers[] = {
    &nn_optimizer_sgd,
    &nn_optimizer_adagrad,
    &nn_optimizer_adadelta,
    &nn_optimizer_rmsprop,
    &nn_optimizer_adam,
    &nn_optimizer_adamw,
    &nn_optimizer_adamax,
    &nn_optimizer_nadam,
    &nn_optimizer_rprop,
    &nn_optimizer_asgd,
    &nn_optimizer_lbfgs,
    NULL,
};

const nn_optimizer_def *nn_optimizer_find(const char *name)
{
    for (int i = 0; nn_optimizers[i]; i++)
        if (!strcmp(nn_optimizers[i]->name, name)) return nn_optimizers[i];
    return NULL;
}

/* A table our own code got wrong: a pair without its second half, or the
 * other way round. */
static int table_is_valid(const nn_optimizer_def *def)
{
    if (def->n_hparams < 1 || strcmp(def->hparams[0].name, "lr")) return 0;
    for (int i = 0; i < def->n_hparams; i++) {
        const nn_hparam *h = &def->hparams[i];
        int second = i + 1 < def->n_hparams && def->hparams[i + 1].type == NN_HPARAM_PAIR_SECOND;
        if ((h->type == NN_HPARAM_PAIR) != second) return 0;
        if (second && strcmp(h->name, def->hparams[i + 1].name)) return 0;
        if (h->type == NN_HPARAM_PAIR) i++;
        else if (h->open) return 0;
        if ((h->type == NN_HPARAM_CHOICE) != (h->choices != NULL)) return 0;
    }
    if (!def->step == !def->step_closure) return 0;
    return 1;
}

nn_status nn_optimizer_init(nn_optimizer *o, const nn_optimizer_def *def, nn_params *params,
                            const double *hp)
{
    NN_ASSERT(def->n_hparams <= NN_OPTIM_MAX_HPARAMS && def->n_state <= NN_OPTIM_MAX_STATE &&
              def->n_scalars <= NN_OPTIM_MAX_SCALARS && table_is_valid(def));
    const char *why;
    NN_ASSERT(!def->check || def->check(hp, &why) < 0);
    memset(o, 0, sizeof *o);
    o->def = def;
    o->params = params;
    for (int i = 0; i < def->n_hparams; i++) o->hp[i] = hp[i];
    o->lr = hp[0];
    for (int i = 0; i < def->n_state; i++) {
        o->state[i] = nn_arena_calloc(params->arena, sizeof(float) * (size_t)params->total);
        if (!o->state[i]) return NN_ERR_RUNTIME;
    }
    if (def->init) def->init(o);
    return def->setup ? def->setup(o) : NN_OK;
}

/* At most this many blocks, so their partial sums fit on the stack. */
#define MAX_BLOCKS 1024
#define MIN_BLOCK 4096

/* b == NULL: sum of |a[i]|; else of a[i] * b[i]. */
static double blocked_sum(const float *a, const float *b, int64_t n)
{
    if (n <= 0) return 0.0;
    int64_t block = (n + MAX_BLOCKS - 1) / MAX_BLOCKS;
    if (block < MIN_BLOCK) block = MIN_BLOCK;
    const int64_t nblocks = (n + block - 1) / block;
    double part[MAX_BLOCKS];
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t k = 0; k < nblocks; k++) {
        const int64_t lo = k * block, hi = lo + block < n ? lo + block : n;
        double s = 0.0;
        if (b)
            for (int64_t i = lo; i < hi; i++) s += (double)a[i] * (double)b[i];
        else
            for (int64_t i = lo; i < hi; i++) s += fabs((double)a[i]);
        part[k] = s;
    }
    double s = 0.0;
    for (int64_t k = 0; k < nblocks; k++) s += part[k];
    return s;
}

double nn_optim_dot(const float *a, const float *b, int64_t n) { return blocked_sum(a, b, n); }

double nn_optim_sum_abs(const float *a, int64_t n) { return blocked_sum(a, NULL, n); }
