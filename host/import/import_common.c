/* Shared part of `dynfill import` (host/import/import.h): time selection, global
 * longitude detection, and writing the dataset or truth file. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "data/data_write.h"
#include "import.h"
#include "io/h5_util_data.h"

static int parse_index(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 30) return 0;
    char buf[32];
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || v < 0) return 0;
    *out = v;
    return 1;
}

dfl_status dfl_import_parse_time(const char *text, int64_t *t0, int64_t *t1) {
    const char *colon = strchr(text, ':');
    *t0 = 0;
    *t1 = -1;
    if (!colon) {
        if (!parse_index(text, strlen(text), t0))
            return dfl_fail(DFL_EUSAGE, "option --time: '%s' is not a time index or range a:b", text);
        *t1 = *t0 + 1;
        return DFL_OK;
    }
    size_t la = (size_t)(colon - text), lb = strlen(colon + 1);
    if ((la && !parse_index(text, la, t0)) || (lb && !parse_index(colon + 1, lb, t1)))
        return dfl_fail(DFL_EUSAGE, "option --time: '%s' is not a range a:b of time indices (b excluded)", text);
    if (*t1 >= 0 && *t1 <= *t0) return dfl_fail(DFL_EUSAGE, "option --time: range '%s' is empty", text);
    return DFL_OK;
}

dfl_status dfl_import_select_time(const char *path, const dfl_import_options *o, int64_t t_total, int64_t *first,
                                  int64_t *count) {
    int64_t a = o->t0, b = o->t1 < 0 ? t_total : o->t1;
    if (a >= t_total || b > t_total)
        return dfl_fail(DFL_EUSAGE, "%s: --time %lld:%lld is outside the %lld time steps", path, (long long)a,
                        (long long)b, (long long)t_total);
    *first = a;
    *count = b - a;
    if (*count <= 0) return dfl_fail(DFL_EUSAGE, "%s: the selected time range is empty", path);
    return DFL_OK;
}

/* The level indices of a vertical axis with `n` values (NULL: unnamed) that
 * --levels selects (all without it); DFL_EUSAGE naming a level that is not
 * there. */
dfl_status dfl_import_select_levels(const char *path, const char *var, const char *levels, const double *values, int n,
                                    int *picked, int *count) {
    *count = 0;
    if (!levels) {
        for (int l = 0; l < n; ++l) picked[(*count)++] = l;
        return DFL_OK;
    }
    const char *p = levels;
    while (*p) {
        char *end;
        const double want = strtod(p, &end);
        if (end == p || (*end && *end != ','))
            return dfl_fail(DFL_EUSAGE, "option --levels: '%s' is not a comma-separated list of numbers", levels);
        int found = -1;
        for (int l = 0; l < n && found < 0; ++l) {
            const double have = values ? values[l] : (double)l;
            if (fabs(have - want) <= 1e-6 * fabs(want) + 1e-9) found = l;
        }
        if (found < 0) {
            char list[512] = "";
            size_t used = 0;
            for (int l = 0; l < n && used < 480; ++l)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%g", l ? ", " : "",
                                         values ? values[l] : (double)l);
            return dfl_fail(DFL_EUSAGE, "%s: variable '%s' has no level %g (levels: %s)", path, var, want, list);
        }
        for (int i = 0; i < *count; ++i)
            if (picked[i] == found)
                return dfl_fail(DFL_EUSAGE, "option --levels: level %g is given twice in '%s'", want, levels);
        picked[(*count)++] = found; /* distinct, so at most n of them */
        p = *end ? end + 1 : end;
    }
    return DFL_OK;
}

int dfl_import_lon_is_global(const double *lon, int n) {
    if (!lon || n < 2) return 0;
    const double d = lon[1] - lon[0];
    if (d == 0) return 0;
    for (int i = 1; i < n; ++i)
        if (fabs((lon[i] - lon[i - 1]) - d) > 1e-6 * fabs(d) + 1e-9) return 0;
    return fabs((double)n * fabs(d) - 360.0) < 1e-3 * fabs(d);
}

char **dfl_import_split_vars(const char *vars, int *count) {
    int n = 1;
    for (const char *c = vars; *c; ++c) n += *c == ',';
    char **names = dfl_xcalloc((size_t)n, sizeof *names);
    int k = 0;
    const char *begin = vars;
    for (const char *c = vars;; ++c) {
        if (*c == ',' || *c == 0) {
            size_t len = (size_t)(c - begin);
            char *s = dfl_xmalloc(len + 1);
            memcpy(s, begin, len);
            s[len] = 0;
            names[k++] = s;
            if (!*c) break;
            begin = c + 1;
        }
    }
    *count = k;
    return names;
}

/* Read one time step of every channel into x [C, H*W] (float) and valid [C, H*W]. */
static dfl_status read_step(dfl_import_source *src, int64_t t, double *tmp, float *x, uint8_t *valid) {
    const size_t plane = (size_t)src->h * (size_t)src->w;
    for (int ch = 0; ch < src->c; ++ch) {
        uint8_t *v = valid + (size_t)ch * plane;
        DFL_TRY(src->read(src, t, ch, tmp, v));
        float *xc = x + (size_t)ch * plane;
        for (size_t i = 0; i < plane; ++i) {
            const float f = (float)tmp[i];
            if (v[i] && !isfinite(f)) v[i] = 0; /* NaN, or outside float range */
            xc[i] = v[i] ? f : 0.0f;
        }
    }
    return DFL_OK;
}

dfl_status dfl_import_write(dfl_import_source *src, const dfl_import_options *o) {
    const int C = src->c, H = src->h, W = src->w;
    const int64_t T = src->t;
    const size_t plane = (size_t)H * (size_t)W, per = (size_t)C * plane;
    if (o->symmetry) { /* checked before anything is read or written */
        dfl_symmetry sym;
        DFL_TRY(
            dfl_data_parse_symmetry("--symmetry", o->symmetry, H, W, dfl_import_lon_is_global(src->lon, W), 0, &sym));
    }
    double *tmp = dfl_xmalloc(sizeof(double) * plane);
    float *x = dfl_xmalloc(sizeof(float) * per);
    uint8_t *valid = dfl_xmalloc(per);
    dfl_moments *mom = dfl_xcalloc((size_t)C, sizeof *mom);
    int shared_mask = 1;
    dfl_status st = DFL_OK;
    /* Pass 1: statistics, empty samples, whether all channels share a mask. */
    dfl_progress *prog = dfl_progress_begin("import scan", T, "steps");
    for (int64_t t = 0; t < T && st == DFL_OK; ++t) {
        st = read_step(src, t, tmp, x, valid);
        if (st != DFL_OK) break;
        size_t observed = 0;
        for (int ch = 0; ch < C; ++ch) {
            const uint8_t *v = valid + (size_t)ch * plane;
            for (size_t i = 0; i < plane; ++i) observed += v[i];
            if (ch > 0 && shared_mask && memcmp(v, valid, plane) != 0) shared_mask = 0;
            if (o->as_truth) {
                for (size_t i = 0; i < plane; ++i)
                    if (!v[i]) {
                        st = dfl_fail(DFL_EUSAGE,
                                      "%s: --truth needs complete fields, but %s is missing at time step %lld, row "
                                      "%zu, column %zu",
                                      src->path, src->channels[ch], (long long)(o->t0 + t), i / (size_t)W,
                                      i % (size_t)W);
                        break;
                    }
                if (st != DFL_OK) break;
            }
            dfl_moments part = {0, 0, 0};
            dfl_moments_add_values(&part, x + (size_t)ch * plane, v, plane);
            dfl_moments_merge(&mom[ch], &part);
        }
        if (st == DFL_OK && observed == 0)
            st = dfl_fail(DFL_EUSAGE, "%s: time step %lld has no valid value in any variable (drop it with --time)",
                          src->path, (long long)(o->t0 + t));
        dfl_progress_update(prog, t + 1);
    }
    dfl_progress_end(prog);
    for (int ch = 0; st == DFL_OK && ch < C; ++ch)
        if (mom[ch].n == 0)
            st = dfl_fail(DFL_EUSAGE, "%s: %s has no valid value in the selected time steps", src->path,
                          src->channels[ch]);
    hid_t of = -1, dvals = -1, dmask = -1;
    char tmp_path[4096];
    const int MC = shared_mask ? 1 : C;
    if (st == DFL_OK) st = dfl_h5_atomic_begin(o->out, &of, tmp_path, sizeof tmp_path);
    if (st == DFL_OK) {
        unsigned long long dims[4] = {(unsigned long long)T, (unsigned long long)C, (unsigned long long)H,
                                      (unsigned long long)W};
        st = dfl_h5_create_dataset_layout(of, o->as_truth ? "/truth" : DFL_OBS_NAME, H5T_IEEE_F32LE, 4, dims,
                                          &o->layout, &dvals);
        if (st == DFL_OK && !o->as_truth) {
            dims[1] = (unsigned long long)MC;
            st = dfl_h5_create_dataset_layout(of, DFL_MASK_NAME, H5T_STD_U8LE, 4, dims, &o->layout, &dmask);
        }
        /* Pass 2: write one time step at a time. */
        prog = dfl_progress_begin("import write", T, "steps");
        for (int64_t t = 0; t < T && st == DFL_OK; ++t) {
            st = read_step(src, t, tmp, x, valid);
            if (st != DFL_OK) break;
            st = dfl_h5_write_rows(dvals, H5T_NATIVE_FLOAT, (unsigned long long)t, 1, x);
            if (st == DFL_OK && dmask >= 0)
                st = dfl_h5_write_rows(dmask, H5T_NATIVE_UCHAR, (unsigned long long)t, 1, valid);
            dfl_progress_update(prog, t + 1);
        }
        dfl_progress_end(prog);
        /* after a failure H5Fclose closes them (dfl_h5_atomic_abort) */
        if (st == DFL_OK) st = h5CheckWrite(of, H5Dclose(dvals));
        if (st == DFL_OK && dmask >= 0) st = h5CheckWrite(of, H5Dclose(dmask));
    }
    if (st == DFL_OK) {
        double *mean = dfl_xcalloc((size_t)C, sizeof(double)), *sd = dfl_xcalloc((size_t)C, sizeof(double));
        for (int ch = 0; ch < C; ++ch) {
            mean[ch] = mom[ch].mean;
            sd[ch] = dfl_moments_std(&mom[ch]);
        }
        char source[4096 + 512];
        char more[64] = "";
        if (o->n_inputs > 1) snprintf(more, sizeof more, " and %d more files", o->n_inputs - 1);
        snprintf(source, sizeof source, "dynfill import %s%s (%s): %s, time steps [%lld, %lld)", src->path, more,
                 src->format, o->vars, (long long)o->t0, (long long)(o->t0 + T));
        char pattern[4200];
        snprintf(pattern, sizeof pattern, "missing values of %s", src->path);
        dfl_data_attrs at = {0};
        at.c = C;
        at.channels = (const char *const *)src->channels;
        at.periodic = dfl_import_lon_is_global(src->lon, W) ? "x" : "none";
        at.symmetry = o->symmetry;
        at.source = source;
        at.lat = src->lat;
        at.lon = src->lon;
        at.h = H;
        at.w = W;
        if (!o->as_truth) {
            at.mean = mean;
            at.std = sd;
            at.mask_pattern = pattern;
        }
        at.units = (const char *const *)src->units;
        at.long_names = (const char *const *)src->long_names;
        st = dfl_data_write_attrs(of, &at);
        /* named dimensions; the source's time values as a CF /time axis */
        const char *vars[2] = {o->as_truth ? "/truth" : DFL_OBS_NAME, DFL_MASK_NAME};
        if (st == DFL_OK) st = dfl_data_write_dims(of, &at, T, src->time, vars, o->as_truth ? 1 : 2);
        free(mean);
        free(sd);
    }
    if (st == DFL_OK)
        st = dfl_h5_atomic_commit(of, tmp_path, o->out);
    else if (of >= 0)
        st = dfl_h5_atomic_abort(of, tmp_path, o->out, st);
    free(tmp);
    free(x);
    free(valid);
    free(mom);
    return st;
}

void dfl_import_source_free(dfl_import_source *src) {
    dfl_h5_strings_free(src->channels, (size_t)src->c);
    dfl_h5_strings_free(src->units, (size_t)src->c);
    dfl_h5_strings_free(src->long_names, (size_t)src->c);
    free(src->lat);
    free(src->lon);
    free(src->time);
    free(src);
}
