/* Checkpoints (docs/design.md, "Files"): one HDF5 file with /params/<name>,
 * /ema/<name>, /adam_m/<name>, /adam_v/<name> (PyTorch names and shapes)
 * and root attributes: format_version, step, config (INI text), seed (the
 * RNG key), data_epoch, data_position, world_size, channels, periodic,
 * data_mean/data_std (normalisation of the training data), train_seconds
 * (training time spent, what train.time_budget counts) and, once training
 * has calibrated the ensemble spread, std_scale (C factors for /std).
 * A model trained on anomalies (data.climatology) also has /climatology,
 * float32 [C, H, W]: the training data's mean field in data units, which
 * the model's inputs are taken from (docs/design.md, "Climatology").
 * A model trained with withheld cells (data.withhold_cells) has
 * /withheld_cells, uint8 [H, W], 1 where training read nothing and the
 * calibration hides (docs/design.md, "Withheld cells").
 * Written to a
 * temporary name, fsynced and renamed, so a crash never damages the last
 * good checkpoint. Loading validates version, names and shapes. */
#ifndef DYNFILL_CHECKPOINT_H
#define DYNFILL_CHECKPOINT_H

#include <stdint.h>

/* Gap-distance bins of std_gap_factor (method/mask_gap_distance.h, DFL_GAP_BINS). */
#define DFL_CKPT_GAP_BINS 7

#include "dynfill/config.h"
#include "dynfill/model.h"
#include "dynfill/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DFL_CKPT_FORMAT_VERSION 1

/* What the calibration of the ensemble spread fits (docs/design.md,
 * "Calibrated spread"): `dynfill train` on held-out samples, or `impute
 * --calibrate` on its input. Each array malloc'ed and owned, NULL = absent
 * (a checkpoint calibrated before it, or not calibrated). */
typedef struct {
    double *std_scale;      /* C factors for the ensemble spread, NULL = not calibrated */
    double *std_floor;      /* C floors, /std = sqrt((std_scale spread)^2 + std_floor^2) in the model's
                               normalised units; NULL = 0 */
    double *std_gap_factor; /* C x DFL_CKPT_GAP_BINS factors on that /std by the gap bin of the entry, a row
                               per channel; NULL = all 1 */
    double *spline_weight;  /* C weights of the spline correction (include/dynfill/infer.h); NULL = none */
    double *spline3_weight; /* C order-3 weights of the same; NULL = none */
    double context_ratio;   /* the contexts it was fitted with, which impute draws by default: 0 = the
                               trained [method]'s, > 0 = pixel contexts, each this share of the observed
                               entries (infer.context; attribute calib_context_ratio, absent = 0) */
} dfl_ckpt_calib;

/* Allocates the spread's three arrays for `channels`, the spline weights
 * when `spline` (the order-3 ones too when `spline3`); the others NULL,
 * context_ratio 0. */
void dfl_ckpt_calib_alloc(dfl_ckpt_calib *cal, int channels, int spline, int spline3);
/* A copy of src (its arrays: NULL stays NULL) into dst, which owns nothing before. */
void dfl_ckpt_calib_copy(dfl_ckpt_calib *dst, const dfl_ckpt_calib *src, int channels);
/* Frees the arrays and sets them NULL (context_ratio 0). */
void dfl_ckpt_calib_free(dfl_ckpt_calib *cal);

typedef struct {
    long step;
    uint64_t seed;
    long long data_epoch, data_position;
    int world_size;
    char *config_text; /* malloc'ed INI text (owned by the meta) */
    int channels;      /* data channels C */
    int periodic_x, periodic_y;
    double *data_mean, *data_std; /* malloc'ed, C values each (owned by the meta) */
    double train_seconds;         /* training time so far (0 in older checkpoints) */
    dfl_ckpt_calib calib;         /* the spread's calibration and spline correction (all NULL before it) */
    /* /climatology: channels x clim_h x clim_w floats, malloc'ed and owned; NULL = the model works on the
     * values themselves. Model units are then (x - climatology[c, y, x]) / data_std[c]. */
    float *climatology;
    int clim_h, clim_w;
    /* /withheld_cells: withheld_h x withheld_w bytes, malloc'ed and owned; NULL = none withheld */
    uint8_t *withheld_cells;
    int withheld_h, withheld_w;
} dfl_ckpt_meta;

/* Sets channels and copies the normalisation (mean NULL: zeros, std NULL:
 * ones) into arrays the meta owns. */
void dfl_ckpt_meta_set_norm(dfl_ckpt_meta *meta, int channels, const double *mean, const double *std);
void dfl_ckpt_meta_free(dfl_ckpt_meta *meta);
/* Copies a channels x h x w mean field into the meta (NULL: none). */
void dfl_ckpt_meta_set_climatology(dfl_ckpt_meta *meta, const float *field, int h, int w);
/* Copies an h x w plane of withheld cells into the meta (NULL: none). */
void dfl_ckpt_meta_set_withheld(dfl_ckpt_meta *meta, const uint8_t *plane, int h, int w);

/* opt may be NULL (then /ema holds the raw weights and adam moments are zero).
 * Written to a temporary file, fsynced and renamed over `path`; a write the
 * system refuses (a full disk) gives DFL_EINTERNAL "<path>: <reason>", the
 * temporary file removed and `path` as it was. */
dfl_status dfl_checkpoint_save(const char *path, dfl_unet *m, const dfl_optimizer *opt, const dfl_ckpt_meta *meta);
/* Reads only the attributes (to build the model before loading). */
dfl_status dfl_checkpoint_read_meta(const char *path, dfl_ckpt_meta *meta);
/* Loads tensors into an existing model (and optimizer state when opt is
 * not NULL). use_ema: load /ema into the model parameters instead of
 * /params (for imputation). */
dfl_status dfl_checkpoint_load(const char *path, dfl_unet *m, dfl_optimizer *opt, int use_ema);

/* Builds the network a checkpoint describes (its config text, channels
 * and periodic axes) on `be`, loading /params (or /ema when use_ema).
 * cfg receives the parsed config; meta the attributes (free with
 * dfl_ckpt_meta_free). */
dfl_status dfl_checkpoint_build_model(const char *path, dfl_backend *be, int use_ema, dfl_config *cfg,
                                      dfl_ckpt_meta *meta, dfl_unet **out);

#ifdef __cplusplus
}
#endif
#endif
