/* model.channels = auto at the start of training (train/train_channels_auto.h). */
#include "train_channels_auto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "model/channel_choice.h"
#include "train_mask_sample.h"

/* Samples read for the choice (at least one), and the feature-pair
 * products it sums: `dynfill info`, which makes this choice, took 0.55 s
 * on one 721x1440 sample of 69 channels read from the page cache (Zen 4). */
#define DFL_CHANNELS_AUTO_BYTES    ((size_t)64 << 20)
#define DFL_CHANNELS_AUTO_PRODUCTS 2.0e8

int dfl_train_choose_channels(const dfl_dataset *ds, char *why, size_t len) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    if (info->c < 2) {
        snprintf(why, len, "joint: one channel");
        return 0;
    }
    int64_t n = 0;
    uint8_t *masks = NULL;
    float *obs = dfl_train_data_sample(ds, DFL_CHANNELS_AUTO_BYTES, &n, &masks);
    if (!obs) {
        snprintf(why, len, "joint: the samples could not be read");
        return 0;
    }
    const double features = 3.0 * (double)info->c; /* model/channel_choice.h: a value and two differences */
    const double products = (double)n * (double)info->h * (double)info->w * features * features / 2.0;
    const int64_t stride =
        products > DFL_CHANNELS_AUTO_PRODUCTS ? (int64_t)(products / DFL_CHANNELS_AUTO_PRODUCTS) + 1 : 1;
    dfl_channel_choice choice = dfl_channels_choose(obs, masks, n, info->c, info->mask_c, info->h, info->w, stride);
    free(obs);
    free(masks);
    char text[256];
    dfl_channel_choice_describe(&choice, text, sizeof text);
    snprintf(why, len, "%s, from %lld of %lld samples", text, (long long)n, (long long)info->n);
    return choice.shared;
}

void dfl_train_resolve_channels(const dfl_dataset *ds, dfl_config *cfg, int log) {
    if (strcmp(cfg->channels, "auto")) return;
    if (dfl_dataset_get_info(ds)->c < 2) { /* nothing to choose: the networks are the same */
        snprintf(cfg->channels, sizeof cfg->channels, "joint");
        return;
    }
    char why[384];
    const int shared = dfl_train_choose_channels(ds, why, sizeof why);
    snprintf(cfg->channels, sizeof cfg->channels, "%s", shared ? "shared" : "joint");
    if (log) dfl_info("train: model.channels = auto: %s", why);
}
