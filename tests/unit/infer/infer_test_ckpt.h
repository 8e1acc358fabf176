/* The small checkpoint the inference unit tests impute with. */
#ifndef DYNFILL_TESTS_INFER_TEST_CKPT_H
#define DYNFILL_TESTS_INFER_TEST_CKPT_H

#include <stdio.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/checkpoint.h"
#include "dynfill/model.h"

/* base 8, mult 1,2, one res block, parameters from init seed 3, identity
 * normalisation, for data of `data_c` channels; `channels` is the value of
 * model.channels (joint or shared). No optimizer state. */
static inline void infer_test_write_ckpt(const char *path, int data_c, const char *channels) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    dfl_config cfg;
    dfl_config_defaults(&cfg);
    char mode[64];
    snprintf(mode, sizeof mode, "model.channels=%s", channels);
    CHECK(dfl_config_set(&cfg, "model.base=8") == DFL_OK);
    CHECK(dfl_config_set(&cfg, "model.mult=1,2") == DFL_OK);
    CHECK(dfl_config_set(&cfg, "model.nres=1") == DFL_OK);
    CHECK(dfl_config_set(&cfg, mode) == DFL_OK);
    dfl_unet_config uc;
    dfl_unet_config_from(&cfg, data_c, 0, 0, &uc);
    dfl_unet *m = NULL;
    CHECK(dfl_unet_create(be, &uc, &m) == DFL_OK);
    dfl_unet_init_params(m, 3);
    dfl_ckpt_meta meta = {0};
    meta.world_size = 1;
    meta.config_text = dfl_config_to_text(&cfg);
    dfl_ckpt_meta_set_norm(&meta, data_c, NULL, NULL);
    CHECK(dfl_checkpoint_save(path, m, NULL, &meta) == DFL_OK);
    dfl_ckpt_meta_free(&meta);
    dfl_unet_destroy(m);
    dfl_backend_destroy(be);
}

#endif
