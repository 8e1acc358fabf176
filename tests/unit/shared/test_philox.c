/* Philox4x32-10 against the published known-answer vectors (Random123
 * kat_vectors), and the uniform/normal draws' basic properties. */
#include <stdint.h>

#include "dfl_test.h"
#include "shared/philox.h"

static void kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, uint32_t e0, uint32_t e1,
                uint32_t e2, uint32_t e3) {
    dfl_philox_u4 c = {{c0, c1, c2, c3}};
    dfl_philox_u4 r = dfl_philox4x32_10(c, k0, k1);
    CHECK_MSG(r.v[0] == e0 && r.v[1] == e1 && r.v[2] == e2 && r.v[3] == e3, "got %08x %08x %08x %08x", r.v[0], r.v[1],
              r.v[2], r.v[3]);
}

int main(void) {
    kat(0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u);
    kat(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
        0xa20bc7c6u, 0x6d5451fdu);
    kat(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
        0x5001e420u, 0x24126ea1u);

    /* the (seed, stream, index) mapping lays the key and counter out as documented */
    dfl_philox_u4 direct = dfl_philox4x32_10((dfl_philox_u4){{0x03707344u, 0x13198a2eu, 0x85a308d3u, 0x243f6a88u}},
                                             0x299f31d0u, 0xa4093822u);
    dfl_philox_u4 keyed = dfl_rng_bits(0xa4093822299f31d0ull, 0x243f6a8885a308d3ull, 0x13198a2e03707344ull);
    CHECK(direct.v[0] == keyed.v[0] && direct.v[3] == keyed.v[3]);

    /* uniform: open interval, mean 1/2, variance 1/12; normal: mean 0, variance 1, kurtosis 3 */
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
    float umin = 1, umax = 0;
    for (int i = 0; i < n; ++i) {
        float u = dfl_rng_uniform(42, 7, (uint64_t)i);
        float z = dfl_rng_normal(42, 8, (uint64_t)i);
        if (u < umin) umin = u;
        if (u > umax) umax = u;
        su += u;
        su2 += (double)u * u;
        sn += z;
        sn2 += (double)z * z;
        sn4 += (double)z * z * z * z;
    }
    CHECK(umin > 0.0f && umax < 1.0f);
    CHECK_CLOSE(su / n, 0.5, 0.005);
    CHECK_CLOSE(su2 / n - (su / n) * (su / n), 1.0 / 12.0, 0.002);
    CHECK_CLOSE(sn / n, 0.0, 0.01);
    CHECK_CLOSE(sn2 / n, 1.0, 0.01);
    CHECK_CLOSE(sn4 / n, 3.0, 0.05);
    /* different streams and seeds give different draws */
    CHECK(dfl_rng_uniform(1, 0, 5) != dfl_rng_uniform(1, 1, 5));
    CHECK(dfl_rng_uniform(1, 0, 5) != dfl_rng_uniform(2, 0, 5));
    CHECK(dfl_rng_stream(1, 2, 3) != dfl_rng_stream(1, 3, 2));
    return dfl_test_finish("shared_philox");
}
