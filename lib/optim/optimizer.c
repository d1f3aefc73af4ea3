#include "optim/optimizer.h"

#include <string.h>

const nn_optimizer_def *const nn_optimizers[] = {
    &nn_optimizer_sgd,
    NULL,
};

const nn_optimizer_def *nn_optimizer_find(const char *name)
{
    for (int i = 0; nn_optimizers[i]; i++)
        if (!strcmp(nn_optimizers[i]->name, name)) return nn_optimizers[i];
    return NULL;
}

nn_status nn_optimizer_init(nn_optimizer *o, const nn_optimizer_def *def, nn_params *params,
                            const double *hp)
{
    NN_ASSERT(def->n_hparams <= NN_OPTIM_MAX_HPARAMS && def->n_state <= NN_OPTIM_MAX_STATE);
    memset(o, 0, sizeof *o);
    o->def = def;
    o->params = params;
    for (int i = 0; i < def->n_hparams; i++) o->hp[i] = hp[i];
    o->lr = hp[0];
    for (int i = 0; i < def->n_state; i++) {
        o->state[i] = nn_arena_calloc(params->arena, sizeof(float) * (size_t)params->total);
        if (!o->state[i]) return NN_ERR_RUNTIME;
    }
    return NN_OK;
}
