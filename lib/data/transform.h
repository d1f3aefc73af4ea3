/* Image transforms: what happens to a sample between its bytes and the
 * normalized floats of a batch, as torchvision.transforms does it.
 *
 * A list of geometric transforms runs on 8-bit planar (CHW) images, each
 * result rounded back to bytes as torchvision's uint8 tensor path does; the
 * last step converts channels and normalizes, (byte / 255 - mean[c]) /
 * std[c], into float CHW. Random transforms draw from an nn_rng the caller
 * seeds per sample (the loader: from seed, epoch and sample index), so a
 * sample's result does not depend on which thread made it, or when.
 *
 * Geometry follows torchvision 0.14:
 *   RESIZE              Resize(size): the shorter side to `height` (width 0),
 *                       keeping the aspect ratio (long side truncated, as
 *                       int(size * long / short)); or exactly height x width.
 *                       Bilinear, half-pixel centres (align_corners=False);
 *                       antialias as Resize(antialias=True) on tensors
 *                       (a triangle filter widened by the downscale factor,
 *                       PIL's method) or off (plain 2-tap bilinear).
 *   CENTER_CROP         CenterCrop: offsets round((in - out) / 2), halves
 *                       rounded to even; a crop larger than the image pads it
 *                       with zeros as torchvision does.
 *   RANDOM_RESIZED_CROP RandomResizedCrop(size, scale, ratio): 10 attempts
 *                       at an area fraction in `scale` and a log-uniform
 *                       aspect ratio in `ratio`, then the central-crop
 *                       fallback; the crop is resized as RESIZE does.
 *   RANDOM_CROP         RandomCrop(size, padding): zero padding on every
 *                       side, then a uniformly placed crop.
 *   PAD                 Pad(padding): zeros on every side.
 *   HORIZONTAL_FLIP     RandomHorizontalFlip(p).
 * Zero padding is byte 0, so it normalizes to -mean/std, as in torchvision
 * where Pad runs before ToTensor and Normalize. */
#ifndef NN_DATA_TRANSFORM_H
#define NN_DATA_TRANSFORM_H

#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/image.h"

typedef enum nn_transform_kind {
    NN_TRANSFORM_RESIZE,
    NN_TRANSFORM_CENTER_CROP,
    NN_TRANSFORM_RANDOM_RESIZED_CROP,
    NN_TRANSFORM_RANDOM_CROP,
    NN_TRANSFORM_PAD,
    NN_TRANSFORM_HORIZONTAL_FLIP,
    NN_TRANSFORM_COUNT
} nn_transform_kind;

/* One transform; only the fields of its kind matter. */
typedef struct nn_transform {
    nn_transform_kind kind;
    int height, width;        /* output size; RESIZE with width 0: shorter side */
    int padding;              /* RANDOM_CROP, PAD */
    int antialias;            /* RESIZE, RANDOM_RESIZED_CROP */
    double scale[2], ratio[2];/* RANDOM_RESIZED_CROP */
    double p;                 /* HORIZONTAL_FLIP */
} nn_transform;

/* The config name of each kind ("resize", "center_crop", ...). */
extern const char *const nn_transform_names[NN_TRANSFORM_COUNT];

enum { NN_TRANSFORMS_MAX = 12 };

/* A whole pipeline: transforms in order, then channels and normalization. */
typedef struct nn_transforms {
    int n;
    nn_transform op[NN_TRANSFORMS_MAX];
    int channels;             /* output channels, 1 or 3: grey is repeated, RGB made grey */
    float mean[3], std[3];    /* per output channel */
    float lut[3][256];        /* byte -> normalized float, per output channel */
} nn_transforms;

/* An empty pipeline producing `channels` channels (1 or 3) normalized by
 * mean[c] and std[c]. */
void nn_transforms_init(nn_transforms *t, int channels, const float *mean, const float *std);

/* Appends op; the list holds NN_TRANSFORMS_MAX (asserted: configs cannot
 * give more). */
void nn_transforms_add(nn_transforms *t, nn_transform op);

/* Prepends op (predict puts a resize to the dataset's size in front). */
void nn_transforms_prepend(nn_transforms *t, nn_transform op);

/* The output size for an input of height x width, where 0 means "varies
 * by sample" (image files); *out_h and *out_w are 0 when the result still
 * varies. Computed from the list alone, no pixels needed. */
void nn_transforms_shape(const nn_transforms *t, int height, int width, int *out_h, int *out_w);

/* The bytes a sample starts from. */
typedef struct nn_transform_input {
    const uint8_t *pixels;
    int channels, height, width;   /* channels 1 or 3 */
    int interleaved;               /* 1: HWC (decoded files); 0: CHW (datasets in memory) */
} nn_transform_input;

/* PIL's convert("L") of n interleaved RGB pixels into n grey bytes:
 * ITU-R 601-2 luma, (299 R + 587 G + 114 B) / 1000 in 16-bit fixed point. */
void nn_rgb_to_grey(const uint8_t *rgb, int64_t n, uint8_t *grey);

/* Working memory of one thread: buffers that grow to the largest image
 * they have seen and stay. */
typedef struct nn_transform_scratch {
    nn_growbuf plane[2];      /* ping-pong 8-bit CHW images */
    nn_growbuf tmp;           /* float rows between the two resampling passes */
    nn_growbuf coef;          /* resampling taps and weights */
} nn_transform_scratch;

/* Empty buffers; nothing is allocated until needed. */
void nn_transform_scratch_init(nn_transform_scratch *s);

/* Frees the buffers. */
void nn_transform_scratch_deinit(nn_transform_scratch *s);

/* Grows s to what any input of channels x height x width needs, so that
 * applying t to such inputs never allocates (datasets in memory). */
nn_status nn_transforms_reserve(const nn_transforms *t, nn_transform_scratch *s, int channels,
                                int height, int width);

/* Runs the pipeline on `in`, drawing random choices from rng, and writes
 * t->channels x out_h x out_w normalized floats to out. NN_ERR_INPUT when the
 * image does not fit (a random crop larger than the padded image, or a
 * result of another size than out_h x out_w; the message says which and
 * the caller adds whose image it was); NN_ERR_RUNTIME when out of memory. */
nn_status nn_transforms_apply(const nn_transforms *t, nn_transform_scratch *s,
                              const nn_transform_input *in, nn_rng *rng, float *out, int out_h,
                              int out_w);

/* As nn_transforms_apply, but stops before normalizing: *pixels (inside s,
 * valid until its next use) gets the 8-bit CHW result with `channels`
 * channels (1 when the pipeline repeats grey at the end) and its size.
 * For tests and tools that want the bytes. */
nn_status nn_transforms_apply_bytes(const nn_transforms *t, nn_transform_scratch *s,
                                    const nn_transform_input *in, nn_rng *rng,
                                    const uint8_t **pixels, int *channels, int *height,
                                    int *width);

#endif
