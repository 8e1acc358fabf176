/* model.channels = auto at the start of `dynfill train`: joint or shared
 * chosen from a sample of the dataset (model/channel_choice.h) and written
 * into the run's config, so the checkpoint stores the network it trained
 * and `impute` folds the channels the same way. */
#ifndef DYNFILL_HOST_TRAIN_CHANNELS_AUTO_H
#define DYNFILL_HOST_TRAIN_CHANNELS_AUTO_H

#include <stddef.h>

#include "dynfill/config.h"
#include "dynfill/data.h"

/* 1 for shared, 0 for joint, and in why one line saying why and from how
 * many samples; joint when the samples cannot be read. */
int dfl_train_choose_channels(const dfl_dataset *ds, char *why, size_t len);

/* Leaves a config whose model.channels is not `auto` as it is. Every rank
 * reads the same samples and makes the same choice; `log` prints it (a
 * one-channel file becomes `joint` without a line). */
void dfl_train_resolve_channels(const dfl_dataset *ds, dfl_config *cfg, int log);

#endif
