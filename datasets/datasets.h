/* The datasets nnzoo can train on, by name. (Choosing a dataset's folder,
 * nn_dataset_resolve_root, is in lib/data/dataset.h: the training loop in
 * lib/ needs it and cannot include from here.) */
#ifndef NN_DATASETS_DATASETS_H
#define NN_DATASETS_DATASETS_H

#include "data/dataset.h"

/* MNIST-format datasets (datasets/mnist_format.c): a folder holding
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz; 1x28x28 images, 10
 * classes. Fashion-MNIST defaults to the Debian package's folder; MNIST has
 * no default and needs data.root or NNZOO_DATA. */
extern const nn_dataset_def nn_dataset_fashion_mnist;
extern const nn_dataset_def nn_dataset_mnist;

/* CIFAR-10 and CIFAR-100, binary version (datasets/cifar.c): 3x32x32
 * images; found under NNZOO_DATA as cifar-10-batches-bin/ and
 * cifar-100-binary/ (the archives' own folder names). */
extern const nn_dataset_def nn_dataset_cifar10;
extern const nn_dataset_def nn_dataset_cifar100;

/* Folders of PNG/JPEG images, one per class, under train/ and val/ or test/
 * (datasets/image_folder.c): decoded to RGB as batches need them. */
extern const nn_dataset_def nn_dataset_image_folder;

/* Every registered dataset, NULL-terminated. */
extern const nn_dataset_def *const nn_datasets[];

/* The dataset called `name`, or NULL if none is (the caller reports it,
 * listing nn_datasets). */
const nn_dataset_def *nn_dataset_find(const char *name);

#endif
