/* A seeded random number generator whose whole state fits in two integers,
 * so checkpoints can save it and a resumed run draws the same numbers.
 * PCG32 (O'Neill 2014): 64-bit LCG state, xorshift-rotate output. */
#ifndef NN_CORE_RNG_H
#define NN_CORE_RNG_H

#include <stdint.h>

typedef struct nn_rng {
    uint64_t state;
    uint64_t inc;   /* stream selector; always odd */
} nn_rng;

/* Seeds a generator; different `stream`s give independent sequences. */
void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream);

/* Uniform 32-bit integer. */
uint32_t nn_rng_u32(nn_rng *r);

/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint32_t nn_rng_below(nn_rng *r, uint32_t n);

/* Uniform float in [0, 1) with 24 random bits. */
float nn_rng_uniform(nn_rng *r);

/* Standard normal (Box-Muller, one value per call). */
float nn_rng_normal(nn_rng *r);

/* Fisher-Yates shuffle of idx[0..n). */
void nn_rng_shuffle(nn_rng *r, int32_t *idx, int64_t n);

/* State as text "state:inc" in hex (buf >= 34 bytes) and back; parse returns
 * 0 on success, -1 if the text is not of that form. */
void nn_rng_format(const nn_rng *r, char *buf, int size);
int nn_rng_parse(nn_rng *r, const char *text);

#endif
