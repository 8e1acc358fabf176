/* `dynfill plot` figures (docs/eval.md), drawn with cairo
 * (host/plot/plot_draw.h): a panel figure of one sample of a prediction
 * next to the truth (host/plot/plot_fields.c), and the loss curve of a
 * training run (host/plot/plot_loss.c, reading host/plot/plot_metrics.c).
 * Both write their PNG atomically: on failure out_path is left as it was. */
#ifndef DYNFILL_HOST_PLOT_FIGURES_H
#define DYNFILL_HOST_PLOT_FIGURES_H

#include "dynfill/status.h"

/* Panels observed / prediction / truth / |error| / uncertainty of sample
 * `index`, channel `channel`; truth_path may be NULL (then no truth and
 * no error panel); the uncertainty panel appears when /std exists.
 * Writes a PNG to out_path; its size goes to *width, *height if non-NULL. */
dfl_status dfl_plot_fields(const char *pred_path, const char *truth_path, int index, int channel, const char *out_path,
                           int *width, int *height);

/* A series of (step, value) points, steps strictly increasing. */
typedef struct {
    size_t count, capacity;
    double *step, *value;
} dfl_series;

void dfl_series_free(dfl_series *s);
/* Append; a step at or below the last one first drops the points it
 * supersedes (a run resumed from an earlier checkpoint logs them again). */
void dfl_series_push(dfl_series *s, double step, double value);

/* Parse RUN_DIR/metrics.jsonl: one flat JSON object a line; "loss" and
 * "val_loss" against "step" (lines without them are skipped). A line that
 * is not a JSON object is DFL_EUSAGE naming the file and line. */
dfl_status dfl_plot_read_metrics(const char *path, dfl_series *loss, dfl_series *val_loss);

/* Loss curve PNG (log-scale y) from a metrics file. */
dfl_status dfl_plot_loss(const char *metrics_path, const char *out_path, int *width, int *height);

/* Tick positions for an axis: "nice" linear ticks (1, 2, 5 × 10^k) within
 * [lo, hi], or for a log axis (lo, hi > 0) decades, then 1-2-5, then 1..9
 * per decade, whichever first gives at least 3 ticks (linear ticks when
 * even that fails). Returns the count (at most max). */
int dfl_plot_ticks(double lo, double hi, int log_axis, double *ticks, int max);

#endif
