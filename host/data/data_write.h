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

#define DFL_OBS_NAME "/obs"
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
    const double *lat, *lon;     /* h / w values or NULL */
    int h, w;
    const double *mean, *std;    /* c values or NULL (then not written) */
    const char *mask_pattern;    /* NULL: not written */
} dfl_data_attrs;
/* DFL_EINTERNAL naming the file when the system refuses a write. */
__attribute__((warn_unused_result)) dfl_status dfl_data_write_attrs(hid_t file, const dfl_data_attrs *a);
/* Channel names "<base>" (c == 1) or "<base>_t<i>" / explicit list. The
 * returned array and strings are malloc'ed; free with dfl_h5_strings_free. */
char **dfl_data_channel_names(const char *base, int c);
/* DFL_EUSAGE when `out` names the same file as `in`. */
dfl_status dfl_data_check_distinct(const char *in, const char *out);
/* Parse "none|x|y|xy"; DFL_EUSAGE naming `what` otherwise. */
dfl_status dfl_data_parse_periodic(const char *what, const char *text, int *px, int *py);

#endif
