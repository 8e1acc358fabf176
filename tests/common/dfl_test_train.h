/* The small training setup the trainer tests share (tests/unit/train and
 * tests/device/test_device_train.c): AdamW at lr 1e-3 without warm-up, and a
 * two-level dfl-unet (mult 1,2, one ResBlock a level, periodic along x). */
#ifndef DYNFILL_TEST_TRAIN_H
#define DYNFILL_TEST_TRAIN_H

#include <string.h>

#include "dynfill/config.h"
#include "dynfill/model.h"

static inline dfl_config dfl_test_train_config(long steps, unsigned long long seed) {
    dfl_config cfg;
    dfl_config_defaults(&cfg);
    cfg.lr = 1e-3;
    cfg.warmup = 0;
    cfg.steps = steps;
    cfg.seed = seed;
    return cfg;
}

static inline dfl_unet_config dfl_test_unet_config(int channels, int base, int attention) {
    dfl_unet_config uc;
    memset(&uc, 0, sizeof uc);
    uc.channels = channels;
    uc.base = base;
    uc.mult[0] = 1;
    uc.mult[1] = 2;
    uc.levels = 2;
    uc.nres = 1;
    uc.attention = attention;
    uc.periodic_x = 1;
    return uc;
}

#endif
