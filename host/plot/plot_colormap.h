/* Colour maps for field plots: perceptually ordered sequential maps and a
 * diverging one, each a 257-entry table interpolated from a few control
 * points (host/plot/plot_colormap.c). */
#ifndef DYNFILL_HOST_PLOT_COLORMAP_H
#define DYNFILL_HOST_PLOT_COLORMAP_H

#include <stdint.h>

typedef enum {
    DFL_CMAP_SEQUENTIAL, /* dark violet → blue → green → yellow (viridis-like) */
    DFL_CMAP_HEAT,       /* black → purple → orange → pale yellow (inferno-like), for errors */
    DFL_CMAP_DIVERGING   /* dark blue → white → dark red, for fields centred at 0 */
} dfl_cmap;

/* Colour 0xRRGGBB of u in [0, 1] (clamped; NaN gives mid grey). */
uint32_t dfl_cmap_color(dfl_cmap map, double u);

#endif
