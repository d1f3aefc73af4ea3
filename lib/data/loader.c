#include "data/loader.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* Streams of the RNG, so that shuffling, the split and the transforms never
 * share draws. A sample's transform stream is (epoch + 1) << 32 | index:
 * above every small stream, and distinct for every (epoch, sample). */
enum { STREAM_SPLIT = 1, STREAM_EPOCH = 1000 };

static uint64_t sample_stream(int epoch, int32_t idx)
{
    return (uint64_t)(epoch + 1) << 32 | (uint32_t)idx;
}

nn_status nn_loader_init(nn_loader *l, nn_arena *a, const nn_image_split *split,
                         const int32_t *indices, int64_t count, int batch_size, int shuffle,
                         uint64_t seed, const nn_transforms *tf, int skip_corrupt)
{
    memset(l, 0, sizeof *l);
    l->split = split;
    l->indices = indices;
    l->count = count;
    l->batch_size = batch_size;
    l->shuffle = shuffle;
    l->seed = seed;
    l->tf = tf;
    l->channels = tf->channels;
    l->skip_corrupt = skip_corrupt && split->files;
    l->warnings = stderr;
    nn_transforms_shape(tf, split->height, split->width, &l->height, &l->width);
    if (!l->height)
        return nn_error(NN_ERR_INPUT,
                        "the images vary in size and the transforms do not fix it: end them with "
                        "center_crop, random_resized_crop, random_crop or an exact resize");
    l->order = NN_ARENA_NEW(a, int32_t, count > 0 ? count : 1);
    if (!l->order) return NN_ERR_RUNTIME;
    if (l->skip_corrupt) {
        l->skipped = nn_arena_calloc(a, (size_t)split->count + 1);
        if (!l->skipped) return NN_ERR_RUNTIME;
    }
    nn_loader_start_epoch(l, 0);
    return NN_OK;
}

void nn_loader_start_epoch(nn_loader *l, int epoch)
{
    l->epoch = epoch;
    memcpy(l->order, l->indices, sizeof(int32_t) * (size_t)l->count);
    if (!l->shuffle) return;
    nn_rng r;
    nn_rng_seed(&r, l->seed, STREAM_EPOCH + (uint64_t)epoch);
    nn_rng_shuffle(&r, l->order, l->count);
}

int64_t nn_loader_batches(const nn_loader *l) { return (l->count + l->batch_size - 1) / l->batch_size; }

int64_t nn_loader_sample_size(const nn_loader *l) { return (int64_t)l->channels * l->height * l->width; }

void nn_loader_scratch_init(nn_loader_scratch *s)
{
    nn_image_decoder_init(&s->decoder);
    nn_transform_scratch_init(&s->transform);
}

void nn_loader_scratch_deinit(nn_loader_scratch *s)
{
    nn_image_decoder_deinit(&s->decoder);
    nn_transform_scratch_deinit(&s->transform);
}

/* Sample idx of the split through the transforms into dst. */
static nn_status make_sample(const nn_loader *l, nn_loader_scratch *s, int32_t idx, float *dst)
{
    const nn_image_split *sp = l->split;
    nn_rng rng;
    nn_rng_seed(&rng, l->seed, sample_stream(l->epoch, idx));
    nn_transform_input in;
    const char *file = NULL;
    if (sp->pixels) {
        const int64_t per = (int64_t)sp->channels * sp->height * sp->width;
        in = (nn_transform_input){sp->pixels + idx * per, sp->channels, sp->height, sp->width, 0};
    } else {
        file = nn_image_split_file(sp, idx);
        nn_image img;
        NN_TRY(nn_image_decode(&s->decoder, file, &img));
        in = (nn_transform_input){img.rgb, 3, img.height, img.width, 1};
    }
    nn_status st = nn_transforms_apply(l->tf, &s->transform, &in, &rng, dst, l->height, l->width);
    if (st != NN_OK && st != NN_ERR_RUNTIME) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", nn_error_message());
        if (file) return nn_error(st, "%s: %s", file, msg);
        return nn_error(st, "sample %d: %s", (int)idx, msg);
    }
    return st;
}

nn_status nn_loader_fill(const nn_loader *l, nn_loader_scratch *s, int64_t b, float *x,
                         int32_t *y, int *n)
{
    const int64_t per = nn_loader_sample_size(l);
    const int64_t start = b * l->batch_size;
    const int want = (int)(l->count - start < l->batch_size ? l->count - start : l->batch_size);
    int kept = 0;
    for (int i = 0; i < want; i++) {
        const int32_t idx = l->order[start + i];
        if (l->skip_corrupt && __atomic_load_n(&l->skipped[idx], __ATOMIC_RELAXED)) continue;
        nn_status st = make_sample(l, s, idx, x + kept * per);
        if (st == NN_ERR_INPUT && l->skip_corrupt) {
            /* Whichever thread marks the file first reports it, once; the
             * sample is left out whether or not it was seen before, so the
             * batch does not depend on timing. */
            if (!__atomic_exchange_n(&l->skipped[idx], 1, __ATOMIC_RELAXED))
                fprintf(l->warnings, "nnzoo: warning: %s; skipped (data.skip_corrupt)\n", nn_error_message());
            nn_error_clear();
            continue;
        }
        if (st != NN_OK) return st;
        y[kept++] = l->split->labels[idx];
    }
    *n = kept;
    return NN_OK;
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
