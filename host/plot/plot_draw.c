/* Figure drawing on cairo (host/plot/plot_draw.h). */
#include "plot_draw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dfl_figure_init(dfl_figure *f, int width, int height) {
    DFL_ASSERT(width > 0 && height > 0);
    f->width = width;
    f->height = height;
    f->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    f->cr = cairo_create(f->surface);
    if (cairo_status(f->cr) != CAIRO_STATUS_SUCCESS)
        DFL_PANIC("cairo: %d x %d figure: %s", width, height, cairo_status_to_string(cairo_status(f->cr)));
    dfl_draw_fill_rect(f->cr, 0, 0, width, height, 0xffffff);
}

void dfl_figure_free(dfl_figure *f) {
    cairo_destroy(f->cr);
    cairo_surface_destroy(f->surface);
    f->cr = NULL;
    f->surface = NULL;
}

void dfl_draw_color(cairo_t *cr, uint32_t rgb) {
    cairo_set_source_rgb(cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0, (rgb & 255) / 255.0);
}

void dfl_draw_fill_rect(cairo_t *cr, int x, int y, int w, int h, uint32_t rgb) {
    dfl_draw_color(cr, rgb);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
}

/* A 1-wide stroke along half-pixel coordinates covers whole pixels. */
void dfl_draw_frame_rect(cairo_t *cr, int x, int y, int w, int h, uint32_t rgb) {
    dfl_draw_color(cr, rgb);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, x + 0.5, y + 0.5, w - 1, h - 1);
    cairo_stroke(cr);
}

/* cairo refuses invalid UTF-8 and then ignores all further drawing; file
 * and channel names come from users, so each byte that does not start a
 * valid sequence (the test of cairo's own decoder) becomes '?'. */
static void sanitize_utf8(const char *in, char *out, size_t len) {
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    while (*s && o + 5 < len) {
        int n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3 : (*s & 0xf8) == 0xf0 ? 4 : 0;
        uint32_t cp = n == 1 ? *s : n == 2 ? *s & 0x1fu : n == 3 ? *s & 0x0fu : *s & 0x07u;
        for (int k = 1; k < n; ++k) {
            if ((s[k] & 0xc0) != 0x80) {
                n = 0;
                break;
            }
            cp = cp << 6 | (s[k] & 0x3fu);
        }
        const int shortest = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        const int valid = n > 0 && n == shortest && cp < 0x110000 && (cp & 0xfffff800u) != 0xd800 &&
                          (cp < 0xfdd0 || cp > 0xfdef) && (cp & 0xfffe) != 0xfffe;
        if (valid) {
            memcpy(out + o, s, (size_t)n);
            o += (size_t)n;
            s += n;
        } else {
            out[o++] = '?';
            ++s;
        }
    }
    out[o] = 0;
}

static void set_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double dfl_draw_text_width(cairo_t *cr, const char *text, double size, int bold) {
    char clean[1024];
    sanitize_utf8(text, clean, sizeof clean);
    set_font(cr, size, bold);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, clean, &ext);
    return ext.x_advance;
}

double dfl_draw_text(cairo_t *cr, double x, double y, const char *text, double size, int bold, double align,
                     uint32_t rgb) {
    char clean[1024];
    sanitize_utf8(text, clean, sizeof clean);
    set_font(cr, size, bold);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, clean, &ext);
    dfl_draw_color(cr, rgb);
    cairo_move_to(cr, x - align * ext.x_advance, y);
    cairo_show_text(cr, clean);
    cairo_new_path(cr);
    return ext.x_advance;
}

void dfl_draw_format_number(char *buf, size_t len, double v, int digits) {
    if (v == 0.0) v = 0.0; /* no "-0" */
    char plain[64];
    snprintf(plain, sizeof plain, "%.*g", digits, v);
    if (plain[0] == '-')
        snprintf(buf, len, "\xe2\x88\x92%s", plain + 1);
    else
        snprintf(buf, len, "%s", plain);
}

typedef struct {
    FILE *file;
    int error; /* errno of the first failed write */
} png_sink;

static cairo_status_t write_chunk(void *closure, const unsigned char *data, unsigned int length) {
    png_sink *sink = closure;
    if (fwrite(data, 1, length, sink->file) != length) {
        if (!sink->error) sink->error = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

/* A new file beside path (same file system, so rename is atomic), created
 * exclusively with the usual 0666 & ~umask permissions. */
static int create_temp(const char *path, char *tmp, size_t len) {
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        snprintf(tmp, len, "%s.tmp%ld-%d", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    return fd;
}

dfl_status dfl_figure_write_png(dfl_figure *f, const char *path) {
    if (cairo_status(f->cr) != CAIRO_STATUS_SUCCESS)
        DFL_PANIC("cairo: drawing %s: %s", path, cairo_status_to_string(cairo_status(f->cr)));
    cairo_surface_flush(f->surface);
    const size_t len = strlen(path) + 32;
    char *tmp = dfl_xmalloc(len);
    const int fd = create_temp(path, tmp, len);
    if (fd < 0) {
        const int err = errno;
        free(tmp);
        return dfl_fail(DFL_EUSAGE, "%s: cannot create file (%s)", path, strerror(err));
    }
    dfl_status st = DFL_OK;
    png_sink sink = {fdopen(fd, "wb"), 0};
    if (!sink.file) {
        st = dfl_fail(DFL_EUSAGE, "%s: cannot write (%s)", path, strerror(errno));
        close(fd);
    } else {
        const cairo_status_t cs = cairo_surface_write_to_png_stream(f->surface, write_chunk, &sink);
        if (cs == CAIRO_STATUS_SUCCESS && fflush(sink.file) != 0) sink.error = errno;
        if (cs == CAIRO_STATUS_SUCCESS && !sink.error && fsync(fd) != 0) sink.error = errno;
        if (fclose(sink.file) != 0 && !sink.error && cs == CAIRO_STATUS_SUCCESS) sink.error = errno;
        if (sink.error)
            st = dfl_fail(DFL_EUSAGE, "%s: cannot write (%s)", path, strerror(sink.error));
        else if (cs != CAIRO_STATUS_SUCCESS)
            st = dfl_fail(DFL_EUSAGE, "%s: cannot write PNG (%s)", path, cairo_status_to_string(cs));
    }
    if (st == DFL_OK && rename(tmp, path) != 0)
        st = dfl_fail(DFL_EUSAGE, "%s: cannot replace it with the new file (%s)", path, strerror(errno));
    if (st != DFL_OK) unlink(tmp);
    free(tmp);
    return st;
}
