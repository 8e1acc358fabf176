/* The panel figure of `dynfill plot --pred --truth --index` (docs/eval.md):
 * observed (unobserved entries grey), prediction, truth, |error| and
 * uncertainty (/std), each with a title and a horizontal colour bar. The
 * first three share one colour scale so they compare directly. Fields are
 * image surfaces magnified with nearest-neighbour sampling, so every entry
 * is a crisp block of one colour. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/pred_read.h"
#include "plot_colormap.h"
#include "plot_draw.h"
#include "plot_figures.h"

enum {
    MARGIN = 16,
    GAP = 28,         /* between panels */
    MIN_SLOT = 216,   /* minimum panel width, so titles fit */
    TARGET = 320,     /* largest displayed field side */
    HEADER_BASE = 31, /* baselines of the two header lines */
    LINE = 22,
    TITLE_BASE = 81, /* baseline of the panel titles */
    FIELD_TOP = 90,
    BAR_GAP = 12, /* field to colour bar */
    BAR_H = 12,
    TICK_LEN = 4,
    BOTTOM = 37, /* colour bar to the bottom edge: ticks, labels, margin */
};

static const double k_title_size = 15.0, k_tick_size = 13.0;

#define C_TEXT       0x202020u
#define C_FRAME      0x404040u
#define C_UNOBSERVED 0xb4b4b4u

typedef struct {
    const char *title;
    const float *values;       /* h·w */
    const unsigned char *mask; /* h·w or NULL: entries with mask 0 draw grey */
    double vmin, vmax;
    dfl_cmap map;
} panel;

/* Display size: integer magnification up to TARGET, or a reduction to fit. */
static void display_size(int h, int w, int *dh, int *dw) {
    const int side = h > w ? h : w;
    if (side <= TARGET) {
        const int s = TARGET / side;
        *dh = h * s;
        *dw = w * s;
    } else {
        *dh = (int)lround((double)h * TARGET / side);
        *dw = (int)lround((double)w * TARGET / side);
        if (*dh < 1) *dh = 1;
        if (*dw < 1) *dw = 1;
    }
}

static void range_of(const float *v, const unsigned char *only_missing, size_t n, double *lo, double *hi) {
    for (size_t i = 0; i < n; ++i) {
        if (only_missing && only_missing[i]) continue;
        if (!isfinite(v[i])) continue;
        if (v[i] < *lo) *lo = v[i];
        if (v[i] > *hi) *hi = v[i];
    }
}

/* A degenerate range still maps to the middle of the colour bar. */
static void widen(double *lo, double *hi) {
    if (!(*lo <= *hi)) {
        *lo = 0.0;
        *hi = 1.0;
    } else if (*hi - *lo < 1e-12 * fmax(1.0, fabs(*hi))) {
        const double pad = fabs(*hi) > 0 ? 0.5 * fabs(*hi) : 0.5;
        *lo -= pad;
        *hi += pad;
    }
}

/* Paint an image surface of w × h pixels onto [x, x+dw) × [y, y+dh),
 * nearest-neighbour: each source pixel stays one flat block. */
static void paint_nearest(cairo_t *cr, cairo_surface_t *img, int w, int h, int x, int y, int dw, int dh) {
    cairo_save(cr);
    cairo_rectangle(cr, x, y, dw, dh);
    cairo_clip(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, (double)dw / w, (double)dh / h);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
}

/* An RGB24 image surface (NULL if cairo cannot make one of that size) and
 * its pixels, one 0x00RRGGBB word each, `*stride` words a row. */
static cairo_surface_t *image_new(int w, int h, uint32_t **pixels, int *stride) {
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return NULL;
    }
    cairo_surface_flush(img);
    *pixels = (uint32_t *)cairo_image_surface_get_data(img);
    *stride = cairo_image_surface_get_stride(img) / 4;
    return img;
}

static void draw_colorbar(cairo_t *cr, int x, int y, int w, const panel *p) {
    uint32_t *px;
    int stride;
    cairo_surface_t *img = image_new(w, 1, &px, &stride);
    DFL_ASSERT(img != NULL); /* at most a figure's width */
    for (int i = 0; i < w; ++i) px[i] = dfl_cmap_color(p->map, w > 1 ? (double)i / (w - 1) : 0.5);
    cairo_surface_mark_dirty(img);
    paint_nearest(cr, img, w, 1, x, y, w, BAR_H);
    cairo_surface_destroy(img);
    dfl_draw_frame_rect(cr, x - 1, y - 1, w + 2, BAR_H + 2, C_FRAME);

    const double at[3] = {0.0, 0.5, 1.0};
    char text[3][40];
    double tw[3];
    for (int k = 0; k < 3; ++k) {
        dfl_draw_format_number(text[k], sizeof text[k], p->vmin + at[k] * (p->vmax - p->vmin), 3);
        tw[k] = dfl_draw_text_width(cr, text[k], k_tick_size, 0);
        dfl_draw_fill_rect(cr, x + (int)lround(at[k] * (w - 1)), y + BAR_H + 1, 1, TICK_LEN, C_FRAME);
    }
    const double ty = y + BAR_H + 1 + TICK_LEN + 2 + 0.75 * k_tick_size;
    const double mid = x + 0.5 * (w - 1);
    dfl_draw_text(cr, x, ty, text[0], k_tick_size, 0, 0.0, C_TEXT);
    dfl_draw_text(cr, x + w, ty, text[2], k_tick_size, 0, 1.0, C_TEXT);
    /* The middle label only where it clears both ends. */
    if (mid - tw[1] / 2 > x + tw[0] + 6 && mid + tw[1] / 2 + 6 < x + w - tw[2])
        dfl_draw_text(cr, mid, ty, text[1], k_tick_size, 0, 0.5, C_TEXT);
}

/* The field as an h × w image (row 0 on top, or at the bottom with flip),
 * shown at dw × dh. DFL_EUSAGE naming the file if cairo cannot hold it. */
static dfl_status draw_field(cairo_t *cr, int x, int y, int dw, int dh, int h, int w, int flip, const panel *p,
                             const char *path) {
    uint32_t *px;
    int stride;
    cairo_surface_t *img = image_new(w, h, &px, &stride);
    if (!img) return dfl_fail(DFL_EUSAGE, "%s: a %d x %d field is too large to draw", path, h, w);
    const double span = p->vmax - p->vmin;
    for (int row = 0; row < h; ++row) {
        uint32_t *out = px + (size_t)(flip ? h - 1 - row : row) * stride;
        for (int col = 0; col < w; ++col) {
            const size_t i = (size_t)row * w + col;
            if (p->mask && !p->mask[i])
                out[col] = C_UNOBSERVED;
            else
                out[col] = dfl_cmap_color(p->map, isfinite(p->values[i]) ? (p->values[i] - p->vmin) / span : NAN);
        }
    }
    cairo_surface_mark_dirty(img);
    paint_nearest(cr, img, w, h, x, y, dw, dh);
    cairo_surface_destroy(img);
    dfl_draw_frame_rect(cr, x - 1, y - 1, dw + 2, dh + 2, C_FRAME);
    return DFL_OK;
}

/* snprintf at the end of buf, truncating (never past len). */
static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...) {
    const size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static dfl_status render(const dfl_pred_input *in, int index, int channel, const char *out_path, int *width,
                         int *height) {
    const size_t plane = (size_t)in->h * in->w;
    float *pred = dfl_xmalloc(plane * in->c * sizeof *pred);
    float *truth = in->truth >= 0 ? dfl_xmalloc(plane * in->c * sizeof *truth) : NULL;
    float *std = in->has_std ? dfl_xmalloc(plane * in->c * sizeof *std) : NULL;
    float *err = truth ? dfl_xmalloc(plane * sizeof *err) : NULL;
    unsigned char *mask = dfl_xmalloc(plane * in->mask_channels);
    dfl_status st = dfl_pred_input_read_pred(in, index, 1, pred);
    if (st == DFL_OK && truth) st = dfl_pred_input_read_truth(in, index, 1, truth);
    if (st == DFL_OK && std) st = dfl_pred_input_read_std(in, index, 1, std);
    if (st == DFL_OK) st = dfl_pred_input_read_mask(in, index, 1, mask);
    if (st != DFL_OK) goto done;

    const float *p = pred + channel * plane;
    const float *t = truth ? truth + channel * plane : NULL;
    const float *s = std ? std + channel * plane : NULL;
    const unsigned char *m = mask + (in->mask_channels == 1 ? 0 : channel) * plane;

    /* Shared scale of observed / prediction / truth; diverging when the
     * values straddle 0 in a balanced way. */
    double lo = INFINITY, hi = -INFINITY;
    range_of(p, NULL, plane, &lo, &hi);
    if (t) range_of(t, NULL, plane, &lo, &hi);
    widen(&lo, &hi);
    dfl_cmap field_map = DFL_CMAP_SEQUENTIAL;
    if (lo < 0 && hi > 0 && fmin(-lo, hi) / fmax(-lo, hi) > 0.2) {
        hi = fmax(-lo, hi);
        lo = -hi;
        field_map = DFL_CMAP_DIVERGING;
    }

    long long observed = 0;
    for (size_t i = 0; i < plane; ++i) observed += m[i] != 0;
    double sse = 0.0;
    long long nmiss = 0;
    if (t) {
        for (size_t i = 0; i < plane; ++i) {
            err[i] = fabsf(p[i] - t[i]);
            if (!m[i] && isfinite(err[i])) {
                sse += (double)err[i] * err[i];
                ++nmiss;
            }
        }
    }

    char obs_title[64], err_title[64];
    snprintf(obs_title, sizeof obs_title, "observed %.1f%%", 100.0 * (double)observed / (double)plane);
    snprintf(err_title, sizeof err_title, "|error|");
    panel panels[5];
    int np = 0;
    panels[np++] = (panel){obs_title, p, m, lo, hi, field_map};
    panels[np++] = (panel){"prediction", p, NULL, lo, hi, field_map};
    if (t) {
        panels[np++] = (panel){"truth", t, NULL, lo, hi, field_map};
        double elo = 0.0, ehi = -INFINITY;
        range_of(err, nmiss ? m : NULL, plane, &elo, &ehi);
        widen(&elo, &ehi);
        elo = 0.0;
        panels[np++] = (panel){err_title, err, NULL, elo, ehi, DFL_CMAP_HEAT};
    }
    if (s) {
        double slo = 0.0, shi = -INFINITY;
        range_of(s, NULL, plane, &slo, &shi);
        widen(&slo, &shi);
        slo = 0.0;
        panels[np++] = (panel){"uncertainty (std)", s, NULL, slo, shi, DFL_CMAP_HEAT};
    }

    /* North up: rows of a geographic grid with ascending latitude are flipped. */
    const int flip = in->lat && in->h > 1 && in->lat[0] < in->lat[in->h - 1];
    int dh, dw;
    display_size(in->h, in->w, &dh, &dw);
    const int slot = dw > MIN_SLOT ? dw : MIN_SLOT;
    const int bar_top = FIELD_TOP + dh + BAR_GAP;
    const int fig_w = 2 * MARGIN + np * slot + (np - 1) * GAP;
    const int fig_h = bar_top + BAR_H + BOTTOM;

    dfl_figure fig;
    dfl_figure_init(&fig, fig_w, fig_h);
    char line[1024];
    char index_text[16];
    snprintf(index_text, sizeof index_text, "%d", channel);
    if (strcmp(in->names[channel], index_text)) /* a real name, not the index fallback */
        snprintf(line, sizeof line, "sample %d  channel %d (%s)", index, channel, in->names[channel]);
    else
        snprintf(line, sizeof line, "sample %d  channel %d", index, channel);
    dfl_draw_text(fig.cr, MARGIN, HEADER_BASE, line, k_title_size, 1, 0.0, C_TEXT);
    snprintf(line, sizeof line, "%s", base_name(in->pred_path));
    if (in->method) append(line, sizeof line, " [%s]", in->method);
    if (t) append(line, sizeof line, " vs %s", base_name(in->truth_path));
    if (t && nmiss) append(line, sizeof line, "    rmse on missing %.4g", sqrt(sse / (double)nmiss));
    dfl_draw_text(fig.cr, MARGIN, HEADER_BASE + LINE, line, k_title_size, 0, 0.0, C_TEXT);

    for (int i = 0; i < np && st == DFL_OK; ++i) {
        const int sx = MARGIN + i * (slot + GAP);
        dfl_draw_text(fig.cr, sx + 0.5 * slot, TITLE_BASE, panels[i].title, k_title_size, 0, 0.5, C_TEXT);
        st = draw_field(fig.cr, sx + (slot - dw) / 2, FIELD_TOP, dw, dh, in->h, in->w, flip, &panels[i], in->pred_path);
        draw_colorbar(fig.cr, sx, bar_top, slot, &panels[i]);
    }
    if (st == DFL_OK) st = dfl_figure_write_png(&fig, out_path);
    if (width) *width = fig.width;
    if (height) *height = fig.height;
    dfl_figure_free(&fig);
done:
    free(pred);
    free(truth);
    free(std);
    free(err);
    free(mask);
    return st;
}

dfl_status dfl_plot_fields(const char *pred_path, const char *truth_path, int index, int channel, const char *out_path,
                           int *width, int *height) {
    dfl_pred_input in;
    DFL_TRY(dfl_pred_input_open(pred_path, truth_path, &in));
    dfl_status st = DFL_OK;
    if (index < 0 || index >= in.n)
        st = dfl_fail(DFL_EUSAGE, "--index %d is outside [0, %d): %s holds %d samples", index, in.n, pred_path, in.n);
    else if (channel < 0 || channel >= in.c)
        st =
            dfl_fail(DFL_EUSAGE, "--channel %d is outside [0, %d): %s has %d channels", channel, in.c, pred_path, in.c);
    else
        st = render(&in, index, channel, out_path, width, height);
    dfl_pred_input_close(&in);
    return st;
}
