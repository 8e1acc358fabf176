/* Evenly spread sample of a dataset (train/train_mask_sample.h). */
#include "train_mask_sample.h"

#include <limits.h>
#include <stdlib.h>

/* The n samples read for a budget of max_bytes at bytes_per_sample each: all, or at least one. */
static int64_t samples_within(const dfl_dataset_info *info, size_t max_bytes, size_t bytes_per_sample) {
    int64_t n = info->n;
    int64_t cap = (int64_t)(max_bytes / (bytes_per_sample ? bytes_per_sample : 1));
    if (cap < 1) cap = 1;
    if (n > cap) n = cap;
    if (n > INT_MAX) n = INT_MAX;
    return n;
}

/* Reads n of the N samples, one per equal stretch (dfl_sample_spread; all in order when n = N), into obs
 * (may be NULL) and masks. */
static int read_spread(const dfl_dataset *ds, int64_t n, float *obs, uint8_t *masks) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t mask_entries = (size_t)info->mask_c * (size_t)info->h * (size_t)info->w;
    const size_t obs_entries = (size_t)info->c * (size_t)info->h * (size_t)info->w;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t src = dfl_sample_spread(0, n, info->n, i);
        if (dfl_dataset_read_samples(ds, src, 1, obs ? obs + (size_t)i * obs_entries : NULL,
                                     masks + (size_t)i * mask_entries) != DFL_OK) {
            dfl_clear_error();
            return 0;
        }
    }
    return 1;
}

uint8_t *dfl_train_mask_sample(const dfl_dataset *ds, size_t max_bytes, int64_t *n_out) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t entries = (size_t)info->mask_c * (size_t)info->h * (size_t)info->w;
    const int64_t n = samples_within(info, max_bytes, entries);
    uint8_t *masks = dfl_xmalloc((size_t)n * entries);
    if (!read_spread(ds, n, NULL, masks)) {
        free(masks);
        *n_out = 0;
        return NULL;
    }
    *n_out = n;
    return masks;
}

float *dfl_train_data_sample(const dfl_dataset *ds, size_t max_bytes, int64_t *n_out, uint8_t **masks_out) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t plane = (size_t)info->h * (size_t)info->w;
    const size_t mask_entries = (size_t)info->mask_c * plane, obs_entries = (size_t)info->c * plane;
    const int64_t n = samples_within(info, max_bytes, obs_entries * sizeof(float) + mask_entries);
    float *obs = dfl_xmalloc((size_t)n * obs_entries * sizeof(float));
    uint8_t *masks = dfl_xmalloc((size_t)n * mask_entries);
    if (!read_spread(ds, n, obs, masks)) {
        free(obs);
        free(masks);
        *n_out = 0;
        *masks_out = NULL;
        return NULL;
    }
    *n_out = n;
    *masks_out = masks;
    return obs;
}
