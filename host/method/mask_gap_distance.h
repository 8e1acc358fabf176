/* How far each entry of a mask plane lies from the nearest known entry:
 * the gap geometry that the spread calibration matches between the entries
 * it hides and the entries missing in the data (infer/calibrate.c). */
#ifndef DYNFILL_HOST_MASK_GAP_DISTANCE_H
#define DYNFILL_HOST_MASK_GAP_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

#define DFL_GAP_DISTANCE_NONE 0xFFFFu /* no known entry in the plane */

/* d[p] = chessboard distance max(|dy|, |dx|) from entry p of the [h, w]
 * plane to the nearest entry with known != 0 (0 at known entries; no
 * wrap-around), DFL_GAP_DISTANCE_NONE where none is known. Two raster
 * passes, each taking the minimum over the four neighbours already
 * visited plus one: exact for the chessboard metric. */
static inline void dfl_mask_gap_distance(const uint8_t *known, int h, int w, uint16_t *d) {
    const uint32_t none = DFL_GAP_DISTANCE_NONE;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const size_t p = (size_t)y * w + x;
            uint32_t v = known[p] ? 0 : none;
            if (v) {
                if (x > 0 && d[p - 1] + 1u < v) v = d[p - 1] + 1u;
                if (y > 0) {
                    const uint16_t *up = d + p - w;
                    if (up[0] + 1u < v) v = up[0] + 1u;
                    if (x > 0 && up[-1] + 1u < v) v = up[-1] + 1u;
                    if (x + 1 < w && up[1] + 1u < v) v = up[1] + 1u;
                }
            }
            d[p] = (uint16_t)(v < none ? v : none);
        }
    for (int y = h - 1; y >= 0; --y)
        for (int x = w - 1; x >= 0; --x) {
            const size_t p = (size_t)y * w + x;
            uint32_t v = d[p];
            if (!v) continue;
            if (x + 1 < w && d[p + 1] + 1u < v) v = d[p + 1] + 1u;
            if (y + 1 < h) {
                const uint16_t *down = d + p + w;
                if (down[0] + 1u < v) v = down[0] + 1u;
                if (x + 1 < w && down[1] + 1u < v) v = down[1] + 1u;
                if (x > 0 && down[-1] + 1u < v) v = down[-1] + 1u;
            }
            d[p] = (uint16_t)(v < none ? v : none);
        }
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
