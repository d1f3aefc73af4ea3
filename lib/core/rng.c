#include "core/rng.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1) | 1u;
    nn_rng_u32(r);
    r->state += seed;
    nn_rng_u32(r);
}

uint32_t nn_rng_u32(nn_rng *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t nn_rng_below(nn_rng *r, uint32_t n)
{
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = nn_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float nn_rng_uniform(nn_rng *r) { return (float)(nn_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float nn_rng_normal(nn_rng *r)
{
    /* 1 - u keeps the log argument in (0, 1]. */
    double u1 = 1.0 - (double)nn_rng_uniform(r);
    double u2 = (double)nn_rng_uniform(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void nn_rng_shuffle(nn_rng *r, int32_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = nn_rng_below(r, (uint32_t)(i + 1));
        int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void nn_rng_format(const nn_rng *r, char *buf, int size)
{
    snprintf(buf, (size_t)size, "%016" PRIx64 ":%016" PRIx64, r->state, r->inc);
}

int nn_rng_parse(nn_rng *r, const char *text)
{
    uint64_t s, inc;
    int consumed = 0;
    if (sscanf(text, "%16" SCNx64 ":%16" SCNx64 "%n", &s, &inc, &consumed) != 2 ||
        text[consumed] != '\0' || !(inc & 1u))
        return -1;
    r->state = s;
    r->inc = inc;
    return 0;
}
