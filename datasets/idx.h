/* IDX files (the MNIST format), optionally gzip-compressed.
 *
 * Layout: magic (0x00 0x00 type ndim), ndim big-endian uint32 dimensions, then
 * the data. nnzoo reads type 0x08 (unsigned bytes). */
#ifndef NN_DATASETS_IDX_H
#define NN_DATASETS_IDX_H

#include <stdint.h>

#include "core/error.h"

typedef struct nn_idx {
    int ndim;
    uint32_t dims[4];
    uint8_t *data;      /* product(dims) bytes, malloc'd */
    int64_t size;       /* product(dims) */
} nn_idx;

/* Reads the whole file (gzip or plain, told apart by zlib) and checks the
 * magic, the dimensions and that exactly product(dims) data bytes follow.
 * Errors (NN_ERR_INPUT) name the file and the byte offset in the
 * uncompressed stream: "<file>: truncated at byte 123456: expected 7840016
 * bytes (16-byte header + 10000x28x28), found 123456". */
nn_status nn_idx_read(const char *path, nn_idx *out);

void nn_idx_deinit(nn_idx *idx);

#endif
