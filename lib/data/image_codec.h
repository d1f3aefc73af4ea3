/* The decoders behind nn_image_decode (lib/data/image.h), one per library.
 * Private to lib/data: everything else goes through nn_image_decode. */
#ifndef NN_DATA_IMAGE_CODEC_H
#define NN_DATA_IMAGE_CODEC_H

#include "data/image.h"

/* Decode `size` bytes of a PNG (libpng) or JPEG (libjpeg) file into
 * d->pixels as RGB; `name` is the file, for messages. */
nn_status nn_png_decode(nn_image_decoder *d, const uint8_t *bytes, size_t size, const char *name,
                        nn_image *out);
nn_status nn_jpeg_decode(nn_image_decoder *d, const uint8_t *bytes, size_t size,
                         const char *name, nn_image *out);

/* Frees the decompressor nn_jpeg_decode keeps in d->jpeg. */
void nn_jpeg_free(void *jpeg);

#endif
