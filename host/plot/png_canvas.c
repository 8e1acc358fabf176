/* Drawing on an RGB raster (host/png_canvas.h). */
#include "png_canvas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dfl_canvas_init(dfl_canvas *c, int width, int height, uint32_t background) {
    DFL_ASSERT(width > 0 && height > 0);
    c->width = width;
    c->height = height;
    c->rgb = dfl_xmalloc((size_t)width * height * 3);
    dfl_canvas_fill_rect(c, 0, 0, width, height, background);
}

void dfl_canvas_free(dfl_canvas *c) {
    free(c->rgb);
    c->rgb = NULL;
}

void dfl_canvas_set(dfl_canvas *c, int x, int y, uint32_t rgb) {
    if (x < 0 || y < 0 || x >= c->width || y >= c->height) return;
    unsigned char *p = c->rgb + ((size_t)y * c->width + x) * 3;
    p[0] = (unsigned char)(rgb >> 16);
    p[1] = (unsigned char)(rgb >> 8);
    p[2] = (unsigned char)rgb;
}

void dfl_canvas_blend(dfl_canvas *c, int x, int y, uint32_t rgb, double alpha) {
    if (x < 0 || y < 0 || x >= c->width || y >= c->height || !(alpha > 0.0)) return;
    if (alpha > 1.0) alpha = 1.0;
    unsigned char *p = c->rgb + ((size_t)y * c->width + x) * 3;
    const unsigned char src[3] = {(unsigned char)(rgb >> 16), (unsigned char)(rgb >> 8), (unsigned char)rgb};
    for (int k = 0; k < 3; ++k) p[k] = (unsigned char)lround(p[k] + alpha * (src[k] - p[k]));
}

void dfl_canvas_fill_rect(dfl_canvas *c, int x, int y, int w, int h, uint32_t rgb) {
    const int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    const int x1 = x + w > c->width ? c->width : x + w, y1 = y + h > c->height ? c->height : y + h;
    for (int yy = y0; yy < y1; ++yy)
        for (int xx = x0; xx < x1; ++xx) dfl_canvas_set(c, xx, yy, rgb);
}

void dfl_canvas_frame_rect(dfl_canvas *c, int x, int y, int w, int h, uint32_t rgb) {
    dfl_canvas_fill_rect(c, x, y, w, 1, rgb);
    dfl_canvas_fill_rect(c, x, y + h - 1, w, 1, rgb);
    dfl_canvas_fill_rect(c, x, y, 1, h, rgb);
    dfl_canvas_fill_rect(c, x + w - 1, y, 1, h, rgb);
}

/* Coverage of each pixel = how far its centre lies inside a capsule of
 * half-width r around the segment, smoothed over one pixel. */
void dfl_canvas_line(dfl_canvas *c, double x0, double y0, double x1, double y1, double width, uint32_t rgb) {
    const double r = 0.5 * width;
    const int bx0 = (int)floor(fmin(x0, x1) - r - 1), bx1 = (int)ceil(fmax(x0, x1) + r + 1);
    const int by0 = (int)floor(fmin(y0, y1) - r - 1), by1 = (int)ceil(fmax(y0, y1) + r + 1);
    const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int y = by0 < 0 ? 0 : by0; y <= by1 && y < c->height; ++y)
        for (int x = bx0 < 0 ? 0 : bx0; x <= bx1 && x < c->width; ++x) {
            double t = len2 > 0 ? ((x - x0) * dx + (y - y0) * dy) / len2 : 0.0;
            t = t < 0 ? 0 : (t > 1 ? 1 : t);
            const double ex = x - (x0 + t * dx), ey = y - (y0 + t * dy);
            const double d = sqrt(ex * ex + ey * ey);
            dfl_canvas_blend(c, x, y, rgb, r + 0.5 - d);
        }
}

void dfl_canvas_hline_dashed(dfl_canvas *c, int x0, int x1, int y, uint32_t rgb) {
    for (int x = x0; x <= x1; ++x)
        if ((x - x0) % 6 < 3) dfl_canvas_set(c, x, y, rgb);
}

void dfl_canvas_vline_dashed(dfl_canvas *c, int x, int y0, int y1, uint32_t rgb) {
    for (int y = y0; y <= y1; ++y)
        if ((y - y0) % 6 < 3) dfl_canvas_set(c, x, y, rgb);
}

void dfl_canvas_disc(dfl_canvas *c, double cx, double cy, double radius, uint32_t rgb) {
    for (int y = (int)floor(cy - radius - 1); y <= (int)ceil(cy + radius + 1); ++y)
        for (int x = (int)floor(cx - radius - 1); x <= (int)ceil(cx + radius + 1); ++x) {
            const double d = hypot(x - cx, y - cy);
            dfl_canvas_blend(c, x, y, rgb, radius + 0.5 - d);
        }
}

int dfl_text_width(const char *text, int scale) {
    const int n = (int)strlen(text);
    return n ? (n * DFL_FONT_ADVANCE - 1) * scale : 0;
}

int dfl_text_height(int scale) { return DFL_FONT_H * scale; }

/* Draw glyph cells through a mapping of (column, row) to canvas pixels. */
static void draw_text(dfl_canvas *c, int x, int y, const char *text, int scale, uint32_t rgb, int up) {
    int pen = 0;
    for (const char *p = text; *p; ++p, pen += DFL_FONT_ADVANCE) {
        const unsigned char *rows = dfl_font_glyph(*p);
        for (int r = 0; r < DFL_FONT_CELL_H; ++r)
            for (int col = 0; col < DFL_FONT_W; ++col) {
                if (!(rows[r] & (1u << (DFL_FONT_W - 1 - col)))) continue;
                const int u = (pen + col) * scale, v = r * scale; /* along and across the text */
                for (int sy = 0; sy < scale; ++sy)
                    for (int sx = 0; sx < scale; ++sx) {
                        if (up) /* rotated 90° counter-clockwise around the bottom-left corner */
                            dfl_canvas_set(c, x + v + sy, y - u - sx, rgb);
                        else
                            dfl_canvas_set(c, x + u + sx, y + v + sy, rgb);
                    }
            }
    }
}

void dfl_canvas_text(dfl_canvas *c, int x, int y, const char *text, int scale, uint32_t rgb) {
    draw_text(c, x, y, text, scale, rgb, 0);
}

void dfl_canvas_text_up(dfl_canvas *c, int x, int y, const char *text, int scale, uint32_t rgb) {
    draw_text(c, x, y, text, scale, rgb, 1);
}
