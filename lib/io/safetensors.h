/* safetensors files: 8-byte little-endian header length N, N bytes of JSON
 * header ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}), then the raw little-endian data.
 * nnzoo reads and writes F32 tensors, and I64 ones for PyTorch's integer
 * buffers (BatchNorm's num_batches_tracked, a 0-d int64 in torch's files).
 * Tensors may be 0-d (shape []: one element).
 *
 * Writing is atomic: the file is written as "<path>.tmp", fsynced, renamed
 * over `path`, and the directory fsynced, so a crash leaves either the old
 * file or the new one, never a torn one.
 *
 * Reading trusts nothing in the file: the header length, every offset and
 * every shape is checked against the real file size before use, and each
 * problem is one line naming the file, the byte offset or tensor, and what was
 * expected (status NN_ERR_INPUT). */
#ifndef NN_IO_SAFETENSORS_H
#define NN_IO_SAFETENSORS_H

#include <stdint.h>

#include "core/error.h"

typedef struct nn_st_tensor {
    const char *name;
    const float *data;
    int ndim;
    const int *shape;
} nn_st_tensor;

typedef struct nn_st_meta {
    const char *key;
    const char *value;
} nn_st_meta;

/* Writes `n` tensors in the given order and `n_meta` metadata pairs. */
nn_status nn_safetensors_write(const char *path, const nn_st_tensor *tensors, int n,
                               const nn_st_meta *meta, int n_meta);

/* The dtypes nnzoo writes. */
typedef enum nn_st_dtype {
    NN_ST_F32,
    NN_ST_I64,
} nn_st_dtype;

/* A tensor of either dtype: `data` holds numel elements of it. */
typedef struct nn_st_typed_tensor {
    const char *name;
    nn_st_dtype dtype;
    const void *data;
    int ndim;
    const int *shape;
} nn_st_typed_tensor;

/* As nn_safetensors_write, each tensor with its own dtype. */
nn_status nn_safetensors_write_typed(const char *path, const nn_st_typed_tensor *tensors, int n,
                                     const nn_st_meta *meta, int n_meta);

typedef struct nn_safetensors nn_safetensors;

/* Reads and validates the whole file; *out is freed with nn_safetensors_close. */
nn_status nn_safetensors_open(nn_safetensors **out, const char *path);
void nn_safetensors_close(nn_safetensors *f);

/* Number of tensors, and the i-th name (file order of the header). */
int nn_safetensors_count(const nn_safetensors *f);
const char *nn_safetensors_name(const nn_safetensors *f, int i);

/* Metadata value for key, or NULL. */
const char *nn_safetensors_meta(const nn_safetensors *f, const char *key);

/* 1 if a tensor of that name exists. */
int nn_safetensors_has(const nn_safetensors *f, const char *name);

/* The shape of tensor `name` (at most 8 dimensions); -1 if there is none. */
int nn_safetensors_shape(const nn_safetensors *f, const char *name, int *ndim, int shape[8]);

/* The dtype of tensor `name` as the header spells it ("F32", "I64", ...),
 * or NULL if there is none. Owned by f. */
const char *nn_safetensors_dtype(const nn_safetensors *f, const char *name);

/* Copies tensor `name` into dst after checking it exists, is F32 and has
 * exactly the given shape; errors name the file, tensor, found and expected. */
nn_status nn_safetensors_read(const nn_safetensors *f, const char *name, int ndim,
                              const int *shape, float *dst);

/* As nn_safetensors_read for an I64 tensor. */
nn_status nn_safetensors_read_i64(const nn_safetensors *f, const char *name, int ndim,
                                  const int *shape, int64_t *dst);

#endif
