/* GRIB source for `dynfill import` (import/import.h): GRIB 1 and 2 files
 * (ERA5 as the CDS delivers it) through ecCodes. The messages are indexed
 * once (shortName, typeOfLevel, level, validity date and time, grid, file
 * offset); the --var shortNames become channels, one per level (var@level,
 * levels increasing, or in --levels order) for pressure, model and other
 * vertical levels, one for a single-level field (2t, msl); the time axis
 * is the sorted distinct validity times, and every (channel, time) must
 * have exactly one message. Only regular lat/lon grids, all alike. */
#include <eccodes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "import.h"
#include "io/h5_util_data.h"

/* The decoded value of a missing point (a bitmap entry 0, or GRIB 2
 * missing-value management); no field holds it. */
#define GRIB_MISSING 1e300

typedef struct {
    char grid_type[32];
    long ni, nj, i_neg, j_pos, j_consecutive;
    double lat1, lat2, lon1, lon2, di;
} grib_grid;

typedef struct {
    int var; /* index into the --var names */
    char level_type[64];
    double level;
    double time;              /* validity, seconds since 1970 */
    off_t offset;             /* in the file */
    long number;              /* 1-based message number in the file */
    char units[32], name[96]; /* ecCodes' `units` and `name` (long name) */
} grib_msg;

typedef struct {
    FILE *f;
    grib_grid grid;
    off_t *offset; /* [t][c] message of each (time, channel) */
    long *number;  /* [t][c] its message number */
    double *raw;   /* one decoded field, when stored column by column */
    long *bitmap;  /* its bitmap */
    int have_fill;
    double fill;
} grib_impl;

static int get_string(codes_handle *h, const char *key, char *buf, size_t size) {
    size_t len = size;
    buf[0] = 0;
    return codes_get_string(h, key, buf, &len) == CODES_SUCCESS;
}

static dfl_status read_grid(codes_handle *h, const char *path, long number, grib_grid *g) {
    memset(g, 0, sizeof *g);
    if (!get_string(h, "gridType", g->grid_type, sizeof g->grid_type))
        snprintf(g->grid_type, sizeof g->grid_type, "unknown");
    if (strcmp(g->grid_type, "regular_ll"))
        return dfl_fail(DFL_EUSAGE,
                        "%s: message %ld is on a '%s' grid; only regular latitude/longitude grids (regular_ll) are "
                        "read (regrid first, e.g. with the CDS 'grid' option)",
                        path, number, g->grid_type);
    int e = codes_get_long(h, "Ni", &g->ni);
    if (!e) e = codes_get_long(h, "Nj", &g->nj);
    if (!e) e = codes_get_long(h, "iScansNegatively", &g->i_neg);
    if (!e) e = codes_get_long(h, "jScansPositively", &g->j_pos);
    if (!e) e = codes_get_long(h, "jPointsAreConsecutive", &g->j_consecutive);
    if (!e) e = codes_get_double(h, "latitudeOfFirstGridPointInDegrees", &g->lat1);
    if (!e) e = codes_get_double(h, "latitudeOfLastGridPointInDegrees", &g->lat2);
    if (!e) e = codes_get_double(h, "longitudeOfFirstGridPointInDegrees", &g->lon1);
    if (!e) e = codes_get_double(h, "longitudeOfLastGridPointInDegrees", &g->lon2);
    if (!e) e = codes_get_double(h, "iDirectionIncrementInDegrees", &g->di);
    if (e || g->ni < 1 || g->nj < 1 || g->ni > (1L << 20) || g->nj > (1L << 20))
        return dfl_fail(DFL_EUSAGE, "%s: message %ld: the regular_ll grid description is incomplete (%s)", path, number,
                        e ? codes_get_error_message(e) : "no points");
    return DFL_OK;
}

static int same_grid(const grib_grid *a, const grib_grid *b) {
    const double eps = 1e-6;
    return a->ni == b->ni && a->nj == b->nj && a->i_neg == b->i_neg && a->j_pos == b->j_pos &&
           a->j_consecutive == b->j_consecutive && fabs(a->lat1 - b->lat1) < eps && fabs(a->lat2 - b->lat2) < eps &&
           fabs(a->lon1 - b->lon1) < eps && fabs(a->lon2 - b->lon2) < eps;
}

static void describe_grid(const grib_grid *g, char *buf, size_t size) {
    snprintf(buf, size, "%ld x %ld points, latitudes %g to %g, longitudes %g to %g", g->nj, g->ni, g->lat1, g->lat2,
             g->lon1, g->lon2);
}

/* Latitudes (rows, first to last as the values are stored) and longitudes. */
static void grid_axes(const grib_grid *g, double *lat, double *lon) {
    for (long y = 0; y < g->nj; ++y)
        lat[y] = g->nj > 1 ? g->lat1 + (g->lat2 - g->lat1) * (double)y / (double)(g->nj - 1) : g->lat1;
    double span = g->lon2 - g->lon1; /* the way the scan goes, across 0 or 360 if need be */
    if (!g->i_neg && span < 0) span += 360.0;
    if (g->i_neg && span > 0) span -= 360.0;
    for (long x = 0; x < g->ni; ++x) lon[x] = g->ni > 1 ? g->lon1 + span * (double)x / (double)(g->ni - 1) : g->lon1;
}

static double validity_seconds(codes_handle *h, int *ok) {
    long date = 0, hhmm = 0;
    *ok = codes_get_long(h, "validityDate", &date) == CODES_SUCCESS &&
          codes_get_long(h, "validityTime", &hhmm) == CODES_SUCCESS && date > 0;
    if (!*ok) return 0;
    return dfl_import_civil_seconds(date / 10000, (int)(date / 100 % 100), (int)(date % 100), (int)(hhmm / 100),
                                    (int)(hhmm % 100), 0);
}

/* Level types with one field per level: those are channels var@level even
 * when the file holds one level. */
static int vertical_type(const char *t) {
    static const char *const k[] = {"isobaricInhPa",
                                    "isobaricInPa",
                                    "hybrid",
                                    "theta",
                                    "potentialVorticity",
                                    "depthBelowSea",
                                    "oceanSurface",
                                    "generalVertical",
                                    "generalVerticalLayer",
                                    NULL};
    for (int i = 0; k[i]; ++i)
        if (!strcmp(t, k[i])) return 1;
    return 0;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct values of v[n] (in place); their count. */
static int distinct(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    int k = 0;
    for (int i = 0; i < n; ++i)
        if (k == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

static int find_value(const double *v, int n, double x) {
    const double *p = bsearch(&x, v, (size_t)n, sizeof *v, by_value);
    return p ? (int)(p - v) : -1;
}

static dfl_status grib_read(dfl_import_source *src, int64_t t, int ch, double *values, uint8_t *valid) {
    grib_impl *im = src->impl;
    const size_t k = (size_t)t * (size_t)src->c + (size_t)ch;
    const long number = im->number[k];
    if (fseeko(im->f, im->offset[k], SEEK_SET) != 0)
        return dfl_fail(DFL_EUSAGE, "%s: cannot seek to message %ld", src->path, number);
    int e = 0;
    codes_handle *h = codes_handle_new_from_file(NULL, im->f, PRODUCT_GRIB, &e);
    if (!h)
        return dfl_fail(DFL_EUSAGE, "%s: cannot read message %ld (%s; a damaged or truncated file?)", src->path, number,
                        e ? codes_get_error_message(e) : "end of file");
    const size_t plane = (size_t)src->h * (size_t)src->w;
    size_t n = 0;
    long bitmap_present = 0;
    e = codes_get_size(h, "values", &n);
    if (!e && n != plane) {
        codes_handle_delete(h);
        return dfl_fail(DFL_EUSAGE, "%s: message %ld has %zu values, not %d x %d", src->path, number, n, src->h,
                        src->w);
    }
    /* Row by row: decoded in place; column by column: through a kept buffer. */
    if (im->grid.j_consecutive && !im->raw) im->raw = dfl_xmalloc(sizeof(double) * plane);
    double *raw = im->grid.j_consecutive ? im->raw : values;
    int use_bitmap = 0;
    if (!e) e = codes_set_double(h, "missingValue", GRIB_MISSING);
    if (!e) e = codes_get_double_array(h, "values", raw, &n);
    if (!e && codes_get_long(h, "bitmapPresent", &bitmap_present) == CODES_SUCCESS && bitmap_present) {
        size_t nb = plane;
        if (!im->bitmap) im->bitmap = dfl_xmalloc(sizeof(long) * plane);
        /* without it the decoded missing value still marks those points */
        use_bitmap = codes_get_long_array(h, "bitmap", im->bitmap, &nb) == CODES_SUCCESS && nb == plane;
    }
    codes_handle_delete(h);
    if (e)
        return dfl_fail(DFL_EUSAGE, "%s: cannot decode message %ld (%s)", src->path, number,
                        codes_get_error_message(e));
    const size_t hh = (size_t)src->h, ww = (size_t)src->w;
    for (size_t y = 0; y < hh; ++y)
        for (size_t x = 0; x < ww; ++x) {
            const size_t i = y * ww + x, j = im->grid.j_consecutive ? x * hh + y : i;
            const double v = raw[j];
            valid[i] = !isnan(v) && v != GRIB_MISSING && !(use_bitmap && im->bitmap[j] == 0) &&
                       !(im->have_fill && v == im->fill);
            values[i] = v;
        }
    return DFL_OK;
}

static void grib_close(dfl_import_source *src) {
    grib_impl *im = src->impl;
    if (im) {
        if (im->f) fclose(im->f);
        free(im->offset);
        free(im->number);
        free(im->raw);
        free(im->bitmap);
        free(im);
    }
    dfl_import_source_free(src);
}

/* Every message of the --var shortNames, on one regular_ll grid. */
static dfl_status index_messages(const char *path, FILE *f, char **vars, int nvars, grib_grid *grid, grib_msg **out,
                                 int *count) {
    grib_msg *msgs = NULL;
    size_t cap = 0;
    int n = 0;
    char seen[1024] = ""; /* the shortNames of the file, for an error message */
    size_t seen_used = 0;
    dfl_status st = DFL_OK;
    long number = 0;
    for (int v = 0; v < nvars; ++v)
        for (int w = 0; w < v; ++w)
            if (!strcmp(vars[v], vars[w])) return dfl_fail(DFL_EUSAGE, "option --var: '%s' is given twice", vars[v]);
    for (;;) {
        int e = 0;
        codes_handle *h = codes_handle_new_from_file(NULL, f, PRODUCT_GRIB, &e);
        if (!h) {
            if (e && e != CODES_END_OF_FILE)
                st = dfl_fail(DFL_EUSAGE, "%s: cannot read message %ld (%s; a damaged or truncated file?)", path,
                              number + 1, codes_get_error_message(e));
            break;
        }
        ++number;
        char name[64], level_type[64];
        get_string(h, "shortName", name, sizeof name);
        char pat[70];
        snprintf(pat, sizeof pat, ",%s,", name);
        if (seen_used < 900 && !strstr(seen, pat))
            seen_used +=
                (size_t)snprintf(seen + seen_used, sizeof seen - seen_used, "%s%s,", seen_used ? "" : ",", name);
        int v = -1;
        for (int i = 0; i < nvars && v < 0; ++i)
            if (!strcmp(vars[i], name)) v = i;
        if (v < 0) {
            codes_handle_delete(h);
            continue;
        }
        grib_grid g;
        st = read_grid(h, path, number, &g);
        if (st == DFL_OK && n == 0) *grid = g;
        if (st == DFL_OK && !same_grid(&g, grid)) {
            char a[200], b[200];
            describe_grid(&g, a, sizeof a);
            describe_grid(grid, b, sizeof b);
            st = dfl_fail(DFL_EUSAGE, "%s: message %ld ('%s') is on another grid (%s) than message %ld (%s)", path,
                          number, name, a, msgs[0].number, b);
        }
        double level = 0;
        int time_ok = 0;
        const double time = st == DFL_OK ? validity_seconds(h, &time_ok) : 0;
        if (st == DFL_OK && !time_ok)
            st = dfl_fail(DFL_EUSAGE, "%s: message %ld ('%s') has no validity date and time", path, number, name);
        if (st == DFL_OK && (!get_string(h, "typeOfLevel", level_type, sizeof level_type) ||
                             codes_get_double(h, "level", &level) != CODES_SUCCESS))
            st = dfl_fail(DFL_EUSAGE, "%s: message %ld ('%s') has no level", path, number, name);
        off_t offset = 0;
        long off = 0;
        if (st == DFL_OK && codes_get_long(h, "offset", &off) == CODES_SUCCESS)
            offset = (off_t)off;
        else if (st == DFL_OK)
            st = dfl_fail(DFL_EUSAGE, "%s: message %ld: no file offset", path, number);
        char units[32] = "", long_name[96] = "";
        if (st == DFL_OK) {
            get_string(h, "units", units, sizeof units);
            get_string(h, "name", long_name, sizeof long_name);
        }
        codes_handle_delete(h);
        if (st != DFL_OK) break;
        msgs = dfl_xgrow(msgs, &cap, (size_t)n + 1, sizeof *msgs);
        grib_msg *m = &msgs[n++];
        m->var = v;
        snprintf(m->level_type, sizeof m->level_type, "%s", level_type);
        m->level = level;
        m->time = time;
        m->offset = offset;
        m->number = number;
        snprintf(m->units, sizeof m->units, "%s", units);
        snprintf(m->name, sizeof m->name, "%s", long_name);
    }
    if (st == DFL_OK && number == 0) st = dfl_fail(DFL_EUSAGE, "%s: no GRIB message in the file", path);
    for (int v = 0; v < nvars && st == DFL_OK; ++v) {
        int found = 0;
        for (int i = 0; i < n && !found; ++i) found = msgs[i].var == v;
        if (!found) {
            if (seen_used) seen[seen_used - 1] = 0; /* the trailing comma */
            st = dfl_fail(DFL_EUSAGE, "%s: variable '%s' not found (shortNames: %s)", path, vars[v], seen + 1);
        }
    }
    if (st != DFL_OK) {
        free(msgs);
        return st;
    }
    *out = msgs;
    *count = n;
    return DFL_OK;
}

dfl_status dfl_import_open_grib(const char *path, const dfl_import_options *o, dfl_import_source **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dfl_fail(DFL_EUSAGE, "%s: cannot read file (missing or no permission)", path);
    dfl_import_source *src = dfl_xcalloc(1, sizeof *src);
    grib_impl *im = dfl_xcalloc(1, sizeof *im);
    im->f = f;
    im->have_fill = o->have_fill;
    im->fill = o->fill;
    src->impl = im;
    src->path = path;
    src->format = "grib";
    src->read = grib_read;
    src->close = grib_close;
    int nvars, nmsg = 0;
    char **vars = dfl_import_split_vars(o->vars, &nvars);
    grib_msg *msgs = NULL;
    dfl_status st = index_messages(path, f, vars, nvars, &im->grid, &msgs, &nmsg);
    /* Channels: per variable its levels (sorted) and which of them are kept. */
    int *ch_var = NULL;
    double *ch_level = NULL, *times = NULL;
    size_t ch_cap = 0, names_cap = 0, level_cap = 0, units_cap = 0, long_cap = 0;
    double *levels = dfl_xmalloc(sizeof(double) * (size_t)(nmsg > 0 ? nmsg : 1));
    int *picked = dfl_xmalloc(sizeof(int) * (size_t)(nmsg > 0 ? nmsg : 1));
    for (int v = 0; v < nvars && st == DFL_OK; ++v) {
        int nl = 0;
        const grib_msg *first = NULL;
        for (int i = 0; i < nmsg && st == DFL_OK; ++i) {
            if (msgs[i].var != v) continue;
            if (!first)
                first = &msgs[i];
            else if (strcmp(msgs[i].level_type, first->level_type))
                st = dfl_fail(DFL_EUSAGE,
                              "%s: variable '%s' comes on two kinds of levels, '%s' (message %ld) and '%s' (message "
                              "%ld); give them in separate files",
                              path, vars[v], first->level_type, first->number, msgs[i].level_type, msgs[i].number);
            levels[nl++] = msgs[i].level;
        }
        if (st != DFL_OK || !first) break; /* each variable has a message (index_messages) */
        nl = distinct(levels, nl);
        const int layered = vertical_type(first->level_type) || nl > 1;
        int npicked = 1;
        picked[0] = 0;
        if (layered) st = dfl_import_select_levels(path, vars[v], o->levels, levels, nl, picked, &npicked);
        for (int i = 0; i < npicked && st == DFL_OK; ++i) {
            const size_t c = (size_t)src->c;
            ch_var = dfl_xgrow(ch_var, &ch_cap, c + 1, sizeof *ch_var);
            ch_level = dfl_xgrow(ch_level, &level_cap, c + 1, sizeof *ch_level);
            src->channels = dfl_xgrow(src->channels, &names_cap, c + 1, sizeof *src->channels);
            src->units = dfl_xgrow(src->units, &units_cap, c + 1, sizeof *src->units);
            src->long_names = dfl_xgrow(src->long_names, &long_cap, c + 1, sizeof *src->long_names);
            src->units[c] = first->units[0] ? strdup(first->units) : NULL; /* carried to the dataset (xarray) */
            src->long_names[c] = first->name[0] ? strdup(first->name) : NULL;
            ch_var[c] = v;
            ch_level[c] = layered ? levels[picked[i]] : NAN; /* NAN: every level (there is one) */
            char name[160];
            if (layered)
                snprintf(name, sizeof name, "%s@%g", vars[v], levels[picked[i]]);
            else
                snprintf(name, sizeof name, "%s", vars[v]);
            src->channels[src->c++] = strdup(name);
        }
    }
    /* The channel of each message (-1: a level --levels leaves out); the
     * time axis: the distinct validity times of the kept messages. */
    int nt = 0;
    int *msg_ch = dfl_xmalloc(sizeof(int) * (size_t)(nmsg > 0 ? nmsg : 1));
    if (st == DFL_OK) {
        times = dfl_xmalloc(sizeof(double) * (size_t)(nmsg > 0 ? nmsg : 1));
        for (int i = 0; i < nmsg; ++i) {
            msg_ch[i] = -1;
            for (int k = 0; k < src->c && msg_ch[i] < 0; ++k)
                if (ch_var[k] == msgs[i].var && (isnan(ch_level[k]) || ch_level[k] == msgs[i].level)) msg_ch[i] = k;
            if (msg_ch[i] >= 0) times[nt++] = msgs[i].time;
        }
        nt = distinct(times, nt);
        src->t = nt;
        const size_t cells = (size_t)nt * (size_t)src->c;
        im->offset = dfl_xmalloc(sizeof(off_t) * (cells > 0 ? cells : 1));
        im->number = dfl_xcalloc(cells > 0 ? cells : 1, sizeof(long));
    }
    char when[40];
    for (int i = 0; i < nmsg && st == DFL_OK; ++i) {
        const grib_msg *m = &msgs[i];
        if (msg_ch[i] < 0) continue;
        const size_t k = (size_t)find_value(times, nt, m->time) * (size_t)src->c + (size_t)msg_ch[i];
        if (im->number[k]) {
            dfl_import_format_time(m->time, when, sizeof when);
            st = dfl_fail(DFL_EUSAGE,
                          "%s: variable '%s' level %g at %s is in two messages (%ld and %ld; ensemble members or "
                          "forecast steps? import one of them per file)",
                          path, vars[m->var], m->level, when, im->number[k], m->number);
        }
        im->offset[k] = m->offset;
        im->number[k] = m->number;
    }
    free(msg_ch);
    for (size_t k = 0; st == DFL_OK && k < (size_t)nt * (size_t)src->c; ++k)
        if (!im->number[k]) {
            const int c = (int)(k % (size_t)src->c);
            dfl_import_format_time(times[k / (size_t)src->c], when, sizeof when);
            const double lv = ch_level[c];
            double any = 0;
            for (int i = 0; i < nmsg; ++i)
                if (msgs[i].var == ch_var[c]) any = msgs[i].level;
            st = dfl_fail(DFL_EUSAGE,
                          "%s: no message of variable '%s' level %g at %s (other variables or levels have one)", path,
                          vars[ch_var[c]], isnan(lv) ? any : lv, when);
        }
    if (st == DFL_OK) {
        src->h = (int)im->grid.nj;
        src->w = (int)im->grid.ni;
        src->lat = dfl_xmalloc(sizeof(double) * (size_t)src->h);
        src->lon = dfl_xmalloc(sizeof(double) * (size_t)src->w);
        grid_axes(&im->grid, src->lat, src->lon);
        src->time = times;
        times = NULL;
    }
    free(times);
    free(levels);
    free(picked);
    free(ch_var);
    free(ch_level);
    free(msgs);
    dfl_h5_strings_free(vars, (size_t)nvars);
    if (st != DFL_OK) {
        grib_close(src);
        return st;
    }
    *out = src;
    return DFL_OK;
}
