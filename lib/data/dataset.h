/* Datasets as the training loop sees them.
 *
 * An image-classification split held in memory as bytes: `count` images of
 * channels x height x width uint8 pixels (CHW order) and one int32 label
 * each. Readers in datasets/ fill it; the loader in lib/data turns batches of
 * it into normalized float tensors. */
#ifndef NN_DATA_DATASET_H
#define NN_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct nn_config;

typedef struct nn_image_split {
    int64_t count;
    int channels, height, width;
    int num_classes;
    uint8_t *pixels;   /* count * channels * height * width, malloc'd */
    int32_t *labels;   /* count, each in [0, num_classes), malloc'd */
} nn_image_split;

/* Frees pixels and labels. */
void nn_image_split_deinit(nn_image_split *s);

/* A dataset family that datasets/ implements and registers by name. */
typedef struct nn_dataset_def {
    const char *name;
    const char *summary;
    /* Per-channel mean and std of the training pixels in [0,1], the
     * normalization used when the config does not give its own. */
    float mean, std;
    /* Reads both splits from `root` (a folder). Errors name the file. */
    nn_status (*load)(nn_image_split *train, nn_image_split *test, const char *root);
    /* Where to look when neither data.root nor NNZOO_DATA is set; and the
     * folder name under NNZOO_DATA. */
    const char *default_root;
    const char *folder;
    /* The shape of one sample and the number of classes, known without
     * reading the files (benchmarks and --init-only build from them). */
    int channels, height, width, num_classes;
} nn_dataset_def;

/* Picks the folder to read `d` from, in this order: config_root when it is
 * not NULL or empty (data.root), else $NNZOO_DATA/<d->folder> when NNZOO_DATA
 * is set and not empty, else d->default_root. Writes it to out (size bytes).
 * NN_ERR_INPUT when there is no candidate (the message says to set data.root
 * or NNZOO_DATA) or the path does not fit. Does not check that it exists:
 * d->load names the first missing file. */
nn_status nn_dataset_resolve_root(const nn_dataset_def *d, const char *config_root, char *out,
                                  size_t size);

#endif
