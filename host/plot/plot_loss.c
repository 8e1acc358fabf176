/* The loss-curve figure of `dynfill plot --metrics` (docs/eval.md): train
 * loss and, when logged, validation loss against step, log-scale y, with
 * tick labels, dashed grid, axis titles and a legend. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot_draw.h"
#include "plot_figures.h"

enum { FIG_W = 960, FIG_H = 560, BOX_L = 120, BOX_R = FIG_W - 32, BOX_T = 64, BOX_B = FIG_H - 84 };

static const double k_text_size = 15.0, k_tick_size = 14.0;

#define C_TEXT  0x202020u
#define C_FRAME 0x404040u
#define C_GRID  0xd0d0d0u
#define C_TRAIN 0x1f77b4u
#define C_VAL   0xe8710au

typedef struct {
    double x0, x1, ly0, ly1; /* step range and log10(loss) range */
} axes;

static double px_of(const axes *a, double step) { return BOX_L + (step - a->x0) / (a->x1 - a->x0) * (BOX_R - BOX_L); }

static double py_of(const axes *a, double value) {
    return BOX_B - (log10(value) - a->ly0) / (a->ly1 - a->ly0) * (BOX_B - BOX_T);
}

static void extend(const dfl_series *s, double *xmin, double *xmax, double *vmin, double *vmax) {
    for (size_t i = 0; i < s->count; ++i) {
        *xmin = fmin(*xmin, s->step[i]);
        *xmax = fmax(*xmax, s->step[i]);
        *vmin = fmin(*vmin, s->value[i]);
        *vmax = fmax(*vmax, s->value[i]);
    }
}

static void disc(cairo_t *cr, double x, double y, double radius, uint32_t rgb) {
    dfl_draw_color(cr, rgb);
    cairo_new_path(cr);
    cairo_arc(cr, x, y, radius, 0.0, 2.0 * M_PI);
    cairo_fill(cr);
}

static void draw_series(cairo_t *cr, const axes *a, const dfl_series *s, uint32_t col, double width, int dots) {
    if (s->count > 1) {
        dfl_draw_color(cr, col);
        cairo_set_line_width(cr, width);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        for (size_t i = 0; i < s->count; ++i) cairo_line_to(cr, px_of(a, s->step[i]), py_of(a, s->value[i]));
        cairo_stroke(cr);
    }
    if (dots || s->count == 1)
        for (size_t i = 0; i < s->count; ++i) disc(cr, px_of(a, s->step[i]), py_of(a, s->value[i]), 3.0, col);
}

/* A dashed 1-pixel grid line through pixel row y (horizontal) or column x. */
static void grid_line(cairo_t *cr, int horizontal, int at) {
    static const double dash[2] = {3.0, 3.0};
    dfl_draw_color(cr, C_GRID);
    cairo_set_line_width(cr, 1.0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_set_dash(cr, dash, 2, 0.0);
    if (horizontal) {
        cairo_move_to(cr, BOX_L, at + 0.5);
        cairo_line_to(cr, BOX_R, at + 0.5);
    } else {
        cairo_move_to(cr, at + 0.5, BOX_T);
        cairo_line_to(cr, at + 0.5, BOX_B);
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0.0);
}

static void draw_axes(cairo_t *cr, const axes *a, double vmin, double vmax) {
    double ticks[64];
    char label[48];
    /* x: linear ticks on step */
    int n = dfl_plot_ticks(a->x0, a->x1, 0, ticks, 64);
    for (int i = 0; i < n; ++i) {
        const int x = (int)lround(px_of(a, ticks[i]));
        grid_line(cr, 0, x);
        dfl_draw_fill_rect(cr, x, BOX_B, 1, 6, C_FRAME);
        dfl_draw_format_number(label, sizeof label, ticks[i], 6);
        dfl_draw_text(cr, x + 0.5, BOX_B + 10 + 0.75 * k_tick_size, label, k_tick_size, 0, 0.5, C_TEXT);
    }
    /* y: log ticks on loss, labels centred on the tick */
    n = dfl_plot_ticks(vmin, vmax, 1, ticks, 64);
    for (int i = 0; i < n; ++i) {
        const int y = (int)lround(py_of(a, ticks[i]));
        grid_line(cr, 1, y);
        dfl_draw_fill_rect(cr, BOX_L - 6, y, 6, 1, C_FRAME);
        dfl_draw_format_number(label, sizeof label, ticks[i], 6);
        dfl_draw_text(cr, BOX_L - 10, y + 0.5 + 0.36 * k_tick_size, label, k_tick_size, 0, 1.0, C_TEXT);
    }
    dfl_draw_frame_rect(cr, BOX_L, BOX_T, BOX_R - BOX_L + 1, BOX_B - BOX_T + 1, C_FRAME);
    dfl_draw_text(cr, 0.5 * (BOX_L + BOX_R), BOX_B + 56, "step", k_text_size, 0, 0.5, C_TEXT);
    cairo_save(cr);
    cairo_translate(cr, 30, 0.5 * (BOX_T + BOX_B));
    cairo_rotate(cr, -0.5 * M_PI); /* reads bottom to top */
    dfl_draw_text(cr, 0, 0, "loss (log scale)", k_text_size, 0, 0.5, C_TEXT);
    cairo_restore(cr);
}

static void draw_legend(cairo_t *cr, int with_train, int with_val) {
    const char *names[2] = {"train loss", "val loss"};
    const uint32_t cols[2] = {C_TRAIN, C_VAL};
    const int show[2] = {with_train, with_val};
    const int row_h = 24, rows = show[0] + show[1];
    const double text_w =
        fmax(dfl_draw_text_width(cr, names[0], k_text_size, 0), dfl_draw_text_width(cr, names[1], k_text_size, 0));
    const int w = 40 + (int)ceil(text_w) + 12, h = 8 + rows * row_h;
    const int x = BOX_R - w - 10, y = BOX_T + 10;
    dfl_draw_fill_rect(cr, x, y, w, h, 0xffffff);
    dfl_draw_frame_rect(cr, x, y, w, h, C_FRAME);
    int row = 0;
    for (int i = 0; i < 2; ++i) {
        if (!show[i]) continue;
        const double cy = y + 4 + row * row_h + 0.5 * row_h;
        dfl_draw_color(cr, cols[i]);
        cairo_set_line_width(cr, 2.0);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        cairo_move_to(cr, x + 8, cy);
        cairo_line_to(cr, x + 32, cy);
        cairo_stroke(cr);
        if (i == 1) disc(cr, x + 20, cy, 3.0, cols[i]);
        dfl_draw_text(cr, x + 40, cy + 0.36 * k_text_size, names[i], k_text_size, 0, 0.0, C_TEXT);
        ++row;
    }
}

dfl_status dfl_plot_loss(const char *metrics_path, const char *out_path, int *width, int *height) {
    dfl_series loss, val;
    DFL_TRY(dfl_plot_read_metrics(metrics_path, &loss, &val));
    double xmin = INFINITY, xmax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
    extend(&loss, &xmin, &xmax, &vmin, &vmax);
    extend(&val, &xmin, &xmax, &vmin, &vmax);
    if (xmax <= xmin) {
        xmin -= 1;
        xmax += 1;
    }
    if (vmax <= vmin * 1.0001) {
        vmin /= 1.5;
        vmax *= 1.5;
    }
    /* 4 % headroom in log space so curves do not run along the frame. */
    const double lpad = 0.04 * (log10(vmax) - log10(vmin));
    axes a = {xmin, xmax, log10(vmin) - lpad, log10(vmax) + lpad};
    const double tick_lo = pow(10.0, a.ly0), tick_hi = pow(10.0, a.ly1);

    dfl_figure fig;
    dfl_figure_init(&fig, FIG_W, FIG_H);
    char title[600];
    snprintf(title, sizeof title, "loss: %s", metrics_path);
    dfl_draw_text(fig.cr, BOX_L, 36, title, k_text_size, 1, 0.0, C_TEXT);
    draw_axes(fig.cr, &a, tick_lo, tick_hi);
    draw_series(fig.cr, &a, &loss, C_TRAIN, 1.5, 0);
    draw_series(fig.cr, &a, &val, C_VAL, 2.0, 1);
    draw_legend(fig.cr, loss.count > 0, val.count > 0);
    dfl_status st = dfl_figure_write_png(&fig, out_path);
    if (width) *width = fig.width;
    if (height) *height = fig.height;
    dfl_figure_free(&fig);
    dfl_series_free(&loss);
    dfl_series_free(&val);
    return st;
}
