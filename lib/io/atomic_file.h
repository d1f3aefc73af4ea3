/* Writing a file so that a crash leaves the old version or the new one,
 * never a torn one: write "<path>.tmp", fsync, rename over path, fsync the
 * directory. */
#ifndef NN_IO_ATOMIC_FILE_H
#define NN_IO_ATOMIC_FILE_H

#include <stddef.h>

#include "core/error.h"

/* One piece of a file to write, in order. */
typedef struct nn_file_part {
    const void *data;
    size_t size;
} nn_file_part;

/* Writes the parts as `path` atomically. On failure (NN_ERR_RUNTIME, message
 * naming the path and the system's reason) the temporary file is removed
 * and any existing `path` is untouched. */
nn_status nn_write_file_atomic(const char *path, const nn_file_part *parts, int n);

#endif
