/* `dynfill import` internals: a source (NetCDF classic / NetCDF-4 via
 * libnetcdf, plain HDF5 arrays, or GRIB 1/2 via ecCodes) exposes channels of 2D fields per time
 * step with a validity mask (NaN, _FillValue, missing_value, the NetCDF
 * default fill, or --fill mark missing entries); several input files are
 * one source along time (import_open.c); import_write turns it into a
 * dataset (/obs, /mask) or, with --truth, a truth file (/truth). */
#ifndef DYNFILL_HOST_IMPORT_H
#define DYNFILL_HOST_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/status.h"
#include "io/h5_util_data.h"

typedef struct dfl_import_source dfl_import_source;
struct dfl_import_source {
    const char *path;
    const char *format; /* "netcdf", "hdf5" or "grib" */
    int c, h, w;
    int64_t t;         /* time steps (of the file; after dfl_import_open: selected) */
    char **channels;   /* c names */
    double *lat, *lon; /* h / w values or NULL */
    /* Per channel (c strings, a NULL entry unknown) or NULL: the source
     * variable's units and long_name attributes. Freed by close. */
    char **units, **long_names;
    double *time; /* t values in seconds since 1970-01-01 UTC, or NULL (no time axis or unknown units) */
    /* Read channel `ch` at selected time step `t` (0-based within the
     * selection): values in physical units (unpacked), valid[i] = 0 where
     * missing (value then undefined). */
    dfl_status (*read)(dfl_import_source *src, int64_t t, int ch, double *values, uint8_t *valid);
    void (*close)(dfl_import_source *src);
    void *impl;
};

typedef struct {
    const char *const *inputs; /* n_inputs files, one time axis in time order */
    int n_inputs;
    const char *out;
    const char *vars;   /* comma-separated names */
    const char *levels; /* comma-separated vertical levels to keep (values of the level axis), or NULL: all */
    const char *format; /* "auto" (by content), "nc", "h5" or "grib" */
    int64_t t0, t1;     /* time range [t0, t1); t1 < 0: to the end */
    int have_fill;
    double fill;
    int as_truth;
    const char *symmetry;   /* --symmetry: the `symmetry` attribute to write (NULL: none) */
    const char *sample_dim; /* --sample-dim: a NetCDF dimension to take as the time (sample) axis, or NULL */
    dfl_h5_layout layout;   /* of /obs and /mask (or /truth); zero: contiguous */
} dfl_import_options;

/* Frees what every source owns (channel names, units, long names, lat,
 * lon, time) and the source itself; each format's close frees its impl
 * first. */
void dfl_import_source_free(dfl_import_source *src);

/* The inputs as one source: every file opened with the same variables and
 * levels, ordered by their first time value (given order when a file has no
 * time axis), checked to share grid and channels and to follow each other
 * without a gap or an overlap, then the --time selection applied. */
dfl_status dfl_import_open(const dfl_import_options *o, dfl_import_source **out);
/* One NetCDF file (classic or NetCDF-4) / HDF5 file with arrays, all its
 * time steps. */
dfl_status dfl_import_open_netcdf(const char *path, const dfl_import_options *o, dfl_import_source **out);
dfl_status dfl_import_open_hdf5(const char *path, const dfl_import_options *o, dfl_import_source **out);
/* One GRIB file (editions 1 and 2, regular lat/lon grids): channels are the
 * --var shortNames, var@level for vertical levels; the time axis is the
 * sorted distinct validity times, each (channel, time) in one message. */
dfl_status dfl_import_open_grib(const char *path, const dfl_import_options *o, dfl_import_source **out);
/* Seconds per unit and the epoch (seconds since 1970-01-01 UTC) of a CF
 * time unit "<unit> since <date>[ <time>]" (unit: seconds, minutes, hours,
 * days, and abbreviations; proleptic Gregorian calendar). 0 when not one. */
int dfl_import_cf_time_units(const char *units, double *seconds_per_unit, double *epoch);
/* "YYYY-MM-DDTHH:MM:SS" of seconds since 1970-01-01 UTC. */
void dfl_import_format_time(double seconds, char *buf, size_t size);
/* Parse "a:b", "a:", ":b" or "a" (time indices) into [t0, t1). */
dfl_status dfl_import_parse_time(const char *text, int64_t *t0, int64_t *t1);
/* Resolve the selected time range against `t_total` steps. */
dfl_status dfl_import_select_time(const char *path, const dfl_import_options *o, int64_t t_total, int64_t *first,
                                  int64_t *count);
/* The indices of the levels (values[n], NULL: 0..n-1) of variable `var`
 * that --levels keeps (all without it), in --levels order, in picked[] (room
 * for n; a level given twice is an error); DFL_EUSAGE naming a level that is
 * not there. */
dfl_status dfl_import_select_levels(const char *path, const char *var, const char *levels, const double *values, int n,
                                    int *picked, int *count);
/* Seconds since 1970-01-01 UTC of a date and time (proleptic Gregorian). */
double dfl_import_civil_seconds(long year, int month, int day, int hour, int minute, double second);
/* A longitude axis covering the globe: uniform step d with n |d| = 360. */
int dfl_import_lon_is_global(const double *lon, int n);
/* Split "a,b,c" into names (malloc'ed; free with dfl_h5_strings_free). */
char **dfl_import_split_vars(const char *vars, int *count);
/* Two passes over the source: validate and gather statistics, then write. */
dfl_status dfl_import_write(dfl_import_source *src, const dfl_import_options *o);

#endif
