/* Storage layouts of dataset files (docs/data.md, "Storage layout"): the
 * same data written contiguous, chunked (one sample per chunk) and chunked
 * with shuffle + deflate by the writers' own helper gives bit-identical
 * loader batches, whole fields and crops, with and without prefetch; the
 * chunked files are read through HDF5 with a chunk cache of at least one
 * sample; --layout/--compress parse and refuse as documented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_internal.h"
#include "data_test_files.h"
#include "dfl_test.h"
#include "dynfill/data.h"
#include "io/h5_util_data.h"

enum { N = 23, C = 3, MC = 3, H = 12, W = 10 };
static float g_obs[N * C * H * W];
static uint8_t g_mask[N * MC * H * W];

/* Written as dynfill's writers do: dfl_h5_create_dataset_layout, rows,
 * attributes, named dimensions. */
static void write_file(const char *path, dfl_h5_layout lay) {
    hid_t f;
    CHECK(dfl_h5_create(path, &f) == DFL_OK);
    unsigned long long d[4] = {N, C, H, W};
    hid_t dobs = -1, dmask = -1;
    CHECK(dfl_h5_create_dataset_layout(f, "/obs", H5T_IEEE_F32LE, 4, d, &lay, &dobs) == DFL_OK);
    d[1] = MC;
    CHECK(dfl_h5_create_dataset_layout(f, "/mask", H5T_STD_U8LE, 4, d, &lay, &dmask) == DFL_OK);
    for (int s = 0; s < N; ++s) { /* row by row, as import writes */
        CHECK(dfl_h5_write_rows(dobs, H5T_NATIVE_FLOAT, (unsigned long long)s, 1, g_obs + (size_t)s * C * H * W) ==
              DFL_OK);
        CHECK(dfl_h5_write_rows(dmask, H5T_NATIVE_UCHAR, (unsigned long long)s, 1, g_mask + (size_t)s * MC * H * W) ==
              DFL_OK);
    }
    H5Dclose(dobs);
    H5Dclose(dmask);
    const char *names[C] = {"a", "b", "c"};
    dfl_data_attrs at = {0};
    at.c = C;
    at.channels = names;
    at.periodic = "none";
    at.source = "test";
    at.h = H;
    at.w = W;
    CHECK(dfl_data_write_attrs(f, &at) == DFL_OK);
    const char *vars[2] = {"/obs", "/mask"};
    CHECK(dfl_data_write_dims(f, &at, N, NULL, vars, 2) == DFL_OK);
    CHECK(H5Fclose(f) >= 0);
}

/* As another tool may write it: 5 samples per chunk, deflate. */
static void write_multi_sample_chunks(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    for (int k = 0; k < 2; ++k) {
        hsize_t d[4] = {N, k ? MC : C, H, W}, ch[4] = {5, k ? MC : C, H, W};
        hid_t sp = H5Screate_simple(4, d, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 4, ch);
        H5Pset_deflate(dcpl, 1);
        hid_t ds =
            H5Dcreate2(f, k ? "/mask" : "/obs", k ? H5T_STD_U8LE : H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        CHECK(H5Dwrite(ds, k ? H5T_NATIVE_UCHAR : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                       k ? (const void *)g_mask : (const void *)g_obs) >= 0);
        H5Dclose(ds);
        H5Pclose(dcpl);
        H5Sclose(sp);
    }
    H5Fclose(f);
}

static dfl_loader *make(const dfl_dataset *ds, int patch, int prefetch) {
    dfl_loader_config cfg;
    dfl_loader_config_default(&cfg);
    cfg.batch = 4;
    cfg.patch = patch;
    cfg.seed = 7;
    cfg.prefetch = prefetch;
    cfg.val_fraction = 0.2;
    cfg.split = DFL_SPLIT_TRAIN;
    dfl_loader *ld = NULL;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_OK);
    return ld;
}

/* 15 batches (more than two epochs of the 18-sample training split). */
static int same_batches(const dfl_dataset *a, const dfl_dataset *b, int patch, int prefetch) {
    dfl_loader *la = make(a, patch, prefetch), *lb = make(b, patch, prefetch);
    int same = 1;
    for (int k = 0; k < 15; ++k) {
        dfl_batch x, y;
        CHECK(dfl_loader_next(la, &x) == DFL_OK);
        CHECK(dfl_loader_next(lb, &y) == DFL_OK);
        same &= x.b == y.b && x.h == y.h && x.w == y.w;
        same &= !memcmp(x.obs, y.obs, sizeof(float) * (size_t)x.b * C * (size_t)x.h * (size_t)x.w);
        same &= !memcmp(x.mask, y.mask, (size_t)x.b * MC * (size_t)x.h * (size_t)x.w);
        same &= !memcmp(x.index, y.index, sizeof(int64_t) * (size_t)x.b);
        same &= !memcmp(x.crop_y, y.crop_y, sizeof(int) * (size_t)x.b) &&
                !memcmp(x.crop_x, y.crop_x, sizeof(int) * (size_t)x.b);
    }
    dfl_loader_destroy(la);
    dfl_loader_destroy(lb);
    return same;
}

static void parse_options(void) {
    dfl_h5_layout l;
    CHECK(dfl_data_parse_layout(NULL, NULL, &l) == DFL_OK && !l.chunked && !l.deflate);
    CHECK(dfl_data_parse_layout("chunked", NULL, &l) == DFL_OK && l.chunked && !l.deflate);
    CHECK(dfl_data_parse_layout(NULL, "5", &l) == DFL_OK && l.chunked && l.deflate == 5);
    CHECK(dfl_data_parse_layout("chunked", "0", &l) == DFL_OK && l.chunked && !l.deflate);
    CHECK(dfl_data_parse_layout("contiguous", "0", &l) == DFL_OK && !l.chunked);
    CHECK(dfl_data_parse_layout("contiguous", "3", &l) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "--compress 3 needs --layout chunked") != NULL, "%s", dfl_last_error());
    dfl_clear_error(); /* the first message of a failure is kept */
    CHECK(dfl_data_parse_layout("tiled", NULL, &l) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "--layout: 'tiled'") != NULL, "%s", dfl_last_error());
    CHECK(dfl_data_parse_layout(NULL, "10", &l) == DFL_EUSAGE);
    CHECK(dfl_data_parse_layout(NULL, "x", &l) == DFL_EUSAGE);
    dfl_clear_error();
}

int main(void) {
    dfl_h5_quiet();
    parse_options();
    char dir[256], paths[3][320];
    snprintf(dir, sizeof dir, "/tmp/dfl_data_layout_%d", (int)getpid());
    mkdir(dir, 0755);
    tf_fill(N, C, MC, H, W, g_obs, g_mask);
    const dfl_h5_layout lays[3] = {{0, 0}, {1, 0}, {1, 6}};
    const char *names[3] = {"contiguous", "chunked", "deflate"};
    dfl_dataset *ds[3];
    for (int i = 0; i < 3; ++i) {
        snprintf(paths[i], sizeof paths[i], "%s/%s.h5", dir, names[i]);
        write_file(paths[i], lays[i]);
        CHECK(dfl_dataset_open(paths[i], &ds[i]) == DFL_OK);
        dfl_h5_layout got;
        CHECK(dfl_h5_get_layout(ds[i]->file, paths[i], "/obs", &got) == DFL_OK);
        CHECK_MSG(got.chunked == lays[i].chunked && got.deflate == lays[i].deflate, "%s: layout %d/%d", names[i],
                  got.chunked, got.deflate);
        const char *mode = dfl_dataset_read_mode(ds[i]);
        CHECK_MSG(i == 0 ? strcmp(mode, "HDF5 hyperslab") != 0 : strcmp(mode, "HDF5 hyperslab") == 0, "%s: %s",
                  names[i], mode);
    }
    struct stat s1, s2;
    CHECK(stat(paths[1], &s1) == 0 && stat(paths[2], &s2) == 0);
    CHECK_MSG(s2.st_size < s1.st_size, "deflate makes the file smaller (%lld vs %lld bytes)", (long long)s2.st_size,
              (long long)s1.st_size);
    /* the chunk cache of the HDF5 read path holds one whole sample */
    for (int i = 1; i < 3; ++i) {
        hid_t dapl = H5Dget_access_plist(ds[i]->obs_dset);
        size_t slots = 0, bytes = 0;
        double w0 = 0;
        CHECK(H5Pget_chunk_cache(dapl, &slots, &bytes, &w0) >= 0);
        CHECK_MSG(bytes >= sizeof(float) * C * H * W, "chunk cache %zu bytes", bytes);
        H5Pclose(dapl);
    }
    for (int i = 1; i < 3; ++i)
        for (int prefetch = 0; prefetch < 2; ++prefetch) {
            CHECK_MSG(same_batches(ds[0], ds[i], 0, prefetch), "%s: whole-field batches (prefetch %d)", names[i],
                      prefetch);
            CHECK_MSG(same_batches(ds[0], ds[i], 6, prefetch), "%s: 6x6 crops (prefetch %d)", names[i], prefetch);
        }
    /* chunks of several samples: the cache holds one whole chunk */
    char multi[340];
    snprintf(multi, sizeof multi, "%s/multi.h5", dir);
    write_multi_sample_chunks(multi);
    dfl_dataset *dm;
    CHECK(dfl_dataset_open(multi, &dm) == DFL_OK);
    hid_t dapl = H5Dget_access_plist(dm->obs_dset);
    size_t slots = 0, bytes = 0;
    double w0 = 0;
    CHECK(H5Pget_chunk_cache(dapl, &slots, &bytes, &w0) >= 0);
    CHECK_MSG(bytes >= 5 * sizeof(float) * C * H * W, "chunk cache %zu bytes for 5-sample chunks", bytes);
    H5Pclose(dapl);
    CHECK_MSG(same_batches(ds[0], dm, 6, 0), "5-sample chunks: 6x6 crops");
    dfl_dataset_close(dm);
    unlink(multi);
    const dfl_dataset_info *a = dfl_dataset_get_info(ds[0]), *b = dfl_dataset_get_info(ds[2]);
    for (int ch = 0; ch < C; ++ch)
        CHECK_MSG(a->mean[ch] == b->mean[ch] && a->std[ch] == b->std[ch], "same statistics, channel %d", ch);
    for (int i = 0; i < 3; ++i) {
        dfl_dataset_close(ds[i]);
        unlink(paths[i]);
    }
    rmdir(dir);
    return dfl_test_finish("data_layout_test");
}
