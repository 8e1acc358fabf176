/* An RGB raster for figures: rectangles, anti-aliased lines, discs, text
 * in a built-in 5×7 bitmap font (host/png_font.c), written as PNG with
 * libpng (host/png_write.c). Coordinates are pixels, origin top-left;
 * everything outside the canvas is clipped. Colours are 0xRRGGBB. */
#ifndef DYNFILL_HOST_PNG_CANVAS_H
#define DYNFILL_HOST_PNG_CANVAS_H

#include <stdint.h>

#include "dynfill/status.h"

typedef struct {
    int width, height;
    unsigned char *rgb; /* width·height·3 bytes, row-major */
} dfl_canvas;

void dfl_canvas_init(dfl_canvas *c, int width, int height, uint32_t background);
void dfl_canvas_free(dfl_canvas *c);

void dfl_canvas_set(dfl_canvas *c, int x, int y, uint32_t rgb);
/* Mix rgb into the pixel with weight alpha in [0, 1]. */
void dfl_canvas_blend(dfl_canvas *c, int x, int y, uint32_t rgb, double alpha);
void dfl_canvas_fill_rect(dfl_canvas *c, int x, int y, int w, int h, uint32_t rgb);
/* 1-pixel outline of the rectangle [x, x+w) × [y, y+h). */
void dfl_canvas_frame_rect(dfl_canvas *c, int x, int y, int w, int h, uint32_t rgb);
/* Anti-aliased segment of the given width between real pixel centres. */
void dfl_canvas_line(dfl_canvas *c, double x0, double y0, double x1, double y1, double width, uint32_t rgb);
/* Dashed horizontal / vertical 1-pixel lines (grid lines). */
void dfl_canvas_hline_dashed(dfl_canvas *c, int x0, int x1, int y, uint32_t rgb);
void dfl_canvas_vline_dashed(dfl_canvas *c, int x, int y0, int y1, uint32_t rgb);
void dfl_canvas_disc(dfl_canvas *c, double cx, double cy, double radius, uint32_t rgb);

/* Text in the 5×7 font, each glyph pixel drawn as scale×scale pixels, one
 * blank column between glyphs; (x, y) is the top-left corner. Characters
 * outside printable ASCII draw as '?'. */
enum { DFL_FONT_W = 5, DFL_FONT_H = 7, DFL_FONT_CELL_H = 9, DFL_FONT_ADVANCE = 6 };
void dfl_canvas_text(dfl_canvas *c, int x, int y, const char *text, int scale, uint32_t rgb);
/* The same, rotated 90° counter-clockwise (reads bottom to top); (x, y) is
 * the bottom-left corner of the rotated text. */
void dfl_canvas_text_up(dfl_canvas *c, int x, int y, const char *text, int scale, uint32_t rgb);
int dfl_text_width(const char *text, int scale);
/* Height above the baseline (7·scale); descenders add 2·scale below. */
int dfl_text_height(int scale);

/* Rows of glyph ch (DFL_FONT_CELL_H bytes, bit 4 = leftmost column; rows
 * 7 and 8 are the descender). */
const unsigned char *dfl_font_glyph(char ch);

/* Write as an 8-bit RGB PNG; DFL_EUSAGE naming the path if it cannot be
 * written. */
dfl_status dfl_png_write(const char *path, const dfl_canvas *c);

#endif
