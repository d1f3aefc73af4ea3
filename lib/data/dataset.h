/* Datasets as the training loop sees them.
 *
 * An image-classification split: `count` images and one int32 label each.
 * Either held in memory as bytes (channels x height x width uint8 pixels,
 * CHW order: MNIST, CIFAR), or as a list of image files decoded when a batch
 * needs them (image folders). Readers in datasets/ fill it; the loader in
 * lib/data turns batches of it into normalized float tensors. */
#ifndef NN_DATA_DATASET_H
#define NN_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct nn_config;

typedef struct nn_image_split {
    int64_t count;
    int channels, height, width;   /* height and width 0: they vary (files) */
    int num_classes;
    uint8_t *pixels;   /* count * channels * height * width, malloc'd; NULL for files */
    int32_t *labels;   /* count, each in [0, num_classes), malloc'd */
    /* Image files (pixels NULL): sample i is the file at
     * files + file_offsets[i] (NUL-terminated), decoded to RGB. */
    char *files;             /* malloc'd */
    int64_t *file_offsets;   /* count, malloc'd */
    /* Class names in label order when the data names them (image folders:
     * the folder names), else NULL. One malloc'd block. */
    char **class_names;
} nn_image_split;

/* Frees everything the split holds. */
void nn_image_split_deinit(nn_image_split *s);

/* The path of sample i of a file-backed split. */
static inline const char *nn_image_split_file(const nn_image_split *s, int64_t i)
{
    return s->files + s->file_offsets[i];
}

/* Copies n strings into one malloc'd block (the pointer array followed by
 * the text), for class_names; NULL when out of memory. Free with free(). */
char **nn_strings_pack(const char *const *strings, int n);

/* A dataset family that datasets/ implements and registers by name. */
typedef struct nn_dataset_def {
    const char *name;
    const char *summary;
    /* Mean and std of the training pixels in [0,1], the normalization used
     * when the config does not give its own: `mean` and `std` for every
     * channel of a grey dataset; colour datasets give rgb_mean and rgb_std
     * (std > 0) per channel, and a grey run of them (data.channels 1) uses
     * their averages. */
    float mean, std;
    float rgb_mean[3], rgb_std[3];
    /* Reads both splits from `root` (a folder). Errors name the file. */
    nn_status (*load)(nn_image_split *train, nn_image_split *test, const char *root);
    /* Where to look when neither data.root nor NNZOO_DATA is set; and the
     * folder name under NNZOO_DATA. */
    const char *default_root;
    const char *folder;
    /* The shape of one sample and the number of classes, known without
     * reading the files (benchmarks and --init-only build from them).
     * height and width 0: samples vary in size (image files; the transforms
     * fix the size); num_classes 0: found in the data (data.num_classes
     * gives it without reading). */
    int channels, height, width, num_classes;
    /* The names of the classes in label order, or NULL (then the class
     * index names it, or the data does: see list_classes). */
    const char *const *class_names;
    /* For datasets whose classes are found in the files: lists them from
     * `root` without reading any sample (*names: nn_strings_pack'd, the
     * caller frees). NULL for the others. */
    nn_status (*list_classes)(const char *root, char ***names, int *count);
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
