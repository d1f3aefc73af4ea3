/* nnzoo list: everything the zoo has, by kind. */
#include <stdio.h>

#include "cli.h"
#include "datasets/datasets.h"
#include "models/models.h"
#include "nn/params.h"
#include "ops/ops.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/loss_choice.h"

int cmd_list(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("models:\n");
    for (int i = 0; nn_models[i]; i++) printf("  %-22s %s\n", nn_models[i]->name, nn_models[i]->summary);
    printf("datasets:\n");
    for (int i = 0; nn_datasets[i]; i++)
        printf("  %-22s %s\n", nn_datasets[i]->name, nn_datasets[i]->summary);
    printf("ops:\n");
    for (int i = 0; i < NN_OP_COUNT; i++) printf("  %s\n", nn_op_defs[i].name);
    printf("losses:\n  cross_entropy\n  nll\n  mse\n  l1\n  smooth_l1\n  huber\n  bce\n"
           "  bce_with_logits\n  kl_div\n  cosine_embedding\n  sce\n");
    printf("training losses (train.loss.name):\n");
    for (int i = 0; i < NN_TRAIN_LOSS_COUNT; i++)
        printf("  %-22s %s\n", nn_train_losses[i].name, nn_train_losses[i].options);
    printf("optimizers:\n");
    for (int i = 0; nn_optimizers[i]; i++) {
        const nn_optimizer_def *o = nn_optimizers[i];
        printf("  %-22s", o->name);
        for (int j = 0; j < o->n_hparams; j++) {
            const nn_hparam *h = &o->hparams[j];
            if (h->type == NN_HPARAM_BOOL) printf(" %s=%s", h->name, h->def != 0.0 ? "true" : "false");
            else if (h->type == NN_HPARAM_PAIR) printf(" %s=[%g,%g]", h->name, h[0].def, h[1].def);
            else if (h->type == NN_HPARAM_NUMBER) printf(" %s=%g", h->name, h->def);
            else if (h->type == NN_HPARAM_CHOICE) printf(" %s=%s", h->name, h->choices[(int)h->def]);
            /* NN_HPARAM_PAIR_SECOND: printed with its first */
        }
        printf("\n");
    }
    printf("initializers:\n");
    for (int i = 0; i < NN_INIT_COUNT; i++) {
        const nn_init_def *d = &nn_init_defs[i];
        printf("  %-*s", d->n_args ? 22 : 0, d->name);
        for (int j = 0; j < d->n_args; j++) {
            const nn_init_arg *a = &d->args[j];
            if (a->choices) printf(" %s=%s", a->name, a->choices[(int)a->def]);
            else printf(" %s=%g", a->name, a->def);
        }
        printf("\n");
    }
    printf("schedules:\n");
    for (int i = 0; nn_schedules[i]; i++) {
        const nn_schedule_def *d = nn_schedules[i];
        printf("  %-22s", d->name);
        /* The warm-up pair, common to all, is printed once below. */
        for (int j = 0; j < d->n_hparams - NN_SCHEDULE_N_COMMON + 1; j++) {
            const nn_schedule_hparam *h = &d->hparams[j];
            if (h->required) printf(" %s=required", h->name);
            else if (h->type == NN_SCHEDULE_HPARAM_CHOICE) printf(" %s=%s", h->name, h->choices[(int)h->def]);
            else if (h->type == NN_SCHEDULE_HPARAM_BOOL) printf(" %s=%s", h->name, h->def != 0.0 ? "true" : "false");
            else printf(" %s=%g", h->name, h->def);
        }
        printf("\n");
    }
    printf("  (any schedule) warmup_steps=0 start_factor=%g: linear warm-up first\n",
           nn_schedules[0]->hparams[nn_schedules[0]->n_hparams - 1].def);
    return EXIT_OK;
}
