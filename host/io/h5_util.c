/* HDF5 helpers (host/h5_util.h). */
#include "h5_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The system error of the last write refused in this thread, for
 * dfl_h5_atomic_abort's message; reset by dfl_h5_atomic_begin. */
static _Thread_local int g_write_errno;

/* The sec2 driver reports the failing system call as "errno = N". */
static herr_t find_errno(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    int *err = data;
    const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
    if (p && *err == 0) *err = atoi(p + 8);
    return 0;
}

dfl_status dfl_h5_write_status(long long result, hid_t obj, const char *file, int line, const char *call) {
    if (result >= 0) return DFL_OK;
    int err = errno, reported = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_errno, &reported);
    if (reported > 0)
        err = reported;
    else if (err != ENOSPC && err != EDQUOT && err != EFBIG && err != EIO)
        dfl_panic(file, line, "HDF5 call failed: %s", call); /* not the system's refusal: a bug */
    g_write_errno = err;
    char name[4096];
    if (H5Fget_name(obj, name, sizeof name) < 0) snprintf(name, sizeof name, "HDF5 file");
    return dfl_fail(DFL_EINTERNAL, "%s: %s", name, strerror(err));
}

void dfl_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

dfl_status dfl_h5_open_read(const char *path, hid_t *file) {
    dfl_h5_quiet();
    if (access(path, R_OK) != 0) return dfl_fail(DFL_EUSAGE, "%s: cannot read file (missing or no permission)", path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) return dfl_fail(DFL_EUSAGE, "%s: not an HDF5 file (or truncated)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot open as HDF5 (truncated or damaged)", path);
    *file = f;
    return DFL_OK;
}

dfl_status dfl_h5_create(const char *path, hid_t *file) {
    dfl_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    h5Check(fapl);
    h5Check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)); /* an abandoned file closes with its datasets */
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    int err = 0;
    if (f < 0) H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_errno, &err);
    h5Check(H5Pclose(fapl));
    if (f < 0 && (err == ENOSPC || err == EDQUOT)) { /* not the user's mistake: exit 1 */
        g_write_errno = err;
        return dfl_fail(DFL_EINTERNAL, "%s: %s", path, strerror(err));
    }
    if (f < 0 && err > 0) return dfl_fail(DFL_EUSAGE, "%s: cannot create file: %s", path, strerror(err));
    if (f < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot create file", path);
    *file = f;
    return DFL_OK;
}

int dfl_h5_has(hid_t file, const char *name) {
    /* H5Lexists fails on intermediate groups that do not exist: walk them. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (char *p = buf + 1; *p; ++p) {
        if (*p == '/') {
            *p = 0;
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) return 0;
            *p = '/';
        }
    }
    return H5Lexists(file, buf, H5P_DEFAULT) > 0;
}

dfl_status dfl_h5_dataset_shape(hid_t file, const char *path_for_msg, const char *name, int *rank,
                                unsigned long long dims[8]) {
    if (!dfl_h5_has(file, name)) return dfl_fail(DFL_EUSAGE, "%s: dataset %s is missing", path_for_msg, name);
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return dfl_fail(DFL_EUSAGE, "%s: %s is not a dataset", path_for_msg, name);
    hid_t sp = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(sp);
    if (r < 0 || r > 8) {
        H5Sclose(sp);
        H5Dclose(ds);
        return dfl_fail(DFL_EUSAGE, "%s: dataset %s has unsupported rank %d", path_for_msg, name, r);
    }
    hsize_t d[8];
    H5Sget_simple_extent_dims(sp, d, NULL);
    for (int i = 0; i < r; ++i) dims[i] = d[i];
    *rank = r;
    H5Sclose(sp);
    H5Dclose(ds);
    return DFL_OK;
}

static dfl_status read_whole(hid_t file, const char *msg, const char *name, hid_t memtype, void *out, size_t count) {
    int rank;
    unsigned long long dims[8];
    DFL_TRY(dfl_h5_dataset_shape(file, msg, name, &rank, dims));
    size_t total = 1;
    for (int i = 0; i < rank; ++i) total *= dims[i];
    if (total != count)
        return dfl_fail(DFL_EUSAGE, "%s: dataset %s has %zu elements, expected %zu", msg, name, total, count);
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    herr_t e = H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Dclose(ds);
    if (e < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot read dataset %s (wrong type or damaged file)", msg, name);
    return DFL_OK;
}

dfl_status dfl_h5_read_float(hid_t file, const char *msg, const char *name, float *out, size_t count) {
    return read_whole(file, msg, name, H5T_NATIVE_FLOAT, out, count);
}

dfl_status dfl_h5_read_u8(hid_t file, const char *msg, const char *name, unsigned char *out, size_t count) {
    return read_whole(file, msg, name, H5T_NATIVE_UCHAR, out, count);
}

static dfl_status read_rows(hid_t file, const char *msg, const char *name, hid_t memtype, unsigned long long start,
                            unsigned long long rows, void *out) {
    int rank;
    unsigned long long dims[8];
    DFL_TRY(dfl_h5_dataset_shape(file, msg, name, &rank, dims));
    if (rank < 1 || start + rows > dims[0])
        return dfl_fail(DFL_EUSAGE, "%s: rows [%llu, %llu) are outside dataset %s", msg, start, start + rows, name);
    hsize_t off[8] = {0}, cnt[8];
    off[0] = start;
    cnt[0] = rows;
    for (int i = 1; i < rank; ++i) cnt[i] = dims[i];
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t fsp = H5Dget_space(ds);
    h5Check(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL));
    hid_t msp = H5Screate_simple(rank, cnt, NULL);
    herr_t e = H5Dread(ds, memtype, msp, fsp, H5P_DEFAULT, out);
    H5Sclose(msp);
    H5Sclose(fsp);
    H5Dclose(ds);
    if (e < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot read dataset %s (damaged file)", msg, name);
    return DFL_OK;
}

dfl_status dfl_h5_read_float_rows(hid_t file, const char *msg, const char *name, unsigned long long start,
                                  unsigned long long rows, float *out) {
    return read_rows(file, msg, name, H5T_NATIVE_FLOAT, start, rows, out);
}

dfl_status dfl_h5_read_u8_rows(hid_t file, const char *msg, const char *name, unsigned long long start,
                               unsigned long long rows, unsigned char *out) {
    return read_rows(file, msg, name, H5T_NATIVE_UCHAR, start, rows, out);
}

static dfl_status make_parent_groups(hid_t file, const char *name) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (char *p = buf + 1; *p; ++p) {
        if (*p == '/') {
            *p = 0;
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) {
                hid_t g = H5Gcreate2(file, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                DFL_TRY(h5CheckWrite(file, g));
                DFL_TRY(h5CheckWrite(file, H5Gclose(g)));
            }
            *p = '/';
        }
    }
    return DFL_OK;
}

static dfl_status write_whole(hid_t file, const char *name, int rank, const unsigned long long *dims, hid_t filetype,
                              hid_t memtype, const void *data) {
    hsize_t d[8];
    for (int i = 0; i < rank; ++i) d[i] = dims[i];
    DFL_TRY(make_parent_groups(file, name));
    hid_t sp = H5Screate_simple(rank, d, NULL);
    h5Check(sp);
    hid_t ds = H5Dcreate2(file, name, filetype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dfl_status s = h5CheckWrite(file, ds);
    if (s == DFL_OK) {
        s = h5CheckWrite(file, H5Dwrite(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
        dfl_status c = h5CheckWrite(file, H5Dclose(ds)); /* may flush the sieve buffer */
        if (s == DFL_OK) s = c;
    }
    H5Sclose(sp);
    return s;
}

dfl_status dfl_h5_write_float(hid_t file, const char *name, int rank, const unsigned long long *dims,
                              const float *data) {
    return write_whole(file, name, rank, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}

dfl_status dfl_h5_write_u8(hid_t file, const char *name, int rank, const unsigned long long *dims,
                           const unsigned char *data) {
    return write_whole(file, name, rank, dims, H5T_STD_U8LE, H5T_NATIVE_UCHAR, data);
}

static dfl_status attr_replace(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) > 0) return h5CheckWrite(obj, H5Adelete(obj, name));
    return DFL_OK;
}

/* Creates attribute `name` of `type` and `space` on obj and writes `value`
 * (in memory type `memtype`). */
static dfl_status attr_create_write(hid_t obj, const char *name, hid_t type, hid_t space, hid_t memtype,
                                    const void *value) {
    DFL_TRY(attr_replace(obj, name));
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    DFL_TRY(h5CheckWrite(obj, a));
    dfl_status s = h5CheckWrite(obj, H5Awrite(a, memtype, value));
    dfl_status c = h5CheckWrite(obj, H5Aclose(a));
    return s != DFL_OK ? s : c;
}

dfl_status dfl_h5_attr_write_string(hid_t obj, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    h5Check(t);
    h5Check(H5Tset_size(t, strlen(value) + 1));
    h5Check(H5Tset_strpad(t, H5T_STR_NULLTERM));
    hid_t sp = H5Screate(H5S_SCALAR);
    h5Check(sp);
    dfl_status s = attr_create_write(obj, name, t, sp, t, value);
    H5Sclose(sp);
    H5Tclose(t);
    return s;
}

dfl_status dfl_h5_attr_write_doubles(hid_t obj, const char *name, const double *values, size_t n) {
    hsize_t d = n;
    hid_t sp = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    h5Check(sp);
    dfl_status s = attr_create_write(obj, name, H5T_IEEE_F64LE, sp, H5T_NATIVE_DOUBLE, values);
    H5Sclose(sp);
    return s;
}

dfl_status dfl_h5_attr_write_double(hid_t obj, const char *name, double value) {
    return dfl_h5_attr_write_doubles(obj, name, &value, 1);
}

dfl_status dfl_h5_attr_write_long(hid_t obj, const char *name, long long value) {
    hid_t sp = H5Screate(H5S_SCALAR);
    h5Check(sp);
    dfl_status s = attr_create_write(obj, name, H5T_STD_I64LE, sp, H5T_NATIVE_LLONG, &value);
    H5Sclose(sp);
    return s;
}

int dfl_h5_attr_exists(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

dfl_status dfl_h5_attr_read_string(hid_t obj, const char *msg, const char *name, char **value) {
    if (H5Aexists(obj, name) <= 0) return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' is missing", msg, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    hssize_t npoints = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if (H5Tget_class(t) != H5T_STRING || npoints != 1) {
        H5Tclose(t);
        H5Aclose(a);
        return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' is not a single string", msg, name);
    }
    if (H5Tis_variable_str(t) > 0) {
        char *tmp = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t)); /* h5py writes UTF-8; HDF5 will not convert charsets */
        herr_t e = H5Aread(a, mt, &tmp);
        H5Tclose(mt);
        H5Tclose(t);
        H5Aclose(a);
        if (e < 0 || !tmp) return dfl_fail(DFL_EUSAGE, "%s: cannot read attribute '%s'", msg, name);
        *value = strdup(tmp);
        H5free_memory(tmp);
        return DFL_OK;
    }
    size_t n = H5Tget_size(t);
    char *buf = dfl_xcalloc(n + 1, 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, n + 1);
    H5Tset_cset(mt, H5Tget_cset(t));
    herr_t e = H5Aread(a, mt, buf);
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
    if (e < 0) {
        free(buf);
        return dfl_fail(DFL_EUSAGE, "%s: cannot read attribute '%s'", msg, name);
    }
    *value = buf;
    return DFL_OK;
}

static dfl_status attr_read_numeric(hid_t obj, const char *msg, const char *name, hid_t memtype, void *out, size_t n) {
    if (H5Aexists(obj, name) <= 0) return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' is missing", msg, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    hid_t t = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(t);
    H5Tclose(t);
    if ((size_t)count != n || (cls != H5T_INTEGER && cls != H5T_FLOAT)) {
        H5Aclose(a);
        return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' has %lld numeric values, expected %zu", msg, name,
                        (long long)count, n);
    }
    herr_t e = H5Aread(a, memtype, out);
    H5Aclose(a);
    if (e < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot read attribute '%s'", msg, name);
    return DFL_OK;
}

dfl_status dfl_h5_attr_read_long(hid_t obj, const char *msg, const char *name, long long *value) {
    return attr_read_numeric(obj, msg, name, H5T_NATIVE_LLONG, value, 1);
}

dfl_status dfl_h5_attr_read_doubles(hid_t obj, const char *msg, const char *name, double *values, size_t n) {
    return attr_read_numeric(obj, msg, name, H5T_NATIVE_DOUBLE, values, n);
}

dfl_status dfl_h5_atomic_begin(const char *final_path, hid_t *file, char *tmp_path, size_t tmp_len) {
    g_write_errno = 0;
    snprintf(tmp_path, tmp_len, "%s.tmp.%d", final_path, (int)getpid());
    dfl_status s = dfl_h5_create(tmp_path, file);
    if (s != DFL_OK) return dfl_h5_atomic_abort(-1, tmp_path, final_path, s); /* it may exist, empty */
    return DFL_OK;
}

/* Closing a file writes what HDF5 still holds; after a full disk that would
 * fail again and leave the library with half-closed objects (which crash its
 * cleanup at exit), so a discarded file's space is freed first (sec2 driver:
 * the handle is the descriptor). */
static void free_file_space(hid_t file) {
    void *handle = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || !handle) return;
    if (ftruncate(*(int *)handle, 0) != 0) return; /* nothing freed: the close may fail too */
}

dfl_status dfl_h5_atomic_abort(hid_t file, const char *tmp_path, const char *final_path, dfl_status s) {
    if (file >= 0) {
        free_file_space(file);
        (void)H5Fclose(file); /* the file is discarded: a failure to close it changes nothing more */
    }
    unlink(tmp_path);
    if (s != DFL_OK && g_write_errno) {
        const int err = g_write_errno;
        g_write_errno = 0;
        dfl_clear_error();
        return dfl_fail(s, "%s: %s", final_path, strerror(err));
    }
    return s;
}

/* A system call on the temporary file failed with `err`. */
static dfl_status sys_abort(const char *tmp_path, const char *final_path, int err) {
    g_write_errno = err;
    return dfl_h5_atomic_abort(-1, tmp_path, final_path, dfl_fail(DFL_EINTERNAL, "%s: %s", tmp_path, strerror(err)));
}

dfl_status dfl_h5_atomic_commit(hid_t file, const char *tmp_path, const char *final_path) {
    dfl_status s = h5CheckWrite(file, H5Fflush(file, H5F_SCOPE_GLOBAL));
    if (s != DFL_OK) return dfl_h5_atomic_abort(file, tmp_path, final_path, s);
    s = h5CheckWrite(file, H5Fclose(file));
    if (s != DFL_OK) return dfl_h5_atomic_abort(-1, tmp_path, final_path, s); /* not closed again */
    int fd = open(tmp_path, O_RDONLY);
    if (fd < 0) return sys_abort(tmp_path, final_path, errno);
    if (fsync(fd) != 0) {
        const int err = errno;
        close(fd);
        return sys_abort(tmp_path, final_path, err);
    }
    if (close(fd) != 0) return sys_abort(tmp_path, final_path, errno);
    if (rename(tmp_path, final_path) != 0) {
        const int err = errno;
        unlink(tmp_path);
        return dfl_fail(DFL_EINTERNAL, "cannot rename %s to %s: %s", tmp_path, final_path, strerror(err));
    }
    /* fsync the directory so the rename itself is durable. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", final_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return DFL_OK;
}
