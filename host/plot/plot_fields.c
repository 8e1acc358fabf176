/* The panel figure of `dynfill plot --pred --truth --index` (host/plot.h):
 * observed (unobserved entries grey), prediction, truth, |error| and
 * uncertainty (/std), each with a title and a horizontal colour bar. The
 * first three share one colour scale so they compare directly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/pred_read.h"
#include "plot_figures.h"
#include "plot_colormap.h"
#include "png_canvas.h"

enum {
    MARGIN = 16,
    GAP = 28,            /* between panels */
    MIN_SLOT = 216,      /* minimum panel width, so titles fit */
    TARGET = 320,        /* largest displayed field side */
    TITLE_SCALE = 2,
    BAR_H = 12,
    TICK_SCALE = 2,
};

#define C_BACKGROUND 0xffffffu
#define C_TEXT 0x202020u
#define C_FRAME 0x404040u
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

static void format_tick(char *buf, size_t len, double v) {
    if (v == 0.0) v = 0.0; /* no "-0" */
    snprintf(buf, len, "%.3g", v);
}

static void draw_colorbar(dfl_canvas *cv, int x, int y, int w, const panel *p) {
    for (int i = 0; i < w; ++i) {
        const uint32_t col = dfl_cmap_color(p->map, w > 1 ? (double)i / (w - 1) : 0.5);
        dfl_canvas_fill_rect(cv, x + i, y, 1, BAR_H, col);
    }
    dfl_canvas_frame_rect(cv, x - 1, y - 1, w + 2, BAR_H + 2, C_FRAME);
    const double at[3] = {0.0, 0.5, 1.0};
    char text[3][32];
    int tx[3];
    for (int k = 0; k < 3; ++k) {
        format_tick(text[k], sizeof text[k], p->vmin + at[k] * (p->vmax - p->vmin));
        const int px = x + (int)lround(at[k] * (w - 1));
        dfl_canvas_fill_rect(cv, px, y + BAR_H + 1, 1, 4, C_FRAME);
        const int tw = dfl_text_width(text[k], TICK_SCALE);
        tx[k] = k == 0 ? x : (k == 2 ? x + w - tw : px - tw / 2);
    }
    const int ty = y + BAR_H + 7;
    dfl_canvas_text(cv, tx[0], ty, text[0], TICK_SCALE, C_TEXT);
    dfl_canvas_text(cv, tx[2], ty, text[2], TICK_SCALE, C_TEXT);
    /* The middle label only where it clears both ends. */
    const int mid_w = dfl_text_width(text[1], TICK_SCALE);
    if (tx[1] > tx[0] + dfl_text_width(text[0], TICK_SCALE) + 6 && tx[1] + mid_w + 6 < tx[2])
        dfl_canvas_text(cv, tx[1], ty, text[1], TICK_SCALE, C_TEXT);
}

static void draw_field(dfl_canvas *cv, int x, int y, int dw, int dh, int h, int w, int flip, const panel *p) {
    const double span = p->vmax - p->vmin;
    for (int py = 0; py < dh; ++py) {
        int row = (int)((long long)py * h / dh);
        if (flip) row = h - 1 - row;
        for (int px = 0; px < dw; ++px) {
            const int col = (int)((long long)px * w / dw);
            const size_t i = (size_t)row * w + col;
            uint32_t c;
            if (p->mask && !p->mask[i])
                c = C_UNOBSERVED;
            else
                c = dfl_cmap_color(p->map, isfinite(p->values[i]) ? (p->values[i] - p->vmin) / span : NAN);
            dfl_canvas_set(cv, x + px, y + py, c);
        }
    }
    dfl_canvas_frame_rect(cv, x - 1, y - 1, dw + 2, dh + 2, C_FRAME);
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
    const int th = dfl_text_height(TITLE_SCALE);
    const int header = MARGIN + 2 * (th + 8);
    const int panel_top = header + 6;
    const int field_top = panel_top + th + 10;
    const int bar_top = field_top + dh + 12;
    const int fig_w = 2 * MARGIN + np * slot + (np - 1) * GAP;
    const int fig_h = bar_top + BAR_H + 7 + dfl_text_height(TICK_SCALE) + MARGIN;

    dfl_canvas cv;
    dfl_canvas_init(&cv, fig_w, fig_h, C_BACKGROUND);
    char line[512];
    char index_text[16];
    snprintf(index_text, sizeof index_text, "%d", channel);
    if (strcmp(in->names[channel], index_text)) /* a real name, not the index fallback */
        snprintf(line, sizeof line, "sample %d  channel %d (%s)", index, channel, in->names[channel]);
    else
        snprintf(line, sizeof line, "sample %d  channel %d", index, channel);
    dfl_canvas_text(&cv, MARGIN, MARGIN, line, TITLE_SCALE, C_TEXT);
    int k = snprintf(line, sizeof line, "%s", base_name(in->pred_path));
    if (in->method) k += snprintf(line + k, sizeof line - (size_t)k, " [%s]", in->method);
    if (t) k += snprintf(line + k, sizeof line - (size_t)k, " vs %s", base_name(in->truth_path));
    if (t && nmiss) snprintf(line + k, sizeof line - (size_t)k, "   rmse on missing %.4g", sqrt(sse / (double)nmiss));
    dfl_canvas_text(&cv, MARGIN, MARGIN + th + 8, line, TITLE_SCALE, C_TEXT);

    for (int i = 0; i < np; ++i) {
        const int sx = MARGIN + i * (slot + GAP);
        const int fx = sx + (slot - dw) / 2;
        const int tw = dfl_text_width(panels[i].title, TITLE_SCALE);
        dfl_canvas_text(&cv, sx + (slot - tw) / 2, panel_top, panels[i].title, TITLE_SCALE, C_TEXT);
        draw_field(&cv, fx, field_top, dw, dh, in->h, in->w, flip, &panels[i]);
        draw_colorbar(&cv, sx, bar_top, slot, &panels[i]);
    }
    st = dfl_png_write(out_path, &cv);
    if (width) *width = cv.width;
    if (height) *height = cv.height;
    dfl_canvas_free(&cv);
done:
    free(pred);
    free(truth);
    free(std);
    free(err);
    free(mask);
    return st;
}

dfl_status dfl_plot_fields(const char *pred_path, const char *truth_path, int index, int channel,
                           const char *out_path, int *width, int *height) {
    dfl_pred_input in;
    DFL_TRY(dfl_pred_input_open(pred_path, truth_path, &in));
    dfl_status st = DFL_OK;
    if (index < 0 || index >= in.n)
        st = dfl_fail(DFL_EUSAGE, "--index %d is outside [0, %d): %s holds %d samples", index, in.n, pred_path, in.n);
    else if (channel < 0 || channel >= in.c)
        st = dfl_fail(DFL_EUSAGE, "--channel %d is outside [0, %d): %s has %d channels", channel, in.c, pred_path,
                      in.c);
    else
        st = render(&in, index, channel, out_path, width, height);
    dfl_pred_input_close(&in);
    return st;
}
