/* HDF5 helpers the data layer needs beyond host/h5_util.h: streaming
 * (row-by-row) writes of large datasets, box hyperslab reads, string-array
 * attributes, attribute copies and the raw file offset of contiguous
 * datasets (for the loader's direct pread path). Same conventions as
 * h5_util.h: h5Check panics on library failure, user-file problems return
 * DFL_EUSAGE naming the file. */
#ifndef DYNFILL_HOST_H5_UTIL_DATA_H
#define DYNFILL_HOST_H5_UTIL_DATA_H

#include <stdint.h>

#include "h5_util.h"

/* Create a contiguous dataset of `filetype` (e.g. H5T_IEEE_F32LE,
 * H5T_STD_U8LE) with the given dims, space allocated at creation. *dset is
 * the open dataset id (close with H5Dclose). Writes report the system's
 * refusal (a full disk) as DFL_EINTERNAL naming the file (h5CheckWrite). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_create_dataset(hid_t file, const char *name, hid_t filetype, int rank,
                                                   const unsigned long long *dims, hid_t *dset);

/* Storage of the large [N, ...] datasets: contiguous (the loader maps the
 * file and copies samples without HDF5), or chunks of one sample
 * (dims[0] = 1), optionally byte-shuffled and deflated (zlib level 1-9;
 * read through HDF5). */
typedef struct {
    int chunked; /* 0: contiguous */
    int deflate; /* 0: none, 1-9: zlib level (needs chunked) */
} dfl_h5_layout;
/* dfl_h5_create_dataset with a layout (NULL: contiguous). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_create_dataset_layout(hid_t file, const char *name, hid_t filetype, int rank,
                                                          const unsigned long long *dims, const dfl_h5_layout *layout,
                                                          hid_t *dset);
/* Layout of an existing dataset: chunked or not, and its deflate level
 * (0 without the deflate filter). DFL_EUSAGE if missing. */
dfl_status dfl_h5_get_layout(hid_t file, const char *path_for_msg, const char *name, dfl_h5_layout *out);
/* Open dataset `name` with a chunk cache of `cache_bytes` (one sample),
 * or of one chunk when its chunks are larger (files chunked by other
 * tools; at most 1 GiB), so that reading parts of a sample decompresses
 * its chunk once. DFL_EUSAGE naming the file if it cannot be opened. */
dfl_status dfl_h5_open_cached(hid_t file, const char *path_for_msg, const char *name, size_t cache_bytes, hid_t *dset);
/* dfl_h5_read_box on an open dataset. */
dfl_status dfl_h5_read_box_dset(hid_t dset, const char *path_for_msg, const char *name, hid_t memtype, int rank,
                                const unsigned long long *start, const unsigned long long *count, void *out);

/* Write rows [start, start+rows) along the first axis of an open dataset
 * from `data` (memtype e.g. H5T_NATIVE_FLOAT). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_write_rows(hid_t dset, hid_t memtype, unsigned long long start,
                                               unsigned long long rows, const void *data);

/* Read the box start[i] .. start[i]+count[i] of dataset `name` into `out`
 * (converted to memtype). rank must equal the dataset's rank. */
dfl_status dfl_h5_read_box(hid_t file, const char *path_for_msg, const char *name, hid_t memtype, int rank,
                           const unsigned long long *start, const unsigned long long *count, void *out);

/* Element type of a dataset: class (H5T_FLOAT, H5T_INTEGER, ...), size in
 * bytes and whether it is little-endian. DFL_EUSAGE if missing. */
dfl_status dfl_h5_dataset_type(hid_t file, const char *path_for_msg, const char *name, H5T_class_t *cls, size_t *size,
                               int *little_endian);

/* Byte offset of a dataset's data in the file when it is contiguous,
 * allocated and unfiltered; -1 otherwise (then read through HDF5). */
int64_t dfl_h5_contiguous_offset(hid_t file, const char *name);

/* String-array attribute (fixed-length strings; h5py reads a list of str). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_attr_write_strings(hid_t obj, const char *name, const char *const *values,
                                                       size_t n);
/* Read a string attribute as a list: a string array gives its items, a
 * single string gives one item. *values is malloc'ed (free each item and
 * the array with dfl_h5_strings_free). */
dfl_status dfl_h5_attr_read_strings(hid_t obj, const char *path_for_msg, const char *name, char ***values, size_t *n);
/* One string (fixed or variable length, ASCII or UTF-8 as h5py writes
 * it), malloc'ed. */
dfl_status dfl_h5_attr_read_text(hid_t obj, const char *path_for_msg, const char *name, char **value);
/* Like dfl_h5_attr_read_strings, but a single string is split at commas
 * ("u,v,p"), the form some tools write channel names in. */
dfl_status dfl_h5_attr_read_names(hid_t obj, const char *path_for_msg, const char *name, char ***values, size_t *n);
void dfl_h5_strings_free(char **values, size_t n);
/* Number of values of a numeric attribute (-1 if missing or not numeric). */
long dfl_h5_attr_numeric_count(hid_t obj, const char *name);

/* Copy every attribute of `src` object to `dst` (replacing same names). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_attr_copy_all(hid_t src, hid_t dst);

#endif
