/* The inputs of `dynfill import` as one source (import/import.h): each file
 * opened by its format, the files put in time order, checked to share the
 * grid and the channels and to follow one another without a gap or an
 * overlap, and the --time selection applied to the joined axis. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "io/h5_util_data.h"

typedef struct {
    dfl_import_source **parts;
    int n;
    int64_t *offset; /* [n + 1]: first joined step of each part */
    int64_t first;   /* joined step of selected step 0 */
} joined_impl;

enum { FMT_HDF5, FMT_NETCDF, FMT_GRIB };

/* NetCDF classic magic, HDF5 with the NetCDF-4 marker attribute, or GRIB. */
static dfl_status detect_format(const char *path, int *format) {
    FILE *f = fopen(path, "rb");
    if (!f) return dfl_fail(DFL_EUSAGE, "%s: cannot read file (missing or no permission)", path);
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got >= 4 && magic[0] == 'C' && magic[1] == 'D' && magic[2] == 'F' &&
        (magic[3] == 1 || magic[3] == 2 || magic[3] == 5)) {
        *format = FMT_NETCDF;
        return DFL_OK;
    }
    if (got >= 4 && !memcmp(magic, "GRIB", 4)) {
        *format = FMT_GRIB;
        return DFL_OK;
    }
    static const unsigned char h5sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (got == 8 && !memcmp(magic, h5sig, 8)) {
        hid_t h;
        DFL_TRY(dfl_h5_open_read(path, &h));
        *format = dfl_h5_attr_exists(h, "_NCProperties") ? FMT_NETCDF : FMT_HDF5;
        H5Fclose(h);
        return DFL_OK;
    }
    return dfl_fail(DFL_EUSAGE, "%s: neither NetCDF, HDF5 nor GRIB (unknown file signature)", path);
}

static dfl_status open_one(const char *path, const dfl_import_options *o, dfl_import_source **out) {
    const char *format = o->format ? o->format : "auto";
    int fmt = FMT_HDF5;
    if (!strcmp(format, "nc") || !strcmp(format, "netcdf"))
        fmt = FMT_NETCDF;
    else if (!strcmp(format, "h5") || !strcmp(format, "hdf5"))
        fmt = FMT_HDF5;
    else if (!strcmp(format, "grib") || !strcmp(format, "grb"))
        fmt = FMT_GRIB;
    else if (!strcmp(format, "auto"))
        DFL_TRY(detect_format(path, &fmt));
    else
        return dfl_fail(DFL_EUSAGE, "--format '%s' is unknown (auto, nc, h5, grib)", format);
    if (o->sample_dim && fmt != FMT_NETCDF)
        return dfl_fail(DFL_EUSAGE, "%s: --sample-dim names a NetCDF dimension, and this file is %s", path,
                        fmt == FMT_GRIB ? "GRIB" : "HDF5");
    if (fmt == FMT_GRIB) return dfl_import_open_grib(path, o, out);
    return fmt == FMT_NETCDF ? dfl_import_open_netcdf(path, o, out) : dfl_import_open_hdf5(path, o, out);
}

static dfl_status joined_read(dfl_import_source *src, int64_t t, int ch, double *values, uint8_t *valid) {
    joined_impl *im = src->impl;
    const int64_t g = im->first + t;
    int lo = 0, hi = im->n - 1; /* the part p with offset[p] <= g < offset[p + 1] */
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (im->offset[mid] <= g)
            lo = mid;
        else
            hi = mid - 1;
    }
    dfl_import_source *part = im->parts[lo];
    return part->read(part, g - im->offset[lo], ch, values, valid);
}

static void joined_close(dfl_import_source *src) {
    joined_impl *im = src->impl;
    if (im) {
        for (int i = 0; i < im->n; ++i)
            if (im->parts[i]) im->parts[i]->close(im->parts[i]);
        free(im->parts);
        free(im->offset);
        free(im);
    }
    dfl_import_source_free(src);
}

static int by_first_time(const void *a, const void *b) {
    const dfl_import_source *x = *(dfl_import_source *const *)a, *y = *(dfl_import_source *const *)b;
    return (x->time[0] > y->time[0]) - (x->time[0] < y->time[0]);
}

static int same_values(const double *a, const double *b, int n) {
    if (!a || !b) return a == b;
    for (int i = 0; i < n; ++i)
        if (fabs(a[i] - b[i]) > 1e-6 * fabs(a[i]) + 1e-9) return 0;
    return 1;
}

/* Same grid and channels as the first part. */
static dfl_status check_grid(const dfl_import_source *first, const dfl_import_source *p) {
    if (p->h != first->h || p->w != first->w)
        return dfl_fail(DFL_EUSAGE, "%s: grid %d x %d differs from %s's %d x %d", p->path, p->h, p->w, first->path,
                        first->h, first->w);
    if (!same_values(p->lat, first->lat, p->h) || !same_values(p->lon, first->lon, p->w))
        return dfl_fail(DFL_EUSAGE, "%s: latitudes or longitudes differ from those of %s (another grid)", p->path,
                        first->path);
    if (p->c != first->c)
        return dfl_fail(DFL_EUSAGE, "%s: %d channels, but %s has %d", p->path, p->c, first->path, first->c);
    for (int i = 0; i < p->c; ++i)
        if (strcmp(p->channels[i], first->channels[i]))
            return dfl_fail(DFL_EUSAGE, "%s: channel %d is %s, but in %s it is %s", p->path, i, p->channels[i],
                            first->path, first->channels[i]);
    return DFL_OK;
}

/* Time steps increase inside every part and continue across parts with the
 * step of the data: a longer interval is a gap, a shorter one an overlap. */
static dfl_status check_time(dfl_import_source **parts, int n) {
    double step = 0;
    for (int i = 0; i < n && step == 0; ++i)
        if (parts[i]->t >= 2) step = parts[i]->time[1] - parts[i]->time[0];
    if (step == 0 && n >= 2) step = parts[1]->time[0] - parts[0]->time[0];
    char a[40], b[40];
    for (int i = 0; i < n; ++i) {
        const dfl_import_source *p = parts[i];
        for (int64_t k = 1; k < p->t; ++k)
            if (fabs((p->time[k] - p->time[k - 1]) - step) > 1e-6 * fabs(step) + 1e-3) {
                dfl_import_format_time(p->time[k - 1], a, sizeof a);
                dfl_import_format_time(p->time[k], b, sizeof b);
                return dfl_fail(DFL_EUSAGE, "%s: time steps %lld and %lld (%s, %s) are not %g s apart as the others",
                                p->path, (long long)k - 1, (long long)k, a, b, step);
            }
        if (i == 0) continue;
        const dfl_import_source *q = parts[i - 1];
        const double last = q->time[q->t - 1], next = p->time[0], gap = next - last;
        if (fabs(gap - step) <= 1e-6 * fabs(step) + 1e-3) continue;
        dfl_import_format_time(last, a, sizeof a);
        dfl_import_format_time(next, b, sizeof b);
        if (gap > step)
            return dfl_fail(DFL_EUSAGE, "gap in time: %s ends at %s and %s starts at %s (%g s later; the step is %g s)",
                            q->path, a, p->path, b, gap, step);
        return dfl_fail(DFL_EUSAGE, "overlap in time: %s ends at %s and %s starts at %s (the step is %g s)", q->path, a,
                        p->path, b, step);
    }
    return DFL_OK;
}

dfl_status dfl_import_open(const dfl_import_options *o, dfl_import_source **out) {
    *out = NULL;
    if (o->n_inputs < 1) return dfl_fail(DFL_EUSAGE, "--in is required");
    joined_impl *im = dfl_xcalloc(1, sizeof *im);
    im->n = o->n_inputs;
    im->parts = dfl_xcalloc((size_t)im->n, sizeof *im->parts);
    im->offset = dfl_xcalloc((size_t)im->n + 1, sizeof *im->offset);
    dfl_import_source *src = dfl_xcalloc(1, sizeof *src);
    src->impl = im;
    src->read = joined_read;
    src->close = joined_close;
    dfl_status st = DFL_OK;
    int timed = 0;
    for (int i = 0; i < im->n && st == DFL_OK; ++i) {
        for (int j = 0; j < i && st == DFL_OK; ++j)
            if (!strcmp(o->inputs[i], o->inputs[j])) st = dfl_fail(DFL_EUSAGE, "%s: given twice as --in", o->inputs[i]);
        if (st == DFL_OK) st = open_one(o->inputs[i], o, &im->parts[i]);
        if (st == DFL_OK) timed += im->parts[i]->time != NULL;
    }
    if (st == DFL_OK && im->n > 1 && timed != 0 && timed != im->n)
        st = dfl_fail(DFL_EUSAGE,
                      "%d of the %d input files have time values (CF units 'X since DATE') and the others "
                      "not: the files cannot be put in time order",
                      timed, im->n);
    if (st == DFL_OK && timed == im->n) {
        qsort(im->parts, (size_t)im->n, sizeof *im->parts, by_first_time);
        st = check_time(im->parts, im->n);
    }
    for (int i = 1; i < im->n && st == DFL_OK; ++i) st = check_grid(im->parts[0], im->parts[i]);
    if (st != DFL_OK) {
        joined_close(src);
        return st;
    }
    const dfl_import_source *p0 = im->parts[0];
    for (int i = 0; i < im->n; ++i) im->offset[i + 1] = im->offset[i] + im->parts[i]->t;
    const int64_t total = im->offset[im->n];
    src->path = p0->path;
    src->format = p0->format;
    src->c = p0->c;
    src->h = p0->h;
    src->w = p0->w;
    src->channels = dfl_xcalloc((size_t)src->c, sizeof *src->channels);
    for (int i = 0; i < src->c; ++i) src->channels[i] = strdup(p0->channels[i]);
    char **const from[2] = {p0->units, p0->long_names};
    char **to[2] = {NULL, NULL};
    for (int k = 0; k < 2; ++k)
        if (from[k]) {
            to[k] = dfl_xcalloc((size_t)src->c, sizeof(char *));
            for (int i = 0; i < src->c; ++i) to[k][i] = from[k][i] ? strdup(from[k][i]) : NULL;
        }
    src->units = to[0];
    src->long_names = to[1];
    if (p0->lat) {
        src->lat = dfl_xmalloc(sizeof(double) * (size_t)src->h);
        memcpy(src->lat, p0->lat, sizeof(double) * (size_t)src->h);
    }
    if (p0->lon) {
        src->lon = dfl_xmalloc(sizeof(double) * (size_t)src->w);
        memcpy(src->lon, p0->lon, sizeof(double) * (size_t)src->w);
    }
    st = dfl_import_select_time(im->n > 1 ? "the joined inputs" : p0->path, o, total, &im->first, &src->t);
    if (st == DFL_OK && timed == im->n) {
        src->time = dfl_xmalloc(sizeof(double) * (size_t)src->t);
        int p = 0;
        for (int64_t t = 0; t < src->t; ++t) {
            const int64_t g = im->first + t;
            while (im->offset[p + 1] <= g) ++p;
            src->time[t] = im->parts[p]->time[g - im->offset[p]];
        }
    }
    if (st != DFL_OK) {
        joined_close(src);
        return st;
    }
    *out = src;
    return DFL_OK;
}
