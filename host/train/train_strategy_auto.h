/* method.strategy = auto at the start of `dynfill train`: chosen from a
 * sample of the dataset's masks (method/strategy_choice.h) and written
 * into the run's config, so the checkpoint stores the strategy it trained
 * with and `impute` draws the same contexts. */
#ifndef DYNFILL_HOST_TRAIN_STRATEGY_AUTO_H
#define DYNFILL_HOST_TRAIN_STRATEGY_AUTO_H

#include <stddef.h>

#include "dynfill/config.h"
#include "dynfill/data.h"
#include "dynfill/method.h"

/* The strategy `auto` picks for the dataset with block grid grid_h x
 * grid_w, and in why one line saying why (method/strategy_choice.h) and
 * from how many samples' masks; pixel when the masks cannot be read. */
dfl_strategy dfl_train_choose_strategy(const dfl_dataset *ds, int grid_h, int grid_w, char *why, size_t len);

/* Leaves a config whose method.strategy is not `auto` as it is. Every rank
 * reads the same masks and makes the same choice; `log` prints it. */
void dfl_train_resolve_strategy(const dfl_dataset *ds, dfl_config *cfg, int log);

#endif
