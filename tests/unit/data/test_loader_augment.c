/* Symmetry augmentation of the training loader (data.augment_shift,
 * data.augment_symmetry; include/dynfill/data.h, dfl_symmetry):
 *  - a shifted sample is np.roll of the file's sample, and its mask is
 *    rolled by the same shift;
 *  - no shift along a non-periodic axis, and only the declared shifts
 *    (shift_y:P: multiples of P) when the dataset has a symmetry attribute;
 *  - a declared rot180 gives the sample or its rotation about grid point 0;
 *  - the draws are a pure function of (seed, stream position): two loaders
 *    agree, and a restored cursor continues bit for bit;
 *  - symmetry attributes that the field cannot have are refused on open. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_write.h"
#include "data_test_files.h"
#include "dfl_test.h"
#include "dynfill/data.h"

enum { N = 23, C = 2, MC = 1 };
static char dir[256];

/* A dataset file of n samples h x w with the given attributes (symmetry NULL: none). */
static void write_file(const char *path, int h, int w, const char *periodic, const char *symmetry) {
    float *obs = malloc(sizeof(float) * N * C * h * w);
    uint8_t *mask = malloc((size_t)N * MC * h * w);
    tf_fill(N, C, MC, h, w, obs, mask);
    tf_dataset(path, N, C, MC, h, w, obs, mask, 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    tf_attr_string(f, "periodic", periodic);
    if (symmetry) tf_attr_string(f, "symmetry", symmetry);
    H5Fclose(f);
    free(obs);
    free(mask);
}

static dfl_loader *make(const dfl_dataset *ds, int batch, int shift, int symmetry, uint64_t seed) {
    dfl_loader_config cfg;
    dfl_loader_config_default(&cfg);
    cfg.batch = batch;
    cfg.seed = seed;
    cfg.split = DFL_SPLIT_ALL;
    cfg.augment_shift = shift;
    cfg.augment_symmetry = symmetry;
    dfl_loader *ld = NULL;
    CHECK(dfl_loader_create(ds, &cfg, &ld) == DFL_OK);
    return ld;
}

/* np.roll(a, (dy, dx), axis=(-2, -1)) of planes [planes, h, w]. */
static int rolled_equal(const float *got, const uint8_t *gmask, const float *orig, const uint8_t *omask, int h, int w,
                        int dy, int dx) {
    for (int ch = 0; ch < C; ++ch)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const int sy = ((y - dy) % h + h) % h, sx = ((x - dx) % w + w) % w;
                if (got[(ch * h + y) * w + x] != orig[(ch * h + sy) * w + sx]) return 0;
                if (ch < MC && gmask[(ch * h + y) * w + x] != omask[(ch * h + sy) * w + sx]) return 0;
            }
    return 1;
}

/* The rotation by 180 degrees about grid point 0 of a periodic field: out[y][x] = in[-y mod h][-x mod w]. */
static int rot180_equal(const float *got, const uint8_t *gmask, const float *orig, const uint8_t *omask, int h, int w) {
    for (int ch = 0; ch < C; ++ch)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const int sy = (h - y) % h, sx = (w - x) % w;
                if (got[(ch * h + y) * w + x] != orig[(ch * h + sy) * w + sx]) return 0;
                if (ch < MC && gmask[(ch * h + y) * w + x] != omask[(ch * h + sy) * w + sx]) return 0;
            }
    return 1;
}

/* Every sample of `batches` batches is a roll of its file sample by a shift
 * with dy a multiple of step_y (0: dy = 0) and dx of step_x; counts the
 * nonzero dy and dx seen. */
static void check_shifts(const char *path, int h, int w, int step_y, int step_x, int *seen_dy, int *seen_dx) {
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(path, &ds) == DFL_OK);
    float *orig = malloc(sizeof(float) * N * C * h * w);
    uint8_t *omask = malloc((size_t)N * MC * h * w);
    CHECK(dfl_dataset_read_samples(ds, 0, N, orig, omask) == DFL_OK);
    dfl_loader *ld = make(ds, 5, 1, 0, 3);
    int all_rolls = 1;
    *seen_dy = *seen_dx = 0;
    for (int k = 0; k < 12; ++k) {
        dfl_batch b;
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        for (int j = 0; j < b.b; ++j) {
            const float *got = b.obs + (size_t)j * C * h * w;
            const uint8_t *gm = b.mask + (size_t)j * MC * h * w;
            const float *o = orig + (size_t)b.index[j] * C * h * w;
            const uint8_t *om = omask + (size_t)b.index[j] * MC * h * w;
            int found = 0;
            for (int dy = 0; dy < h && !found; ++dy)
                for (int dx = 0; dx < w && !found; ++dx) {
                    if ((step_y ? dy % step_y : dy) || (step_x ? dx % step_x : dx)) continue;
                    if (rolled_equal(got, gm, o, om, h, w, dy, dx)) {
                        found = 1;
                        *seen_dy += dy != 0;
                        *seen_dx += dx != 0;
                    }
                }
            all_rolls &= found;
        }
    }
    CHECK_MSG(all_rolls, "%s: every sample (obs and mask together) is an allowed np.roll of the file's", path);
    dfl_loader_destroy(ld);
    free(orig);
    free(omask);
    dfl_dataset_close(ds);
}

static void shifts(void) {
    char p[300];
    int sy, sx;
    /* periodic xy, no symmetry attribute: shifts along both axes */
    snprintf(p, sizeof p, "%s/xy.h5", dir);
    write_file(p, 8, 12, "xy", NULL);
    check_shifts(p, 8, 12, 1, 1, &sy, &sx);
    CHECK_MSG(sy > 10 && sx > 10, "xy: shifts along both axes (%d, %d of 60 nonzero)", sy, sx);
    /* periodic x only: never along y */
    snprintf(p, sizeof p, "%s/x.h5", dir);
    write_file(p, 8, 12, "x", NULL);
    check_shifts(p, 8, 12, 0, 1, &sy, &sx);
    CHECK_MSG(sy == 0 && sx > 10, "x: no shift along the non-periodic y (%d), shifts along x (%d)", sy, sx);
    /* not periodic: the samples as they are */
    snprintf(p, sizeof p, "%s/none.h5", dir);
    write_file(p, 8, 12, "none", NULL);
    check_shifts(p, 8, 12, 0, 0, &sy, &sx);
    CHECK(sy == 0 && sx == 0);
    /* a declared shift_y:4 on a periodic xy field: y by multiples of 4, x not at all */
    snprintf(p, sizeof p, "%s/sym.h5", dir);
    write_file(p, 8, 12, "xy", "shift_y:4");
    check_shifts(p, 8, 12, 4, 0, &sy, &sx);
    CHECK_MSG(sy > 10 && sx == 0, "shift_y:4: y shifts by 4 (%d), none along x (%d)", sy, sx);
}

static void rotation_and_determinism(void) {
    char p[300];
    snprintf(p, sizeof p, "%s/rot.h5", dir);
    const int h = 8, w = 8;
    write_file(p, h, w, "xy", "rot180");
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(p, &ds) == DFL_OK);
    float *orig = malloc(sizeof(float) * N * C * h * w);
    uint8_t *omask = malloc((size_t)N * MC * h * w);
    CHECK(dfl_dataset_read_samples(ds, 0, N, orig, omask) == DFL_OK);
    /* shift on, but the attribute declares no shift: only the rotation */
    dfl_loader *ld = make(ds, 4, 1, 1, 8);
    int ok = 1, same = 0, rotated = 0;
    for (int k = 0; k < 10; ++k) {
        dfl_batch b;
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        for (int j = 0; j < b.b; ++j) {
            const float *got = b.obs + (size_t)j * C * h * w;
            const uint8_t *gm = b.mask + (size_t)j * MC * h * w;
            const float *o = orig + (size_t)b.index[j] * C * h * w;
            const uint8_t *om = omask + (size_t)b.index[j] * MC * h * w;
            int s = rolled_equal(got, gm, o, om, h, w, 0, 0), r = rot180_equal(got, gm, o, om, h, w);
            ok &= s || r;
            same += s;
            rotated += r;
        }
    }
    CHECK_MSG(ok && same > 5 && rotated > 5, "rot180: the sample (%d) or its rotation about grid point 0 (%d)", same,
              rotated);
    dfl_loader_destroy(ld);
    /* determinism and resume: the batches after a restored cursor are those of an uninterrupted loader */
    dfl_loader *a = make(ds, 3, 1, 1, 5), *b2 = make(ds, 3, 1, 1, 5);
    dfl_batch ba, bb;
    for (int k = 0; k < 4; ++k) CHECK(dfl_loader_next(a, &ba) == DFL_OK);
    dfl_loader_cursor cur = dfl_loader_get_cursor(a);
    CHECK(dfl_loader_set_cursor(b2, cur) == DFL_OK);
    int equal = 1;
    for (int k = 0; k < 6; ++k) {
        CHECK(dfl_loader_next(a, &ba) == DFL_OK);
        CHECK(dfl_loader_next(b2, &bb) == DFL_OK);
        equal &=
            !memcmp(ba.obs, bb.obs, sizeof(float) * 3 * C * h * w) && !memcmp(ba.mask, bb.mask, (size_t)3 * MC * h * w);
    }
    CHECK_MSG(equal, "a restored cursor continues the augmented stream bit for bit");
    dfl_loader_destroy(a);
    dfl_loader_destroy(b2);
    free(orig);
    free(omask);
    dfl_dataset_close(ds);
}

/* np.rot90(a, k) (counter-clockwise) of np.fliplr(a) when f, for a square
 * non-periodic field (mirrors about the centre): element (y, x). */
static int d4_source(int y, int x, int n, int k, int f, int *sy, int *sx) {
    int y2 = y, x2 = x;
    for (int r = 0; r < k; ++r) { /* rot90(a)[i][j] = a[j][n-1-i] */
        int t = y2;
        y2 = x2;
        x2 = n - 1 - t;
    }
    *sy = y2;
    *sx = f ? n - 1 - x2 : x2;
    return 0;
}

static void d4_group(void) {
    char p[300];
    snprintf(p, sizeof p, "%s/d4.h5", dir);
    const int n = 8;
    write_file(p, n, n, "none", "flip_x,rot90");
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(p, &ds) == DFL_OK);
    float *orig = malloc(sizeof(float) * N * C * n * n);
    uint8_t *omask = malloc((size_t)N * MC * n * n);
    CHECK(dfl_dataset_read_samples(ds, 0, N, orig, omask) == DFL_OK);
    dfl_loader *ld = make(ds, 4, 1, 1, 2);
    int seen[8] = {0}, all = 1;
    for (int k = 0; k < 16; ++k) {
        dfl_batch b;
        CHECK(dfl_loader_next(ld, &b) == DFL_OK);
        for (int j = 0; j < b.b; ++j) {
            const float *got = b.obs + (size_t)j * C * n * n, *o = orig + (size_t)b.index[j] * C * n * n;
            const uint8_t *gm = b.mask + (size_t)j * MC * n * n, *om = omask + (size_t)b.index[j] * MC * n * n;
            int which = -1;
            for (int e = 0; e < 8 && which < 0; ++e) {
                int eq = 1;
                for (int ch = 0; ch < C; ++ch)
                    for (int y = 0; y < n; ++y)
                        for (int x = 0; x < n; ++x) {
                            int sy, sx;
                            d4_source(y, x, n, e & 3, e >> 2, &sy, &sx);
                            eq &= got[(ch * n + y) * n + x] == o[(ch * n + sy) * n + sx];
                            if (ch < MC) eq &= gm[(ch * n + y) * n + x] == om[(ch * n + sy) * n + sx];
                        }
                if (eq) which = e;
            }
            all &= which >= 0;
            if (which >= 0) seen[which]++;
        }
    }
    int elements = 0;
    for (int e = 0; e < 8; ++e) elements += seen[e] > 0;
    CHECK_MSG(all && elements == 8, "flip_x,rot90: every sample is one of the 8 (np.rot90, np.fliplr) images (%d seen)",
              elements);
    dfl_loader_destroy(ld);
    free(orig);
    free(omask);
    dfl_dataset_close(ds);
}

static void bad_attributes(void) {
    const char *bad[][3] = {
        {"x", "shift_y", "needs the y axis periodic"},
        {"xy", "shift_x:5", "does not divide"},
        {"xy", "rot90", "square"},
        {"xy", "mirror", "expected none or a comma list"},
    };
    for (int i = 0; i < 4; ++i) {
        char p[300];
        snprintf(p, sizeof p, "%s/bad%d.h5", dir, i);
        write_file(p, 8, 12, bad[i][0], bad[i][1]);
        dfl_dataset *ds = NULL;
        CHECK(dfl_dataset_open(p, &ds) == DFL_EUSAGE);
        CHECK_MSG(strstr(dfl_last_error(), bad[i][2]) != NULL, "'%s': %s", bad[i][1], dfl_last_error());
        dfl_clear_error();
    }
    dfl_symmetry s;
    CHECK(dfl_data_parse_symmetry("t", "shift_x, shift_y:16,rot180", 64, 64, 1, 1, &s) == DFL_OK);
    CHECK(s.shift_x == 1 && s.shift_y == 16 && s.rot180 && !s.rot90 && !s.flip_x);
    CHECK(dfl_data_parse_symmetry("t", "none", 64, 64, 0, 0, &s) == DFL_OK && !s.shift_x && !s.rot180);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dfl_data_augment_%d", (int)getpid());
    mkdir(dir, 0755);
    shifts();
    rotation_and_determinism();
    d4_group();
    bad_attributes();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_loader_augment_test");
}
