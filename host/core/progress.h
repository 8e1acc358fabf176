/* Progress reporting for long work (docs/design.md, "Command line"): a bar with rate and ETA
 * redrawn in place on a terminal, plain periodic lines otherwise (logs,
 * pipes, Slurm output). Everything goes to stderr.
 *
 *   dfl_progress *p = dfl_progress_begin("gen ns", n, "samples");
 *   for (...) { ...; dfl_progress_update(p, done); }
 *   dfl_progress_end(p);
 *
 * Terminal: "gen ns [########......]  120/300 samples  41.2 samples/s  ETA 4s"
 * redrawn at most 10 times a second. Not a terminal: the same text as one
 * line every DFL_PROGRESS_INTERVAL seconds (environment, default 10), plus a
 * final line. DFL_PROGRESS=off silences it, =bar / =lines force a mode; so
 * does dfl_set_quiet (--quiet).
 * Not thread-safe: call it from one thread. */
#ifndef DYNFILL_HOST_PROGRESS_H
#define DYNFILL_HOST_PROGRESS_H

#include <stdint.h>

typedef struct dfl_progress dfl_progress;

/* total <= 0: unknown total (no bar, no ETA). unit: e.g. "samples", "steps". */
dfl_progress *dfl_progress_begin(const char *label, int64_t total, const char *unit);
/* A new estimate of the total (<= 0: unknown), e.g. once the first round of
 * work says how many rounds there will be. */
void dfl_progress_set_total(dfl_progress *p, int64_t total);
/* Work done before this run (a resumed one): counted in `done`, left out of
 * the rate and so of the ETA. Call before the first update. */
void dfl_progress_start_at(dfl_progress *p, int64_t done);
/* Report `done` units completed in total (absolute, not a delta). */
void dfl_progress_update(dfl_progress *p, int64_t done);
/* Add `delta` units to the count. */
void dfl_progress_add(dfl_progress *p, int64_t delta);
/* A short free-text note shown after the rate (e.g. "loss 0.0312"). */
void dfl_progress_note(dfl_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the final state (always one line) and free. NULL is allowed. */
void dfl_progress_end(dfl_progress *p);

#endif
