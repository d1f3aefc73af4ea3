/* The table of datasets, looked up by name. */
#include "datasets/datasets.h"

#include <string.h>

const nn_dataset_def *const nn_datasets[] = {
    &nn_dataset_fashion_mnist,
    &nn_dataset_mnist,
    &nn_dataset_cifar10,
    &nn_dataset_cifar100,
    &nn_dataset_image_folder,
    NULL,
};

const nn_dataset_def *nn_dataset_find(const char *name)
{
    for (const nn_dataset_def *const *d = nn_datasets; *d; d++)
        if (strcmp((*d)->name, name) == 0) return *d;
    return NULL;
}
