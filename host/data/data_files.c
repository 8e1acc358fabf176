/* Shared pieces of dataset files: per-channel moments of observed entries,
 * the common attributes and their parsing (host/data/data_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"
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

dfl_status dfl_data_check_distinct(const char *in, const char *out) {
    struct stat a, b;
    if (!strcmp(in, out) || (stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
        return dfl_fail(DFL_EUSAGE, "%s: --out is the input file; write to another path", out);
    return DFL_OK;
}
