/* PNG output of a canvas with libpng (host/png_canvas.h). */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "png_canvas.h"

/* libpng reports errors by longjmp; collect its message for ours. */
static void on_png_error(png_structp png, png_const_charp msg) {
    char *buf = png_get_error_ptr(png);
    snprintf(buf, 256, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static dfl_status write_rows(FILE *f, const char *path, const dfl_canvas *c) {
    char message[256] = "";
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, on_png_error, on_png_warning);
    if (!png) DFL_PANIC("png_create_write_struct failed");
    png_infop info = png_create_info_struct(png);
    if (!info) DFL_PANIC("png_create_info_struct failed");
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return dfl_fail(DFL_EUSAGE, "%s: cannot write PNG (%s)", path, message);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->width, (png_uint_32)c->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_text text;
    memset(&text, 0, sizeof text);
    text.compression = PNG_TEXT_COMPRESSION_NONE;
    text.key = (png_charp) "Software";
    text.text = (png_charp) "dynfill";
    png_set_text(png, info, &text, 1);
    png_write_info(png, info);
    for (int y = 0; y < c->height; ++y) png_write_row(png, c->rgb + (size_t)y * c->width * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return DFL_OK;
}

dfl_status dfl_png_write(const char *path, const dfl_canvas *c) {
    FILE *f = fopen(path, "wb");
    if (!f) return dfl_fail(DFL_EUSAGE, "%s: cannot create file (%s)", path, strerror(errno));
    dfl_status st = write_rows(f, path, c);
    if (fclose(f) != 0 && st == DFL_OK) st = dfl_fail(DFL_EUSAGE, "%s: write failed (%s)", path, strerror(errno));
    if (st != DFL_OK) remove(path);
    return st;
}
