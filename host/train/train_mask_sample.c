/* Evenly spread mask sample of a dataset (train/train_mask_sample.h). */
#include "train_mask_sample.h"

#include <limits.h>
#include <stdlib.h>

uint8_t *dfl_train_mask_sample(const dfl_dataset *ds, size_t max_bytes, int64_t *n_out) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t entries = (size_t)info->mask_c * (size_t)info->h * (size_t)info->w;
    int64_t n = info->n;
    int64_t cap = (int64_t)(max_bytes / (entries ? entries : 1));
    if (cap < 1) cap = 1;
    if (n > cap) n = cap;
    if (n > INT_MAX) n = INT_MAX;
    uint8_t *masks = dfl_xmalloc((size_t)n * entries);
    for (int64_t i = 0; i < n; ++i) {
        int64_t src = n == info->n ? i : i * info->n / n;
        if (dfl_dataset_read_samples(ds, src, 1, NULL, masks + (size_t)i * entries) != DFL_OK) {
            dfl_clear_error();
            free(masks);
            *n_out = 0;
            return NULL;
        }
    }
    *n_out = n;
    return masks;
}
