/* Observed datasets, the streaming training loader and prediction files
 * (docs/design.md, "Files" and "Distributed training").
 *
 * A dataset file (HDF5) holds
 *   /obs   float32 [N, C, H, W]  observed values in the data's own units
 *                                (anything at unobserved entries is ignored)
 *   /mask  uint8   [N, 1|C, H, W] 1 = observed; one channel is shared by all
 *   attributes: channels (names), mean, std (per channel, observed entries
 *   only), periodic (none|x|y|xy), mask_pattern, source, optional lat (H
 *   values, degrees) and lon (W values), optional symmetry (dfl_symmetry).
 * Rank-3 /obs [N, H, W] and /mask [N, H, W] are accepted as C = 1.
 *
 * The training path reads only /obs and /mask: nothing in this API names
 * or opens any other dataset of the file (ground truth lives in a separate
 * file that only `dynfill eval` opens; a /truth carried by a dataset file
 * is never read). Normalised values are (x - mean[c]) / std[c] on observed
 * entries and exactly 0 on unobserved ones.
 *
 * Randomness (shuffle, crops) is Philox (kernels/shared/philox.h), keyed by
 * the loader seed and the purpose tags below, so batches are a pure
 * function of (seed, global position): any rank count, prefetching or a
 * restore from a saved cursor reproduces them bit for bit. */
#ifndef DYNFILL_DATA_H
#define DYNFILL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Philox purpose tags (dfl_rng_stream's purpose byte) used by the data
 * layer; other areas must not reuse 0xD0..0xDF. */
enum {
    DFL_RNG_PURPOSE_GEN = 0xD0,      /* generators: initial conditions, parameters */
    DFL_RNG_PURPOSE_MASK = 0xD1,     /* per-sample observation masks */
    DFL_RNG_PURPOSE_STATIONS = 0xD2, /* fixed station cells of stations:n */
    DFL_RNG_PURPOSE_SHUFFLE = 0xD3,  /* loader: per-epoch permutation */
    DFL_RNG_PURPOSE_CROP = 0xD4,     /* loader: random crop corners */
    DFL_RNG_PURPOSE_AUGMENT = 0xD5,  /* loader: symmetry augmentation (shifts, flips, rotations) */
    DFL_RNG_PURPOSE_WITHHOLD = 0xD6, /* train: the cells data.withhold_cells keeps out of training */
    DFL_RNG_PURPOSE_BENCH = 0xDF,    /* bench io synthetic data */
    /* dfl_sample_spread: 0xB3, outside this range, the value the calibration's pick used when it was
     * the only reader of it, kept so that the calibrations measured then pick the same samples */
    DFL_RNG_PURPOSE_SPREAD = 0xB3
};

/* ------------------------------------------------------------------ */
/* Datasets                                                            */
/* ------------------------------------------------------------------ */

typedef struct dfl_dataset dfl_dataset;

/* The symmetries a dataset declares (attribute `symmetry`, a comma list;
 * docs/data.md): transformations that map a sample of the data's
 * distribution to another one, values unchanged (so not a reflection of a
 * pseudo-scalar such as 2D vorticity, nor a rotation of vector components):
 *   shift_x, shift_y   circular shifts along that axis (needs it periodic);
 *                      shift_y:P only by multiples of P pixels (P divides H)
 *   flip_x, flip_y     mirror x -> W-1-x, y -> H-1-y
 *   rot90, rot180      rotations by multiples of 90 (square fields) / 180 degrees */
typedef struct {
    int shift_x, shift_y; /* 0: no shift; P >= 1: shifts by multiples of P pixels */
    int flip_x, flip_y, rot90, rot180;
} dfl_symmetry;

typedef struct {
    const char *path;
    int64_t n;                       /* samples */
    int c, h, w;                     /* channels, rows, columns */
    int mask_c;                      /* 1 (one mask for all channels) or c */
    int periodic_x, periodic_y;      /* from the `periodic` attribute */
    const char *periodic;            /* "none", "x", "y" or "xy" */
    const char *const *channels;     /* c names ("ch0", ... when the attribute is absent) */
    const double *mean, *std;        /* c values each: normalisation statistics */
    int stats_from_file;             /* 1: mean/std attributes; 0: computed on open */
    const double *observed_fraction; /* c values: observed share of entries per channel */
    const char *mask_pattern;        /* "" when absent */
    const char *source;              /* "" when absent */
    const double *lat;               /* h values (degrees) or NULL */
    const double *lon;               /* w values (degrees) or NULL */
    const char *symmetry;            /* the `symmetry` attribute, "" when absent */
    int has_symmetry;                /* 1: the attribute is present (possibly "none") */
    dfl_symmetry sym;                /* parsed `symmetry` (all 0 when absent) */
} dfl_dataset_info;

/* Open and validate a dataset. One streaming pass (bounded memory) checks:
 * /obs and /mask present, numeric, shapes [N, C, H, W] / [N, 1|C, H, W];
 * mask values 0 or 1; observed values finite; every sample has at least
 * one observed entry; attributes well-formed (channels count, mean/std
 * count and std > 0, periodic value, lat/lon lengths). mean/std are
 * computed from observed entries when the attributes are absent. Any
 * problem: DFL_EUSAGE with one message naming the file and the problem. */
dfl_status dfl_dataset_open(const char *path, dfl_dataset **out);
/* Open for training on files of any size: when the file carries its
 * statistics (mean and std attributes, as `mask`, `import` and `gen` write
 * them) and a uint8 /mask, only the shapes and attributes are checked at
 * open, so start-up does not grow with the file (and no rank of many reads
 * the whole file); each sample is then checked when it is read (mask
 * values, finite observed values, and a whole-field read that observes
 * nothing), with the same DFL_EUSAGE messages naming the sample.
 * observed_fraction is NaN (not measured). Otherwise as dfl_dataset_open. */
dfl_status dfl_dataset_open_lazy(const char *path, dfl_dataset **out);
void dfl_dataset_close(dfl_dataset *ds);
const dfl_dataset_info *dfl_dataset_get_info(const dfl_dataset *ds);
/* How samples are read: "mmap" (a read-only mapping of a contiguous file),
 * "direct pread" (contiguous datasets, no HDF5 per read) or "HDF5 hyperslab". */
const char *dfl_dataset_read_mode(const dfl_dataset *ds);

/* Read samples [start, start+count) whole: obs normalised float32
 * [count, C, H, W] (0 at unobserved entries) and mask uint8
 * [count, mask_c, H, W]. Either output may be NULL. Thread-safe. */
dfl_status dfl_dataset_read_samples(const dfl_dataset *ds, int64_t start, int64_t count, float *obs, uint8_t *mask);

/* Sample i < count of a set of count samples spread over the span samples
 * from start (host/data/sample_spread.c): span <= count, the sample
 * start + i; else one drawn from each of count equal stretches (stretch
 * i: [i span / count, (i + 1) span / count) from start), by a fixed
 * Philox key (DFL_RNG_PURPOSE_SPREAD), so every reader of the set picks
 * the same samples, in increasing order. A fixed stride reads a period of
 * the data at one phase: 64 of 640 frames of 10-frame trajectories were
 * all first frames, 64 of 1536 hourly fields would all be one hour of the
 * day. What the calibration, the climatology and the start-of-training
 * checks read. */
int64_t dfl_sample_spread(int64_t start, int64_t count, int64_t span, int64_t i);

/* Normalise / denormalise values of channel layout [count, C, H, W] in
 * place with the dataset's mean/std (no masking). */
void dfl_dataset_normalise(const dfl_dataset *ds, int64_t count, float *x);
void dfl_dataset_denormalise(const dfl_dataset *ds, int64_t count, float *x);

/* Held-out validation split: the LAST val_fraction of the samples (file
 * order; for time series this keeps the held-out period contiguous).
 * n_val = round(val_fraction * N), at least 1 when val_fraction > 0, and
 * the training split keeps at least 1 sample. */
typedef enum { DFL_SPLIT_ALL = 0, DFL_SPLIT_TRAIN = 1, DFL_SPLIT_VAL = 2 } dfl_split;
/* First sample and sample count of a split; DFL_EUSAGE if val_fraction is
 * outside [0, 1) or the split is empty. */
dfl_status dfl_dataset_split_range(const dfl_dataset *ds, double val_fraction, dfl_split split, int64_t *start,
                                   int64_t *count);

/* ------------------------------------------------------------------ */
/* Streaming loader                                                    */
/* ------------------------------------------------------------------ */

typedef struct dfl_loader dfl_loader;

typedef struct {
    int batch;           /* samples per batch on this rank (>= 1) */
    int patch;           /* square random crop size; 0 = the whole field */
    int rank, world;     /* this rank and the number of ranks */
    double val_fraction; /* see dfl_dataset_split_range */
    dfl_split split;     /* which samples to iterate */
    uint64_t seed;       /* shuffle and crop seed (train.seed) */
    int shuffle;         /* 1: Philox permutation per epoch; 0: file order */
    int prefetch;        /* 1: a background thread fills the next batch (double buffering) */
    /* data.augment_shift: a random circular shift of each sample (obs and
     * mask together) along each periodic axis the crop spans whole; when
     * the dataset has a `symmetry` attribute only along the axes it lists
     * (shift_x, shift_y, in multiples of their P), otherwise along every
     * periodic axis. */
    int augment_shift;
    /* data.augment_symmetry: a random element of the flips and rotations the
     * dataset's `symmetry` attribute declares (none without it; rot90 only
     * on square crops). */
    int augment_symmetry;
    /* model.channels = shared: the stream's elements are (sample, channel)
     * pairs, N*C of them, and a batch holds `batch` one-channel fields
     * (c = mask_c = 1; a shared mask is each channel's mask). Each element
     * reads its one channel plane and mask plane. */
    int fold_channels;
    /* data.climatology (include/dynfill/climatology.h): NULL, or model-unit
     * offsets [C, H, W] of the whole field and C gains, owned by the caller
     * and alive as long as the loader: each observed entry becomes
     * value * gain[c] - offset[c, y, x] at its place in the field, before
     * any augmentation moves it. */
    const float *clim_offset, *clim_gain;
    /* data.withhold_cells (docs/design.md, "Withheld cells"): NULL, or an
     * [H, W] plane of the whole field, owned by the caller and alive as long
     * as the loader: where it is set every mask plane reads 0 (and the
     * observation 0), as if the file had never observed the cell. */
    const uint8_t *withheld;
} dfl_loader_config;

/* batch 16, patch 0, rank 0, world 1, val_fraction 0, split TRAIN, seed 0,
 * shuffle 1, prefetch 1, no augmentation, fold_channels 0, no climatology. */
void dfl_loader_config_default(dfl_loader_config *cfg);

/* One batch. Pointers are owned by the loader and stay valid until the
 * next dfl_loader_next / set_cursor / destroy on that loader. */
typedef struct {
    int b, c, h, w, mask_c; /* h, w: patch size (or the field size) */
    float *obs;             /* [b, c, h, w] normalised, 0 where unobserved */
    uint8_t *mask;          /* [b, mask_c, h, w], 1 = observed */
    int64_t *index;         /* [b] sample index in the file */
    int *channel;           /* [b] the data channel of each field (fold_channels; 0 otherwise) */
    int *crop_y, *crop_x;   /* [b] top-left corner of each crop in the field */
} dfl_batch;

/* The loader's place in its stream: the next batch starts at `position`
 * of epoch `epoch` (positions count samples of the split in the epoch's
 * shuffled order; (sample, channel) pairs with fold_channels). The cursor is global (the same on every rank); store it
 * in checkpoints and restore it to continue bit-exactly. */
typedef struct {
    int64_t epoch;
    int64_t position;
} dfl_loader_cursor;

/* The stream: epoch e is a permutation of the split (Philox keyed by
 * (seed, e), or file order without shuffle); epochs follow each other
 * without gaps, so a batch may straddle two epochs and nothing is dropped.
 * Global batch k covers stream positions [k*batch*world, (k+1)*batch*world);
 * rank r takes the r-th run of `batch` positions in it. A crop corner is
 * drawn from Philox keyed by (seed, epoch, position), so it does not depend
 * on rank or world size; so are the augmentation's shift, flips and
 * rotation (purpose AUGMENT), applied after the crop. Returns DFL_EUSAGE if patch exceeds the field,
 * batch < 1, rank/world invalid, or the split is empty. */
dfl_status dfl_loader_create(const dfl_dataset *ds, const dfl_loader_config *cfg, dfl_loader **out);
/* (The dataset must stay open until the loader is destroyed.) */
/* Fill `out` with the next batch of this rank. Read errors (a file changed
 * or damaged under a running job) return DFL_EUSAGE with the message. */
dfl_status dfl_loader_next(dfl_loader *ld, dfl_batch *out);
dfl_loader_cursor dfl_loader_get_cursor(const dfl_loader *ld);
/* Continue from a saved cursor (position must be < the split size). */
dfl_status dfl_loader_set_cursor(dfl_loader *ld, dfl_loader_cursor cursor);
/* Stream elements in the loader's split (all ranks together): samples,
 * or samples x C with fold_channels. */
int64_t dfl_loader_split_size(const dfl_loader *ld);
/* Bytes of file data read so far (obs + mask), for throughput reports. */
uint64_t dfl_loader_bytes_read(const dfl_loader *ld);
void dfl_loader_destroy(dfl_loader *ld);

/* ------------------------------------------------------------------ */
/* Prediction files                                                    */
/* ------------------------------------------------------------------ */

/* /pred float32 [count, C, H, W] and /std float32 [count, C, H, W] in the
 * data's units, /mask uint8 [count, mask_c, H, W] copied from the source;
 * the source's root attributes are copied, plus source_file (path) and
 * source_start (first sample). Written to a temporary name and renamed by
 * dfl_pred_close, so a failed run never leaves a partial file. */
typedef struct dfl_pred_writer dfl_pred_writer;

/* Prediction of samples [start, start+count) of `src` (which must stay
 * open until the writer is closed). */
dfl_status dfl_pred_create(const char *path, const dfl_dataset *src, int64_t start, int64_t count,
                           dfl_pred_writer **out);
/* Add /members float32 [count, K, C, H, W] (the K ensemble members, named
 * dimensions sample/time, member, channel, lat/y, lon/x). Call before the
 * first dfl_pred_write. */
dfl_status dfl_pred_add_members(dfl_pred_writer *w, int members);
/* Rows [row, row+rows) (relative to start). `pred` and `spread` are
 * normalised [rows, C, H, W] (spread may be NULL: written as 0), `members`
 * normalised [rows, K, C, H, W], given exactly when the file has /members
 * (else NULL). Written values: x * std + mean (pred, members) and
 * spread * std per channel, except that observed entries of /pred and
 * /members hold the source's observed value exactly (docs/design.md, "The
 * method": output = M * x_obs + (1 - M) * x_hat) and /std is 0 there. */
dfl_status dfl_pred_write(dfl_pred_writer *w, int64_t row, int64_t rows, const float *pred, const float *spread,
                          const float *members);
/* Record how the prediction was made (root attribute `method`, e.g.
 * "diffusion K=10 steps=1" or "harmonic"); has_spread = 0 drops /std (a
 * baseline has no uncertainty). Call before the first dfl_pred_write. */
dfl_status dfl_pred_set_method(dfl_pred_writer *w, const char *method, int has_spread);
/* Commit (atomic rename). DFL_EINTERNAL if some rows were never written.
 * Frees the writer either way. Writes the system refuses (a full disk)
 * fail with DFL_EINTERNAL naming the path and the reason. */
dfl_status dfl_pred_close(dfl_pred_writer *w);
/* Discard: remove the temporary file and free (after a refused write, the
 * recorded message then names the prediction path). */
void dfl_pred_abort(dfl_pred_writer *w);

#ifdef __cplusplus
}
#endif
#endif
