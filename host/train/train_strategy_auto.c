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

dfl_strategy dfl_train_choose_strategy(const dfl_dataset *ds, int grid_h, int grid_w, char *why, size_t len) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    int64_t n = 0;
    uint8_t *masks = dfl_train_mask_sample(ds, DFL_STRATEGY_AUTO_MASK_BYTES, &n);
    if (!masks) {
        snprintf(why, len, "pixel: the masks could not be read");
        return DFL_STRATEGY_PIXEL;
    }
    dfl_strategy_choice choice = dfl_strategy_choose(masks, n, info->mask_c, info->h, info->w, grid_h, grid_w);
    free(masks);
    char text[256];
    dfl_strategy_choice_describe(&choice, text, sizeof text);
    snprintf(why, len, "%s, from the masks of %lld of %lld samples", text, (long long)n, (long long)info->n);
    return choice.strategy;
}

void dfl_train_resolve_strategy(const dfl_dataset *ds, dfl_config *cfg, int log) {
    if (strcmp(cfg->strategy, "auto")) return;
    char why[384];
    dfl_strategy s = dfl_train_choose_strategy(ds, cfg->grid_h, cfg->grid_w, why, sizeof why);
    snprintf(cfg->strategy, sizeof cfg->strategy, "%s", dfl_method_strategy_name(s));
    if (log) dfl_info("train: method.strategy = auto: %s", why);
}
