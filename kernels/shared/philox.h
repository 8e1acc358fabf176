/* Philox4x32-10 counter-based RNG (Salmon et al., SC'11), the single source
 * of randomness in dynfill: every random number is a pure function of
 * (seed, stream, index), so the CPU and CUDA backends, and any number of
 * ranks or threads, draw identical values in any order.
 *
 * Counter = (index lo, index hi, stream lo, stream hi), key = (seed lo,
 * seed hi). Checked against the published known-answer vectors in
 * tests/unit/shared/test_philox.c. */
#ifndef DYNFILL_SHARED_PHILOX_H
#define DYNFILL_SHARED_PHILOX_H

#include "dfl_hd.h"

typedef struct {
    uint32_t v[4];
} dfl_philox_u4;

DFL_HD void dfl_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* Raw Philox4x32 with 10 rounds on an explicit counter and key. */
DFL_HD dfl_philox_u4 dfl_philox4x32_10(dfl_philox_u4 ctr, uint32_t k0, uint32_t k1) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; ++r) {
        uint32_t hi0, lo0, hi1, lo1;
        dfl_mulhilo32(M0, ctr.v[0], &hi0, &lo0);
        dfl_mulhilo32(M1, ctr.v[2], &hi1, &lo1);
        dfl_philox_u4 next;
        next.v[0] = hi1 ^ ctr.v[1] ^ k0;
        next.v[1] = lo1;
        next.v[2] = hi0 ^ ctr.v[3] ^ k1;
        next.v[3] = lo0;
        ctr = next;
        k0 += W0;
        k1 += W1;
    }
    return ctr;
}

/* Four 32-bit draws for (seed, stream, index). */
DFL_HD dfl_philox_u4 dfl_rng_bits(uint64_t seed, uint64_t stream, uint64_t index) {
    dfl_philox_u4 c;
    c.v[0] = (uint32_t)index;
    c.v[1] = (uint32_t)(index >> 32);
    c.v[2] = (uint32_t)stream;
    c.v[3] = (uint32_t)(stream >> 32);
    return dfl_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* 32 random bits to a float in the open interval (0, 1): the top 24 bits
 * plus one half ulp, so neither 0 nor 1 can occur (safe for log). */
DFL_HD float dfl_bits_to_u01(uint32_t x) { return ((float)(x >> 8) + 0.5f) * (1.0f / 16777216.0f); }

/* Uniform in (0,1) for (seed, stream, index). */
DFL_HD float dfl_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    return dfl_bits_to_u01(dfl_rng_bits(seed, stream, index).v[0]);
}

/* Standard normal for (seed, stream, index): Box-Muller on lanes 0 and 1,
 * z = sqrt(-2 ln u1) cos(2 pi u2). */
DFL_HD float dfl_rng_normal(uint64_t seed, uint64_t stream, uint64_t index) {
    dfl_philox_u4 b = dfl_rng_bits(seed, stream, index);
    float u1 = dfl_bits_to_u01(b.v[0]);
    float u2 = dfl_bits_to_u01(b.v[1]);
    float r = dfl_sqrtf(-2.0f * dfl_logf(u1));
    return r * cosf(6.28318530717958647692f * u2);
}

/* Build a 64-bit stream id from a purpose tag (8 bits), a step (32 bits)
 * and a sample/rank slot (24 bits), so draws for different purposes,
 * steps and samples never share a counter. */
DFL_HD uint64_t dfl_rng_stream(uint32_t purpose, uint32_t step, uint32_t slot) {
    return ((uint64_t)(purpose & 0xFFu) << 56) | ((uint64_t)(slot & 0xFFFFFFu) << 32) | (uint64_t)step;
}

#endif
