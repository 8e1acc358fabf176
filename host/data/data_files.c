/* Shared pieces of dataset files: per-channel moments of observed entries,
 * the common attributes and their parsing (host/data/data_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "io/h5_dims.h"
#include "io/h5_util_data.h"

/* Count and sum of the selected values, then the sum of squared
 * deviations from their mean. */
static void masked_sums(const float *restrict x, const uint8_t *restrict m, size_t count, double *n_out,
                        double *sum_out) {
    double n = 0, sum = 0;
    for (size_t i = 0; i < count; ++i) {
        const int on = m ? m[i] != 0 : 1;
        n += on;
        sum += on ? (double)x[i] : 0.0;
    }
    *n_out = n;
    *sum_out = sum;
}

static double masked_m2(const float *restrict x, const uint8_t *restrict m, size_t count, double mean) {
    double m2 = 0;
    for (size_t i = 0; i < count; ++i) {
        const double d = (!m || m[i]) ? (double)x[i] - mean : 0.0;
        m2 += d * d;
    }
    return m2;
}

void dfl_moments_add_values(dfl_moments *acc, const float *x, const uint8_t *m, size_t count) {
    /* Two passes over the chunk (exact mean, then squared deviations),
     * merged into the accumulator with Chan et al.'s pairwise formula, so
     * large offsets (geopotential ~ 5e4) lose no precision. Unselected
     * values are never read into the sums (they may be NaN). */
    double n, sum;
    masked_sums(x, m, count, &n, &sum);
    if (n == 0) return;
    const double mean = sum / n;
    dfl_moments part = {n, mean, masked_m2(x, m, count, mean)};
    dfl_moments_merge(acc, &part);
}

void dfl_moments_merge(dfl_moments *acc, const dfl_moments *part) {
    if (part->n == 0) return;
    if (acc->n == 0) {
        *acc = *part;
        return;
    }
    double n = acc->n + part->n;
    double delta = part->mean - acc->mean;
    acc->mean += delta * part->n / n;
    acc->m2 += part->m2 + delta * delta * acc->n * part->n / n;
    acc->n = n;
}

double dfl_moments_std(const dfl_moments *m) {
    if (m->n <= 0) return 1.0;
    double var = m->m2 / m->n;
    double sd = var > 0 ? sqrt(var) : 0.0;
    /* A constant channel: std 1 (normalising only shifts it). Also guard
     * a std that is pure rounding noise relative to the mean. */
    if (!(sd > 1e-12 * (fabs(m->mean) + 1e-30)) || sd == 0) return 1.0;
    return sd;
}

dfl_status dfl_data_write_attrs(hid_t file, const dfl_data_attrs *a) {
    DFL_TRY(dfl_h5_attr_write_strings(file, "channels", a->channels, (size_t)a->c));
    DFL_TRY(dfl_h5_attr_write_string(file, "periodic", a->periodic ? a->periodic : "none"));
    DFL_TRY(dfl_h5_attr_write_string(file, "source", a->source ? a->source : ""));
    if (a->mask_pattern) DFL_TRY(dfl_h5_attr_write_string(file, "mask_pattern", a->mask_pattern));
    if (a->symmetry && a->symmetry[0]) DFL_TRY(dfl_h5_attr_write_string(file, "symmetry", a->symmetry));
    if (a->mean && a->std) {
        /* Always arrays (one value per channel), also for C = 1. */
        hsize_t d = (hsize_t)a->c;
        const char *names[2] = {"mean", "std"};
        const double *vals[2] = {a->mean, a->std};
        for (int k = 0; k < 2; ++k) {
            if (H5Aexists(file, names[k]) > 0) DFL_TRY(h5CheckWrite(file, H5Adelete(file, names[k])));
            hid_t sp = H5Screate_simple(1, &d, NULL);
            h5Check(sp);
            hid_t at = H5Acreate2(file, names[k], H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
            dfl_status s = h5CheckWrite(file, at);
            if (s == DFL_OK) {
                s = h5CheckWrite(file, H5Awrite(at, H5T_NATIVE_DOUBLE, vals[k]));
                dfl_status c = h5CheckWrite(file, H5Aclose(at));
                if (s == DFL_OK) s = c;
            }
            H5Sclose(sp);
            DFL_TRY(s);
        }
    }
    if (a->lat) DFL_TRY(dfl_h5_attr_write_doubles(file, "lat", a->lat, (size_t)a->h));
    if (a->lon) DFL_TRY(dfl_h5_attr_write_doubles(file, "lon", a->lon, (size_t)a->w));
    return DFL_OK;
}

/* The one non-empty value every channel shares, or NULL. */
static const char *common_value(const char *const *v, int c) {
    if (!v || c < 1 || !v[0] || !v[0][0]) return NULL;
    for (int i = 1; i < c; ++i)
        if (!v[i] || strcmp(v[i], v[0])) return NULL;
    return v[0];
}

static dfl_status write_strings_or_empty(hid_t obj, const char *name, const char *const *v, int c) {
    if (!v) return DFL_OK;
    int known = 0;
    const char **items = dfl_xcalloc((size_t)c, sizeof *items);
    for (int i = 0; i < c; ++i) {
        items[i] = v[i] ? v[i] : "";
        known |= items[i][0] != 0;
    }
    dfl_status s = known ? dfl_h5_attr_write_strings(obj, name, items, (size_t)c) : DFL_OK;
    free(items);
    return s;
}

/* A 1-D coordinate with CF attributes (pairs name, value; NULL ends). */
static dfl_status coord_attrs(hid_t file, const char *name, const char *const *kv) {
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    h5Check(ds);
    dfl_status s = DFL_OK;
    for (int i = 0; kv[i] && s == DFL_OK; i += 2) s = dfl_h5_attr_write_string(ds, kv[i], kv[i + 1]);
    dfl_status c = h5CheckWrite(file, H5Dclose(ds));
    return s != DFL_OK ? s : c;
}

static dfl_status index_scale(hid_t file, const char *name, int64_t n, const char *long_name) {
    int64_t *idx = dfl_xmalloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; ++i) idx[i] = i;
    dfl_status s = dfl_h5_scale_create(file, name, H5T_STD_I64LE, H5T_NATIVE_INT64, (size_t)n, idx);
    free(idx);
    const char *kv[] = {"long_name", long_name, NULL};
    if (s == DFL_OK) s = coord_attrs(file, name, kv);
    return s;
}

dfl_status dfl_data_write_dims(hid_t file, const dfl_data_attrs *a, int64_t n, const double *time,
                               const char *const *vars, int nvars) {
    /* sample axis: time when the source had times, else an index */
    const char *sample = "/sample";
    int rank = 0;
    unsigned long long td[8];
    if (time) {
        DFL_ASSERT(!dfl_h5_has(file, "/time"));
        DFL_TRY(dfl_h5_scale_create(file, "/time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (size_t)n, time));
        const char *kv[] = {"units",
                            "seconds since 1970-01-01 00:00:00",
                            "standard_name",
                            "time",
                            "calendar",
                            "proleptic_gregorian",
                            "axis",
                            "T",
                            NULL};
        DFL_TRY(coord_attrs(file, "/time", kv));
        sample = "/time";
    } else if (dfl_h5_has(file, "/time") && dfl_h5_dataset_shape(file, "", "/time", &rank, td) == DFL_OK && rank == 1 &&
               td[0] == (unsigned long long)n) {
        DFL_TRY(dfl_h5_scale_mark(file, "/time"));
        sample = "/time";
    } else {
        dfl_clear_error();
        DFL_TRY(index_scale(file, "/sample", n, "sample index"));
    }
    /* channel axis: the names as a string coordinate */
    DFL_TRY(dfl_h5_scale_create_strings(file, "/channel", a->channels, (size_t)a->c));
    {
        hid_t ch = H5Dopen2(file, "/channel", H5P_DEFAULT);
        h5Check(ch);
        dfl_status s = dfl_h5_attr_write_string(ch, "long_name", "channel");
        if (s == DFL_OK) s = write_strings_or_empty(ch, "channel_units", a->units, a->c);
        if (s == DFL_OK) s = write_strings_or_empty(ch, "channel_long_names", a->long_names, a->c);
        dfl_status c = h5CheckWrite(file, H5Dclose(ch));
        DFL_TRY(s);
        DFL_TRY(c);
    }
    /* grid axes: latitude/longitude when known, else row/column indices */
    const char *ys = "/y", *xs = "/x";
    if (a->lat) {
        DFL_TRY(dfl_h5_scale_create(file, "/lat", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (size_t)a->h, a->lat));
        const char *kv[] = {"units", "degrees_north", "standard_name", "latitude", "long_name", "latitude", "axis", "Y",
                            NULL};
        DFL_TRY(coord_attrs(file, "/lat", kv));
        ys = "/lat";
    } else {
        DFL_TRY(index_scale(file, "/y", a->h, "row"));
    }
    if (a->lon) {
        DFL_TRY(dfl_h5_scale_create(file, "/lon", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (size_t)a->w, a->lon));
        const char *kv[] = {
            "units", "degrees_east", "standard_name", "longitude", "long_name", "longitude", "axis", "X", NULL};
        DFL_TRY(coord_attrs(file, "/lon", kv));
        xs = "/lon";
    } else {
        DFL_TRY(index_scale(file, "/x", a->w, "column"));
    }
    const char *units = common_value(a->units, a->c), *long_name = common_value(a->long_names, a->c);
    int have_mask_channel = 0;
    for (int v = 0; v < nvars; ++v) {
        unsigned long long d[8];
        DFL_TRY(dfl_h5_dataset_shape(file, "", vars[v], &rank, d));
        DFL_ASSERT(rank == 4 && d[0] == (unsigned long long)n && (d[1] == (unsigned long long)a->c || d[1] == 1));
        const char *channel = "/channel";
        if (d[1] != (unsigned long long)a->c) { /* a mask shared by all channels */
            if (!have_mask_channel) {
                const char *all[1] = {"all"};
                DFL_TRY(dfl_h5_scale_create_strings(file, "/mask_channel", all, 1));
                const char *kv[] = {"long_name", "channels the mask applies to", NULL};
                DFL_TRY(coord_attrs(file, "/mask_channel", kv));
                have_mask_channel = 1;
            }
            channel = "/mask_channel";
        }
        const char *scales[4] = {sample, channel, ys, xs};
        DFL_TRY(dfl_h5_scale_attach(file, vars[v], 4, scales));
        hid_t ds = H5Dopen2(file, vars[v], H5P_DEFAULT);
        h5Check(ds);
        dfl_status s = DFL_OK;
        if (!strcmp(vars[v], DFL_MASK_NAME)) {
            s = dfl_h5_attr_write_string(ds, "long_name", "observed (1) or missing (0)");
        } else {
            if (units) s = dfl_h5_attr_write_string(ds, "units", units);
            if (s == DFL_OK && long_name) s = dfl_h5_attr_write_string(ds, "long_name", long_name);
        }
        dfl_status c = h5CheckWrite(file, H5Dclose(ds));
        DFL_TRY(s);
        DFL_TRY(c);
    }
    return DFL_OK;
}

void dfl_data_read_channel_meta(hid_t file, int c, char ***units, char ***long_names) {
    *units = *long_names = NULL;
    if (!dfl_h5_has(file, "/channel")) return;
    hid_t ch = H5Dopen2(file, "/channel", H5P_DEFAULT);
    if (ch < 0) return;
    const char *names[2] = {"channel_units", "channel_long_names"};
    char ***outs[2] = {units, long_names};
    for (int k = 0; k < 2; ++k) {
        char **v = NULL;
        size_t nv = 0;
        if (!dfl_h5_attr_exists(ch, names[k])) continue;
        if (dfl_h5_attr_read_strings(ch, "", names[k], &v, &nv) != DFL_OK) {
            dfl_clear_error();
            continue;
        }
        if (nv == (size_t)c)
            *outs[k] = v;
        else
            dfl_h5_strings_free(v, nv);
    }
    H5Dclose(ch);
}

char **dfl_data_channel_names(const char *base, int c) {
    char **names = dfl_xcalloc((size_t)c, sizeof *names);
    for (int i = 0; i < c; ++i) {
        char buf[256];
        if (c == 1)
            snprintf(buf, sizeof buf, "%s", base);
        else
            snprintf(buf, sizeof buf, "%s_t%d", base, i);
        names[i] = strdup(buf);
    }
    return names;
}

dfl_status dfl_data_parse_periodic(const char *what, const char *text, int *px, int *py) {
    if (!strcmp(text, "none") || !strcmp(text, "")) {
        *px = *py = 0;
    } else if (!strcmp(text, "x")) {
        *px = 1;
        *py = 0;
    } else if (!strcmp(text, "y")) {
        *px = 0;
        *py = 1;
    } else if (!strcmp(text, "xy") || !strcmp(text, "yx")) {
        *px = *py = 1;
    } else {
        return dfl_fail(DFL_EUSAGE, "%s: periodic is '%s'; expected none, x, y or xy", what, text);
    }
    return DFL_OK;
}

dfl_status dfl_data_parse_layout(const char *layout, const char *compress, dfl_h5_layout *out) {
    out->chunked = 0;
    out->deflate = 0;
    if (compress) {
        char *end = NULL;
        long k = strtol(compress, &end, 10);
        if (!*compress || *end || k < 0 || k > 9)
            return dfl_fail(DFL_EUSAGE, "option --compress: '%s' is not a deflate level 0-9", compress);
        out->deflate = (int)k;
    }
    if (!layout) {
        out->chunked = out->deflate > 0;
    } else if (!strcmp(layout, "chunked")) {
        out->chunked = 1;
    } else if (!strcmp(layout, "contiguous")) {
        if (out->deflate > 0)
            return dfl_fail(DFL_EUSAGE,
                            "option --compress %d needs --layout chunked (contiguous data is not compressed)",
                            out->deflate);
    } else {
        return dfl_fail(DFL_EUSAGE, "option --layout: '%s' is not contiguous or chunked", layout);
    }
    return DFL_OK;
}

dfl_status dfl_data_check_distinct(const char *in, const char *out) {
    struct stat a, b;
    if (!strcmp(in, out) || (stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
        return dfl_fail(DFL_EUSAGE, "%s: --out is the input file; write to another path", out);
    return DFL_OK;
}

dfl_status dfl_data_parse_symmetry(const char *what, const char *text, int h, int w, int px, int py,
                                   dfl_symmetry *out) {
    memset(out, 0, sizeof *out);
    if (!text[0] || !strcmp(text, "none")) return DFL_OK;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',') ++p;
        if (!*p) break;
        size_t len = strcspn(p, ",");
        char tok[64];
        if (len >= sizeof tok) goto bad;
        memcpy(tok, p, len);
        tok[len] = 0;
        while (len > 0 && tok[len - 1] == ' ') tok[--len] = 0;
        p += strcspn(p, ",");
        int step = 1;
        char *colon = strchr(tok, ':');
        if (colon) {
            char *e = NULL;
            long v = strtol(colon + 1, &e, 10);
            if (e == colon + 1 || *e || v < 1 || v > 1 << 20) goto bad;
            step = (int)v;
            *colon = 0;
        }
        if (!strcmp(tok, "shift_x") || !strcmp(tok, "shift_y")) {
            const int is_x = tok[6] == 'x', n = is_x ? w : h;
            if (!(is_x ? px : py))
                return dfl_fail(DFL_EUSAGE, "%s: symmetry '%s': %s needs the %s axis periodic", what, text, tok,
                                is_x ? "x" : "y");
            if (n % step != 0)
                return dfl_fail(DFL_EUSAGE, "%s: symmetry '%s': step %d of %s does not divide %d", what, text, step,
                                tok, n);
            *(is_x ? &out->shift_x : &out->shift_y) = step;
        } else if (colon) {
            goto bad;
        } else if (!strcmp(tok, "flip_x")) {
            out->flip_x = 1;
        } else if (!strcmp(tok, "flip_y")) {
            out->flip_y = 1;
        } else if (!strcmp(tok, "rot180")) {
            out->rot180 = 1;
        } else if (!strcmp(tok, "rot90")) {
            if (h != w)
                return dfl_fail(DFL_EUSAGE, "%s: symmetry '%s': rot90 needs a square field (%dx%d)", what, text, h, w);
            out->rot90 = 1;
        } else {
            goto bad;
        }
    }
    return DFL_OK;
bad:
    return dfl_fail(DFL_EUSAGE,
                    "%s: symmetry is '%s'; expected none or a comma list of shift_x[:P], shift_y[:P], flip_x, flip_y, "
                    "rot90, rot180",
                    what, text);
}
