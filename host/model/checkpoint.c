/* HDF5 checkpoints (include/dynfill/checkpoint.h). */
#include "dynfill/checkpoint.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5_util.h"

/* The calibration's arrays as checkpoint attributes: the name, the member
 * and the values per channel. */
typedef struct {
    const char *name;
    size_t offset;
    size_t per_channel;
} calib_attr;
static const calib_attr calib_attrs[] = {
    {"std_scale", offsetof(dfl_ckpt_calib, std_scale), 1},
    {"std_floor", offsetof(dfl_ckpt_calib, std_floor), 1},
    {"std_gap_factor", offsetof(dfl_ckpt_calib, std_gap_factor), DFL_CKPT_GAP_BINS},
    {"spline_weight", offsetof(dfl_ckpt_calib, spline_weight), 1},
    {"spline3_weight", offsetof(dfl_ckpt_calib, spline3_weight), 1},
};
#define CALIB_ATTRS ((int)(sizeof calib_attrs / sizeof calib_attrs[0]))
static double **calib_array(dfl_ckpt_calib *cal, int i) { return (double **)((char *)cal + calib_attrs[i].offset); }
static const double *calib_values(const dfl_ckpt_calib *cal, int i) {
    return *(double *const *)((const char *)cal + calib_attrs[i].offset);
}

void dfl_ckpt_calib_alloc(dfl_ckpt_calib *cal, int channels, int spline, int spline3) {
    memset(cal, 0, sizeof *cal);
    for (int i = 0; i < CALIB_ATTRS; ++i) {
        double **a = calib_array(cal, i);
        if ((a == &cal->spline_weight && !spline) || (a == &cal->spline3_weight && !(spline && spline3))) continue;
        *a = dfl_xmalloc((size_t)channels * calib_attrs[i].per_channel * sizeof(double));
    }
}

void dfl_ckpt_calib_copy(dfl_ckpt_calib *dst, const dfl_ckpt_calib *src, int channels) {
    memset(dst, 0, sizeof *dst);
    dst->context_ratio = src->context_ratio;
    for (int i = 0; i < CALIB_ATTRS; ++i) {
        const double *from = calib_values(src, i);
        if (!from) continue;
        const size_t bytes = (size_t)channels * calib_attrs[i].per_channel * sizeof(double);
        double **to = calib_array(dst, i);
        *to = dfl_xmalloc(bytes);
        memcpy(*to, from, bytes);
    }
}

void dfl_ckpt_calib_free(dfl_ckpt_calib *cal) {
    for (int i = 0; i < CALIB_ATTRS; ++i) {
        free(*calib_array(cal, i));
        *calib_array(cal, i) = NULL;
    }
    cal->context_ratio = 0.0;
}

void dfl_ckpt_meta_set_norm(dfl_ckpt_meta *meta, int channels, const double *mean, const double *std) {
    free(meta->data_mean);
    free(meta->data_std);
    meta->channels = channels;
    meta->data_mean = dfl_xmalloc((size_t)channels * sizeof(double));
    meta->data_std = dfl_xmalloc((size_t)channels * sizeof(double));
    for (int c = 0; c < channels; ++c) {
        meta->data_mean[c] = mean ? mean[c] : 0.0;
        meta->data_std[c] = std ? std[c] : 1.0;
    }
}

void dfl_ckpt_meta_set_climatology(dfl_ckpt_meta *meta, const float *field, int h, int w) {
    free(meta->climatology);
    meta->climatology = NULL;
    meta->clim_h = meta->clim_w = 0;
    if (!field) return;
    const size_t n = (size_t)meta->channels * (size_t)h * (size_t)w;
    meta->climatology = dfl_xmalloc(n * sizeof(float));
    memcpy(meta->climatology, field, n * sizeof(float));
    meta->clim_h = h;
    meta->clim_w = w;
}

void dfl_ckpt_meta_set_withheld(dfl_ckpt_meta *meta, const uint8_t *plane, int h, int w) {
    free(meta->withheld_cells);
    meta->withheld_cells = NULL;
    meta->withheld_h = meta->withheld_w = 0;
    if (!plane) return;
    meta->withheld_cells = dfl_xmalloc((size_t)h * (size_t)w);
    memcpy(meta->withheld_cells, plane, (size_t)h * (size_t)w);
    meta->withheld_h = h;
    meta->withheld_w = w;
}

void dfl_ckpt_meta_free(dfl_ckpt_meta *meta) {
    free(meta->config_text);
    dfl_ckpt_meta_set_withheld(meta, NULL, 0, 0);
    free(meta->climatology);
    meta->climatology = NULL;
    meta->clim_h = meta->clim_w = 0;
    free(meta->data_mean);
    free(meta->data_std);
    dfl_ckpt_calib_free(&meta->calib);
    meta->config_text = NULL;
    meta->data_mean = meta->data_std = NULL;
}

static dfl_status write_group(hid_t f, dfl_unet *m, const char *group, const float *dev) {
    dfl_backend *be = dfl_unet_backend(m);
    size_t n = dfl_unet_num_params(m);
    float *host = dfl_xmalloc(n * sizeof(float));
    be->download(be, host, dev, n * sizeof(float));
    dfl_status s = DFL_OK;
    for (int i = 0; s == DFL_OK && i < dfl_unet_num_tensors(m); ++i) {
        const dfl_param_info *t = dfl_unet_tensor(m, i);
        char name[160];
        snprintf(name, sizeof name, "/%s/%s", group, t->name);
        unsigned long long dims[4];
        for (int d = 0; d < t->rank; ++d) dims[d] = (unsigned long long)t->dims[d];
        s = dfl_h5_write_float(f, name, t->rank, dims, host + t->offset);
    }
    free(host);
    return s;
}

static dfl_status write_all(hid_t f, dfl_unet *m, const dfl_optimizer *opt, const dfl_ckpt_meta *meta) {
    DFL_TRY(write_group(f, m, "params", dfl_unet_params(m)));
    DFL_TRY(write_group(f, m, "ema", opt ? opt->ema : dfl_unet_params(m)));
    if (opt) {
        DFL_TRY(write_group(f, m, "adam_m", opt->m));
        DFL_TRY(write_group(f, m, "adam_v", opt->v));
    }
    DFL_TRY(dfl_h5_attr_write_long(f, "format_version", DFL_CKPT_FORMAT_VERSION));
    DFL_TRY(dfl_h5_attr_write_long(f, "step", meta->step));
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)meta->seed);
    DFL_TRY(dfl_h5_attr_write_string(f, "seed", seed)); /* string: 64-bit key kept exactly */
    DFL_TRY(dfl_h5_attr_write_long(f, "data_epoch", meta->data_epoch));
    DFL_TRY(dfl_h5_attr_write_long(f, "data_position", meta->data_position));
    DFL_TRY(dfl_h5_attr_write_long(f, "world_size", meta->world_size));
    DFL_TRY(dfl_h5_attr_write_long(f, "optimizer_step", opt ? opt->step : 0));
    DFL_TRY(dfl_h5_attr_write_string(f, "config", meta->config_text ? meta->config_text : ""));
    DFL_TRY(dfl_h5_attr_write_long(f, "channels", meta->channels));
    const char *per = meta->periodic_x && meta->periodic_y ? "xy"
                      : meta->periodic_x                   ? "x"
                      : meta->periodic_y                   ? "y"
                                                           : "none";
    DFL_TRY(dfl_h5_attr_write_string(f, "periodic", per));
    DFL_TRY(dfl_h5_attr_write_doubles(f, "data_mean", meta->data_mean, (size_t)meta->channels));
    DFL_TRY(dfl_h5_attr_write_double(f, "train_seconds", meta->train_seconds));
    for (int i = 0; i < CALIB_ATTRS; ++i) {
        const double *a = calib_values(&meta->calib, i);
        if (a)
            DFL_TRY(dfl_h5_attr_write_doubles(f, calib_attrs[i].name, a,
                                              (size_t)meta->channels * calib_attrs[i].per_channel));
    }
    if (meta->calib.context_ratio > 0)
        DFL_TRY(dfl_h5_attr_write_double(f, "calib_context_ratio", meta->calib.context_ratio));
    if (meta->climatology) {
        const unsigned long long dims[3] = {(unsigned long long)meta->channels, (unsigned long long)meta->clim_h,
                                            (unsigned long long)meta->clim_w};
        DFL_TRY(dfl_h5_write_float(f, "/climatology", 3, dims, meta->climatology));
    }
    if (meta->withheld_cells) {
        const unsigned long long dims[2] = {(unsigned long long)meta->withheld_h, (unsigned long long)meta->withheld_w};
        DFL_TRY(dfl_h5_write_u8(f, "/withheld_cells", 2, dims, meta->withheld_cells));
    }
    return dfl_h5_attr_write_doubles(f, "data_std", meta->data_std, (size_t)meta->channels);
}

dfl_status dfl_checkpoint_save(const char *path, dfl_unet *m, const dfl_optimizer *opt, const dfl_ckpt_meta *meta) {
    hid_t f;
    char tmp[4200];
    DFL_TRY(dfl_h5_atomic_begin(path, &f, tmp, sizeof tmp));
    dfl_status s = write_all(f, m, opt, meta);
    if (s != DFL_OK) return dfl_h5_atomic_abort(f, tmp, path, s); /* `path` keeps the last good checkpoint */
    return dfl_h5_atomic_commit(f, tmp, path);
}

dfl_status dfl_checkpoint_read_meta(const char *path, dfl_ckpt_meta *meta) {
    memset(meta, 0, sizeof *meta);
    hid_t f;
    DFL_TRY(dfl_h5_open_read(path, &f));
    dfl_status s = DFL_OK;
    long long v = 0;
    char *str = NULL;
    if ((s = dfl_h5_attr_read_long(f, path, "format_version", &v)) != DFL_OK) goto done;
    if (v != DFL_CKPT_FORMAT_VERSION) {
        s = dfl_fail(DFL_EUSAGE, "%s: checkpoint format version %lld, this dynfill reads version %d", path, v,
                     DFL_CKPT_FORMAT_VERSION);
        goto done;
    }
    if ((s = dfl_h5_attr_read_long(f, path, "step", &v)) != DFL_OK) goto done;
    meta->step = (long)v;
    if ((s = dfl_h5_attr_read_string(f, path, "seed", &str)) != DFL_OK) goto done;
    meta->seed = strtoull(str, NULL, 10);
    free(str);
    if ((s = dfl_h5_attr_read_long(f, path, "data_epoch", &meta->data_epoch)) != DFL_OK) goto done;
    if ((s = dfl_h5_attr_read_long(f, path, "data_position", &meta->data_position)) != DFL_OK) goto done;
    if ((s = dfl_h5_attr_read_long(f, path, "world_size", &v)) != DFL_OK) goto done;
    meta->world_size = (int)v;
    if ((s = dfl_h5_attr_read_string(f, path, "config", &meta->config_text)) != DFL_OK) goto done;
    if ((s = dfl_h5_attr_read_long(f, path, "channels", &v)) != DFL_OK) goto done;
    if (v < 1 || v > DFL_UNET_MAX_WIDTH) {
        s = dfl_fail(DFL_EUSAGE, "%s: attribute 'channels' = %lld is out of range", path, v);
        goto done;
    }
    dfl_ckpt_meta_set_norm(meta, (int)v, NULL, NULL);
    if ((s = dfl_h5_attr_read_string(f, path, "periodic", &str)) != DFL_OK) goto done;
    meta->periodic_x = strchr(str, 'x') != NULL;
    meta->periodic_y = strchr(str, 'y') != NULL;
    free(str);
    if ((s = dfl_h5_attr_read_doubles(f, path, "data_mean", meta->data_mean, (size_t)meta->channels)) != DFL_OK)
        goto done;
    if ((s = dfl_h5_attr_read_doubles(f, path, "data_std", meta->data_std, (size_t)meta->channels)) != DFL_OK)
        goto done;
    /* optional: absent in checkpoints written before they existed */
    if (dfl_h5_attr_exists(f, "train_seconds") &&
        (s = dfl_h5_attr_read_doubles(f, path, "train_seconds", &meta->train_seconds, 1)) != DFL_OK)
        goto done;
    for (int i = 0; i < CALIB_ATTRS; ++i) {
        if (!dfl_h5_attr_exists(f, calib_attrs[i].name)) continue;
        const size_t n = (size_t)meta->channels * calib_attrs[i].per_channel;
        double **a = calib_array(&meta->calib, i);
        *a = dfl_xmalloc(n * sizeof(double));
        if ((s = dfl_h5_attr_read_doubles(f, path, calib_attrs[i].name, *a, n)) != DFL_OK) goto done;
    }
    if (dfl_h5_attr_exists(f, "calib_context_ratio")) {
        if ((s = dfl_h5_attr_read_doubles(f, path, "calib_context_ratio", &meta->calib.context_ratio, 1)) != DFL_OK)
            goto done;
        if (!(meta->calib.context_ratio > 0 && meta->calib.context_ratio <= 1)) {
            s = dfl_fail(DFL_EUSAGE, "%s: attribute 'calib_context_ratio' = %g is not in (0, 1]", path,
                         meta->calib.context_ratio);
            goto done;
        }
    }
    if (dfl_h5_has(f, "/climatology")) {
        int rank;
        unsigned long long dims[8];
        if ((s = dfl_h5_dataset_shape(f, path, "/climatology", &rank, dims)) != DFL_OK) goto done;
        if (rank != 3 || dims[0] != (unsigned long long)meta->channels || dims[1] < 1 || dims[2] < 1 ||
            dims[1] > 1u << 20 || dims[2] > 1u << 20) {
            s = dfl_fail(DFL_EUSAGE, "%s: /climatology must be [channels %d, H, W]", path, meta->channels);
            goto done;
        }
        meta->clim_h = (int)dims[1];
        meta->clim_w = (int)dims[2];
        const size_t n = (size_t)meta->channels * dims[1] * dims[2];
        meta->climatology = dfl_xmalloc(n * sizeof(float));
        if ((s = dfl_h5_read_float(f, path, "/climatology", meta->climatology, n)) != DFL_OK) goto done;
    }
    if (dfl_h5_has(f, "/withheld_cells")) {
        int rank;
        unsigned long long dims[8];
        if ((s = dfl_h5_dataset_shape(f, path, "/withheld_cells", &rank, dims)) != DFL_OK) goto done;
        if (rank != 2 || dims[0] < 1 || dims[1] < 1 || dims[0] > 1u << 20 || dims[1] > 1u << 20) {
            s = dfl_fail(DFL_EUSAGE, "%s: /withheld_cells must be [H, W]", path);
            goto done;
        }
        meta->withheld_h = (int)dims[0];
        meta->withheld_w = (int)dims[1];
        meta->withheld_cells = dfl_xmalloc((size_t)dims[0] * dims[1]);
        if ((s = dfl_h5_read_u8(f, path, "/withheld_cells", meta->withheld_cells, (size_t)dims[0] * dims[1])) != DFL_OK)
            goto done;
    }
done:
    H5Fclose(f);
    if (s != DFL_OK) dfl_ckpt_meta_free(meta);
    return s;
}

/* Reads group/<name> for every model tensor into a host buffer, checking
 * names and shapes. */
static dfl_status read_group(hid_t f, const char *path, dfl_unet *m, const char *group, float *host) {
    for (int i = 0; i < dfl_unet_num_tensors(m); ++i) {
        const dfl_param_info *t = dfl_unet_tensor(m, i);
        char name[160];
        snprintf(name, sizeof name, "/%s/%s", group, t->name);
        int rank;
        unsigned long long dims[8];
        if (!dfl_h5_has(f, name)) return dfl_fail(DFL_EUSAGE, "%s: tensor %s is missing", path, name);
        DFL_TRY(dfl_h5_dataset_shape(f, path, name, &rank, dims));
        int ok = rank == t->rank;
        for (int d = 0; ok && d < rank; ++d) ok = dims[d] == (unsigned long long)t->dims[d];
        if (!ok) {
            char got[64] = "", want[64] = "";
            for (int d = 0; d < rank && d < 4; ++d)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? "x" : "", dims[d]);
            for (int d = 0; d < t->rank; ++d)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "x" : "", t->dims[d]);
            return dfl_fail(DFL_EUSAGE, "%s: tensor %s has shape [%s], the model expects [%s]", path, name, got, want);
        }
        DFL_TRY(dfl_h5_read_float(f, path, name, host + t->offset, t->count));
    }
    return DFL_OK;
}

dfl_status dfl_checkpoint_load(const char *path, dfl_unet *m, dfl_optimizer *opt, int use_ema) {
    hid_t f;
    DFL_TRY(dfl_h5_open_read(path, &f));
    dfl_backend *be = dfl_unet_backend(m);
    size_t n = dfl_unet_num_params(m);
    size_t bytes = n * sizeof(float);
    float *host = dfl_xmalloc(bytes);
    dfl_status s = read_group(f, path, m, use_ema ? "ema" : "params", host);
    if (s == DFL_OK) be->upload(be, dfl_unet_params(m), host, bytes);
    if (s == DFL_OK && opt) {
        long long ostep = 0;
        s = dfl_h5_attr_read_long(f, path, "optimizer_step", &ostep);
        if (s == DFL_OK) s = read_group(f, path, m, "ema", host);
        if (s == DFL_OK) be->upload(be, opt->ema, host, bytes);
        if (s == DFL_OK) s = read_group(f, path, m, "adam_m", host);
        if (s == DFL_OK) be->upload(be, opt->m, host, bytes);
        if (s == DFL_OK) s = read_group(f, path, m, "adam_v", host);
        if (s == DFL_OK) be->upload(be, opt->v, host, bytes);
        if (s == DFL_OK) opt->step = (long)ostep;
    }
    free(host);
    H5Fclose(f);
    return s;
}
