/* Progress reporter (host/core/progress.h). */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dynfill/status.h"

enum { MODE_OFF = 0, MODE_BAR = 1, MODE_LINES = 2 };

struct dfl_progress {
    char label[96];
    char unit[32];
    char note[96];
    int64_t total, done;
    int64_t done_before; /* dfl_progress_start_at: done before this run, not in the rate */
    int mode;
    double t_start, t_last_print;
    double interval; /* seconds between plain lines */
    int drawn;       /* a bar line is on screen (needs a newline at the end) */
};

static int choose_mode(void) {
    if (dfl_quiet()) return MODE_OFF;
    const char *env = getenv("DFL_PROGRESS");
    if (env && !strcmp(env, "off")) return MODE_OFF;
    if (env && !strcmp(env, "bar")) return MODE_BAR;
    if (env && !strcmp(env, "lines")) return MODE_LINES;
    return isatty(fileno(stderr)) ? MODE_BAR : MODE_LINES;
}

dfl_progress *dfl_progress_begin(const char *label, int64_t total, const char *unit) {
    dfl_progress *p = dfl_xcalloc(1, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total;
    p->mode = choose_mode();
    p->t_start = dfl_clock_seconds();
    p->t_last_print = p->t_start;
    p->interval = 10.0;
    const char *iv = getenv("DFL_PROGRESS_INTERVAL");
    if (iv) {
        double v = atof(iv);
        if (v > 0) p->interval = v;
    }
    return p;
}

static void format_duration(double s, char *buf, size_t len) {
    if (s < 0 || s > 1e8) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%lds", t);
}

/* "label [bar] done/total unit  rate unit/s  ETA x  note" */
static void format_status(const dfl_progress *p, double t, int with_bar, int final, char *buf, size_t len) {
    double elapsed = t - p->t_start;
    double rate = elapsed > 0 ? (double)(p->done - p->done_before) / elapsed : 0.0;
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "%s", p->label);
    if (with_bar && p->total > 0) {
        enum { W = 24 };
        char bar[W + 1];
        int fill = (int)((double)W * (double)p->done / (double)p->total);
        if (fill > W) fill = W;
        for (int i = 0; i < W; ++i) bar[i] = i < fill ? '#' : '.';
        bar[W] = 0;
        off += (size_t)snprintf(buf + off, len - off, " [%s]", bar);
    }
    if (off >= len) return;
    if (p->total > 0)
        off +=
            (size_t)snprintf(buf + off, len - off, " %lld/%lld %s", (long long)p->done, (long long)p->total, p->unit);
    else
        off += (size_t)snprintf(buf + off, len - off, " %lld %s", (long long)p->done, p->unit);
    if (off >= len) return;
    if (rate >= 100)
        off += (size_t)snprintf(buf + off, len - off, "  %.0f %s/s", rate, p->unit);
    else
        off += (size_t)snprintf(buf + off, len - off, "  %.3g %s/s", rate, p->unit);
    if (off >= len) return;
    char d[32];
    if (final) {
        format_duration(elapsed, d, sizeof d);
        off += (size_t)snprintf(buf + off, len - off, "  done in %s", d);
    } else if (p->total > 0 && rate > 0) {
        format_duration((double)(p->total - p->done) / rate, d, sizeof d);
        off += (size_t)snprintf(buf + off, len - off, "  ETA %s", d);
    }
    if (off >= len) return;
    if (p->note[0]) snprintf(buf + off, len - off, "  %s", p->note);
}

static void maybe_print(dfl_progress *p, int force) {
    if (p->mode == MODE_OFF) return;
    double t = dfl_clock_seconds();
    double min_gap = p->mode == MODE_BAR ? 0.1 : p->interval;
    if (!force && t - p->t_last_print < min_gap) return;
    p->t_last_print = t;
    char line[512];
    format_status(p, t, p->mode == MODE_BAR, 0, line, sizeof line);
    if (p->mode == MODE_BAR) {
        fprintf(stderr, "\r%s\033[K", line);
        p->drawn = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void dfl_progress_set_total(dfl_progress *p, int64_t total) {
    if (p) p->total = total;
}

void dfl_progress_start_at(dfl_progress *p, int64_t done) {
    if (p) p->done = p->done_before = done;
}

void dfl_progress_update(dfl_progress *p, int64_t done) {
    if (!p) return;
    p->done = done;
    maybe_print(p, 0);
}

void dfl_progress_add(dfl_progress *p, int64_t delta) {
    if (!p) return;
    dfl_progress_update(p, p->done + delta);
}

void dfl_progress_note(dfl_progress *p, const char *fmt, ...) {
    if (!p) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->note, sizeof p->note, fmt, ap);
    va_end(ap);
}

void dfl_progress_end(dfl_progress *p) {
    if (!p) return;
    if (p->mode != MODE_OFF) {
        char line[512];
        format_status(p, dfl_clock_seconds(), p->mode == MODE_BAR, 1, line, sizeof line);
        if (p->mode == MODE_BAR)
            fprintf(stderr, "\r%s\033[K\n", line);
        else
            fprintf(stderr, "%s\n", line);
        fflush(stderr);
    }
    free(p);
}
