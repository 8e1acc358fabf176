/* The loss-curve figure of `dynfill plot --metrics` (host/plot.h): train
 * loss and, when logged, validation loss against step, log-scale y, with
 * tick labels, grid, axis titles and a legend. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot_figures.h"
#include "png_canvas.h"

enum { FIG_W = 960, FIG_H = 560, BOX_L = 120, BOX_R = FIG_W - 32, BOX_T = 64, BOX_B = FIG_H - 84, SCALE = 2 };

#define C_BACKGROUND 0xffffffu
#define C_TEXT 0x202020u
#define C_FRAME 0x404040u
#define C_GRID 0xd8d8d8u
#define C_TRAIN 0x1f77b4u
#define C_VAL 0xe8710au

typedef struct {
    double x0, x1, ly0, ly1; /* step range and log10(loss) range */
} axes;

static double px_of(const axes *a, double step) {
    return BOX_L + (step - a->x0) / (a->x1 - a->x0) * (BOX_R - BOX_L);
}

static double py_of(const axes *a, double value) {
    return BOX_B - (log10(value) - a->ly0) / (a->ly1 - a->ly0) * (BOX_B - BOX_T);
}

static void extend(const dfl_series *s, double *xmin, double *xmax, double *vmin, double *vmax) {
    for (int i = 0; i < s->count; ++i) {
        *xmin = fmin(*xmin, s->step[i]);
        *xmax = fmax(*xmax, s->step[i]);
        *vmin = fmin(*vmin, s->value[i]);
        *vmax = fmax(*vmax, s->value[i]);
    }
}

static void draw_series(dfl_canvas *cv, const axes *a, const dfl_series *s, uint32_t col, double width, int dots) {
    for (int i = 1; i < s->count; ++i)
        dfl_canvas_line(cv, px_of(a, s->step[i - 1]), py_of(a, s->value[i - 1]), px_of(a, s->step[i]),
                        py_of(a, s->value[i]), width, col);
    if (dots || s->count == 1)
        for (int i = 0; i < s->count; ++i) dfl_canvas_disc(cv, px_of(a, s->step[i]), py_of(a, s->value[i]), 3.0, col);
}

static void format_number(char *buf, size_t len, double v) {
    if (v == 0.0) v = 0.0;
    snprintf(buf, len, "%g", v);
}

static void draw_axes(dfl_canvas *cv, const axes *a, double vmin, double vmax) {
    double ticks[64];
    char label[32];
    const int th = dfl_text_height(SCALE);
    /* x: linear ticks on step */
    int n = dfl_plot_ticks(a->x0, a->x1, 0, ticks, 64);
    for (int i = 0; i < n; ++i) {
        const int x = (int)lround(px_of(a, ticks[i]));
        dfl_canvas_vline_dashed(cv, x, BOX_T, BOX_B, C_GRID);
        dfl_canvas_fill_rect(cv, x, BOX_B, 1, 6, C_FRAME);
        format_number(label, sizeof label, ticks[i]);
        dfl_canvas_text(cv, x - dfl_text_width(label, SCALE) / 2, BOX_B + 10, label, SCALE, C_TEXT);
    }
    /* y: log ticks on loss */
    n = dfl_plot_ticks(vmin, vmax, 1, ticks, 64);
    for (int i = 0; i < n; ++i) {
        const int y = (int)lround(py_of(a, ticks[i]));
        dfl_canvas_hline_dashed(cv, BOX_L, BOX_R, y, C_GRID);
        dfl_canvas_fill_rect(cv, BOX_L - 6, y, 6, 1, C_FRAME);
        format_number(label, sizeof label, ticks[i]);
        dfl_canvas_text(cv, BOX_L - 10 - dfl_text_width(label, SCALE), y - th / 2, label, SCALE, C_TEXT);
    }
    dfl_canvas_frame_rect(cv, BOX_L, BOX_T, BOX_R - BOX_L + 1, BOX_B - BOX_T + 1, C_FRAME);
    const char *xt = "step";
    dfl_canvas_text(cv, (BOX_L + BOX_R - dfl_text_width(xt, SCALE)) / 2, BOX_B + 10 + th + 14, xt, SCALE, C_TEXT);
    const char *yt = "loss (log scale)";
    dfl_canvas_text_up(cv, 16, (BOX_T + BOX_B + dfl_text_width(yt, SCALE)) / 2, yt, SCALE, C_TEXT);
}

static void draw_legend(dfl_canvas *cv, int with_train, int with_val) {
    const char *names[2] = {"train loss", "val loss"};
    const uint32_t cols[2] = {C_TRAIN, C_VAL};
    const int show[2] = {with_train, with_val};
    const int th = dfl_text_height(SCALE);
    const int rows = show[0] + show[1];
    const int w = 36 + dfl_text_width(names[0], SCALE) + 16, h = 10 + rows * (th + 10);
    const int x = BOX_R - w - 10, y = BOX_T + 10;
    dfl_canvas_fill_rect(cv, x, y, w, h, C_BACKGROUND);
    dfl_canvas_frame_rect(cv, x, y, w, h, C_FRAME);
    int row = 0;
    for (int i = 0; i < 2; ++i) {
        if (!show[i]) continue;
        const int cy = y + 10 + row * (th + 10) + th / 2;
        dfl_canvas_line(cv, x + 8, cy, x + 28, cy, 2.0, cols[i]);
        if (i == 1) dfl_canvas_disc(cv, x + 18, cy, 3.0, cols[i]);
        dfl_canvas_text(cv, x + 36, cy - th / 2, names[i], SCALE, C_TEXT);
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

    dfl_canvas cv;
    dfl_canvas_init(&cv, FIG_W, FIG_H, C_BACKGROUND);
    char title[600];
    snprintf(title, sizeof title, "loss: %s", metrics_path);
    dfl_canvas_text(&cv, BOX_L, 20, title, SCALE, C_TEXT);
    draw_axes(&cv, &a, tick_lo, tick_hi);
    draw_series(&cv, &a, &loss, C_TRAIN, 1.5, 0);
    draw_series(&cv, &a, &val, C_VAL, 2.0, 1);
    draw_legend(&cv, loss.count > 0, val.count > 0);
    dfl_status st = dfl_png_write(out_path, &cv);
    if (width) *width = cv.width;
    if (height) *height = cv.height;
    dfl_canvas_free(&cv);
    dfl_series_free(&loss);
    dfl_series_free(&val);
    return st;
}
