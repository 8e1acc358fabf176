/* A sample of a dataset spread over it within a byte budget: what the
 * start-of-training checks read (the coverage check, method.strategy =
 * auto and model.channels = auto). */
#ifndef DYNFILL_HOST_TRAIN_MASK_SAMPLE_H
#define DYNFILL_HOST_TRAIN_MASK_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/data.h"

/* Reads the masks [n, mask_c, h, w] of n samples spread over the file, one
 * per equal stretch (dfl_sample_spread) (all of them when they fit max_bytes, at least one). Returns the
 * buffer (free()) and sets *n; NULL with *n = 0 on a read error (error
 * state cleared: the training loader reports it when it reads that sample). */
uint8_t *dfl_train_mask_sample(const dfl_dataset *ds, size_t max_bytes, int64_t *n);

/* The same for the observations [n, c, h, w] (normalised, as the loader reads them) and
 * their masks (*masks, free()), obs and masks together within max_bytes. */
float *dfl_train_data_sample(const dfl_dataset *ds, size_t max_bytes, int64_t *n, uint8_t **masks);

#endif
