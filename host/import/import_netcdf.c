/* NetCDF source for `dynfill import` (host/import/import.h): classic and NetCDF-4
 * files through libnetcdf. Variables are [time, lat, lon], [time, level,
 * lat, lon] (one channel per level) or [lat, lon] (one sample); values are
 * unpacked with scale_factor / add_offset; _FillValue, missing_value, the
 * NetCDF default fill and NaN mark missing entries. */
#include <ctype.h>
#include <math.h>
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5_util_data.h"
#include "import.h"

typedef struct {
    int varid;
    int level;    /* index along the level axis, -1 if none */
    int rank;     /* 2, 3 or 4 */
    double fills[8];
    int nfills;
    double scale, offset;
} nc_channel;

typedef struct {
    int ncid;
    int64_t t_first;
    nc_channel *ch;
} nc_impl;

static dfl_status nc_err(const char *path, const char *what, int e) {
    return dfl_fail(DFL_EUSAGE, "%s: %s (%s)", path, what, nc_strerror(e));
}

static int name_has(const char *name, const char *needle) {
    char low[NC_MAX_NAME + 1];
    size_t i = 0;
    for (; i < NC_MAX_NAME && name[i]; ++i) low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = 0;
    return strstr(low, needle) != NULL;
}

static int units_are(int ncid, int varid, const char *a, const char *b) {
    size_t len;
    if (nc_inq_attlen(ncid, varid, "units", &len) != NC_NOERR || len == 0 || len > 255) return 0;
    char buf[256];
    if (nc_get_att_text(ncid, varid, "units", buf) != NC_NOERR) return 0;
    buf[len] = 0;
    return !strcmp(buf, a) || !strcmp(buf, b);
}

/* The 1-D coordinate variable of dimension `dimid`, as doubles, or NULL. */
static double *coordinate(int ncid, int dimid, size_t len, int want_lat) {
    char dname[NC_MAX_NAME + 1];
    if (nc_inq_dimname(ncid, dimid, dname) != NC_NOERR) return NULL;
    int varid, ndims;
    if (nc_inq_varid(ncid, dname, &varid) != NC_NOERR) return NULL;
    if (nc_inq_varndims(ncid, varid, &ndims) != NC_NOERR || ndims != 1) return NULL;
    int is_axis = want_lat ? (name_has(dname, "lat") || units_are(ncid, varid, "degrees_north", "degree_north"))
                           : (name_has(dname, "lon") || units_are(ncid, varid, "degrees_east", "degree_east"));
    if (!is_axis) return NULL;
    double *v = dfl_xmalloc(sizeof(double) * len);
    if (nc_get_var_double(ncid, varid, v) != NC_NOERR) {
        free(v);
        return NULL;
    }
    return v;
}

static double default_fill(nc_type t) {
    switch (t) {
    case NC_BYTE: return NC_FILL_BYTE;
    case NC_UBYTE: return NC_FILL_UBYTE;
    case NC_SHORT: return NC_FILL_SHORT;
    case NC_USHORT: return NC_FILL_USHORT;
    case NC_INT: return NC_FILL_INT;
    case NC_UINT: return NC_FILL_UINT;
    case NC_FLOAT: return NC_FILL_FLOAT;
    default: return NC_FILL_DOUBLE;
    }
}

static void channel_fills(int ncid, int varid, nc_type vtype, const dfl_import_options *o, nc_channel *c) {
    c->nfills = 0;
    size_t len;
    if (nc_inq_attlen(ncid, varid, "_FillValue", &len) == NC_NOERR && len == 1) {
        double v;
        if (nc_get_att_double(ncid, varid, "_FillValue", &v) == NC_NOERR) c->fills[c->nfills++] = v;
    } else {
        c->fills[c->nfills++] = default_fill(vtype);
    }
    if (nc_inq_attlen(ncid, varid, "missing_value", &len) == NC_NOERR && len >= 1 && len <= 4) {
        double v[4];
        if (nc_get_att_double(ncid, varid, "missing_value", v) == NC_NOERR)
            for (size_t i = 0; i < len; ++i) c->fills[c->nfills++] = v[i];
    }
    if (o->have_fill) c->fills[c->nfills++] = o->fill;
    c->scale = 1.0;
    c->offset = 0.0;
    double v;
    if (nc_inq_attlen(ncid, varid, "scale_factor", &len) == NC_NOERR && len == 1 &&
        nc_get_att_double(ncid, varid, "scale_factor", &v) == NC_NOERR)
        c->scale = v;
    if (nc_inq_attlen(ncid, varid, "add_offset", &len) == NC_NOERR && len == 1 &&
        nc_get_att_double(ncid, varid, "add_offset", &v) == NC_NOERR)
        c->offset = v;
}

static dfl_status nc_read(dfl_import_source *src, int64_t t, int ch, double *values, uint8_t *valid) {
    nc_impl *im = src->impl;
    const nc_channel *c = &im->ch[ch];
    size_t start[4] = {0}, count[4] = {1, 1, 1, 1};
    int k = 0;
    if (c->rank >= 3) start[k] = (size_t)(im->t_first + t), count[k++] = 1;
    if (c->rank == 4) start[k] = (size_t)c->level, count[k++] = 1;
    count[k++] = (size_t)src->h;
    count[k++] = (size_t)src->w;
    int e = nc_get_vara_double(im->ncid, c->varid, start, count, values);
    if (e != NC_NOERR) return nc_err(src->path, "cannot read a variable", e);
    const size_t plane = (size_t)src->h * (size_t)src->w;
    for (size_t i = 0; i < plane; ++i) {
        const double raw = values[i];
        uint8_t ok = !isnan(raw);
        for (int f = 0; ok && f < c->nfills; ++f)
            if (raw == c->fills[f]) ok = 0;
        valid[i] = ok;
        values[i] = raw * c->scale + c->offset;
    }
    return DFL_OK;
}

static void nc_close_source(dfl_import_source *src) {
    nc_impl *im = src->impl;
    if (im) {
        nc_close(im->ncid);
        free(im->ch);
        free(im);
    }
    dfl_h5_strings_free(src->channels, (size_t)src->c);
    free(src->lat);
    free(src->lon);
    free(src);
}

dfl_status dfl_import_open_netcdf(const dfl_import_options *o, dfl_import_source **out) {
    *out = NULL;
    const char *path = o->in;
    int ncid;
    int e = nc_open(path, NC_NOWRITE, &ncid);
    if (e != NC_NOERR) return nc_err(path, "cannot open as NetCDF", e);
    dfl_import_source *src = dfl_xcalloc(1, sizeof *src);
    nc_impl *im = dfl_xcalloc(1, sizeof *im);
    im->ncid = ncid;
    src->impl = im;
    src->path = path;
    src->format = "netcdf";
    src->read = nc_read;
    src->close = nc_close_source;
    int nvars;
    char **vars = dfl_import_split_vars(o->vars, &nvars);
    dfl_status st = DFL_OK;
    size_t cap = 0;
    int64_t t_total = -1;
    int dim_lat = -1, dim_lon = -1;
    for (int v = 0; v < nvars && st == DFL_OK; ++v) {
        int varid, ndims, dimids[NC_MAX_VAR_DIMS];
        nc_type vtype;
        if (nc_inq_varid(ncid, vars[v], &varid) != NC_NOERR) {
            /* List what is there, to help the user. */
            char list[1024] = "";
            int nv;
            nc_inq_nvars(ncid, &nv);
            size_t used = 0;
            for (int i = 0; i < nv && used < 900; ++i) {
                char nm[NC_MAX_NAME + 1];
                nc_inq_varname(ncid, i, nm);
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%.64s", i ? ", " : "", nm);
            }
            st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' not found (variables: %s)", path, vars[v], list);
            break;
        }
        nc_inq_var(ncid, varid, NULL, &vtype, &ndims, dimids, NULL);
        if (vtype == NC_CHAR || vtype == NC_STRING) {
            st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' is not numeric", path, vars[v]);
            break;
        }
        if (ndims < 2 || ndims > 4) {
            st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' has %d dimensions; expected [time, (level,) lat, lon]", path,
                          vars[v], ndims);
            break;
        }
        size_t len[4];
        for (int d = 0; d < ndims; ++d) nc_inq_dimlen(ncid, dimids[d], &len[d]);
        const int64_t tl = ndims >= 3 ? (int64_t)len[0] : 1;
        const int hh = (int)len[ndims - 2], ww = (int)len[ndims - 1];
        if (src->c == 0) {
            src->h = hh;
            src->w = ww;
            t_total = tl;
            dim_lat = dimids[ndims - 2];
            dim_lon = dimids[ndims - 1];
        } else if (hh != src->h || ww != src->w || tl != t_total) {
            st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' has %lld x %d x %d (time x lat x lon) but '%s' has %lld x %d x %d",
                          path, vars[v], (long long)tl, hh, ww, vars[0], (long long)t_total, src->h, src->w);
            break;
        }
        const int levels = ndims == 4 ? (int)len[1] : 1;
        double *level_values = NULL;
        if (ndims == 4) {
            char dname[NC_MAX_NAME + 1];
            int lv, lnd;
            nc_inq_dimname(ncid, dimids[1], dname);
            if (nc_inq_varid(ncid, dname, &lv) == NC_NOERR && nc_inq_varndims(ncid, lv, &lnd) == NC_NOERR && lnd == 1) {
                level_values = dfl_xmalloc(sizeof(double) * (size_t)levels);
                if (nc_get_var_double(ncid, lv, level_values) != NC_NOERR) {
                    free(level_values);
                    level_values = NULL;
                }
            }
        }
        for (int l = 0; l < levels; ++l) {
            size_t names_cap = cap;
            im->ch = dfl_xgrow(im->ch, &cap, (size_t)src->c + 1, sizeof *im->ch);
            src->channels = dfl_xgrow(src->channels, &names_cap, (size_t)src->c + 1, sizeof *src->channels);
            nc_channel *c = &im->ch[src->c];
            c->varid = varid;
            c->rank = ndims;
            c->level = ndims == 4 ? l : -1;
            channel_fills(ncid, varid, vtype, o, c);
            char name[NC_MAX_NAME + 64];
            if (ndims != 4)
                snprintf(name, sizeof name, "%s", vars[v]);
            else if (level_values)
                snprintf(name, sizeof name, "%s@%g", vars[v], level_values[l]);
            else
                snprintf(name, sizeof name, "%s_%d", vars[v], l);
            src->channels[src->c++] = strdup(name);
        }
        free(level_values);
    }
    dfl_h5_strings_free(vars, (size_t)nvars);
    int64_t first = 0;
    if (st == DFL_OK) st = dfl_import_select_time(path, o, t_total, &first, &src->t);
    if (st != DFL_OK) {
        nc_close_source(src);
        return st;
    }
    im->t_first = first;
    src->lat = coordinate(ncid, dim_lat, (size_t)src->h, 1);
    src->lon = coordinate(ncid, dim_lon, (size_t)src->w, 0);
    *out = src;
    return DFL_OK;
}
