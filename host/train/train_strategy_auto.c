/* method.strategy = auto at the start of training (train/train_strategy_auto.h). */
#include "train_strategy_auto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "method/strategy_choice.h"
#include "train_mask_sample.h"

/* Masks read for the choice: a second at most on one core. */
#define DFL_STRATEGY_AUTO_MASK_BYTES ((size_t)16 << 20)

void dfl_train_resolve_strategy(const dfl_dataset *ds, dfl_config *cfg, int log) {
    if (strcmp(cfg->strategy, "auto")) return;
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    int64_t n = 0;
    uint8_t *masks = dfl_train_mask_sample(ds, DFL_STRATEGY_AUTO_MASK_BYTES, &n);
    dfl_strategy_choice choice = {.strategy = DFL_STRATEGY_PIXEL};
    if (masks) choice = dfl_strategy_choose(masks, n, info->mask_c, info->h, info->w, cfg->grid_h, cfg->grid_w);
    const int read = masks != NULL;
    free(masks);
    snprintf(cfg->strategy, sizeof cfg->strategy, "%s", dfl_method_strategy_name(choice.strategy));
    if (!log) return;
    char why[256] = "pixel: the masks could not be read";
    if (read) dfl_strategy_choice_describe(&choice, why, sizeof why);
    dfl_info("train: method.strategy = auto: %s, from the masks of %lld of %lld samples", why, (long long)n,
             (long long)info->n);
}
