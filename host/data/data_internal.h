/* Internals of the data layer shared by the dataset reader, the loader,
 * and the prediction files. Not for other layers: they use data/data_write.h
 * and include/dynfill/data.h. */
#ifndef DYNFILL_HOST_DATA_INTERNAL_H
#define DYNFILL_HOST_DATA_INTERNAL_H

#include <hdf5.h>
#include <stdint.h>

#include "data_write.h"
#include "dynfill/data.h"

struct dfl_dataset {
    dfl_dataset_info info;
    char *path;
    hid_t file;
    int rank;           /* 4, or 3 for [N, H, W] files */
    int fd;             /* for direct reads, -1 if none */
    const uint8_t *map; /* read-only mapping of the whole file, or NULL (then pread) */
    size_t map_len;
    int64_t obs_offset;        /* byte offset of contiguous little-endian float32 /obs, or -1 */
    int64_t mask_offset;       /* byte offset of contiguous 1-byte /mask, or -1 */
    hid_t obs_dset, mask_dset; /* open with a one-sample chunk cache when not direct, else -1 */
    int hdf5_threadsafe;       /* HDF5 may be called from the prefetch thread */
    int check_on_read;         /* opened without the full pass: each sample is checked when read */
    hid_t mask_memtype; /* memory type /mask is read as: uint8, or the native type of a 1-byte enum (h5py bool) */
    char **channel_store;
    double *mean, *std, *observed_fraction, *lat, *lon;
    float *mean_f, *inv_std_f;
    char *periodic, *mask_pattern, *source, *symmetry;
};

/* True when samples can be read with pread() without HDF5. */
static inline int dfl_dataset_direct(const dfl_dataset *ds) { return ds->obs_offset >= 0 && ds->mask_offset >= 0; }

/* Scratch bytes dfl_dataset_read_crop needs for a crop of ph rows. */
size_t dfl_dataset_crop_scratch_bytes(const dfl_dataset *ds, int ph);
/* Raw (un-normalised) crop of one sample: obs [C, ph, pw] in data units,
 * mask [mask_c, ph, pw]. `scratch` holds dfl_dataset_crop_scratch_bytes.
 * Either output may be NULL. Safe to call from several threads (pread, or
 * HDF5 when it is thread-safe). */
dfl_status dfl_dataset_read_crop(const dfl_dataset *ds, int64_t sample, int y0, int x0, int ph, int pw, float *obs,
                                 uint8_t *mask, void *scratch);
/* As dfl_dataset_read_crop, channel `ch` alone: obs [1, ph, pw] and mask
 * [1, ph, pw] (the shared mask, or channel ch's). A lazily opened dataset
 * checks what was read; a whole-field plane of a per-channel mask may
 * observe nothing (another channel of the sample may). */
dfl_status dfl_dataset_read_crop_channel(const dfl_dataset *ds, int64_t sample, int ch, int y0, int x0, int ph, int pw,
                                         float *obs, uint8_t *mask, void *scratch);
/* In place over one plane of channel ch: obs[i] = mask ? (obs[i] - mean[ch]) * (1/std[ch]) : 0. */
void dfl_dataset_normalise_channel(const dfl_dataset *ds, int ch, int ph, int pw, float *obs, const uint8_t *mask);
/* In place: obs[i] = mask ? (obs[i] - mean[c]) * (1/std[c]) : 0 for
 * `count` samples of [C, ph, pw] with masks [mask_c, ph, pw]. */
void dfl_dataset_normalise_masked(const dfl_dataset *ds, int64_t count, int ph, int pw, float *obs,
                                  const uint8_t *mask);

#endif
