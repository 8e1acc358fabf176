/* The whole training run of `dynfill train` (docs/design.md, "Command
 * line" and "Distributed training"): config, data, model, the step loop
 * with progress and metrics, validation on held-out incomplete samples,
 * checkpoints every N steps and at the end, resume, and a checkpoint on
 * SIGTERM / SIGINT / SIGUSR1 before a clean exit. */
#ifndef DYNFILL_HOST_TRAIN_RUN_H
#define DYNFILL_HOST_TRAIN_RUN_H

#include <stdint.h>

#include "dynfill/backend.h"
#include "dynfill/climatology.h"
#include "dynfill/data.h"
#include "dynfill/status.h"

/* Calibration (docs/design.md, "Spline correction" and "Calibrated
 * spread"): given the final checkpoint, the backend and the held-out
 * samples [start, start+count) of ds, fills the arrays of cal (allocated
 * by the caller with dfl_ckpt_calib_alloc): the spline correction's
 * weights, the spread's scale and floor per channel (/std = sqrt((scale
 * spread)^2 + floor^2)) and that /std's factor by the entry's gap bin.
 * The imputation code lives above this layer, so `dynfill train` passes
 * it in. */
typedef dfl_status (*dfl_train_calibrate_fn)(const char *ckpt_path, dfl_backend *be, const dfl_dataset *ds,
                                             int64_t start, int64_t count, int64_t span, int K, uint64_t seed,
                                             dfl_ckpt_calib *cal);

/* The training data's mean field for data.climatology (include/dynfill/climatology.h); it fills gaps with
 * the harmonic baseline, which lives above this layer, so `dynfill train` passes it in. */
typedef dfl_status (*dfl_train_climatology_fn)(const dfl_dataset *ds, int64_t start, int64_t count,
                                               const uint8_t *withheld, const char *mode, dfl_climatology *out);

typedef struct {
    const char *config_path; /* INI file; NULL with resume (the checkpoint's config) */
    const char *data_path;   /* overrides data.path, or NULL */
    const char *out_dir;     /* run directory */
    char **sets;             /* nsets "section.key=value" overrides */
    int nsets;
    int resume; /* continue from out_dir/ckpt.h5 */
    int force;  /* start over even though out_dir holds a checkpoint (kept aside) */
    int quiet;
    int dry_run;    /* print the memory plan (exit 2 when it does not fit) and stop: nothing written */
    double minutes; /* > 0: train.time_budget in minutes (--minutes) */
    dfl_train_calibrate_fn calibrate;     /* NULL: the spread is not calibrated */
    dfl_train_climatology_fn climatology; /* NULL: data.climatology is not available */
} dfl_train_run_opts;

/* Runs to the end (DFL_OK), or stops on a signal after a checkpoint
 * (DFL_EINTERRUPTED), or fails with the message recorded (dfl_fail). With
 * several ranks an error on one aborts them all. */
dfl_status dfl_train_run(const dfl_train_run_opts *opts);

#endif
