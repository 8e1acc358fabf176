/* A run directory belongs to one run (docs/design.md, "Command line"):
 * the training that holds RUN_DIR/.lock (flock, "pid host" inside) for its
 * whole life, and a fresh start never overwrites an earlier checkpoint
 * unless asked to keep it aside. */
#ifndef DYNFILL_HOST_TRAIN_RUN_DIR_H
#define DYNFILL_HOST_TRAIN_RUN_DIR_H

#include "dynfill/status.h"

/* Takes the lock on dir/.lock (created if missing) and writes "pid host"
 * into it. *fd is the open descriptor holding the lock. DFL_EUSAGE naming
 * the holder's pid and host when another process holds it. */
dfl_status dfl_run_dir_lock(const char *dir, int *fd);

/* DFL_EUSAGE naming the holder when another process holds dir/.lock;
 * DFL_OK otherwise (takes no lock beyond a moment's shared one). */
dfl_status dfl_run_dir_probe(const char *dir);

/* Clears the holder line and releases the lock; fd < 0 is a no-op. */
void dfl_run_dir_unlock(int fd);

/* For a fresh start (not --resume): DFL_EUSAGE naming ckpt_path and both
 * options when it exists, unless force; with force, ckpt.h5, metrics.jsonl
 * and config.ini of dir are renamed to <name>.old-<UTC time> (and said
 * so). */
dfl_status dfl_run_dir_fresh(const char *dir, const char *ckpt_path, int force);

#endif
