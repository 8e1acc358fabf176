/* Prediction files: /pred, /std, /mask and optionally /members in the data's
 * units with the source dataset's attributes (include/dynfill/data.h,
 * docs/design.md, "Files"). */
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "io/h5_dims.h"
#include "io/h5_util_data.h"

struct dfl_pred_writer {
    const dfl_dataset *src;
    int64_t start, count;
    hid_t file, dpred, dstd, dmask, dmembers; /* dmembers < 0 without /members */
    int members;                              /* K of /members, 0 without */
    char tmp_path[4096];
    char *final_path;
    uint8_t *written; /* per row */
    float *raw;       /* one sample of source obs */
    uint8_t *mask;    /* one sample of source mask */
    float *out_pred, *out_std, *out_member;
};

/* Named dimensions of /pred, /std, /mask: the source's channels, grid and
 * time values of rows [start, start + count) when it has a /time axis. */
static dfl_status write_dims(hid_t file, const dfl_dataset *src, int64_t start, int64_t count) {
    const dfl_dataset_info *in = &src->info;
    double *time = NULL;
    int rank = 0;
    unsigned long long td[8];
    if (dfl_h5_has(src->file, "/time") && dfl_h5_dataset_shape(src->file, in->path, "/time", &rank, td) == DFL_OK &&
        rank == 1 && td[0] == (unsigned long long)in->n) {
        unsigned long long first = (unsigned long long)start, n = (unsigned long long)count;
        time = dfl_xmalloc(sizeof(double) * (size_t)count);
        if (dfl_h5_read_box(src->file, in->path, "/time", H5T_NATIVE_DOUBLE, 1, &first, &n, time) != DFL_OK) {
            free(time);
            time = NULL;
        }
    }
    dfl_clear_error();
    char **units = NULL, **long_names = NULL;
    dfl_data_read_channel_meta(src->file, in->c, &units, &long_names);
    dfl_data_attrs at = {0};
    at.c = in->c;
    at.channels = in->channels;
    at.lat = in->lat;
    at.lon = in->lon;
    at.h = in->h;
    at.w = in->w;
    at.units = (const char *const *)units;
    at.long_names = (const char *const *)long_names;
    const char *vars[3] = {"/pred", "/std", "/mask"};
    dfl_status st = dfl_data_write_dims(file, &at, count, time, vars, 3);
    free(time);
    dfl_h5_strings_free(units, (size_t)in->c);
    dfl_h5_strings_free(long_names, (size_t)in->c);
    return st;
}

dfl_status dfl_pred_create(const char *path, const dfl_dataset *src, int64_t start, int64_t count,
                           dfl_pred_writer **out) {
    *out = NULL;
    const dfl_dataset_info *in = &src->info;
    if (start < 0 || count < 1 || start + count > in->n)
        return dfl_fail(DFL_EUSAGE, "%s: prediction range [%lld, %lld) is outside the %lld samples", in->path,
                        (long long)start, (long long)(start + count), (long long)in->n);
    dfl_pred_writer *w = dfl_xcalloc(1, sizeof *w);
    w->src = src;
    w->start = start;
    w->count = count;
    dfl_status st = dfl_h5_atomic_begin(path, &w->file, w->tmp_path, sizeof w->tmp_path);
    if (st != DFL_OK) {
        free(w);
        return st;
    }
    w->final_path = strdup(path);
    w->dpred = w->dstd = w->dmask = w->dmembers = -1;
    unsigned long long d[4] = {(unsigned long long)count, (unsigned long long)in->c, (unsigned long long)in->h,
                               (unsigned long long)in->w};
    /* Attributes first (mean, std, channels, periodic, lat, lon, ...). */
    st = dfl_h5_attr_copy_all(src->file, w->file);
    if (st == DFL_OK) st = dfl_h5_attr_write_string(w->file, "source_file", in->path);
    if (st == DFL_OK) st = dfl_h5_attr_write_long(w->file, "source_start", (long long)start);
    if (st == DFL_OK) st = dfl_h5_create_dataset(w->file, "/pred", H5T_IEEE_F32LE, 4, d, &w->dpred);
    if (st == DFL_OK) st = dfl_h5_create_dataset(w->file, "/std", H5T_IEEE_F32LE, 4, d, &w->dstd);
    d[1] = (unsigned long long)in->mask_c;
    if (st == DFL_OK) st = dfl_h5_create_dataset(w->file, "/mask", H5T_STD_U8LE, 4, d, &w->dmask);
    if (st == DFL_OK) st = write_dims(w->file, src, start, count);
    if (st != DFL_OK) {
        st = dfl_h5_atomic_abort(w->file, w->tmp_path, path, st); /* closes the datasets made so far */
        free(w->final_path);
        free(w);
        return st;
    }
    const size_t plane = (size_t)in->h * (size_t)in->w;
    w->written = dfl_xcalloc((size_t)count, 1);
    w->raw = dfl_xmalloc(sizeof(float) * (size_t)in->c * plane);
    w->mask = dfl_xmalloc((size_t)in->mask_c * plane);
    w->out_pred = dfl_xmalloc(sizeof(float) * (size_t)in->c * plane);
    w->out_std = dfl_xmalloc(sizeof(float) * (size_t)in->c * plane);
    *out = w;
    return DFL_OK;
}

/* A string attribute of /pred copied to dataset `to` when present. */
static dfl_status copy_pred_attr(dfl_pred_writer *w, hid_t to, const char *name) {
    if (!dfl_h5_attr_exists(w->dpred, name)) return DFL_OK;
    char *value = NULL;
    DFL_TRY(dfl_h5_attr_read_string(w->dpred, w->final_path, name, &value));
    dfl_status s = dfl_h5_attr_write_string(to, name, value);
    free(value);
    return s;
}

dfl_status dfl_pred_add_members(dfl_pred_writer *w, int members) {
    const dfl_dataset_info *in = &w->src->info;
    if (w->dmembers >= 0) return dfl_fail(DFL_EINTERNAL, "%s: /members was added twice", w->final_path);
    if (members < 1) return dfl_fail(DFL_EINTERNAL, "%s: /members needs K >= 1, not %d", w->final_path, members);
    const unsigned long long d[5] = {(unsigned long long)w->count, (unsigned long long)members,
                                     (unsigned long long)in->c, (unsigned long long)in->h, (unsigned long long)in->w};
    DFL_TRY(dfl_h5_create_dataset(w->file, "/members", H5T_IEEE_F32LE, 5, d, &w->dmembers));
    w->members = members;
    /* named dimensions: (sample or time, member, channel, lat/y, lon/x), the member axis an index */
    int64_t *index = dfl_xmalloc(sizeof *index * (size_t)members);
    for (int k = 0; k < members; ++k) index[k] = k;
    dfl_status s = dfl_h5_scale_create(w->file, "/member", H5T_STD_I64LE, H5T_NATIVE_INT64, (size_t)members, index);
    free(index);
    DFL_TRY(s);
    hid_t scale = H5Dopen2(w->file, "/member", H5P_DEFAULT);
    h5Check(scale);
    s = dfl_h5_attr_write_string(scale, "long_name", "ensemble member");
    dfl_status c = h5CheckWrite(w->file, H5Dclose(scale));
    DFL_TRY(s);
    DFL_TRY(c);
    const char *scales[5] = {dfl_h5_has(w->file, "/time") ? "/time" : "/sample", "/member", "/channel",
                             dfl_h5_has(w->file, "/lat") ? "/lat" : "/y", dfl_h5_has(w->file, "/lon") ? "/lon" : "/x"};
    DFL_TRY(dfl_h5_scale_attach(w->file, "/members", 5, scales));
    DFL_TRY(copy_pred_attr(w, w->dmembers, "units"));
    DFL_TRY(copy_pred_attr(w, w->dmembers, "long_name"));
    w->out_member = dfl_xmalloc(sizeof(float) * (size_t)in->c * (size_t)in->h * (size_t)in->w);
    return DFL_OK;
}

/* Member `member` ([C, H, W]) of row `row` of /members. */
static dfl_status write_member(hid_t dset, unsigned long long row, int member, const float *data) {
    hid_t fsp = H5Dget_space(dset);
    h5Check(fsp);
    hsize_t dims[5], off[5] = {row, (hsize_t)member, 0, 0, 0}, cnt[5];
    DFL_ASSERT(H5Sget_simple_extent_ndims(fsp) == 5);
    h5Check(H5Sget_simple_extent_dims(fsp, dims, NULL));
    cnt[0] = cnt[1] = 1;
    for (int i = 2; i < 5; ++i) cnt[i] = dims[i];
    h5Check(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL));
    hid_t msp = H5Screate_simple(5, cnt, NULL);
    h5Check(msp);
    dfl_status s = h5CheckWrite(dset, H5Dwrite(dset, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, data));
    h5Check(H5Sclose(msp));
    h5Check(H5Sclose(fsp));
    return s;
}

dfl_status dfl_pred_write(dfl_pred_writer *w, int64_t row, int64_t rows, const float *pred, const float *spread,
                          const float *members) {
    const dfl_dataset_info *in = &w->src->info;
    if (row < 0 || rows < 0 || row + rows > w->count)
        return dfl_fail(DFL_EINTERNAL, "prediction rows [%lld, %lld) are outside [0, %lld)", (long long)row,
                        (long long)(row + rows), (long long)w->count);
    if ((members != NULL) != (w->dmembers >= 0))
        return dfl_fail(DFL_EINTERNAL, "%s: members given %s /members", w->final_path,
                        members ? "to a file without" : "without them, but the file has");
    const int C = in->c, MC = in->mask_c;
    const size_t plane = (size_t)in->h * (size_t)in->w, per = (size_t)C * plane;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t sample = w->start + row + r;
        DFL_TRY(dfl_dataset_read_crop(w->src, sample, 0, 0, in->h, in->w, w->raw, w->mask, NULL));
        const float *p = pred + (size_t)r * per;
        const float *sp = spread ? spread + (size_t)r * per : NULL;
        for (int ch = 0; ch < C; ++ch) {
            const double mean = in->mean[ch], sd = in->std[ch];
            const uint8_t *m = w->mask + (size_t)(MC == 1 ? 0 : ch) * plane;
            const size_t o = (size_t)ch * plane;
            for (size_t i = 0; i < plane; ++i) {
                if (m[i]) {
                    w->out_pred[o + i] = w->raw[o + i];
                    w->out_std[o + i] = 0.0f;
                } else {
                    w->out_pred[o + i] = (float)((double)p[o + i] * sd + mean);
                    w->out_std[o + i] = sp ? (float)((double)sp[o + i] * sd) : 0.0f;
                }
            }
        }
        const unsigned long long at = (unsigned long long)(row + r);
        DFL_TRY(dfl_h5_write_rows(w->dpred, H5T_NATIVE_FLOAT, at, 1, w->out_pred));
        if (w->dstd >= 0) DFL_TRY(dfl_h5_write_rows(w->dstd, H5T_NATIVE_FLOAT, at, 1, w->out_std));
        DFL_TRY(dfl_h5_write_rows(w->dmask, H5T_NATIVE_UCHAR, at, 1, w->mask));
        /* members as /pred: data units, observed entries the observations exactly */
        for (int k = 0; members && k < w->members; ++k) {
            const float *x = members + ((size_t)r * w->members + (size_t)k) * per;
            for (int ch = 0; ch < C; ++ch) {
                const double mean = in->mean[ch], sd = in->std[ch];
                const uint8_t *m = w->mask + (size_t)(MC == 1 ? 0 : ch) * plane;
                const size_t o = (size_t)ch * plane;
                for (size_t i = 0; i < plane; ++i)
                    w->out_member[o + i] = m[i] ? w->raw[o + i] : (float)((double)x[o + i] * sd + mean);
            }
            DFL_TRY(write_member(w->dmembers, at, k, w->out_member));
        }
        w->written[row + r] = 1;
    }
    return DFL_OK;
}

static void writer_free(dfl_pred_writer *w) {
    free(w->final_path);
    free(w->written);
    free(w->raw);
    free(w->mask);
    free(w->out_pred);
    free(w->out_std);
    free(w->out_member);
    free(w);
}

dfl_status dfl_pred_set_method(dfl_pred_writer *w, const char *method, int has_spread) {
    DFL_TRY(dfl_h5_attr_write_string(w->file, "method", method));
    if (!has_spread && w->dstd >= 0) {
        /* nothing was written to /std yet, so unlinking it leaves no data
         * behind; its dimension scales must forget it first */
        dfl_status s = h5CheckWrite(w->file, H5Dclose(w->dstd));
        if (s == DFL_OK) s = dfl_h5_scale_detach_all(w->file, "/std");
        w->dstd = -1;
        DFL_TRY(s);
        DFL_TRY(h5CheckWrite(w->file, H5Ldelete(w->file, "/std", H5P_DEFAULT)));
    }
    return DFL_OK;
}

static dfl_status close_datasets(dfl_pred_writer *w) {
    dfl_status s = h5CheckWrite(w->file, H5Dclose(w->dpred));
    dfl_status s2 = w->dstd >= 0 ? h5CheckWrite(w->file, H5Dclose(w->dstd)) : DFL_OK;
    dfl_status s3 = h5CheckWrite(w->file, H5Dclose(w->dmask));
    dfl_status s4 = w->dmembers >= 0 ? h5CheckWrite(w->file, H5Dclose(w->dmembers)) : DFL_OK;
    w->dpred = w->dstd = w->dmask = w->dmembers = -1;
    return s != DFL_OK ? s : s2 != DFL_OK ? s2 : s3 != DFL_OK ? s3 : s4;
}

dfl_status dfl_pred_close(dfl_pred_writer *w) {
    int64_t missing = -1;
    for (int64_t i = 0; i < w->count; ++i)
        if (!w->written[i]) {
            missing = i;
            break;
        }
    if (missing >= 0) {
        dfl_status st =
            dfl_fail(DFL_EINTERNAL, "%s: prediction row %lld was never written", w->final_path, (long long)missing);
        dfl_pred_abort(w);
        return st;
    }
    dfl_status st = close_datasets(w);
    if (st == DFL_OK)
        st = dfl_h5_atomic_commit(w->file, w->tmp_path, w->final_path);
    else
        st = dfl_h5_atomic_abort(w->file, w->tmp_path, w->final_path, st);
    writer_free(w);
    return st;
}

void dfl_pred_abort(dfl_pred_writer *w) {
    if (!w) return;
    /* H5Fclose closes the datasets still open; after a refused write the
     * recorded message is made to name the prediction path */
    (void)dfl_h5_atomic_abort(w->file, w->tmp_path, w->final_path, DFL_EINTERNAL);
    writer_free(w);
}
