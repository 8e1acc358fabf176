/* Gap distances of a mask plane (host/method/mask_gap_distance.h) against a
 * brute-force search over every known entry, on random planes of several
 * densities and shapes (with no known entry, one, all; strips), without
 * and with wrap-around along each axis, and the bins they fall in. */
#include <stdint.h>
#include <stdlib.h>

#include "dfl_test.h"
#include "method/mask_gap_distance.h"
#include "shared/philox.h"

/* |a - b| along an axis of n entries, the shorter way round when it wraps */
static unsigned axis_distance(int a, int b, int n, int wrap) {
    const unsigned d = (unsigned)abs(a - b);
    return wrap && (unsigned)n - d < d ? (unsigned)n - d : d;
}

static unsigned brute(const uint8_t *known, int h, int w, int px, int py, int y, int x) {
    unsigned best = DFL_GAP_DISTANCE_NONE;
    for (int v = 0; v < h; ++v)
        for (int u = 0; u < w; ++u)
            if (known[(size_t)v * w + u]) {
                unsigned dy = axis_distance(v, y, h, py), dx = axis_distance(u, x, w, px), d = dy > dx ? dy : dx;
                if (d < best) best = d;
            }
    return best;
}

/* the plane without wrap-around, and wrapped along x, y and both */
static void check_plane(const uint8_t *known, int h, int w, const char *what) {
    uint16_t *d = malloc((size_t)h * w * sizeof *d);
    for (int wrap = 0; wrap < 4; ++wrap) {
        const int px = wrap & 1, py = wrap >> 1;
        dfl_mask_gap_distance(known, h, w, px, py, d);
        int bad = 0;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                unsigned want = brute(known, h, w, px, py, y, x), got = d[(size_t)y * w + x];
                if (got != want && bad++ < 3)
                    CHECK_MSG(0, "%s %dx%d periodic x %d y %d: d(%d, %d) = %u, brute force %u", what, h, w, px, py, y,
                              x, got, want);
            }
        CHECK_MSG(bad == 0, "%s %dx%d periodic x %d y %d: %d entries differ", what, h, w, px, py, bad);
    }
    free(d);
}

int main(void) {
    const int shapes[][2] = {{1, 1}, {1, 17}, {13, 1}, {16, 16}, {23, 41}, {40, 9}};
    const double density[] = {0.0, 0.002, 0.05, 0.3, 0.9, 1.0};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
        for (size_t k = 0; k < sizeof density / sizeof density[0]; ++k) {
            const int h = shapes[s][0], w = shapes[s][1];
            uint8_t *m = malloc((size_t)h * w);
            for (size_t p = 0; p < (size_t)h * w; ++p) m[p] = dfl_rng_uniform(9, s * 10 + k, p) < density[k];
            check_plane(m, h, w, "random");
            if (h * w > 1) { /* a single known entry in a corner, then in the middle */
                for (size_t p = 0; p < (size_t)h * w; ++p) m[p] = p == (size_t)h * w - 1;
                check_plane(m, h, w, "one known");
                for (size_t p = 0; p < (size_t)h * w; ++p) m[p] = p == (size_t)(h / 2) * w + w / 2;
                check_plane(m, h, w, "one known, middle");
            }
            free(m);
        }
    /* tilted strips 3 wide, period 6 (swath-like) */
    uint8_t strips[32 * 32];
    for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) strips[y * 32 + x] = ((x + y / 3) % 6) < 3;
    check_plane(strips, 32, 32, "strips");
    for (int y = 0; y < 32; ++y) /* upright: the middle column of a gap is 2 from both edges */
        for (int x = 0; x < 32; ++x) strips[y * 32 + x] = (x % 6) < 3;
    uint16_t d[32 * 32];
    dfl_mask_gap_distance(strips, 32, 32, 0, 0, d);
    unsigned widest = 0;
    for (int p = 0; p < 32 * 32; ++p) widest = d[p] > widest ? d[p] : widest;
    CHECK_MSG(widest == 2, "upright strips 3 wide: widest gap distance %u, expected 2", widest);
    /* bins: 1, 2, 3-4, 5-8, 9-16, 17-32, 33+ */
    const unsigned at[] = {1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 1000, DFL_GAP_DISTANCE_NONE};
    const int bin[] = {0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; ++i)
        CHECK_MSG(dfl_gap_bin(at[i]) == bin[i], "gap bin of %u: %d, expected %d", at[i], dfl_gap_bin(at[i]), bin[i]);
    return dfl_test_finish("mask_gap_distance");
}
