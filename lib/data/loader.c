#include "data/loader.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* Streams of the RNG, so that shuffling and the split never share draws. */
enum { STREAM_SPLIT = 1, STREAM_EPOCH = 1000 };

nn_status nn_loader_init(nn_loader *l, nn_arena *a, const nn_image_split *split,
                         const int32_t *indices, int64_t count, int batch_size, int shuffle,
                         uint64_t seed, float mean, float std)
{
    memset(l, 0, sizeof *l);
    l->split = split;
    l->indices = indices;
    l->count = count;
    l->batch_size = batch_size;
    l->shuffle = shuffle;
    l->seed = seed;
    l->order = NN_ARENA_NEW(a, int32_t, count > 0 ? count : 1);
    if (!l->order) return NN_ERR_RUNTIME;
    for (int v = 0; v < 256; v++) l->lut[v] = ((float)v / 255.0f - mean) / std;
    nn_loader_start_epoch(l, 0);
    return NN_OK;
}

void nn_loader_start_epoch(nn_loader *l, int epoch)
{
    memcpy(l->order, l->indices, sizeof(int32_t) * (size_t)l->count);
    if (!l->shuffle) return;
    nn_rng r;
    nn_rng_seed(&r, l->seed, STREAM_EPOCH + (uint64_t)epoch);
    nn_rng_shuffle(&r, l->order, l->count);
}

int64_t nn_loader_batches(const nn_loader *l) { return (l->count + l->batch_size - 1) / l->batch_size; }

int nn_loader_fill(const nn_loader *l, int64_t b, float *x, int32_t *y)
{
    const nn_image_split *s = l->split;
    const int64_t per = (int64_t)s->channels * s->height * s->width;
    int64_t start = b * l->batch_size;
    int n = (int)(l->count - start < l->batch_size ? l->count - start : l->batch_size);
    for (int i = 0; i < n; i++) {
        int32_t idx = l->order[start + i];
        const uint8_t *px = s->pixels + idx * per;
        float *dst = x + i * per;
        for (int64_t j = 0; j < per; j++) dst[j] = l->lut[px[j]];
        y[i] = s->labels[idx];
    }
    return n;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

nn_status nn_split_train_val(nn_arena *a, int64_t n, int64_t val_count, uint64_t seed,
                             int32_t **train, int64_t *train_count, int32_t **val)
{
    NN_ASSERT(val_count >= 0 && val_count < n);
    int32_t *all = NN_ARENA_NEW(a, int32_t, n);
    if (!all) return NN_ERR_RUNTIME;
    for (int64_t i = 0; i < n; i++) all[i] = (int32_t)i;
    nn_rng r;
    nn_rng_seed(&r, seed, STREAM_SPLIT);
    nn_rng_shuffle(&r, all, n);
    /* The first val_count of the permutation are validation; sorting each
     * part keeps file order for runs without shuffling. */
    qsort(all, (size_t)val_count, sizeof *all, cmp_i32);
    qsort(all + val_count, (size_t)(n - val_count), sizeof *all, cmp_i32);
    *val = all;
    *train = all + val_count;
    *train_count = n - val_count;
    return NN_OK;
}
