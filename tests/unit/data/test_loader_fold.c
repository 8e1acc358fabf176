/* The loader's shared-channel stream (dfl_loader_config.fold_channels,
 * model.channels = shared; include/dynfill/data.h):
 *  - the stream's elements are the N x C (sample, channel) pairs; in file
 *    order element k is channel k % C of sample k / C;
 *  - each element is one normalised channel plane of the file, with the
 *    shared mask (mask_c 1) or the channel's own mask (mask_c C);
 *  - a shuffled epoch visits every pair exactly once;
 *  - crops are windows of that plane; the validation split holds the last
 *    samples' channels;
 *  - a periodic shift moves the plane and its mask together;
 *  - each element reads only its planes (bytes read: one file's worth an
 *    epoch), on the direct pread path and through HDF5 hyperslabs alike;
 *  - a lazily opened file checks the planes it reads: a channel whose own
 *    mask observes nothing is a field like any other, a non-finite
 *    observed value names its channel. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_test_files.h"
#include "dfl_test.h"
#include "dynfill/data.h"

enum { N = 11, C = 3, H = 6, W = 6, HW = H * W };
static char dir[256];

static dfl_loader *make(const dfl_dataset *ds, int batch, int patch, int shuffle, double val, dfl_split split,
                        int shift, int prefetch) {
    dfl_loader_config cfg;
    dfl_loader_config_default(&cfg);
    cfg.batch = batch;
    cfg.patch = patch;
    cfg.shuffle = shuffle;
    cfg.val_fraction = val;
    cfg.split = split;
    cfg.seed = 7;
    cfg.augment_shift = shift;
    cfg.fold_channels = 1;
    cfg.prefetch = prefetch;
    dfl_loader *ld = NULL;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_OK);
    return ld;
}

/* Element j of batch b equals window (crop_y, crop_x) of its channel plane in the file:
 * norm [N, C, H, W] normalised values, mask [N, mc, H, W]. */
static int element_matches(const dfl_batch *b, int j, const float *norm, const uint8_t *mask, int mc) {
    const int64_t s = b->index[j];
    const int ch = b->channel[j];
    int ok = 1;
    for (int y = 0; y < b->h; ++y)
        for (int x = 0; x < b->w; ++x) {
            const int fy = y + b->crop_y[j], fx = x + b->crop_x[j];
            const size_t o = ((size_t)j * b->h + y) * b->w + x;
            ok &= b->obs[o] == norm[((s * C + ch) * H + fy) * W + fx];
            ok &= b->mask[o] == mask[((s * mc + (mc == 1 ? 0 : ch)) * H + fy) * W + fx];
        }
    return ok;
}

static void one_file(int mc, int chunked) {
    char path[300];
    snprintf(path, sizeof path, "%s/fold_mc%d_%d.h5", dir, mc, chunked);
    float *obs = malloc(sizeof(float) * N * C * HW), *norm = malloc(sizeof(float) * N * C * HW);
    uint8_t *mask = malloc((size_t)N * mc * HW);
    tf_fill(N, C, mc, H, W, obs, mask);
    tf_dataset(path, N, C, mc, H, W, obs, mask, chunked);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    tf_attr_string(f, "periodic", "xy");
    H5Fclose(f);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(path, &ds) == DFL_OK);
    CHECK(dfl_dataset_read_samples(ds, 0, N, norm, NULL) == DFL_OK);

    /* file order, batch 1: element k is (k / C, k % C); no prefetch, so that the bytes read are those of
     * the batches taken (a prefetching loader may have read the next one already) */
    dfl_loader *ld = make(ds, 1, 0, 0, 0.0, DFL_SPLIT_ALL, 0, 0);
    CHECK(dfl_loader_split_size(ld) == N * C);
    int order = 1, match = 1, shape = 1;
    for (int k = 0; k < N * C; ++k) {
        dfl_batch b;
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        shape &= b.b == 1 && b.c == 1 && b.mask_c == 1 && b.h == H && b.w == W;
        order &= b.index[0] == k / C && b.channel[0] == k % C;
        match &= element_matches(&b, 0, norm, mask, mc);
    }
    CHECK_MSG(shape, "mask_c %d: batches of one-channel fields", mc);
    CHECK_MSG(order, "mask_c %d: in file order, element k is channel k %% C of sample k / C", mc);
    CHECK_MSG(match, "mask_c %d: each element is its normalised channel plane and that channel's mask", mc);
    dfl_loader_cursor cur = dfl_loader_get_cursor(ld);
    CHECK(cur.epoch == 1 && cur.position == 0);
    CHECK_MSG(dfl_loader_bytes_read(ld) == (uint64_t)N * C * HW * sizeof(float) + (uint64_t)N * C * HW,
              "mask_c %d: an epoch reads each plane once (%llu bytes)", mc,
              (unsigned long long)dfl_loader_bytes_read(ld));
    dfl_loader_destroy(ld);

    /* shuffled, 3 per batch, 5 x 5 crops: one epoch visits every pair once */
    ld = make(ds, 3, 5, 1, 0.0, DFL_SPLIT_ALL, 0, 1);
    int seen[N * C] = {0}, sorted = 1;
    match = 1;
    for (int k = 0; k < N * C / 3; ++k) {
        dfl_batch b;
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        for (int j = 0; j < 3; ++j) {
            const int e = (int)b.index[j] * C + b.channel[j];
            seen[e]++;
            sorted &= e == 3 * k + j;
            match &= element_matches(&b, j, norm, mask, mc);
        }
    }
    int perm = 1;
    for (int e = 0; e < N * C; ++e) perm &= seen[e] == 1;
    CHECK_MSG(perm, "mask_c %d: a shuffled epoch visits each (sample, channel) once", mc);
    CHECK_MSG(!sorted, "mask_c %d: and is shuffled", mc);
    CHECK_MSG(match, "mask_c %d: 5x5 crops are windows of the channel plane", mc);
    dfl_loader_destroy(ld);

    /* validation split 0.2: the last round(0.2 * 11) = 2 samples, 6 fields */
    ld = make(ds, 6, 0, 0, 0.2, DFL_SPLIT_VAL, 0, 1);
    CHECK(dfl_loader_split_size(ld) == 2 * C);
    dfl_batch b;
    CHECK(dfl_loader_next(ld, &b) == DFL_OK);
    int val = 1;
    for (int j = 0; j < 6; ++j) val &= b.index[j] == N - 2 + j / C && b.channel[j] == j % C;
    CHECK_MSG(val, "mask_c %d: the validation split holds the last samples' channels", mc);
    dfl_loader_destroy(ld);

    /* periodic shifts move each plane and its mask together */
    ld = make(ds, 4, 0, 1, 0.0, DFL_SPLIT_ALL, 1, 1);
    int rolled = 1, moved = 0;
    for (int k = 0; k < 6; ++k) {
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        for (int j = 0; j < 4; ++j) {
            const float *src = norm + (b.index[j] * C + b.channel[j]) * HW;
            const uint8_t *msrc = mask + (b.index[j] * mc + (mc == 1 ? 0 : b.channel[j])) * HW;
            int found = 0;
            for (int dy = 0; dy < H && !found; ++dy)
                for (int dx = 0; dx < W && !found; ++dx) {
                    int eq = 1;
                    for (int y = 0; y < H; ++y)
                        for (int x = 0; x < W; ++x) {
                            const int si = ((y - dy + H) % H) * W + (x - dx + W) % W;
                            eq &= b.obs[j * HW + y * W + x] == src[si] && b.mask[j * HW + y * W + x] == msrc[si];
                        }
                    if (eq) {
                        found = 1;
                        moved |= dy || dx;
                    }
                }
            rolled &= found;
        }
    }
    CHECK_MSG(rolled, "mask_c %d: a shifted element is np.roll of its plane, mask rolled alike", mc);
    CHECK_MSG(moved, "mask_c %d: shifts happen", mc);
    dfl_loader_destroy(ld);
    dfl_dataset_close(ds);
    free(obs);
    free(norm);
    free(mask);
}

/* A lazily opened file (statistics in its attributes) with per-channel masks: channel 1 of sample 2
 * observes nothing, channel 2 of sample 4 holds a NaN at an observed entry. */
static void lazy_checks(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/lazy.h5", dir);
    float *obs = malloc(sizeof(float) * N * C * HW);
    uint8_t *mask = malloc((size_t)N * C * HW);
    tf_fill(N, C, C, H, W, obs, mask);
    memset(mask + (2 * C + 1) * HW, 0, HW);
    mask[(4 * C + 2) * HW + 7] = 1;
    obs[(4 * C + 2) * HW + 7] = NAN;
    tf_dataset(path, N, C, C, H, W, obs, mask, 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    const double mean[C] = {0, 100, 200}, std[C] = {4, 4, 4};
    tf_attr_doubles(f, "mean", mean, C);
    tf_attr_doubles(f, "std", std, C);
    H5Fclose(f);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open_lazy(path, &ds) == DFL_OK);
    dfl_loader *ld = make(ds, 1, 0, 0, 0.0, DFL_SPLIT_ALL, 0, 1);
    dfl_batch b;
    int empty_ok = 1;
    for (int k = 0; k < 4 * C + 2; ++k) { /* up to sample 4, channel 2 */
        empty_ok &= dfl_loader_next(ld, &b) == DFL_OK;
        if (k == 2 * C + 1) {
            int any = 0;
            for (int i = 0; i < HW; ++i) any |= b.mask[i];
            empty_ok &= !any;
        }
    }
    CHECK_MSG(empty_ok, "a channel whose own mask observes nothing is read as a field");
    dfl_clear_error();
    CHECK(dfl_loader_next(ld, &b) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "sample 4, channel 2, row 1, column 1") != NULL, "%s", dfl_last_error());
    dfl_clear_error();
    dfl_loader_destroy(ld);
    dfl_dataset_close(ds);
    free(obs);
    free(mask);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dfl_loader_fold_%d", (int)getpid());
    mkdir(dir, 0755);
    for (int chunked = 0; chunked < 2; ++chunked) {
        one_file(1, chunked);
        one_file(C, chunked);
    }
    lazy_checks();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_loader_fold_test");
}
