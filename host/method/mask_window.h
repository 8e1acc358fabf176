/* Window sums over a 0/1 mask plane through a summed-area table: the
 * neighbourhood counts that the coverage estimate (method/coverage.h) and
 * the strategy choice (method/strategy_choice.h) read. */
#ifndef DYNFILL_HOST_MASK_WINDOW_H
#define DYNFILL_HOST_MASK_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Summed-area table of one [h, w] 0/1 plane: s[(y+1)*(w+1) + x+1] = Σ plane[0..y][0..x]. */
static inline void dfl_mask_integral_image(const uint8_t *plane, int h, int w, int32_t *s) {
    memset(s, 0, sizeof(int32_t) * (size_t)(w + 1));
    for (int y = 0; y < h; ++y) {
        int32_t row = 0;
        s[(size_t)(y + 1) * (w + 1)] = 0;
        for (int x = 0; x < w; ++x) {
            row += plane[(size_t)y * w + x] != 0;
            s[(size_t)(y + 1) * (w + 1) + x + 1] = s[(size_t)y * (w + 1) + x + 1] + row;
        }
    }
}

/* Sum of the plane over rows [y0, y1) and columns [x0, x1). */
static inline int32_t dfl_mask_window_sum(const int32_t *s, int w, int y0, int x0, int y1, int x1) {
    return s[(size_t)y1 * (w + 1) + x1] - s[(size_t)y0 * (w + 1) + x1] - s[(size_t)y1 * (w + 1) + x0] +
           s[(size_t)y0 * (w + 1) + x0];
}

#endif
