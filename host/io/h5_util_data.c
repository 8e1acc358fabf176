/* Data-layer HDF5 helpers (host/h5_util_data.h). */
#include "h5_util_data.h"

#include <stdlib.h>
#include <string.h>

dfl_status dfl_h5_create_dataset(hid_t file, const char *name, hid_t filetype, int rank, const unsigned long long *dims,
                                 hid_t *dset) {
    return dfl_h5_create_dataset_layout(file, name, filetype, rank, dims, NULL, dset);
}

dfl_status dfl_h5_create_dataset_layout(hid_t file, const char *name, hid_t filetype, int rank,
                                        const unsigned long long *dims, const dfl_h5_layout *layout, hid_t *dset) {
    DFL_ASSERT(rank >= 1 && rank <= 8);
    hsize_t d[8], chunk[8];
    for (int i = 0; i < rank; ++i) {
        d[i] = dims[i];
        chunk[i] = i == 0 || dims[i] == 0 ? 1 : dims[i]; /* one sample per chunk */
    }
    hid_t sp = H5Screate_simple(rank, d, NULL);
    h5Check(sp);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    h5Check(dcpl);
    if (layout && layout->chunked) {
        DFL_ASSERT(layout->deflate >= 0 && layout->deflate <= 9);
        h5Check(H5Pset_chunk(dcpl, rank, chunk));
        if (layout->deflate > 0) {
            h5Check(H5Pset_shuffle(dcpl));
            h5Check(H5Pset_deflate(dcpl, (unsigned)layout->deflate));
        }
        h5Check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_INCR));
    } else {
        DFL_ASSERT(!layout || layout->deflate == 0);
        h5Check(H5Pset_layout(dcpl, H5D_CONTIGUOUS));
        h5Check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
    }
    h5Check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    hid_t ds = H5Dcreate2(file, name, filetype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    dfl_status s = h5CheckWrite(file, ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
    *dset = ds;
    return s;
}

dfl_status dfl_h5_write_rows(hid_t dset, hid_t memtype, unsigned long long start, unsigned long long rows,
                             const void *data) {
    if (rows == 0) return DFL_OK;
    hid_t fsp = H5Dget_space(dset);
    h5Check(fsp);
    int rank = H5Sget_simple_extent_ndims(fsp);
    DFL_ASSERT(rank >= 1 && rank <= 8);
    hsize_t dims[8], off[8] = {0}, cnt[8];
    H5Sget_simple_extent_dims(fsp, dims, NULL);
    DFL_ASSERT(start + rows <= dims[0]);
    off[0] = start;
    cnt[0] = rows;
    for (int i = 1; i < rank; ++i) cnt[i] = dims[i];
    h5Check(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL));
    hid_t msp = H5Screate_simple(rank, cnt, NULL);
    h5Check(msp);
    dfl_status s = h5CheckWrite(dset, H5Dwrite(dset, memtype, msp, fsp, H5P_DEFAULT, data));
    H5Sclose(msp);
    H5Sclose(fsp);
    return s;
}

dfl_status dfl_h5_get_layout(hid_t file, const char *msg, const char *name, dfl_h5_layout *out) {
    out->chunked = out->deflate = 0;
    if (!dfl_h5_has(file, name)) return dfl_fail(DFL_EUSAGE, "%s: dataset %s is missing", msg, name);
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return dfl_fail(DFL_EUSAGE, "%s: %s is not a dataset", msg, name);
    hid_t dcpl = H5Dget_create_plist(ds);
    h5Check(dcpl);
    out->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
    for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char fname[64];
        unsigned config;
        if (H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, &config) == H5Z_FILTER_DEFLATE)
            out->deflate = ncd > 0 ? (int)cd[0] : 1;
    }
    H5Pclose(dcpl);
    H5Dclose(ds);
    return DFL_OK;
}

/* Bytes of one chunk of dataset `name` (0 when not chunked). */
static size_t chunk_bytes(hid_t file, const char *name) {
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return 0;
    size_t bytes = 0;
    hid_t dcpl = H5Dget_create_plist(ds), t = H5Dget_type(ds);
    if (dcpl >= 0 && t >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t dims[32];
        int rank = H5Pget_chunk(dcpl, 32, dims);
        bytes = H5Tget_size(t);
        for (int i = 0; i < rank; ++i) bytes *= (size_t)dims[i];
    }
    if (t >= 0) H5Tclose(t);
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Dclose(ds);
    return bytes;
}

dfl_status dfl_h5_open_cached(hid_t file, const char *msg, const char *name, size_t cache_bytes, hid_t *dset) {
    /* a file chunked by another tool may hold several samples per chunk:
     * then the cache holds one such chunk (up to 1 GiB) */
    const size_t chunk = chunk_bytes(file, name);
    if (chunk > cache_bytes) cache_bytes = chunk < ((size_t)1 << 30) ? chunk + 4096 : (size_t)1 << 30;
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    h5Check(dapl);
    /* 521 slots (a prime, HDF5's advice) for one or a few chunks; w0 = 1:
     * a chunk read in full is evicted first */
    h5Check(H5Pset_chunk_cache(dapl, 521, cache_bytes, 1.0));
    *dset = H5Dopen2(file, name, dapl);
    H5Pclose(dapl);
    if (*dset < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot open dataset %s", msg, name);
    return DFL_OK;
}

dfl_status dfl_h5_read_box_dset(hid_t ds, const char *msg, const char *name, hid_t memtype, int rank,
                                const unsigned long long *start, const unsigned long long *count, void *out) {
    hsize_t off[8], cnt[8];
    for (int i = 0; i < rank; ++i) {
        off[i] = start[i];
        cnt[i] = count[i];
    }
    hid_t fsp = H5Dget_space(ds);
    h5Check(fsp);
    DFL_ASSERT(H5Sget_simple_extent_ndims(fsp) == rank);
    h5Check(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL));
    hid_t msp = H5Screate_simple(rank, cnt, NULL);
    h5Check(msp);
    herr_t e = H5Dread(ds, memtype, msp, fsp, H5P_DEFAULT, out);
    H5Sclose(msp);
    H5Sclose(fsp);
    if (e < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot read dataset %s (wrong type or damaged file)", msg, name);
    return DFL_OK;
}

dfl_status dfl_h5_read_box(hid_t file, const char *msg, const char *name, hid_t memtype, int rank,
                           const unsigned long long *start, const unsigned long long *count, void *out) {
    int r;
    unsigned long long dims[8];
    DFL_TRY(dfl_h5_dataset_shape(file, msg, name, &r, dims));
    if (r != rank) return dfl_fail(DFL_EUSAGE, "%s: dataset %s has rank %d, expected %d", msg, name, r, rank);
    hsize_t off[8], cnt[8];
    for (int i = 0; i < rank; ++i) {
        if (start[i] + count[i] > dims[i])
            return dfl_fail(DFL_EUSAGE, "%s: read outside dataset %s (axis %d: %llu+%llu > %llu)", msg, name, i,
                            start[i], count[i], dims[i]);
        off[i] = start[i];
        cnt[i] = count[i];
    }
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot open dataset %s", msg, name);
    hid_t fsp = H5Dget_space(ds);
    h5Check(fsp);
    h5Check(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL));
    hid_t msp = H5Screate_simple(rank, cnt, NULL);
    h5Check(msp);
    herr_t e = H5Dread(ds, memtype, msp, fsp, H5P_DEFAULT, out);
    H5Sclose(msp);
    H5Sclose(fsp);
    H5Dclose(ds);
    if (e < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot read dataset %s (wrong type or damaged file)", msg, name);
    return DFL_OK;
}

dfl_status dfl_h5_dataset_type(hid_t file, const char *msg, const char *name, H5T_class_t *cls, size_t *size,
                               int *little_endian) {
    if (!dfl_h5_has(file, name)) return dfl_fail(DFL_EUSAGE, "%s: dataset %s is missing", msg, name);
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return dfl_fail(DFL_EUSAGE, "%s: %s is not a dataset", msg, name);
    hid_t t = H5Dget_type(ds);
    h5Check(t);
    *cls = H5Tget_class(t);
    *size = H5Tget_size(t);
    *little_endian = 1;
    if (*cls == H5T_INTEGER || *cls == H5T_FLOAT) *little_endian = H5Tget_order(t) == H5T_ORDER_LE;
    H5Tclose(t);
    H5Dclose(ds);
    return DFL_OK;
}

int64_t dfl_h5_contiguous_offset(hid_t file, const char *name) {
    if (!dfl_h5_has(file, name)) return -1;
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    int64_t result = -1;
    hid_t dcpl = H5Dget_create_plist(ds);
    if (dcpl >= 0) {
        if (H5Pget_layout(dcpl) == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl) == 0 && H5Pget_external_count(dcpl) == 0) {
            haddr_t off = H5Dget_offset(ds);
            if (off != HADDR_UNDEF) result = (int64_t)off;
        }
        H5Pclose(dcpl);
    }
    H5Dclose(ds);
    return result;
}

dfl_status dfl_h5_attr_write_strings(hid_t obj, const char *name, const char *const *values, size_t n) {
    if (H5Aexists(obj, name) > 0) DFL_TRY(h5CheckWrite(obj, H5Adelete(obj, name)));
    size_t longest = 1;
    for (size_t i = 0; i < n; ++i)
        if (strlen(values[i]) + 1 > longest) longest = strlen(values[i]) + 1;
    char *buf = dfl_xcalloc(n ? n : 1, longest);
    for (size_t i = 0; i < n; ++i) memcpy(buf + i * longest, values[i], strlen(values[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    h5Check(t);
    h5Check(H5Tset_size(t, longest));
    h5Check(H5Tset_strpad(t, H5T_STR_NULLPAD));
    hsize_t d = n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    h5Check(sp);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    dfl_status s = h5CheckWrite(obj, a);
    if (s == DFL_OK) {
        s = h5CheckWrite(obj, H5Awrite(a, t, buf));
        dfl_status c = h5CheckWrite(obj, H5Aclose(a));
        if (s == DFL_OK) s = c;
    }
    H5Sclose(sp);
    H5Tclose(t);
    free(buf);
    return s;
}

void dfl_h5_strings_free(char **values, size_t n) {
    if (!values) return;
    for (size_t i = 0; i < n; ++i) free(values[i]);
    free(values);
}

static char *trimmed_copy(const char *s, size_t len) {
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        ++s;
        --len;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == 0)) --len;
    char *r = dfl_xmalloc(len + 1);
    memcpy(r, s, len);
    r[len] = 0;
    return r;
}

dfl_status dfl_h5_attr_read_strings(hid_t obj, const char *msg, const char *name, char ***values, size_t *n) {
    *values = NULL;
    *n = 0;
    if (H5Aexists(obj, name) <= 0) return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' is missing", msg, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    h5Check(a);
    hid_t t = H5Aget_type(a);
    h5Check(t);
    if (H5Tget_class(t) != H5T_STRING) {
        H5Tclose(t);
        H5Aclose(a);
        return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' is not a string or list of strings", msg, name);
    }
    hid_t sp = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    int scalar = H5Sget_simple_extent_type(sp) == H5S_SCALAR;
    H5Sclose(sp);
    char **items = NULL;
    size_t nitems = 0;
    dfl_status st = DFL_OK;
    if (count < 0) count = 0;
    if (H5Tis_variable_str(t) > 0) {
        char **raw = dfl_xcalloc((size_t)count + 1, sizeof *raw);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t)); /* h5py writes UTF-8; HDF5 does not convert character sets */
        if (H5Aread(a, mt, raw) < 0) {
            st = dfl_fail(DFL_EUSAGE, "%s: cannot read attribute '%s'", msg, name);
        } else {
            items = dfl_xcalloc((size_t)count + 1, sizeof *items);
            for (hssize_t i = 0; i < count; ++i)
                items[nitems++] = trimmed_copy(raw[i] ? raw[i] : "", raw[i] ? strlen(raw[i]) : 0);
            hid_t rsp = H5Aget_space(a);
            H5Dvlen_reclaim(mt, rsp, H5P_DEFAULT, raw);
            H5Sclose(rsp);
        }
        H5Tclose(mt);
        free(raw);
    } else {
        size_t sz = H5Tget_size(t);
        char *buf = dfl_xcalloc((size_t)count * sz + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz);
        H5Tset_strpad(mt, H5T_STR_NULLPAD);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, buf) < 0) {
            st = dfl_fail(DFL_EUSAGE, "%s: cannot read attribute '%s'", msg, name);
        } else {
            items = dfl_xcalloc((size_t)count + 1, sizeof *items);
            for (hssize_t i = 0; i < count; ++i) {
                const char *s = buf + (size_t)i * sz;
                size_t len = strnlen(s, sz);
                items[nitems++] = trimmed_copy(s, len);
            }
        }
        H5Tclose(mt);
        free(buf);
    }
    H5Tclose(t);
    H5Aclose(a);
    if (st != DFL_OK) {
        dfl_h5_strings_free(items, nitems);
        return st;
    }
    (void)scalar;
    *values = items;
    *n = nitems;
    return DFL_OK;
}

dfl_status dfl_h5_attr_read_text(hid_t obj, const char *msg, const char *name, char **value) {
    char **items;
    size_t n;
    DFL_TRY(dfl_h5_attr_read_strings(obj, msg, name, &items, &n));
    if (n != 1) {
        dfl_h5_strings_free(items, n);
        return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' has %zu strings; expected one", msg, name, n);
    }
    *value = items[0];
    free(items);
    return DFL_OK;
}

dfl_status dfl_h5_attr_read_names(hid_t obj, const char *msg, const char *name, char ***values, size_t *n) {
    char **items;
    size_t nitems;
    DFL_TRY(dfl_h5_attr_read_strings(obj, msg, name, &items, &nitems));
    if (nitems == 1 && strchr(items[0], ',')) {
        const char *s = items[0];
        size_t parts = 1;
        for (const char *c = s; *c; ++c) parts += *c == ',';
        char **split = dfl_xcalloc(parts, sizeof *split);
        size_t k = 0;
        const char *begin = s;
        for (const char *c = s;; ++c) {
            if (*c == ',' || *c == 0) {
                split[k++] = trimmed_copy(begin, (size_t)(c - begin));
                if (*c == 0) break;
                begin = c + 1;
            }
        }
        dfl_h5_strings_free(items, nitems);
        items = split;
        nitems = k;
    }
    *values = items;
    *n = nitems;
    return DFL_OK;
}

long dfl_h5_attr_numeric_count(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(t);
    H5Tclose(t);
    hid_t sp = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Aclose(a);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) return -1;
    return (long)count;
}

typedef struct {
    hid_t dst;
    dfl_status status; /* of the first refused write */
} copy_ctx;

static herr_t copy_one_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    copy_ctx *c = data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    h5Check(a);
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    size_t bytes = H5Tget_size(t) * (size_t)H5Sget_simple_extent_npoints(sp);
    int vlen = H5Tis_variable_str(t) > 0 || H5Tdetect_class(t, H5T_VLEN) > 0;
    dfl_status s = DFL_OK;
    if (!vlen) {
        void *buf = dfl_xcalloc(bytes ? bytes : 1, 1);
        h5Check(H5Aread(a, t, buf));
        if (H5Aexists(c->dst, name) > 0) s = h5CheckWrite(c->dst, H5Adelete(c->dst, name));
        hid_t b = s == DFL_OK ? H5Acreate2(c->dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
        if (s == DFL_OK) s = h5CheckWrite(c->dst, b);
        if (s == DFL_OK) {
            s = h5CheckWrite(c->dst, H5Awrite(b, t, buf));
            dfl_status cl = h5CheckWrite(c->dst, H5Aclose(b));
            if (s == DFL_OK) s = cl;
        }
        free(buf);
    } else if (H5Tget_class(t) == H5T_STRING) {
        /* Variable-length strings: copy through the strings reader. */
        char **items;
        size_t n;
        if (dfl_h5_attr_read_strings(loc, "", name, &items, &n) == DFL_OK) {
            if (H5Sget_simple_extent_type(sp) == H5S_SCALAR && n == 1)
                s = dfl_h5_attr_write_string(c->dst, name, items[0]);
            else
                s = dfl_h5_attr_write_strings(c->dst, name, (const char *const *)items, n);
            dfl_h5_strings_free(items, n);
        } else {
            dfl_clear_error();
        }
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    c->status = s;
    return s == DFL_OK ? 0 : 1; /* positive: stop iterating */
}

dfl_status dfl_h5_attr_copy_all(hid_t src, hid_t dst) {
    copy_ctx c = {dst, DFL_OK};
    hsize_t idx = 0;
    h5Check(H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, copy_one_attr, &c));
    return c.status;
}
