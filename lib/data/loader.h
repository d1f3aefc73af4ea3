/* Batches of an image split as normalized float tensors.
 *
 * A loader walks a subset of a split (given as indices). With shuffling on,
 * each epoch's order is a permutation drawn from (seed, epoch) alone, and
 * each sample's random transforms draw from (seed, epoch, sample index)
 * alone, so a batch's contents depend on nothing else: not on the thread
 * that made it, nor on the thread count, nor on whether the run was resumed
 * at epoch e, batch b.
 *
 * Batches are made ahead by a prefetcher: background threads fill a ring of
 * preallocated batch buffers while the training step runs, and the loop
 * takes batch b as soon as it is ready (nn_loader_begin / nn_loader_next /
 * nn_loader_end). One prefetcher serves all of a run's loaders, one at a
 * time, so its buffers are sized once for the largest batch. With 0
 * workers the asking thread makes each batch itself, the same bytes. */
#ifndef NN_DATA_LOADER_H
#define NN_DATA_LOADER_H

#include <stdio.h>

#include "core/arena.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/transform.h"

typedef struct nn_prefetch nn_prefetch;

typedef struct nn_loader {
    const nn_image_split *split;
    const int32_t *indices;   /* the subset, in file order */
    int64_t count;
    int batch_size;
    int shuffle;
    uint64_t seed;
    int32_t *order;           /* this epoch's order of `indices` */
    int epoch;                /* the epoch `order` is for */
    const nn_transforms *tf;  /* the caller's; lives as long as the loader */
    int channels, height, width;  /* one sample after the transforms */
    int skip_corrupt;         /* leave unreadable image files out, with a warning */
    FILE *warnings;           /* where those warnings go (stderr) */
    uint8_t *skipped;         /* per split sample: 1 once found unreadable */
    nn_prefetch *prefetch;    /* who makes the batches (nn_loader_begin) */
} nn_loader;

/* Sets up a loader over split->pixels[indices[0..count)] (or its files);
 * buffers come from `a`. Each sample goes through `tf` (kept by pointer),
 * whose output size must be fixed: NN_ERR_INPUT otherwise, saying so. With
 * skip_corrupt, image files that cannot be decoded are left out of their
 * batch, one warning line each on l->warnings; otherwise they are an error. */
nn_status nn_loader_init(nn_loader *l, nn_arena *a, const nn_image_split *split,
                         const int32_t *indices, int64_t count, int batch_size, int shuffle,
                         uint64_t seed, const nn_transforms *tf, int skip_corrupt);

/* Fixes the order for `epoch` (0-based). Not while the loader is begun. */
void nn_loader_start_epoch(nn_loader *l, int epoch);

/* Batches per epoch (the last one may be short). */
int64_t nn_loader_batches(const nn_loader *l);

/* Floats in one sample: channels * height * width. */
int64_t nn_loader_sample_size(const nn_loader *l);

/* What one thread needs to make samples: an image decoder and transform
 * buffers. */
typedef struct nn_loader_scratch {
    nn_image_decoder decoder;
    nn_transform_scratch transform;
} nn_loader_scratch;

/* Empty; allocates as samples need it. */
void nn_loader_scratch_init(nn_loader_scratch *s);

/* Frees the decoder and the transform buffers. */
void nn_loader_scratch_deinit(nn_loader_scratch *s);

/* Makes batch b of the current epoch in the calling thread: x gets up to
 * batch_size samples, y their labels, *n how many (fewer than asked only
 * when unreadable files were skipped). Errors name the file or sample. */
nn_status nn_loader_fill(const nn_loader *l, nn_loader_scratch *s, int64_t b, float *x,
                         int32_t *y, int *n);

/* A prefetcher with `workers` background threads (0: none) and buffers for
 * batches of up to max_batch samples of `sample_size` floats (workers + 1
 * of them, at least 2). The threads block all signals. NN_ERR_RUNTIME when
 * out of memory or threads cannot start. */
nn_status nn_prefetch_create(nn_prefetch **out, int workers, int max_batch, int64_t sample_size);

/* Stops and joins the threads, frees the buffers. NULL is fine. */
void nn_prefetch_free(nn_prefetch *p);

/* Lets p make l's batches (each batch at most p's max_batch samples of the
 * same size). */
void nn_loader_use(nn_loader *l, nn_prefetch *p);

/* A batch ready for the step: valid until the next nn_loader_next or
 * nn_loader_end of that loader. */
typedef struct nn_batch {
    const float *x;
    const int32_t *y;
    int n;
    int64_t index;
} nn_batch;

/* Fixes the order for `epoch` and starts making its batches from batch
 * `first` on (a resumed run starts mid-epoch). Whatever the prefetcher was
 * doing for any loader is abandoned first. */
void nn_loader_begin(nn_loader *l, int epoch, int64_t first);

/* The next batch, in order, waiting for it if it is not ready. Its error,
 * if making it failed (the message names the file), is returned here, in
 * the caller's thread. Asking past the last batch is a bug (asserted). */
nn_status nn_loader_next(nn_loader *l, nn_batch *out);

/* Stops making l's batches (returns once no thread is working on them). */
void nn_loader_end(nn_loader *l);

/* Splits [0, n) into a validation set of `val_count` indices drawn by `seed`
 * and the rest for training; both come back sorted in file order, from `a`. */
nn_status nn_split_train_val(nn_arena *a, int64_t n, int64_t val_count, uint64_t seed,
                             int32_t **train, int64_t *train_count, int32_t **val);

#endif
