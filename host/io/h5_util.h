/* HDF5 helpers shared by datasets, checkpoints and predictions.
 * h5Check wraps every HDF5 call that must not fail (a bug or a broken
 * library): it panics with file:line. Calls that can fail because of the
 * user's file go through the dfl_h5_* readers, which return DFL_EUSAGE with
 * a message naming the file and dataset. Calls that write to a file go
 * through h5CheckWrite: a failure the operating system reports (a full disk,
 * a quota, an I/O error) returns DFL_EINTERNAL naming the file and the
 * error; anything else still panics. */
#ifndef DYNFILL_HOST_H5_UTIL_H
#define DYNFILL_HOST_H5_UTIL_H

#include <hdf5.h>
#include <stddef.h>

#include "dynfill/status.h"

#define h5Check(call)                                                                                                  \
    do {                                                                                                               \
        if ((long long)(call) < 0) dfl_panic(__FILE__, __LINE__, "HDF5 call failed: %s", #call);                       \
    } while (0)

#define DFL_H5_MUST_CHECK __attribute__((warn_unused_result))

/* Status of an HDF5 call that writes to the file of `obj` (the call's
 * result converted to long long; negative is a failure). Must be called
 * right after the call, before any other HDF5 call. */
dfl_status dfl_h5_write_status(long long result, hid_t obj, const char *file, int line, const char *call);
#define h5CheckWrite(obj, call) dfl_h5_write_status((long long)(call), (obj), __FILE__, __LINE__, #call)

/* Silence HDF5's own error stack printing (we report our own messages). */
void dfl_h5_quiet(void);

/* Open an existing HDF5 file read-only; a missing, truncated or non-HDF5
 * file gives DFL_EUSAGE naming the path. */
dfl_status dfl_h5_open_read(const char *path, hid_t *file);
/* Create (truncate) a file for writing; H5Fclose closes whatever objects
 * of it are still open. */
dfl_status dfl_h5_create(const char *path, hid_t *file);

/* Dataset shape: rank and dims (up to 8). DFL_EUSAGE if missing. */
dfl_status dfl_h5_dataset_shape(hid_t file, const char *path_for_msg, const char *name, int *rank,
                                unsigned long long dims[8]);
int dfl_h5_has(hid_t file, const char *name);

/* Whole-dataset read/write of float32 / uint8 (converted by HDF5 from the
 * stored type). `count` must equal the dataset's element count. */
dfl_status dfl_h5_read_float(hid_t file, const char *path_for_msg, const char *name, float *out, size_t count);
dfl_status dfl_h5_read_u8(hid_t file, const char *path_for_msg, const char *name, unsigned char *out, size_t count);
/* Hyperslab read of rows [start, start+rows) along the first axis. */
dfl_status dfl_h5_read_float_rows(hid_t file, const char *path_for_msg, const char *name, unsigned long long start,
                                  unsigned long long rows, float *out);
dfl_status dfl_h5_read_u8_rows(hid_t file, const char *path_for_msg, const char *name, unsigned long long start,
                               unsigned long long rows, unsigned char *out);
/* Writes return DFL_EINTERNAL naming the file when the system refuses
 * them (h5CheckWrite). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_write_float(hid_t file, const char *name, int rank, const unsigned long long *dims,
                                                const float *data);
DFL_H5_MUST_CHECK dfl_status dfl_h5_write_u8(hid_t file, const char *name, int rank, const unsigned long long *dims,
                                             const unsigned char *data);

/* Attributes on the file root (or any object id). */
DFL_H5_MUST_CHECK dfl_status dfl_h5_attr_write_string(hid_t obj, const char *name, const char *value);
DFL_H5_MUST_CHECK dfl_status dfl_h5_attr_write_double(hid_t obj, const char *name, double value);
DFL_H5_MUST_CHECK dfl_status dfl_h5_attr_write_long(hid_t obj, const char *name, long long value);
DFL_H5_MUST_CHECK dfl_status dfl_h5_attr_write_doubles(hid_t obj, const char *name, const double *values, size_t n);
/* Read attributes; DFL_EUSAGE naming the file and attribute if missing or
 * of the wrong kind. Strings are returned malloc'ed. */
dfl_status dfl_h5_attr_read_string(hid_t obj, const char *path_for_msg, const char *name, char **value);
dfl_status dfl_h5_attr_read_long(hid_t obj, const char *path_for_msg, const char *name, long long *value);
dfl_status dfl_h5_attr_read_doubles(hid_t obj, const char *path_for_msg, const char *name, double *values, size_t n);
int dfl_h5_attr_exists(hid_t obj, const char *name);

/* Write-to-temporary, fsync, rename: `final_path` is replaced atomically.
 * dfl_h5_atomic_begin returns a file opened at "<final_path>.tmp.<pid>".
 * dfl_h5_atomic_commit flushes, closes, fsyncs and renames it; when any of
 * that fails the temporary file is removed, `final_path` is left as it was
 * and the error names `final_path` and the system's reason. */
DFL_H5_MUST_CHECK dfl_status dfl_h5_atomic_begin(const char *final_path, hid_t *file, char *tmp_path, size_t tmp_len);
DFL_H5_MUST_CHECK dfl_status dfl_h5_atomic_commit(hid_t file, const char *tmp_path, const char *final_path);
/* Gives up on a file from dfl_h5_atomic_begin after a failure `s`: closes
 * it, removes the temporary file and returns `s`; when `s` came from a
 * write the system refused, its message becomes "<final_path>: <reason>". */
dfl_status dfl_h5_atomic_abort(hid_t file, const char *tmp_path, const char *final_path, dfl_status s);

#endif
