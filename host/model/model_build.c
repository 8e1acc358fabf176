/* Building a dfl-unet from an experiment config or from a checkpoint. */
#include <string.h>

#include "dynfill/checkpoint.h"
#include "dynfill/config.h"
#include "dynfill/model.h"

int dfl_config_shares_channels(const dfl_config *cfg) { return !strcmp(cfg->channels, "shared"); }

void dfl_unet_config_from(const dfl_config *cfg, int channels, int data_periodic_x, int data_periodic_y,
                          dfl_unet_config *out) {
    memset(out, 0, sizeof *out);
    out->channels = dfl_config_shares_channels(cfg) ? 1 : channels;
    out->base = cfg->base;
    out->levels = cfg->levels;
    memcpy(out->mult, cfg->mult, sizeof(int) * (size_t)cfg->levels);
    out->nres = cfg->nres;
    out->attention = cfg->attention;
    out->input_fill = !strcmp(cfg->input_fill, "pyramid")  ? DFL_FILL_PYRAMID
                      : !strcmp(cfg->input_fill, "spline") ? DFL_FILL_SPLINE
                                                           : DFL_FILL_NONE;
    if (!strcmp(cfg->periodic, "auto")) {
        out->periodic_x = data_periodic_x;
        out->periodic_y = data_periodic_y;
    } else {
        out->periodic_x = strchr(cfg->periodic, 'x') != NULL;
        out->periodic_y = strchr(cfg->periodic, 'y') != NULL;
    }
}

dfl_status dfl_checkpoint_build_model(const char *path, dfl_backend *be, int use_ema, dfl_config *cfg,
                                      dfl_ckpt_meta *meta, dfl_unet **out) {
    DFL_TRY(dfl_checkpoint_read_meta(path, meta));
    dfl_config_defaults(cfg);
    char origin[1100];
    snprintf(origin, sizeof origin, "%s (config attribute)", path);
    dfl_status s = dfl_config_parse_text(meta->config_text, origin, cfg);
    if (s != DFL_OK) {
        dfl_ckpt_meta_free(meta);
        return s;
    }
    dfl_unet_config uc;
    dfl_unet_config_from(cfg, meta->channels, meta->periodic_x, meta->periodic_y, &uc);
    /* the checkpoint records the periodic axes the model was trained with */
    uc.periodic_x = meta->periodic_x;
    uc.periodic_y = meta->periodic_y;
    dfl_unet *m = NULL;
    s = dfl_unet_create(be, &uc, &m);
    if (s == DFL_OK) s = dfl_checkpoint_load(path, m, NULL, use_ema);
    if (s != DFL_OK) {
        dfl_unet_destroy(m);
        dfl_ckpt_meta_free(meta);
        return s;
    }
    *out = m;
    return DFL_OK;
}
