/* The whole training run of `dynfill train` (docs/design.md, "Command
 * line" and "Distributed training"): config, data, model, the step loop
 * with progress and metrics, validation on held-out incomplete samples,
 * checkpoints every N steps and at the end, resume, and a checkpoint on
 * SIGTERM / SIGINT / SIGUSR1 before a clean exit. */
#ifndef DYNFILL_HOST_TRAIN_RUN_H
#define DYNFILL_HOST_TRAIN_RUN_H

#include "dynfill/status.h"

typedef struct {
    const char *config_path; /* INI file; NULL with resume (the checkpoint's config) */
    const char *data_path;   /* overrides data.path, or NULL */
    const char *out_dir;     /* run directory */
    char **sets;             /* nsets "section.key=value" overrides */
    int nsets;
    int resume;              /* continue from out_dir/ckpt.h5 */
    int force;               /* start over even though out_dir holds a checkpoint (kept aside) */
    int quiet;
    int dry_run;             /* print the memory plan (exit 2 when it does not fit) and stop: nothing written */
} dfl_train_run_opts;

/* Runs to the end (DFL_OK), or stops on a signal after a checkpoint
 * (DFL_EINTERRUPTED), or fails with the message recorded (dfl_fail). With
 * several ranks an error on one aborts them all. */
dfl_status dfl_train_run(const dfl_train_run_opts *opts);

#endif
