#include "core/arena.h"

#include <string.h>

struct nn_arena_chunk {
    nn_arena_chunk *next;
    size_t capacity;
    size_t offset;
    /* data follows, aligned by allocation */
    _Alignas(NN_ARENA_ALIGN) unsigned char data[];
};

/* Chunks are at least this large so sizing a fresh arena takes few mallocs. */
#define NN_ARENA_MIN_CHUNK ((size_t)1 << 20)

void nn_arena_init(nn_arena *a, const char *name, size_t limit)
{
    memset(a, 0, sizeof *a);
    a->name = name;
    a->limit = limit;
}

static void free_chunks(nn_arena_chunk *c)
{
    while (c) {
        nn_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void nn_arena_deinit(nn_arena *a)
{
    free_chunks(a->head);
    a->head = NULL;
    a->used = 0;
}

static nn_arena_chunk *new_chunk(nn_arena *a, size_t capacity)
{
    nn_arena_chunk *c = aligned_alloc(NN_ARENA_ALIGN,
        (sizeof(nn_arena_chunk) + capacity + NN_ARENA_ALIGN - 1) / NN_ARENA_ALIGN * NN_ARENA_ALIGN);
    if (!c) return NULL;
    c->next = NULL;
    c->capacity = capacity;
    c->offset = 0;
    a->chunk_allocs++;
    return c;
}

void *nn_arena_alloc(nn_arena *a, size_t bytes)
{
    size_t need = (bytes + NN_ARENA_ALIGN - 1) / NN_ARENA_ALIGN * NN_ARENA_ALIGN;
    if (need == 0) need = NN_ARENA_ALIGN;
    if (a->limit && a->used + need > a->limit) {
        nn_error(NN_ERR_RUNTIME,
                 "%s arena: %zu bytes requested with %zu in use would pass the limit of %zu bytes",
                 a->name, bytes, a->used, a->limit);
        return NULL;
    }
    nn_arena_chunk *c = a->head;
    if (!c || c->offset + need > c->capacity) {
        size_t cap = need > NN_ARENA_MIN_CHUNK ? need : NN_ARENA_MIN_CHUNK;
        /* Grow geometrically so sizing takes O(log n) chunks. */
        if (c && cap < 2 * c->capacity) cap = 2 * c->capacity;
        nn_arena_chunk *fresh = new_chunk(a, cap);
        if (!fresh) {
            nn_error(NN_ERR_RUNTIME, "%s arena: out of memory allocating %zu bytes (%zu in use)",
                     a->name, cap, a->used);
            return NULL;
        }
        fresh->next = c;
        a->head = c = fresh;
    }
    void *p = c->data + c->offset;
    c->offset += need;
    a->used += need;
    if (a->used > a->high_water) a->high_water = a->used;
    return p;
}

void *nn_arena_calloc(nn_arena *a, size_t bytes)
{
    void *p = nn_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void nn_arena_reset(nn_arena *a)
{
    nn_arena_chunk *c = a->head;
    if (c && c->next) {
        /* More than one chunk: replace them all by one that holds the
         * high-water mark, so the next step of the same shape fits at once. */
        free_chunks(c);
        a->head = new_chunk(a, a->high_water);
        c = a->head;
    }
    if (c) c->offset = 0;
    a->used = 0;
}
