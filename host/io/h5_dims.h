/* Named dimensions for HDF5 files, the way netCDF-4 stores them: 1-D
 * coordinate datasets marked as HDF5 dimension scales (hdf5_hl H5DS) and
 * attached to the axes of the data variables, so that netCDF-4 readers
 * (xarray with h5netcdf or netCDF4, ncdump) see named dimensions and
 * coordinates instead of phony_dim_N. Same conventions as h5_util.h. */
#ifndef DYNFILL_HOST_H5_DIMS_H
#define DYNFILL_HOST_H5_DIMS_H

#include <stddef.h>

#include "h5_util.h"

/* Create the 1-D dataset `name` ("/lat") of n values (`memtype` in memory,
 * `filetype` in the file) and make it a dimension scale. */
DFL_H5_MUST_CHECK dfl_status dfl_h5_scale_create(hid_t file, const char *name, hid_t filetype, hid_t memtype, size_t n,
                                                 const void *values);
/* The same for n strings (variable-length UTF-8, read as str). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_scale_create_strings(hid_t file, const char *name, const char *const *values,
                                                         size_t n);
/* Make an existing 1-D dataset (e.g. "/time") a dimension scale. */
DFL_H5_MUST_CHECK dfl_status dfl_h5_scale_mark(hid_t file, const char *name);
/* Attach scale scales[i] to axis i of dataset `var`, for each of its
 * `rank` axes (the scale's length must equal the axis length). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_scale_attach(hid_t file, const char *var, int rank, const char *const *scales);
/* Detach every scale from dataset `var` (before unlinking it, so that no
 * scale keeps a reference to a removed dataset). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_scale_detach_all(hid_t file, const char *var);

#endif
