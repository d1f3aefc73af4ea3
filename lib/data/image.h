/* Image files decoded into 8-bit RGB pixels.
 *
 * One small interface in front of the decoding libraries (libpng,
 * libjpeg-turbo): nn_image_decode() reads a PNG or JPEG file, told apart by
 * its first bytes, into interleaved RGB (HWC) bytes. Whatever the file holds
 * comes out as RGB: grey, grey+alpha and palette PNGs are expanded, alpha is
 * dropped (as PIL's convert("RGB")), 16-bit samples are rounded to 8 bits,
 * grey JPEGs are repeated and CMYK/YCCK JPEGs converted.
 *
 * A decoder holds what it needs between files (the file bytes, row
 * pointers, libjpeg's decompressor), growing its buffers to the largest
 * image seen and keeping them: after the first few images it does not call
 * malloc itself (libjpeg's own per-image pools still do). One decoder per
 * thread. */
#ifndef NN_DATA_IMAGE_H
#define NN_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Larger images are refused: a damaged or hostile header must not make us
 * allocate gigabytes. 2^26 pixels is 8192x8192; photographs are far below. */
#define NN_IMAGE_MAX_PIXELS ((int64_t)1 << 26)
#define NN_IMAGE_MAX_SIDE 65535
/* Files larger than this are refused before reading them. */
#define NN_IMAGE_MAX_FILE_BYTES ((int64_t)1 << 28)

/* A decoded image: height x width x 3 bytes, rows top to bottom. */
typedef struct nn_image {
    uint8_t *rgb;        /* owned by the decoder; valid until its next decode */
    int height, width;
} nn_image;

/* A buffer that only ever grows. */
typedef struct nn_growbuf {
    void *data;
    size_t size;
} nn_growbuf;

/* Makes b hold at least `bytes`; keeps the contents only up to the old
 * size when it has to grow. NN_ERR_RUNTIME (with a message) when out of
 * memory. */
nn_status nn_growbuf_reserve(nn_growbuf *b, size_t bytes);

/* Frees the memory and empties b (reusable). */
void nn_growbuf_free(nn_growbuf *b);

typedef struct nn_image_decoder {
    nn_growbuf file;     /* the file's bytes */
    nn_growbuf pixels;   /* the RGB result */
    nn_growbuf rows;     /* row pointers (libpng), a scanline (libjpeg) */
    void *jpeg;          /* libjpeg's decompressor, created on first use */
} nn_image_decoder;

/* An empty decoder; takes no memory until the first decode. */
void nn_image_decoder_init(nn_image_decoder *d);

/* Frees its buffers and libjpeg's decompressor; images it returned die. */
void nn_image_decoder_deinit(nn_image_decoder *d);

/* Decodes the PNG or JPEG file at `path` into out (pixels owned by d).
 * NN_ERR_INPUT, with one line naming the file, for a file that cannot be
 * read, is not PNG or JPEG, is truncated ("truncated at byte N") or corrupt
 * (the library's reason and, for PNG, the byte offset), or too large;
 * NN_ERR_RUNTIME when out of memory. Never crashes on bad input. */
nn_status nn_image_decode(nn_image_decoder *d, const char *path, nn_image *out);

/* As nn_image_decode, from `size` bytes in memory; `name` is used in
 * messages. */
nn_status nn_image_decode_memory(nn_image_decoder *d, const uint8_t *bytes, size_t size,
                                 const char *name, nn_image *out);

#endif
