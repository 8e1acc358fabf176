/* The model options of the bench commands (host/bench/bench_model.h). */
#include "bench_model.h"

#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "core/args.h"
#include "dynfill/checkpoint.h"

dfl_status dfl_bench_model_option(dfl_config *cfg, int opt, const char *value) {
    static const char *const keys[] = {"model.base", "model.mult", "model.nres", "model.attention", "model.periodic"};
    if (opt < DFL_BENCH_OPT_BASE || opt > DFL_BENCH_OPT_PERIODIC) DFL_PANIC("not a model option: %d", opt);
    char set[160];
    snprintf(set, sizeof set, "%s=%s", keys[opt - DFL_BENCH_OPT_BASE], value);
    return dfl_config_set(cfg, set);
}

dfl_status dfl_bench_parse_size(const char *value, long *h, long *w) {
    if (strchr(value, 'x')) {
        if (sscanf(value, "%ldx%ld", h, w) != 2 || *h < 1 || *w < 1)
            return dfl_fail(DFL_EUSAGE, "option --size: '%s' is not S or HxW", value);
        return DFL_OK;
    }
    dfl_status s = dfl_cli_parse_int("--size", value, 1, 1 << 16, h);
    if (s == DFL_OK) *w = *h;
    return s;
}

void dfl_bench_unet_config(const dfl_config *cfg, int channels, dfl_unet_config *out) {
    dfl_unet_config_from(cfg, channels, 0, 0, out);
    if (!strcmp(cfg->periodic, "auto")) out->periodic_x = out->periodic_y = 0;
}

dfl_status dfl_bench_save_model(const char *path, dfl_unet *m, const dfl_config *cfg, int channels, uint64_t seed) {
    const dfl_unet_config *uc = dfl_unet_get_config(m);
    dfl_ckpt_meta meta = {0};
    meta.seed = seed;
    meta.world_size = 1;
    meta.config_text = dfl_config_to_text(cfg);
    dfl_ckpt_meta_set_norm(&meta, channels, NULL, NULL); /* identity normalisation */
    meta.periodic_x = uc->periodic_x;
    meta.periodic_y = uc->periodic_y;
    dfl_status s = dfl_checkpoint_save(path, m, NULL, &meta);
    dfl_ckpt_meta_free(&meta);
    return s;
}
