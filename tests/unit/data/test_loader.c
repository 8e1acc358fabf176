/* Streaming loader (include/dynfill/data.h, docs/design.md, "Distributed training"):
 *  - batches hold exactly the normalised /obs and /mask of the file; a
 *    /truth of garbage in the same file never reaches them;
 *  - each epoch is a Philox permutation of the split, reproducible by
 *    (seed, epoch), different across epochs and seeds;
 *  - two ranks together see what one rank sees with the same global batch;
 *  - prefetching, the HDF5 read path and the direct pread path agree;
 *  - crops are windows of the whole field;
 *  - a saved cursor continues the stream bit-exactly;
 *  - the validation split holds the last samples;
 *  - withheld cells (data.withhold_cells) read as unobserved, 0, in every
 *    crop, and every other entry as the file has it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_test_files.h"
#include "dfl_test.h"
#include "dynfill/data.h"

enum { N = 37, C = 2, MC = 1, H = 8, W = 8 };
static float g_obs[N * C * H * W];
static uint8_t g_mask[N * MC * H * W];
static char dir[256];
static char path_direct[300], path_chunked[300];

/* The expected normalised value of (sample, ch, y, x). */
static float expected(const dfl_dataset_info *in, int64_t s, int ch, int y, int x) {
    if (!g_mask[(s * MC) * H * W + y * W + x]) return 0.0f;
    return (g_obs[((s * C + ch) * H + y) * W + x] - (float)in->mean[ch]) * (float)(1.0 / in->std[ch]);
}

static int batch_matches_file(const dfl_dataset_info *in, const dfl_batch *b) {
    int ok = 1;
    for (int j = 0; j < b->b; ++j)
        for (int ch = 0; ch < C; ++ch)
            for (int y = 0; y < b->h; ++y)
                for (int x = 0; x < b->w; ++x) {
                    const int64_t s = b->index[j];
                    const int fy = y + b->crop_y[j], fx = x + b->crop_x[j];
                    ok &= b->obs[((j * C + ch) * b->h + y) * b->w + x] == expected(in, s, ch, fy, fx);
                    if (ch < MC)
                        ok &= b->mask[((j * MC + ch) * b->h + y) * b->w + x] ==
                              g_mask[(s * MC + ch) * H * W + fy * W + fx];
                }
    return ok;
}

static dfl_loader *make(const dfl_dataset *ds, int batch, int patch, int rank, int world, uint64_t seed, int prefetch,
                        double val, dfl_split split) {
    dfl_loader_config cfg;
    dfl_loader_config_default(&cfg);
    cfg.batch = batch;
    cfg.patch = patch;
    cfg.rank = rank;
    cfg.world = world;
    cfg.seed = seed;
    cfg.prefetch = prefetch;
    cfg.val_fraction = val;
    cfg.split = split;
    dfl_loader *ld = NULL;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_OK);
    return ld;
}

/* Indices of the next `count` samples seen by a loader. */
static void take_indices(dfl_loader *ld, int batches, int64_t *out) {
    dfl_batch b;
    for (int k = 0; k < batches; ++k) {
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        memcpy(out + (size_t)k * b.b, b.index, sizeof(int64_t) * (size_t)b.b);
    }
}

static void truth_never_leaks(void) {
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(path_direct, &ds) == DFL_OK);
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    dfl_loader *ld = make(ds, 5, 0, 0, 1, 11, 1, 0.0, DFL_SPLIT_ALL);
    int all_match = 1, saw_garbage = 0;
    for (int k = 0; k < 20; ++k) {
        dfl_batch b;
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        all_match &= batch_matches_file(in, &b);
        for (int i = 0; i < b.b * C * H * W; ++i) saw_garbage |= !isfinite(b.obs[i]) || fabsf(b.obs[i]) > 1e6f;
    }
    CHECK_MSG(all_match, "every batch equals the normalised /obs and /mask");
    CHECK_MSG(!saw_garbage, "no /truth value (NaN, 1e30) reaches a batch");
    float *all = malloc(sizeof(float) * N * C * H * W);
    CHECK(dfl_dataset_read_samples(ds, 0, N, all, NULL) == DFL_OK);
    int clean = 1;
    for (int i = 0; i < N * C * H * W; ++i) clean &= isfinite(all[i]) && fabsf(all[i]) < 1e6f;
    CHECK_MSG(clean, "whole-file reads never see /truth either");
    free(all);
    dfl_loader_destroy(ld);
    dfl_dataset_close(ds);
}

static void epochs_are_permutations(const dfl_dataset *ds) {
    /* Batch 1 so the stream is visible sample by sample. */
    dfl_loader *ld = make(ds, 1, 0, 0, 1, 5, 1, 0.0, DFL_SPLIT_ALL);
    int64_t e0[N], e1[N];
    take_indices(ld, N, e0);
    take_indices(ld, N, e1);
    int seen0[N] = {0}, seen1[N] = {0}, same = 1, sorted = 1;
    for (int i = 0; i < N; ++i) {
        seen0[e0[i]]++;
        seen1[e1[i]]++;
        same &= e0[i] == e1[i];
        sorted &= e0[i] == i;
    }
    int perm = 1;
    for (int i = 0; i < N; ++i) perm &= seen0[i] == 1 && seen1[i] == 1;
    CHECK_MSG(perm, "each epoch visits every sample exactly once");
    CHECK_MSG(!same, "epochs 0 and 1 are shuffled differently");
    CHECK_MSG(!sorted, "epoch 0 is shuffled");
    dfl_loader_cursor cur = dfl_loader_get_cursor(ld);
    CHECK(cur.epoch == 2 && cur.position == 0);
    dfl_loader_destroy(ld);
    /* Same seed -> same order; another seed -> another order. */
    int64_t again[N], other[N];
    ld = make(ds, 1, 0, 0, 1, 5, 0, 0.0, DFL_SPLIT_ALL);
    take_indices(ld, N, again);
    dfl_loader_destroy(ld);
    ld = make(ds, 1, 0, 0, 1, 6, 0, 0.0, DFL_SPLIT_ALL);
    take_indices(ld, N, other);
    dfl_loader_destroy(ld);
    CHECK(!memcmp(again, e0, sizeof e0));
    CHECK(memcmp(other, e0, sizeof e0) != 0);
    /* Without shuffling: file order. */
    dfl_loader_config cfg;
    dfl_loader_config_default(&cfg);
    cfg.batch = 4;
    cfg.shuffle = 0;
    cfg.split = DFL_SPLIT_ALL;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_OK);
    dfl_batch b;
    for (int k = 0; k < 10; ++k) {
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        for (int j = 0; j < 4; ++j) CHECK(b.index[j] == (k * 4 + j) % N); /* wraps into the next epoch */
    }
    dfl_loader_destroy(ld);
}

static void ranks_partition_the_global_batch(const dfl_dataset *ds) {
    enum { B = 3, STEPS = 30 };
    int64_t one[STEPS * 2 * B], r0[STEPS * B], r1[STEPS * B];
    dfl_loader *a = make(ds, 2 * B, 4, 0, 1, 9, 1, 0.0, DFL_SPLIT_TRAIN);
    dfl_loader *b0 = make(ds, B, 4, 0, 2, 9, 1, 0.0, DFL_SPLIT_TRAIN);
    dfl_loader *b1 = make(ds, B, 4, 1, 2, 9, 0, 0.0, DFL_SPLIT_TRAIN);
    int crops_equal = 1;
    for (int k = 0; k < STEPS; ++k) {
        dfl_batch ba, bb0, bb1;
        CHECK(dfl_loader_next(a, &ba) == DFL_OK);
        CHECK(dfl_loader_next(b0, &bb0) == DFL_OK);
        CHECK(dfl_loader_next(b1, &bb1) == DFL_OK);
        memcpy(one + k * 2 * B, ba.index, sizeof(int64_t) * 2 * B);
        memcpy(r0 + k * B, bb0.index, sizeof(int64_t) * B);
        memcpy(r1 + k * B, bb1.index, sizeof(int64_t) * B);
        /* the same samples with the same crops and values */
        crops_equal &= !memcmp(ba.obs, bb0.obs, sizeof(float) * B * C * 4 * 4);
        crops_equal &= !memcmp(ba.obs + B * C * 16, bb1.obs, sizeof(float) * B * C * 16);
        crops_equal &= ba.crop_y[B] == bb1.crop_y[0] && ba.crop_x[B] == bb1.crop_x[0];
    }
    int ok = 1;
    for (int k = 0; k < STEPS; ++k)
        for (int j = 0; j < B; ++j)
            ok &= one[k * 2 * B + j] == r0[k * B + j] && one[k * 2 * B + B + j] == r1[k * B + j];
    CHECK_MSG(ok, "rank 0 and rank 1 (batch 3) split the single-rank batch of 6");
    CHECK_MSG(crops_equal, "crops and values do not depend on the rank");
    dfl_loader_destroy(a);
    dfl_loader_destroy(b0);
    dfl_loader_destroy(b1);
    /* Invalid configurations are usage errors. */
    dfl_loader_config cfg;
    dfl_loader_config_default(&cfg);
    dfl_loader *ld;
    cfg.rank = 2;
    cfg.world = 2;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_EUSAGE);
    dfl_clear_error();
    dfl_loader_config_default(&cfg);
    cfg.patch = 9;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "data.patch 9") != NULL);
    dfl_clear_error();
}

static void paths_and_prefetch_agree(void) {
    dfl_dataset *d1, *d2;
    CHECK(dfl_dataset_open(path_direct, &d1) == DFL_OK);
    CHECK(dfl_dataset_open(path_chunked, &d2) == DFL_OK);
    const dfl_dataset_info *in = dfl_dataset_get_info(d2);
    dfl_loader *a = make(d1, 4, 5, 0, 1, 3, 1, 0.0, DFL_SPLIT_TRAIN);
    dfl_loader *b = make(d2, 4, 5, 0, 1, 3, 0, 0.0, DFL_SPLIT_TRAIN);
    dfl_loader *c = make(d2, 4, 5, 0, 1, 3, 1, 0.0, DFL_SPLIT_TRAIN);
    int same = 1, match = 1, moved = 0;
    for (int k = 0; k < 25; ++k) {
        dfl_batch x, y, z;
        CHECK(dfl_loader_next(a, &x) == DFL_OK);
        CHECK(dfl_loader_next(b, &y) == DFL_OK);
        CHECK(dfl_loader_next(c, &z) == DFL_OK);
        same &= !memcmp(x.obs, y.obs, sizeof(float) * 4 * C * 25) && !memcmp(x.mask, y.mask, 4 * MC * 25) &&
                !memcmp(x.obs, z.obs, sizeof(float) * 4 * C * 25) && !memcmp(x.index, z.index, sizeof(int64_t) * 4);
        match &= batch_matches_file(in, &y);
        for (int j = 0; j < 4; ++j) moved |= x.crop_y[j] != 0 || x.crop_x[j] != 0;
        CHECK(x.h == 5 && x.w == 5);
        for (int j = 0; j < 4; ++j) CHECK(x.crop_y[j] >= 0 && x.crop_y[j] <= 3 && x.crop_x[j] <= 3);
    }
    CHECK_MSG(same, "direct pread, HDF5 hyperslab, with and without prefetch: identical batches");
    CHECK_MSG(match, "5x5 crops are windows of the field at (crop_y, crop_x)");
    CHECK_MSG(moved, "crops vary");
    CHECK_MSG(dfl_loader_bytes_read(a) > 0, "bytes read are counted");
    dfl_loader_destroy(a);
    dfl_loader_destroy(b);
    dfl_loader_destroy(c);
    dfl_dataset_close(d1);
    dfl_dataset_close(d2);
}

static void cursor_resume(const dfl_dataset *ds) {
    dfl_loader *a = make(ds, 6, 4, 0, 1, 21, 1, 0.2, DFL_SPLIT_TRAIN);
    dfl_batch b;
    for (int k = 0; k < 7; ++k) CHECK(dfl_loader_next(a, &b) == DFL_OK);
    dfl_loader_cursor cur = dfl_loader_get_cursor(a);
    CHECK(cur.epoch == 42 / 30 && cur.position == 42 % 30);
    enum { K = 9 };
    float *want = malloc(sizeof(float) * K * 6 * C * 16);
    int64_t idx[K * 6];
    for (int k = 0; k < K; ++k) {
        CHECK(dfl_loader_next(a, &b) == DFL_OK);
        memcpy(want + (size_t)k * 6 * C * 16, b.obs, sizeof(float) * 6 * C * 16);
        memcpy(idx + k * 6, b.index, sizeof(int64_t) * 6);
    }
    /* A new loader (as after a restart) and the same loader rewound. */
    dfl_loader *r = make(ds, 6, 4, 0, 1, 21, 0, 0.2, DFL_SPLIT_TRAIN);
    CHECK(dfl_loader_set_cursor(r, cur) == DFL_OK);
    CHECK(dfl_loader_set_cursor(a, cur) == DFL_OK);
    int same = 1;
    for (int k = 0; k < K; ++k) {
        dfl_batch x, y;
        CHECK(dfl_loader_next(r, &x) == DFL_OK);
        CHECK(dfl_loader_next(a, &y) == DFL_OK);
        same &= !memcmp(x.obs, want + (size_t)k * 6 * C * 16, sizeof(float) * 6 * C * 16);
        same &= !memcmp(y.obs, want + (size_t)k * 6 * C * 16, sizeof(float) * 6 * C * 16);
        same &= !memcmp(x.index, idx + k * 6, sizeof(int64_t) * 6);
    }
    CHECK_MSG(same, "a restored cursor continues bit-exactly");
    /* Training split of val_fraction 0.2: samples [0, 30). */
    int in_train = 1;
    for (int k = 0; k < K * 6; ++k) in_train &= idx[k] >= 0 && idx[k] < 30;
    CHECK(in_train);
    dfl_loader_cursor bad = {0, 30};
    CHECK(dfl_loader_set_cursor(r, bad) == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(dfl_loader_split_size(r) == 30);
    dfl_loader_destroy(a);
    dfl_loader_destroy(r);
    free(want);
    /* Validation split: the last round(0.2 * 37) = 7 samples. */
    dfl_loader *v = make(ds, 7, 0, 0, 1, 1, 1, 0.2, DFL_SPLIT_VAL);
    CHECK(dfl_loader_split_size(v) == 7);
    CHECK(dfl_loader_next(v, &b) == DFL_OK);
    int seen[N] = {0};
    for (int j = 0; j < 7; ++j) seen[b.index[j]]++;
    int ok = 1;
    for (int i = 30; i < 37; ++i) ok &= seen[i] == 1;
    CHECK_MSG(ok, "validation batch = samples 30..36");
    dfl_loader_destroy(v);
}

static void withheld_cells_read_as_unobserved(const dfl_dataset *ds) {
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    uint8_t withheld[H * W] = {0};
    withheld[0] = withheld[3 * W + 5] = withheld[7 * W + 7] = withheld[4 * W + 1] = 1;
    dfl_loader_config cfg;
    dfl_loader_config_default(&cfg);
    cfg.batch = 6;
    cfg.patch = 5;
    cfg.seed = 3;
    cfg.withheld = withheld;
    dfl_loader *ld = NULL;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_OK);
    int ok = 1, covered = 0, observed_elsewhere = 0;
    for (int k = 0; k < 12; ++k) {
        dfl_batch b;
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        for (int j = 0; j < b.b; ++j)
            for (int y = 0; y < b.h; ++y)
                for (int x = 0; x < b.w; ++x) {
                    const int64_t s = b.index[j];
                    const int fy = y + b.crop_y[j], fx = x + b.crop_x[j];
                    const int gone = withheld[fy * W + fx];
                    const uint8_t m = b.mask[(j * b.h + y) * b.w + x];
                    covered += gone && g_mask[s * MC * H * W + fy * W + fx];
                    observed_elsewhere += !gone && m;
                    ok &= m == (gone ? 0 : g_mask[s * MC * H * W + fy * W + fx]);
                    for (int ch = 0; ch < C; ++ch)
                        ok &= b.obs[((j * C + ch) * b.h + y) * b.w + x] == (gone ? 0.0f : expected(in, s, ch, fy, fx));
                }
    }
    CHECK_MSG(ok, "withheld cells read as unobserved, every other entry as the file has it");
    CHECK_MSG(covered > 0 && observed_elsewhere > 0, "the crops met withheld cells the file observes");
    dfl_loader_destroy(ld);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dfl_data_loader_%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(path_direct, sizeof path_direct, "%s/direct.h5", dir);
    snprintf(path_chunked, sizeof path_chunked, "%s/chunked.h5", dir);
    tf_fill(N, C, MC, H, W, g_obs, g_mask);
    tf_dataset(path_direct, N, C, MC, H, W, g_obs, g_mask, 0);
    tf_dataset(path_chunked, N, C, MC, H, W, g_obs, g_mask, 1);
    /* Ground truth of garbage in the dataset file itself. */
    float *garbage = malloc(sizeof(float) * N * C * H * W);
    for (int i = 0; i < N * C * H * W; ++i) garbage[i] = i % 2 ? NAN : 1e30f;
    hid_t f = H5Fopen(path_direct, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t d[4] = {N, C, H, W};
    tf_write(f, "/truth", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, d, garbage, 0);
    H5Fclose(f);
    free(garbage);

    truth_never_leaks();
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(path_direct, &ds) == DFL_OK);
    epochs_are_permutations(ds);
    ranks_partition_the_global_batch(ds);
    cursor_resume(ds);
    withheld_cells_read_as_unobserved(ds);
    dfl_dataset_close(ds);
    paths_and_prefetch_agree();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_loader_test");
}
