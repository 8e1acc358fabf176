/* Helpers for the data tests: write small HDF5 dataset files directly
 * (contiguous, or chunked to force the loader's HDF5 read path). */
#ifndef DYNFILL_DATA_TEST_FILES_H
#define DYNFILL_DATA_TEST_FILES_H

#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void tf_write(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                            const void *data, int chunked) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        hsize_t ch[8];
        for (int i = 0; i < rank; ++i) ch[i] = dims[i];
        ch[0] = 1;
        H5Pset_chunk(dcpl, rank, ch);
        H5Pset_deflate(dcpl, 1);
    }
    hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

static inline void tf_attr_doubles(hid_t obj, const char *name, const double *v, hsize_t n) {
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    H5Sclose(sp);
}

static inline void tf_attr_string(hid_t obj, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

/* A dataset file with /obs [n,c,h,w] float32 and /mask [n,mc,h,w] uint8. */
static inline void tf_dataset(const char *path, int64_t n, int c, int mc, int h, int w, const float *obs,
                              const uint8_t *mask, int chunked) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[4] = {(hsize_t)n, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    tf_write(f, "/obs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, d, obs, chunked);
    d[1] = (hsize_t)mc;
    tf_write(f, "/mask", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, d, mask, chunked);
    H5Fclose(f);
}

/* Deterministic test data: obs = a smooth function of (sample, ch, y, x)
 * plus a per-channel offset; mask from a hash (about 60% observed, never
 * an empty sample). */
static inline void tf_fill(int64_t n, int c, int mc, int h, int w, float *obs, uint8_t *mask) {
    for (int64_t s = 0; s < n; ++s)
        for (int ch = 0; ch < c; ++ch)
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    obs[(((size_t)s * c + ch) * h + y) * w + x] =
                        (float)(100.0 * ch + (double)s + 0.25 * y - 0.5 * x + 0.01 * ((s * 31 + y * 7 + x * 3) % 11));
    for (int64_t s = 0; s < n; ++s)
        for (int ch = 0; ch < mc; ++ch)
            for (int i = 0; i < h * w; ++i) {
                uint32_t k = (uint32_t)(s * 2654435761u) ^ (uint32_t)(ch * 40503u) ^ (uint32_t)(i * 97u);
                k ^= k >> 13;
                k *= 0x5bd1e995u;
                k ^= k >> 15;
                mask[((size_t)s * mc + ch) * h * w + i] = (k % 10) < 6 || i == (int)(s % (h * w));
            }
}

#endif
