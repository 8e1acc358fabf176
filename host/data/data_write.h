/* The data layer's writer API: what the commands that write dataset and
 * truth files (gen, mask, import, bench io) need beyond the HDF5 helpers of
 * io/: the dataset attributes of docs/design.md, "Files", channel names,
 * per-channel statistics of observed entries, and argument checks. */
#ifndef DYNFILL_HOST_DATA_WRITE_H
#define DYNFILL_HOST_DATA_WRITE_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "dynfill/data.h"
#include "dynfill/status.h"
#include "io/h5_util_data.h"

#define DFL_OBS_NAME  "/obs"
#define DFL_MASK_NAME "/mask"

/* ---- per-channel statistics of observed entries (Chan/Welford merge) ---- */
typedef struct {
    double n, mean, m2;
} dfl_moments;
/* Merge the moments of `count` observed values of one channel. */
void dfl_moments_add_values(dfl_moments *acc, const float *x, const uint8_t *m, size_t count);
void dfl_moments_merge(dfl_moments *acc, const dfl_moments *part);
/* Population std; a constant channel (std 0) gets 1 so normalising is
 * a shift only. */
double dfl_moments_std(const dfl_moments *m);

/* ---- writing dataset and truth files ---- */
typedef struct {
    int c;
    const char *const *channels; /* c names */
    const char *periodic;        /* none|x|y|xy */
    const char *source;
    const double *lat, *lon; /* h / w values or NULL */
    int h, w;
    const double *mean, *std; /* c values or NULL (then not written) */
    const char *mask_pattern; /* NULL: not written */
    const char *symmetry;     /* NULL or "": not written (dfl_symmetry, include/dynfill/data.h) */
    /* Per channel, for dfl_data_write_dims: c strings or NULL (unknown);
     * a NULL or empty entry is unknown for that channel. */
    const char *const *units, *const *long_names;
} dfl_data_attrs;
/* DFL_EINTERNAL naming the file when the system refuses a write. */
__attribute__((warn_unused_result)) dfl_status dfl_data_write_attrs(hid_t file, const dfl_data_attrs *a);
/* Named dimensions (docs/data.md, "File layouts"): netCDF-4 style
 * dimension scales (sample or time, channel, lat/lon or y/x) attached to
 * the [N, C or 1, H, W] datasets `vars` (nvars of them) so that xarray
 * opens the file with named dimensions and CF coordinates. `time`: n
 * values in seconds since 1970-01-01 UTC (written as /time with CF
 * attributes), or NULL: an existing /time dataset of n values is used,
 * else a /sample index. Call once per file, after the datasets exist.
 * Units and long names of `a` go on the data variables (when all channels
 * agree) and, per channel, on /channel (channel_units, channel_long_names). */
__attribute__((warn_unused_result)) dfl_status dfl_data_write_dims(hid_t file, const dfl_data_attrs *a, int64_t n,
                                                                   const double *time, const char *const *vars,
                                                                   int nvars);
/* Per-channel units and long names as dfl_data_write_dims stored them in
 * `file` (its /channel), for writers that copy a file's data: malloc'ed
 * arrays of c strings (free with dfl_h5_strings_free), NULL when absent. */
void dfl_data_read_channel_meta(hid_t file, int c, char ***units, char ***long_names);
/* Channel names "<base>" (c == 1) or "<base>_t<i>" / explicit list. The
 * returned array and strings are malloc'ed; free with dfl_h5_strings_free. */
char **dfl_data_channel_names(const char *base, int c);
/* DFL_EUSAGE when `out` names the same file as `in`. */
dfl_status dfl_data_check_distinct(const char *in, const char *out);
/* --layout contiguous|chunked (NULL: contiguous, or chunked when
 * compressing) and --compress 0-9 (NULL: 0) of gen, mask, import and bench
 * io; DFL_EUSAGE naming the option otherwise (compression needs chunks). */
dfl_status dfl_data_parse_layout(const char *layout, const char *compress, dfl_h5_layout *out);
/* Usage lines for the two options. */
#define DFL_LAYOUT_USAGE                                                                                               \
    "  --layout L      storage of the sample datasets: contiguous (default; the loader maps the\n"                     \
    "                  file) or chunked (one chunk per sample, read through HDF5)\n"                                   \
    "  --compress K    deflate level 1-9 of the chunks (with shuffle; implies chunked; 0 = none)\n"
/* Parse a `symmetry` attribute ("shift_x,shift_y:16,rot180", "none" or "")
 * against a field of h x w with periodic axes px, py; DFL_EUSAGE naming
 * `what` for an unknown token, a shift along a non-periodic axis, a step
 * that does not divide the axis, or rot90 on a non-square field. */
dfl_status dfl_data_parse_symmetry(const char *what, const char *text, int h, int w, int px, int py, dfl_symmetry *out);
/* Parse "none|x|y|xy"; DFL_EUSAGE naming `what` otherwise. */
dfl_status dfl_data_parse_periodic(const char *what, const char *text, int *px, int *py);

#endif
