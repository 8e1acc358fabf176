/* Plain HDF5 arrays for `dynfill import` (host/import/import.h): datasets
 * [T, H, W], [T, K, H, W] (K channels each) or [H, W] (one sample), NaN
 * or a fill value (--fill, or the dataset attribute _FillValue,
 * fill_value or missing_value) marking missing entries. Latitude and
 * longitude come from 1-D root datasets lat/latitude and lon/longitude
 * (or root attributes lat, lon) of matching length. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "io/h5_util_data.h"

typedef struct {
    char name[512];
    int rank;
    int index; /* along K for rank 4, else -1 */
    int have_fill;
    double fill;
} h5_channel;

typedef struct {
    hid_t file;
    h5_channel *ch;
} h5_impl;

static dfl_status h5_read(dfl_import_source *src, int64_t t, int ch, double *values, uint8_t *valid) {
    h5_impl *im = src->impl;
    const h5_channel *c = &im->ch[ch];
    unsigned long long start[4] = {0}, count[4];
    int k = 0;
    if (c->rank >= 3) start[k] = (unsigned long long)t, count[k++] = 1;
    if (c->rank == 4) start[k] = (unsigned long long)c->index, count[k++] = 1;
    count[k++] = (unsigned long long)src->h;
    count[k++] = (unsigned long long)src->w;
    DFL_TRY(dfl_h5_read_box(im->file, src->path, c->name, H5T_NATIVE_DOUBLE, c->rank, start, count, values));
    const size_t plane = (size_t)src->h * (size_t)src->w;
    for (size_t i = 0; i < plane; ++i) valid[i] = !isnan(values[i]) && !(c->have_fill && values[i] == c->fill);
    return DFL_OK;
}

static void h5_close_source(dfl_import_source *src) {
    h5_impl *im = src->impl;
    if (im) {
        if (im->file >= 0) H5Fclose(im->file);
        free(im->ch);
        free(im);
    }
    dfl_import_source_free(src);
}

/* A 1-D root dataset (or root attribute) `name` of length n, or NULL. */
static double *axis_values(hid_t f, const char *const *names, int n) {
    for (int k = 0; names[k]; ++k) {
        char path[64];
        snprintf(path, sizeof path, "/%s", names[k]);
        int rank;
        unsigned long long d[8];
        if (dfl_h5_has(f, path) && dfl_h5_dataset_shape(f, "", path, &rank, d) == DFL_OK && rank == 1 &&
            d[0] == (unsigned long long)n) {
            double *v = dfl_xmalloc(sizeof(double) * (size_t)n);
            unsigned long long s0 = 0, cnt = (unsigned long long)n;
            if (dfl_h5_read_box(f, "", path, H5T_NATIVE_DOUBLE, 1, &s0, &cnt, v) == DFL_OK) return v;
            free(v);
        }
        if (dfl_h5_attr_numeric_count(f, names[k]) == n) {
            double *v = dfl_xmalloc(sizeof(double) * (size_t)n);
            if (dfl_h5_attr_read_doubles(f, "", names[k], v, (size_t)n) == DFL_OK) return v;
            free(v);
        }
    }
    dfl_clear_error();
    return NULL;
}

static void dataset_fill(hid_t f, const char *name, const dfl_import_options *o, h5_channel *c) {
    c->have_fill = 0;
    if (o->have_fill) {
        c->have_fill = 1;
        c->fill = o->fill;
        return;
    }
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) return;
    const char *attrs[] = {"_FillValue", "fill_value", "missing_value", NULL};
    for (int k = 0; attrs[k]; ++k)
        if (dfl_h5_attr_numeric_count(ds, attrs[k]) == 1 &&
            dfl_h5_attr_read_doubles(ds, "", attrs[k], &c->fill, 1) == DFL_OK) {
            c->have_fill = 1;
            break;
        }
    H5Dclose(ds);
}

dfl_status dfl_import_open_hdf5(const char *path, const dfl_import_options *o, dfl_import_source **out) {
    *out = NULL;
    hid_t f;
    DFL_TRY(dfl_h5_open_read(path, &f));
    dfl_import_source *src = dfl_xcalloc(1, sizeof *src);
    h5_impl *im = dfl_xcalloc(1, sizeof *im);
    im->file = f;
    src->impl = im;
    src->path = path;
    src->format = "hdf5";
    src->read = h5_read;
    src->close = h5_close_source;
    int nvars;
    char **vars = dfl_import_split_vars(o->vars, &nvars);
    dfl_status st = DFL_OK;
    size_t cap = 0;
    int64_t t_total = -1;
    for (int v = 0; v < nvars && st == DFL_OK; ++v) {
        char name[512];
        snprintf(name, sizeof name, "%s%s", vars[v][0] == '/' ? "" : "/", vars[v]);
        int rank;
        unsigned long long d[8];
        st = dfl_h5_dataset_shape(f, path, name, &rank, d);
        if (st != DFL_OK) break;
        H5T_class_t cls;
        size_t sz;
        int le;
        st = dfl_h5_dataset_type(f, path, name, &cls, &sz, &le);
        if (st == DFL_OK && cls != H5T_FLOAT && cls != H5T_INTEGER)
            st = dfl_fail(DFL_EUSAGE, "%s: dataset %s is not numeric", path, name);
        if (st == DFL_OK && (rank < 2 || rank > 4))
            st = dfl_fail(DFL_EUSAGE, "%s: dataset %s has rank %d; expected [T, H, W], [T, K, H, W] or [H, W]", path,
                          name, rank);
        if (st != DFL_OK) break;
        const int64_t tl = rank >= 3 ? (int64_t)d[0] : 1;
        const int hh = (int)d[rank - 2], ww = (int)d[rank - 1];
        if (src->c == 0) {
            src->h = hh;
            src->w = ww;
            t_total = tl;
        } else if (hh != src->h || ww != src->w || tl != t_total) {
            st = dfl_fail(DFL_EUSAGE, "%s: dataset %s has %lld x %d x %d (T x H x W) but %s has %lld x %d x %d", path,
                          name, (long long)tl, hh, ww, vars[0], (long long)t_total, src->h, src->w);
            break;
        }
        const int k = rank == 4 ? (int)d[1] : 1;
        for (int i = 0; i < k; ++i) {
            size_t names_cap = cap;
            im->ch = dfl_xgrow(im->ch, &cap, (size_t)src->c + 1, sizeof *im->ch);
            src->channels = dfl_xgrow(src->channels, &names_cap, (size_t)src->c + 1, sizeof *src->channels);
            h5_channel *c = &im->ch[src->c];
            snprintf(c->name, sizeof c->name, "%s", name);
            c->rank = rank;
            c->index = rank == 4 ? i : -1;
            dataset_fill(f, name, o, c);
            char cname[600];
            if (rank == 4)
                snprintf(cname, sizeof cname, "%s_%d", name + 1, i);
            else
                snprintf(cname, sizeof cname, "%s", name + 1);
            src->channels[src->c++] = strdup(cname);
        }
    }
    dfl_h5_strings_free(vars, (size_t)nvars);
    if (st != DFL_OK) {
        h5_close_source(src);
        return st;
    }
    src->t = t_total;
    const char *lat_names[] = {"lat", "latitude", NULL}, *lon_names[] = {"lon", "longitude", NULL};
    src->lat = axis_values(f, lat_names, src->h);
    src->lon = axis_values(f, lon_names, src->w);
    *out = src;
    return DFL_OK;
}
