/* NetCDF source for `dynfill import` (import/import.h): classic and
 * NetCDF-4 files through libnetcdf. The axes of a variable are recognised by
 * CF conventions (docs/data.md): latitude and longitude last, an optional
 * time axis (none: one sample; --sample-dim names another dimension to take
 * as it) and an optional vertical axis (one channel
 * per level, named var@level); values are unpacked with scale_factor /
 * add_offset; _FillValue, missing_value, the NetCDF default fill and NaN
 * mark missing entries. */
#include <ctype.h>
#include <math.h>
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "io/h5_util_data.h"

typedef struct {
    int varid;
    int ndims;
    int level;                  /* index along the vertical axis, -1 if none */
    char axes[NC_MAX_VAR_DIMS]; /* per dimension: 'T', 'Z', 'Y', 'X' or 0 (length 1) */
    double fills[8];
    int nfills;
    double scale, offset;
} nc_channel;

typedef struct {
    int ncid;
    nc_channel *ch;
} nc_impl;

static dfl_status nc_err(const char *path, const char *what, int e) {
    return dfl_fail(DFL_EUSAGE, "%s: %s (%s)", path, what, nc_strerror(e));
}

/* Text attribute `name` of varid, lower-cased, in buf; 0 when absent. */
static int text_att(int ncid, int varid, const char *name, char *buf, size_t size) {
    size_t len;
    nc_type type;
    if (nc_inq_att(ncid, varid, name, &type, &len) != NC_NOERR || type != NC_CHAR || len == 0 || len >= size) return 0;
    if (nc_get_att_text(ncid, varid, name, buf) != NC_NOERR) return 0;
    buf[len] = 0;
    for (size_t i = 0; i < len; ++i) buf[i] = (char)tolower((unsigned char)buf[i]);
    return 1;
}

/* The 1-D coordinate variable of dimension `dimid` (same name), or -1. */
static int coordinate_var(int ncid, int dimid) {
    char dname[NC_MAX_NAME + 1];
    int varid, ndims, vdim;
    if (nc_inq_dimname(ncid, dimid, dname) != NC_NOERR || nc_inq_varid(ncid, dname, &varid) != NC_NOERR) return -1;
    if (nc_inq_varndims(ncid, varid, &ndims) != NC_NOERR || ndims != 1) return -1;
    if (nc_inq_vardimid(ncid, varid, &vdim) != NC_NOERR || vdim != dimid) return -1;
    return varid;
}

static int one_of(const char *s, const char *const *list) {
    for (int i = 0; list[i]; ++i)
        if (!strcmp(s, list[i])) return 1;
    return 0;
}

/* The CF axis of a dimension: from its coordinate variable's `axis`, then
 * `standard_name`, `units` and `positive` attributes, then the usual names
 * (time, valid_time, latitude, lon, level, pressure_level, depth, ...).
 * 0 when none of these says what it is. */
static char dim_axis(int ncid, int dimid) {
    char buf[256];
    const int cv = coordinate_var(ncid, dimid);
    if (cv >= 0) {
        if (text_att(ncid, cv, "axis", buf, sizeof buf) && strchr("tzyx", buf[0]) && !buf[1])
            return (char)toupper((unsigned char)buf[0]);
        if (text_att(ncid, cv, "standard_name", buf, sizeof buf)) {
            static const char *const t[] = {"time", NULL};
            static const char *const y[] = {"latitude", "grid_latitude", "projection_y_coordinate", NULL};
            static const char *const x[] = {"longitude", "grid_longitude", "projection_x_coordinate", NULL};
            static const char *const z[] = {"air_pressure",        "depth", "height", "altitude", "model_level_number",
                                            "geopotential_height", NULL};
            if (one_of(buf, t)) return 'T';
            if (one_of(buf, y)) return 'Y';
            if (one_of(buf, x)) return 'X';
            if (one_of(buf, z) || !strncmp(buf, "atmosphere_", 11) || !strncmp(buf, "ocean_", 6)) return 'Z';
        }
        if (text_att(ncid, cv, "units", buf, sizeof buf)) {
            static const char *const y[] = {"degrees_north", "degree_north", "degree_n", "degrees_n",
                                            "degreen",       "degreesn",     NULL};
            static const char *const x[] = {"degrees_east", "degree_east", "degree_e", "degrees_e",
                                            "degreee",      "degreese",    NULL};
            static const char *const z[] = {"pa", "hpa", "kpa", "mbar", "millibar", "millibars", "bar", "dbar", NULL};
            if (one_of(buf, y)) return 'Y';
            if (one_of(buf, x)) return 'X';
            if (strstr(buf, " since ")) return 'T';
            if (one_of(buf, z)) return 'Z';
        }
        if (text_att(ncid, cv, "positive", buf, sizeof buf) && (!strcmp(buf, "up") || !strcmp(buf, "down"))) return 'Z';
    }
    char dname[NC_MAX_NAME + 1];
    if (nc_inq_dimname(ncid, dimid, dname) != NC_NOERR) return 0;
    for (char *c = dname; *c; ++c) *c = (char)tolower((unsigned char)*c);
    static const char *const t[] = {"time", "valid_time", "t", NULL};
    static const char *const y[] = {"lat", "latitude", "y", "rlat", NULL};
    static const char *const x[] = {"lon", "longitude", "x", "rlon", NULL};
    static const char *const z[] = {"level",  "lev", "plev", "pressure_level", "pressure", "isobaricinhpa", "depth",
                                    "height", "z",   NULL};
    if (one_of(dname, t)) return 'T';
    if (one_of(dname, y)) return 'Y';
    if (one_of(dname, x)) return 'X';
    if (one_of(dname, z)) return 'Z';
    return 0;
}

/* Values of the coordinate variable of `dimid` (len of them), or NULL. */
static double *coordinate_values(int ncid, int dimid, size_t len) {
    const int cv = coordinate_var(ncid, dimid);
    if (cv < 0) return NULL;
    double *v = dfl_xmalloc(sizeof(double) * (len ? len : 1));
    if (nc_get_var_double(ncid, cv, v) != NC_NOERR) {
        free(v);
        return NULL;
    }
    return v;
}

/* Whether the Y (want_lat) or X axis `dimid` is geographic latitude /
 * longitude in degrees (not a projected coordinate in metres). */
static int geographic(int ncid, int dimid, int want_lat) {
    char buf[256], dname[NC_MAX_NAME + 1];
    const int cv = coordinate_var(ncid, dimid);
    if (cv < 0) return 0;
    if (text_att(ncid, cv, "units", buf, sizeof buf) && !strncmp(buf, "degree", 6)) return 1;
    if (text_att(ncid, cv, "standard_name", buf, sizeof buf)) return !strcmp(buf, want_lat ? "latitude" : "longitude");
    if (nc_inq_dimname(ncid, dimid, dname) != NC_NOERR) return 0;
    for (char *c = dname; *c; ++c) *c = (char)tolower((unsigned char)*c);
    return strstr(dname, want_lat ? "lat" : "lon") != NULL;
}

/* Seconds since 1970 of the time coordinate of `dimid`, or NULL when it has
 * no coordinate variable or its units are not CF time units. */
static double *time_values(int ncid, int dimid, size_t len) {
    const int cv = coordinate_var(ncid, dimid);
    char units[256];
    size_t ulen;
    double per, epoch;
    if (cv < 0 || nc_inq_attlen(ncid, cv, "units", &ulen) != NC_NOERR || ulen == 0 || ulen >= sizeof units) return NULL;
    if (nc_get_att_text(ncid, cv, "units", units) != NC_NOERR) return NULL;
    units[ulen] = 0;
    if (!dfl_import_cf_time_units(units, &per, &epoch)) return NULL;
    double *v = coordinate_values(ncid, dimid, len);
    if (v)
        for (size_t i = 0; i < len; ++i) v[i] = epoch + v[i] * per;
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
    size_t start[NC_MAX_VAR_DIMS], count[NC_MAX_VAR_DIMS];
    for (int d = 0; d < c->ndims; ++d) {
        start[d] = 0;
        count[d] = 1;
        switch (c->axes[d]) {
        case 'T': start[d] = (size_t)t; break;
        case 'Z': start[d] = (size_t)c->level; break;
        case 'Y': count[d] = (size_t)src->h; break;
        case 'X': count[d] = (size_t)src->w; break;
        default: break;
        }
    }
    int e = nc_get_vara_double(im->ncid, c->varid, start, count, values);
    if (e != NC_NOERR) return nc_err(src->path, "cannot read a variable (a damaged or truncated file?)", e);
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

/* A text attribute of a variable (NC_CHAR or NC_STRING), malloc'ed, or
 * NULL when absent or empty. */
static char *text_attr(int ncid, int varid, const char *name) {
    nc_type t;
    size_t len;
    if (nc_inq_att(ncid, varid, name, &t, &len) != NC_NOERR || len == 0) return NULL;
    char *r = NULL;
    if (t == NC_CHAR) {
        r = dfl_xcalloc(len + 1, 1);
        if (nc_get_att_text(ncid, varid, name, r) != NC_NOERR) r[0] = 0;
    } else if (t == NC_STRING && len == 1) {
        char *v = NULL;
        if (nc_get_att_string(ncid, varid, name, &v) == NC_NOERR && v) r = strdup(v);
        if (v) nc_free_string(1, &v);
    }
    if (r && !r[0]) {
        free(r);
        r = NULL;
    }
    return r;
}

static void nc_close_source(dfl_import_source *src) {
    nc_impl *im = src->impl;
    if (im) {
        nc_close(im->ncid);
        free(im->ch);
        free(im);
    }
    dfl_import_source_free(src);
}

dfl_status dfl_import_open_netcdf(const char *path, const dfl_import_options *o, dfl_import_source **out) {
    *out = NULL;
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
    size_t cap = 0, units_cap = 0, long_cap = 0;
    int dim_time = -2, dim_lat = -1, dim_lon = -1; /* -2: no variable seen yet, -1: no time axis */
    const char *time_var = NULL;
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
        /* Axes by CF conventions, not by position: exactly one latitude and
         * one longitude axis, the last two; at most one time and one
         * vertical axis; any other dimension must have length 1. */
        if (o->sample_dim) { /* the named dimension first, so that its absence is the error reported */
            char list[512] = "";
            size_t used = 0;
            int found = 0;
            for (int d = 0; d < ndims; ++d) {
                char dname[NC_MAX_NAME + 1];
                nc_inq_dimname(ncid, dimids[d], dname);
                found |= !strcmp(dname, o->sample_dim);
                if (used < sizeof list - 80)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%.64s", d ? ", " : "", dname);
            }
            if (!found) {
                st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' has no dimension '%s' (--sample-dim; its dimensions: %s)",
                              path, vars[v], o->sample_dim, list);
                break;
            }
        }
        char axes[NC_MAX_VAR_DIMS];
        int dt = -1, dz = -1, dy = -1, dx = -1;
        for (int d = 0; d < ndims && st == DFL_OK; ++d) {
            char dname[NC_MAX_NAME + 1];
            size_t len;
            nc_inq_dimname(ncid, dimids[d], dname);
            nc_inq_dimlen(ncid, dimids[d], &len);
            axes[d] = dim_axis(ncid, dimids[d]);
            if (o->sample_dim && !strcmp(dname, o->sample_dim)) {
                axes[d] = 'T';
            } else if (o->sample_dim && axes[d] == 'T') {
                st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' has the time axis '%s' besides --sample-dim '%s'", path,
                              vars[v], dname, o->sample_dim);
                break;
            }
            int *slot = axes[d] == 'T'   ? &dt
                        : axes[d] == 'Z' ? &dz
                        : axes[d] == 'Y' ? &dy
                        : axes[d] == 'X' ? &dx
                                         : NULL;
            if (slot && *slot >= 0)
                st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' has two %c axes (%s and another)", path, vars[v], axes[d],
                              dname);
            else if (slot)
                *slot = d;
            else if (len != 1)
                st = dfl_fail(DFL_EUSAGE,
                              "%s: variable '%s': dimension '%s' (length %zu) is neither time, vertical, latitude nor "
                              "longitude by its CF attributes (axis, standard_name, units, positive); "
                              "--sample-dim %s takes it as the time (sample) axis",
                              path, vars[v], dname, len, dname);
        }
        if (st != DFL_OK) break;
        if (dy < 0 || dx < 0 || dy != ndims - 2 || dx != ndims - 1) {
            st = dfl_fail(DFL_EUSAGE,
                          "%s: variable '%s' must end with a latitude and a longitude dimension (found %s); "
                          "give its coordinates CF attributes or reorder the file",
                          path, vars[v], dy < 0 || dx < 0 ? "none or one of them" : "them in another order");
            break;
        }
        size_t len[NC_MAX_VAR_DIMS] = {0};
        for (int d = 0; d < ndims; ++d) nc_inq_dimlen(ncid, dimids[d], &len[d]);
        const int hh = (int)len[dy], ww = (int)len[dx];
        const int this_time = dt >= 0 ? dimids[dt] : -1;
        if (dim_time == -2) {
            src->h = hh;
            src->w = ww;
            dim_time = this_time;
            dim_lat = dimids[dy];
            dim_lon = dimids[dx];
            src->t = dt >= 0 ? (int64_t)len[dt] : 1;
            time_var = vars[v];
        } else if (hh != src->h || ww != src->w) {
            st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' is on a %d x %d grid but '%s' is on %d x %d", path, vars[v],
                          hh, ww, vars[0], src->h, src->w);
            break;
        } else if (this_time != dim_time) {
            char a[NC_MAX_NAME + 1] = "none", b[NC_MAX_NAME + 1] = "none";
            if (this_time >= 0) nc_inq_dimname(ncid, this_time, a);
            if (dim_time >= 0) nc_inq_dimname(ncid, dim_time, b);
            st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' is on time axis '%s' but '%s' is on '%s'", path, vars[v], a,
                          time_var, b);
            break;
        }
        const int levels = dz >= 0 ? (int)len[dz] : 1;
        double *level_values = dz >= 0 ? coordinate_values(ncid, dimids[dz], (size_t)levels) : NULL;
        int *picked = dfl_xmalloc(sizeof(int) * (size_t)levels);
        int npicked = 1;
        picked[0] = -1;
        if (dz >= 0) st = dfl_import_select_levels(path, vars[v], o->levels, level_values, levels, picked, &npicked);
        for (int i = 0; i < npicked && st == DFL_OK; ++i) {
            size_t names_cap = cap;
            im->ch = dfl_xgrow(im->ch, &cap, (size_t)src->c + 1, sizeof *im->ch);
            src->channels = dfl_xgrow(src->channels, &names_cap, (size_t)src->c + 1, sizeof *src->channels);
            nc_channel *c = &im->ch[src->c];
            c->varid = varid;
            c->ndims = ndims;
            memcpy(c->axes, axes, sizeof axes);
            c->level = picked[i];
            channel_fills(ncid, varid, vtype, o, c);
            char name[NC_MAX_NAME + 64];
            if (dz < 0)
                snprintf(name, sizeof name, "%s", vars[v]);
            else if (level_values)
                snprintf(name, sizeof name, "%s@%g", vars[v], level_values[picked[i]]);
            else
                snprintf(name, sizeof name, "%s_%d", vars[v], picked[i]);
            src->channels[src->c] = strdup(name);
            src->units = dfl_xgrow(src->units, &units_cap, (size_t)src->c + 1, sizeof *src->units);
            src->long_names = dfl_xgrow(src->long_names, &long_cap, (size_t)src->c + 1, sizeof *src->long_names);
            src->units[src->c] = text_attr(ncid, varid, "units");
            src->long_names[src->c] = text_attr(ncid, varid, "long_name");
            src->c++;
        }
        free(picked);
        free(level_values);
    }
    dfl_h5_strings_free(vars, (size_t)nvars);
    if (st != DFL_OK) {
        nc_close_source(src);
        return st;
    }
    if (geographic(ncid, dim_lat, 1)) src->lat = coordinate_values(ncid, dim_lat, (size_t)src->h);
    if (geographic(ncid, dim_lon, 0)) src->lon = coordinate_values(ncid, dim_lon, (size_t)src->w);
    if (dim_time >= 0) src->time = time_values(ncid, dim_time, (size_t)src->t);
    *out = src;
    return DFL_OK;
}
