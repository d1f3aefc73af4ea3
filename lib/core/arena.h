/* Bump allocators.
 *
 * The persistent arena holds what lives for the whole run (parameters,
 * gradients, optimizer state, model structs); the step arena holds everything
 * one training step creates and is reset at the top of the next step.
 *
 * An arena grows by whole chunks while it is being sized (the first step);
 * nn_arena_reset() then folds the chunks into one block as large as the
 * high-water mark, so from the second step on a reset arena never calls
 * malloc again. `chunk_allocs` counts the mallocs, which is how tests show it. */
#ifndef NN_CORE_ARENA_H
#define NN_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define NN_ARENA_ALIGN 64

typedef struct nn_arena_chunk nn_arena_chunk;

typedef struct nn_arena {
    const char *name;         /* for error messages: "step", "persistent" */
    nn_arena_chunk *head;     /* chunk being filled; older chunks follow */
    size_t used;              /* bytes handed out since the last reset */
    size_t high_water;        /* the most `used` has ever been */
    size_t limit;             /* refuse to grow past this many bytes */
    uint64_t chunk_allocs;    /* mallocs made so far */
} nn_arena;

/* Sets up an empty arena; `limit` 0 means no limit. No memory is taken yet. */
void nn_arena_init(nn_arena *a, const char *name, size_t limit);

/* Frees every chunk. */
void nn_arena_deinit(nn_arena *a);

/* Returns `bytes` of uninitialized memory aligned to NN_ARENA_ALIGN, or NULL
 * with an error message naming the arena, the request and the limit. */
void *nn_arena_alloc(nn_arena *a, size_t bytes);

/* As nn_arena_alloc, zero-filled. */
void *nn_arena_calloc(nn_arena *a, size_t bytes);

/* Forgets every allocation; keeps (and consolidates) the memory. */
void nn_arena_reset(nn_arena *a);

/* Convenience for typed arrays: NN_ARENA_NEW(a, float, n). */
#define NN_ARENA_NEW(a, type, n) ((type *)nn_arena_alloc((a), sizeof(type) * (size_t)(n)))

#endif
