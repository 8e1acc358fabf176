/* Opening and validating prediction / truth files (data/pred_read.h). */
#include "pred_read.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5_util.h"

static void format_shape(char *buf, size_t len, int rank, const unsigned long long *d) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "[");
    for (int i = 0; i < rank && k < len; ++i) k += (size_t)snprintf(buf + k, len - k, i ? ",%llu" : "%llu", d[i]);
    if (k < len) snprintf(buf + k, len - k, "]");
}

/* Split a scalar string into names at commas and whitespace. */
static int split_names(const char *text, char **names, int max) {
    int count = 0;
    const char *p = text;
    while (*p && count < max) {
        while (*p && (*p == ',' || isspace((unsigned char)*p))) ++p;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p)) ++p;
        names[count] = strndup(start, (size_t)(p - start));
        ++count;
    }
    return count;
}

/* Strings of attribute `attr` (scalar or 1-D array, fixed or variable
 * length); a scalar is split into names when split is set. */
static int read_strings(hid_t obj, const char *attr, char **names, int max, int split) {
    if (H5Aexists(obj, attr) <= 0) return 0;
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int count = 0;
    hssize_t npts = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(t) == H5T_STRING && npts >= 1) {
        const int vlen = H5Tis_variable_str(t) > 0;
        hid_t mt = H5Tcopy(H5T_C_S1);
        /* HDF5 will not convert between character sets; h5py writes UTF-8. */
        h5Check(H5Tset_cset(mt, H5Tget_cset(t)));
        if (vlen) {
            h5Check(H5Tset_size(mt, H5T_VARIABLE));
            char **v = dfl_xcalloc((size_t)npts, sizeof *v);
            if (H5Aread(a, mt, v) >= 0) {
                if (npts == 1)
                    count = !v[0] ? 0 : split ? split_names(v[0], names, max) : (names[0] = strdup(v[0]), 1);
                else
                    for (hssize_t i = 0; i < npts && count < max; ++i) names[count++] = strdup(v[i] ? v[i] : "");
                hid_t msp = H5Screate_simple(1, (hsize_t[]){(hsize_t)npts}, NULL);
                H5Dvlen_reclaim(mt, msp, H5P_DEFAULT, v);
                H5Sclose(msp);
            }
            free(v);
        } else {
            const size_t len = H5Tget_size(t);
            h5Check(H5Tset_size(mt, len));
            h5Check(H5Tset_strpad(mt, H5T_STR_NULLPAD));
            char *buf = dfl_xcalloc((size_t)npts * len + 1, 1);
            if (H5Aread(a, mt, buf) >= 0) {
                if (npts == 1 && split)
                    count = split_names(buf, names, max);
                else if (npts == 1)
                    count = (names[0] = strdup(buf), 1);
                else
                    for (hssize_t i = 0; i < npts && count < max; ++i) names[count++] = strndup(buf + i * len, len);
            }
            free(buf);
        }
        H5Tclose(mt);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return count;
}

int dfl_pred_read_name_list(hid_t obj, const char *attr, char **names, int max) {
    return read_strings(obj, attr, names, max, 1);
}

void dfl_pred_input_close(dfl_pred_input *in) {
    if (in->pred >= 0) H5Fclose(in->pred);
    if (in->truth >= 0) H5Fclose(in->truth);
    in->pred = in->truth = -1;
    if (in->names) {
        for (int i = 0; i < in->c; ++i) free(in->names[i]);
        free(in->names);
        in->names = NULL;
    }
    free(in->lat);
    in->lat = NULL;
    free(in->method);
    in->method = NULL;
}

/* True when attribute `name` exists and holds exactly one element. */
static int attr_is_scalar(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t sp = H5Aget_space(a);
    const int one = H5Sget_simple_extent_npoints(sp) == 1;
    H5Sclose(sp);
    H5Aclose(a);
    return one;
}

/* dims of a rank-4 dataset, or DFL_EUSAGE naming it. */
static dfl_status shape4(hid_t f, const char *path, const char *name, unsigned long long d[8]) {
    int rank;
    DFL_TRY(dfl_h5_dataset_shape(f, path, name, &rank, d));
    if (rank != 4) {
        char s[128];
        format_shape(s, sizeof s, rank, d);
        return dfl_fail(DFL_EUSAGE, "%s: dataset %s has shape %s, expected 4 dimensions [N,C,H,W]", path, name, s);
    }
    for (int i = 0; i < 4; ++i)
        if (d[i] == 0) return dfl_fail(DFL_EUSAGE, "%s: dataset %s is empty", path, name);
    return DFL_OK;
}

static dfl_status open_checked(const char *pred_path, const char *truth_path, dfl_pred_input *in) {
    DFL_TRY(dfl_h5_open_read(pred_path, &in->pred));
    unsigned long long pd[8], md[8], d[8];
    char ps[128], s[128];
    DFL_TRY(shape4(in->pred, pred_path, "/pred", pd));
    format_shape(ps, sizeof ps, 4, pd);
    if (pd[0] > 0x7fffffff || pd[1] > 4096 || pd[2] > 65536 || pd[3] > 65536 || pd[2] * pd[3] > (1ull << 30))
        return dfl_fail(DFL_EUSAGE, "%s: dataset /pred shape %s is too large", pred_path, ps);
    in->n = (int)pd[0];
    in->c = (int)pd[1];
    in->h = (int)pd[2];
    in->w = (int)pd[3];

    DFL_TRY(shape4(in->pred, pred_path, "/mask", md));
    if (md[0] != pd[0] || (md[1] != 1 && md[1] != pd[1]) || md[2] != pd[2] || md[3] != pd[3]) {
        format_shape(s, sizeof s, 4, md);
        return dfl_fail(DFL_EUSAGE,
                        "%s: dataset /mask has shape %s, expected [%llu,1|%llu,%llu,%llu] to match /pred %s", pred_path,
                        s, pd[0], pd[1], pd[2], pd[3], ps);
    }
    in->mask_channels = (int)md[1];

    in->has_std = dfl_h5_has(in->pred, "/std");
    if (in->has_std) {
        DFL_TRY(shape4(in->pred, pred_path, "/std", d));
        if (memcmp(d, pd, 4 * sizeof d[0])) {
            format_shape(s, sizeof s, 4, d);
            return dfl_fail(DFL_EUSAGE, "%s: dataset /std has shape %s, but /pred has %s", pred_path, s, ps);
        }
    }

    /* /members [N, K, C, H, W]: the ensemble members (impute --members) */
    if (dfl_h5_has(in->pred, "/members")) {
        int rank;
        DFL_TRY(dfl_h5_dataset_shape(in->pred, pred_path, "/members", &rank, d));
        format_shape(s, sizeof s, rank, d);
        if (rank != 5 || d[0] != pd[0] || d[1] < 1 || d[1] > 65536 || d[2] != pd[1] || d[3] != pd[2] || d[4] != pd[3])
            return dfl_fail(DFL_EUSAGE,
                            "%s: dataset /members has shape %s, expected [%llu,K,%llu,%llu,%llu] with 1 <= K <= 65536 "
                            "to match /pred %s",
                            pred_path, s, pd[0], pd[1], pd[2], pd[3], ps);
        in->members = (int)d[1];
    }

    if (truth_path) {
        DFL_TRY(dfl_h5_open_read(truth_path, &in->truth));
        DFL_TRY(shape4(in->truth, truth_path, "/truth", d));
        if (memcmp(d, pd, 4 * sizeof d[0])) {
            format_shape(s, sizeof s, 4, d);
            return dfl_fail(DFL_EUSAGE, "%s: dataset /truth has shape %s, but %s /pred has %s", truth_path, s,
                            pred_path, ps);
        }
    }

    /* Latitudes: the truth file's, else the prediction's (copied from the dataset). */
    hid_t lat_file = -1;
    if (in->truth >= 0 && dfl_h5_attr_exists(in->truth, "lat")) {
        lat_file = in->truth;
        in->lat_from = truth_path;
    } else if (dfl_h5_attr_exists(in->pred, "lat")) {
        lat_file = in->pred;
        in->lat_from = pred_path;
    }
    if (lat_file >= 0) {
        in->lat = dfl_xmalloc((size_t)in->h * sizeof *in->lat);
        DFL_TRY(dfl_h5_attr_read_doubles(lat_file, in->lat_from, "lat", in->lat, (size_t)in->h));
    }

    /* Runs of consecutive samples from one trajectory (`dynfill gen --samples-per-run`) */
    in->samples_per_run = 1;
    if (in->truth >= 0 && dfl_h5_attr_exists(in->truth, "gen_samples_per_run")) {
        long long k = 0;
        DFL_TRY(dfl_h5_attr_read_long(in->truth, truth_path, "gen_samples_per_run", &k));
        if (k < 1 || k > INT_MAX)
            return dfl_fail(DFL_EUSAGE, "%s: attribute gen_samples_per_run %lld is not a positive count", truth_path,
                            k);
        in->samples_per_run = (int)k;
    }

    /* Channel names: the prediction's attribute, else the truth's, else
     * indices. Where both files name their C channels, the names agree in
     * order: the shapes alone would let a prediction be scored against
     * another data set's truth (or its channels in another order). */
    char **pred_names = dfl_xcalloc((size_t)in->c + 1, sizeof *pred_names);
    char **truth_names = dfl_xcalloc((size_t)in->c + 1, sizeof *truth_names);
    const int n_pred = dfl_pred_read_name_list(in->pred, "channels", pred_names, in->c + 1);
    const int n_truth = in->truth >= 0 ? dfl_pred_read_name_list(in->truth, "channels", truth_names, in->c + 1) : 0;
    dfl_status st = DFL_OK;
    for (int i = 0; n_pred == in->c && n_truth == in->c && st == DFL_OK && i < in->c; ++i)
        if (strcmp(truth_names[i], pred_names[i]))
            st = dfl_fail(DFL_EUSAGE,
                          "%s: attribute channels names channel %d '%s', but %s names it '%s': is this the truth of "
                          "that prediction?",
                          truth_path, i, truth_names[i], pred_path, pred_names[i]);
    char **names = n_pred == in->c ? pred_names : n_truth == in->c ? truth_names : NULL;
    in->names = dfl_xcalloc((size_t)in->c, sizeof *in->names);
    for (int i = 0; i < in->c; ++i) {
        char b[16];
        snprintf(b, sizeof b, "%d", i);
        in->names[i] = strdup(names ? names[i] : b);
    }
    for (int i = 0; i < n_pred; ++i) free(pred_names[i]);
    for (int i = 0; i < n_truth; ++i) free(truth_names[i]);
    free(pred_names);
    free(truth_names);
    DFL_TRY(st);
    char *method[1] = {NULL};
    if (attr_is_scalar(in->pred, "method") && read_strings(in->pred, "method", method, 1, 0) == 1)
        in->method = method[0];
    return DFL_OK;
}

dfl_status dfl_pred_input_open(const char *pred_path, const char *truth_path, dfl_pred_input *in) {
    memset(in, 0, sizeof *in);
    in->pred = in->truth = -1;
    in->pred_path = pred_path;
    in->truth_path = truth_path;
    dfl_status st = open_checked(pred_path, truth_path, in);
    if (st != DFL_OK) dfl_pred_input_close(in);
    return st;
}

dfl_status dfl_pred_input_read_pred(const dfl_pred_input *in, int start, int rows, float *out) {
    return dfl_h5_read_float_rows(in->pred, in->pred_path, "/pred", (unsigned long long)start, (unsigned long long)rows,
                                  out);
}

dfl_status dfl_pred_input_read_truth(const dfl_pred_input *in, int start, int rows, float *out) {
    DFL_ASSERT(in->truth >= 0);
    return dfl_h5_read_float_rows(in->truth, in->truth_path, "/truth", (unsigned long long)start,
                                  (unsigned long long)rows, out);
}

dfl_status dfl_pred_input_read_std(const dfl_pred_input *in, int start, int rows, float *out) {
    DFL_ASSERT(in->has_std);
    return dfl_h5_read_float_rows(in->pred, in->pred_path, "/std", (unsigned long long)start, (unsigned long long)rows,
                                  out);
}

dfl_status dfl_pred_input_read_mask(const dfl_pred_input *in, int start, int rows, unsigned char *out) {
    return dfl_h5_read_u8_rows(in->pred, in->pred_path, "/mask", (unsigned long long)start, (unsigned long long)rows,
                               out);
}

dfl_status dfl_pred_input_read_members(const dfl_pred_input *in, int start, int rows, float *out) {
    DFL_ASSERT(in->members > 0);
    return dfl_h5_read_float_rows(in->pred, in->pred_path, "/members", (unsigned long long)start,
                                  (unsigned long long)rows, out);
}
