/* nnzoo list: everything the zoo has, by kind. */
#include <stdio.h>

#include "cli.h"
#include "datasets/datasets.h"
#include "models/models.h"
#include "ops/ops.h"
#include "optim/optimizer.h"

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
    printf("losses:\n  cross_entropy\n");
    printf("optimizers:\n");
    for (int i = 0; nn_optimizers[i]; i++) {
        const nn_optimizer_def *o = nn_optimizers[i];
        printf("  %-22s", o->name);
        for (int j = 0; j < o->n_hparams; j++) printf(" %s=%g", o->hparams[j].name, o->hparams[j].def);
        printf("\n");
    }
    return EXIT_OK;
}
