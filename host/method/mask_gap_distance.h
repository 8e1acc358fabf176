/* How far each entry of a mask plane lies from the nearest known entry:
 * the gap geometry that the spread calibration matches between the entries
 * it hides and the entries missing in the data (infer/calibrate.c). */
#ifndef DYNFILL_HOST_MASK_GAP_DISTANCE_H
#define DYNFILL_HOST_MASK_GAP_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

#define DFL_GAP_DISTANCE_NONE 0xFFFFu /* no known entry in the plane */

/* d[p] = chessboard distance max(|dy|, |dx|) from entry p of the [h, w]
 * plane to the nearest entry with known != 0 (0 at known entries), along
 * a periodic axis (periodic_x, periodic_y) the shorter way round, else
 * without wrap-around; DFL_GAP_DISTANCE_NONE where none is known. Raster
 * passes forward and backward, each taking the minimum over the four
 * neighbours already visited plus one: one pair is exact for the
 * chessboard metric without wrap-around. Along a periodic axis the
 * neighbours wrap, and pairs repeat until one changes nothing (a
 * shortest path crosses the seam once, so about three pairs). */
static inline unsigned dfl_gap_distance_min(const uint16_t *d, size_t p, unsigned v) {
    return d[p] + 1u < v ? d[p] + 1u : v;
}
static inline int dfl_gap_distance_pass(const uint8_t *known, int h, int w, int periodic_x, int periodic_y,
                                        int backward, uint16_t *d) {
    const unsigned none = DFL_GAP_DISTANCE_NONE;
    const int step = backward ? 1 : -1; /* the neighbours already visited: this side */
    int changed = 0;
    for (int yi = 0; yi < h; ++yi) {
        const int y = backward ? h - 1 - yi : yi, yn = y + step;
        const int has_row = (yn >= 0 && yn < h) || (periodic_y && h > 1);
        const size_t row = (size_t)((yn + h) % h) * w;
        for (int xi = 0; xi < w; ++xi) {
            const int x = backward ? w - 1 - xi : xi;
            const size_t p = (size_t)y * w + x;
            if (known[p]) {
                d[p] = 0;
                continue;
            }
            unsigned v = d[p];
            const int xn = x + step, xf = x - step; /* the visited side, the other side */
            const int has_xn = (xn >= 0 && xn < w) || (periodic_x && w > 1);
            const int has_xf = (xf >= 0 && xf < w) || (periodic_x && w > 1);
            if (has_xn) v = dfl_gap_distance_min(d, (size_t)y * w + (size_t)((xn + w) % w), v);
            if (has_row) {
                v = dfl_gap_distance_min(d, row + (size_t)x, v);
                if (has_xn) v = dfl_gap_distance_min(d, row + (size_t)((xn + w) % w), v);
                if (has_xf) v = dfl_gap_distance_min(d, row + (size_t)((xf + w) % w), v);
            }
            v = v < none ? v : none;
            changed |= v != d[p];
            d[p] = (uint16_t)v;
        }
    }
    return changed;
}
static inline void dfl_mask_gap_distance(const uint8_t *known, int h, int w, int periodic_x, int periodic_y,
                                         uint16_t *d) {
    for (size_t p = 0; p < (size_t)h * w; ++p) d[p] = known[p] ? 0 : DFL_GAP_DISTANCE_NONE;
    int changed;
    do {
        changed = dfl_gap_distance_pass(known, h, w, periodic_x, periodic_y, 0, d);
        changed |= dfl_gap_distance_pass(known, h, w, periodic_x, periodic_y, 1, d);
    } while (changed && (periodic_x || periodic_y));
}

/* Bins of the distance: 1, 2, 3-4, 5-8, 9-16, 17-32, 33 and more (and the
 * last for DFL_GAP_DISTANCE_NONE). d >= 1. */
#define DFL_GAP_BINS 7
static inline int dfl_gap_bin(unsigned d) {
    int b = 0;
    for (unsigned hi = 1; b < DFL_GAP_BINS - 1 && d > hi; hi *= 2) ++b;
    return b;
}

#endif
