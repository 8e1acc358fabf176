/* Figures drawn with cairo (host/plot/plot_draw.c): an RGB image surface
 * on a white background, colours as 0xRRGGBB, text in cairo's sans face,
 * crisp 1-pixel rules, and an atomic PNG write. Coordinates are pixels,
 * origin top-left; pixel (x, y) covers [x, x+1) × [y, y+1). */
#ifndef DYNFILL_HOST_PLOT_DRAW_H
#define DYNFILL_HOST_PLOT_DRAW_H

#include <cairo.h>
#include <stdint.h>

#include "dynfill/status.h"

typedef struct {
    int width, height;
    cairo_surface_t *surface; /* CAIRO_FORMAT_RGB24 */
    cairo_t *cr;
} dfl_figure;

/* A white width × height figure; panics if cairo cannot allocate it. */
void dfl_figure_init(dfl_figure *f, int width, int height);
void dfl_figure_free(dfl_figure *f);

void dfl_draw_color(cairo_t *cr, uint32_t rgb);
/* Fill the pixels [x, x+w) × [y, y+h). */
void dfl_draw_fill_rect(cairo_t *cr, int x, int y, int w, int h, uint32_t rgb);
/* 1-pixel outline just inside the rectangle [x, x+w) × [y, y+h). */
void dfl_draw_frame_rect(cairo_t *cr, int x, int y, int w, int h, uint32_t rgb);

/* Text of `size` pixels (the em) in the sans face; (x, y) is the baseline
 * point at fraction `align` of the text's advance (0 left, 0.5 centred,
 * 1 right). Returns the advance width. */
double dfl_draw_text(cairo_t *cr, double x, double y, const char *text, double size, int bold, double align,
                     uint32_t rgb);
double dfl_draw_text_width(cairo_t *cr, const char *text, double size, int bold);

/* "%.Ng" of v with a typographic minus (U+2212) and no "-0". */
void dfl_draw_format_number(char *buf, size_t len, double v, int digits);

/* Write the figure as an 8-bit RGB PNG: to a new file beside `path`,
 * then renamed over it, so a failure leaves `path` as it was and no other
 * file behind. DFL_EUSAGE naming the path on failure. */
dfl_status dfl_figure_write_png(dfl_figure *f, const char *path);

#endif
