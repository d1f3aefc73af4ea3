/* Batches of an in-memory image split as normalized float tensors.
 *
 * A loader walks a subset of a split (given as indices). With shuffling on,
 * each epoch's order is a permutation drawn from (seed, epoch) alone, so a
 * run resumed at epoch e, batch b sees exactly the batches the original run
 * would have seen. */
#ifndef NN_DATA_LOADER_H
#define NN_DATA_LOADER_H

#include "core/arena.h"
#include "data/dataset.h"

typedef struct nn_loader {
    const nn_image_split *split;
    const int32_t *indices;   /* the subset, in file order */
    int64_t count;
    int batch_size;
    int shuffle;
    uint64_t seed;
    int32_t *order;           /* this epoch's order of `indices` */
    float lut[256];           /* pixel byte -> normalized float */
} nn_loader;

/* Sets up a loader over split->pixels[indices[0..count)]; buffers come from
 * `a`. Pixels map to (byte / 255 - mean) / std. */
nn_status nn_loader_init(nn_loader *l, nn_arena *a, const nn_image_split *split,
                         const int32_t *indices, int64_t count, int batch_size, int shuffle,
                         uint64_t seed, float mean, float std);

/* Fixes the order for `epoch` (0-based). */
void nn_loader_start_epoch(nn_loader *l, int epoch);

/* Batches per epoch (the last one may be short). */
int64_t nn_loader_batches(const nn_loader *l);

/* Writes batch b of the current epoch into x (batch_size * C * H * W floats)
 * and y; returns how many samples it holds. */
int nn_loader_fill(const nn_loader *l, int64_t b, float *x, int32_t *y);

/* Splits [0, n) into a validation set of `val_count` indices drawn by `seed`
 * and the rest for training; both come back sorted in file order, from `a`. */
nn_status nn_split_train_val(nn_arena *a, int64_t n, int64_t val_count, uint64_t seed,
                             int32_t **train, int64_t *train_count, int32_t **val);

#endif
