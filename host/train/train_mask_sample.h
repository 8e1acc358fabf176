/* An evenly spread sample of a dataset's observation masks within a byte
 * budget: what the start-of-training checks read (the coverage check and
 * method.strategy = auto). */
#ifndef DYNFILL_HOST_TRAIN_MASK_SAMPLE_H
#define DYNFILL_HOST_TRAIN_MASK_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/data.h"

/* Reads the masks [n, mask_c, h, w] of n samples spread evenly over the
 * file (all of them when they fit max_bytes, at least one). Returns the
 * buffer (free()) and sets *n; NULL with *n = 0 on a read error (error
 * state cleared: the training loader reports it when it reads that sample). */
uint8_t *dfl_train_mask_sample(const dfl_dataset *ds, size_t max_bytes, int64_t *n);

#endif
