/* Dataset open/validation (include/dynfill/data.h): attributes, computed
 * statistics, normalised reads, splits, and every bad input giving
 * DFL_EUSAGE with a message naming the file and the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_test_files.h"
#include "dfl_test.h"
#include "dynfill/data.h"

static char dir[256];

static const char *path_of(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* Open must fail with DFL_EUSAGE and a message containing the path and `what`. */
static void expect_bad(const char *path, const char *what) {
    dfl_dataset *ds = NULL;
    dfl_clear_error();
    dfl_status st = dfl_dataset_open(path, &ds);
    const char *msg = dfl_last_error();
    CHECK_MSG(st == DFL_EUSAGE && !ds, "%s: expected DFL_EUSAGE, got %d", path, (int)st);
    CHECK_MSG(strstr(msg, path) != NULL, "message names the file: '%s'", msg);
    CHECK_MSG(strstr(msg, what) != NULL, "message names the problem '%s': '%s'", what, msg);
    if (ds) dfl_dataset_close(ds);
    dfl_clear_error();
}

static void good_dataset(void) {
    const int64_t n = 9;
    const int c = 2, mc = 1, h = 5, w = 7;
    float *obs = malloc(sizeof(float) * n * c * h * w);
    uint8_t *mask = malloc(n * mc * h * w);
    tf_fill(n, c, mc, h, w, obs, mask);
    /* Unobserved entries may hold anything, even NaN: it must be ignored. */
    for (int64_t s = 0; s < n; ++s)
        for (int ch = 0; ch < c; ++ch)
            for (int i = 0; i < h * w; ++i)
                if (!mask[s * h * w + i]) obs[((size_t)s * c + ch) * h * w + i] = NAN;
    const char *p = strdup(path_of("good.h5"));
    tf_dataset(p, n, c, mc, h, w, obs, mask, 0);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    tf_attr_string(f, "channels", "u,v");
    tf_attr_string(f, "periodic", "x");
    double lat[5] = {-60, -30, 0, 30, 60};
    tf_attr_doubles(f, "lat", lat, 5);
    H5Fclose(f);

    dfl_dataset *ds;
    CHECK(dfl_dataset_open(p, &ds) == DFL_OK);
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    CHECK(in->n == n && in->c == c && in->h == h && in->w == w && in->mask_c == 1);
    CHECK(in->periodic_x == 1 && in->periodic_y == 0 && !strcmp(in->periodic, "x"));
    CHECK(!strcmp(in->channels[0], "u") && !strcmp(in->channels[1], "v"));
    CHECK(in->lat && in->lat[4] == 60 && !in->lon);
    CHECK(in->stats_from_file == 0);
    /* mean / std of observed entries, in double here. */
    for (int ch = 0; ch < c; ++ch) {
        double s1 = 0, s2 = 0, cnt = 0;
        for (int64_t s = 0; s < n; ++s)
            for (int i = 0; i < h * w; ++i)
                if (mask[s * h * w + i]) {
                    double v = obs[((size_t)s * c + ch) * h * w + i];
                    s1 += v;
                    s2 += v * v;
                    cnt += 1;
                }
        const double mean = s1 / cnt, sd = sqrt(s2 / cnt - mean * mean);
        CHECK_CLOSE(in->mean[ch], mean, 1e-9);
        CHECK_CLOSE(in->std[ch], sd, 1e-6);
        CHECK_CLOSE(in->observed_fraction[ch], cnt / (double)(n * h * w), 1e-12);
    }
    /* Normalised reads: (x - mean)/std where observed, exactly 0 elsewhere. */
    float *got = malloc(sizeof(float) * n * c * h * w);
    uint8_t *gm = malloc(n * h * w);
    CHECK(dfl_dataset_read_samples(ds, 0, n, got, gm) == DFL_OK);
    CHECK(!memcmp(gm, mask, n * h * w));
    int ok = 1;
    for (int64_t s = 0; s < n; ++s)
        for (int ch = 0; ch < c; ++ch)
            for (int i = 0; i < h * w; ++i) {
                const size_t k = ((size_t)s * c + ch) * h * w + i;
                const float want =
                    mask[s * h * w + i] ? (obs[k] - (float)in->mean[ch]) * (float)(1.0 / in->std[ch]) : 0.0f;
                ok &= got[k] == want;
            }
    CHECK_MSG(ok, "normalised samples match (x - mean) / std and 0 at unobserved entries");
    /* Partial read, without mask output. */
    float *one = malloc(sizeof(float) * c * h * w);
    CHECK(dfl_dataset_read_samples(ds, 4, 1, one, NULL) == DFL_OK);
    CHECK(!memcmp(one, got + 4 * c * h * w, sizeof(float) * c * h * w));
    CHECK(dfl_dataset_read_samples(ds, 8, 2, one, NULL) == DFL_EUSAGE);
    dfl_clear_error();
    /* normalise / denormalise are inverse. */
    float x[2 * 5 * 7];
    for (int i = 0; i < c * h * w; ++i) x[i] = (float)i;
    dfl_dataset_normalise(ds, 1, x);
    dfl_dataset_denormalise(ds, 1, x);
    for (int i = 0; i < c * h * w; ++i) CHECK_CLOSE(x[i], (float)i, 1e-4);
    /* Splits: the last round(0.25 * 9) = 2 samples are held out. */
    int64_t st, cnt;
    CHECK(dfl_dataset_split_range(ds, 0.25, DFL_SPLIT_TRAIN, &st, &cnt) == DFL_OK && st == 0 && cnt == 7);
    CHECK(dfl_dataset_split_range(ds, 0.25, DFL_SPLIT_VAL, &st, &cnt) == DFL_OK && st == 7 && cnt == 2);
    CHECK(dfl_dataset_split_range(ds, 0.01, DFL_SPLIT_VAL, &st, &cnt) == DFL_OK && st == 8 && cnt == 1);
    CHECK(dfl_dataset_split_range(ds, 0.0, DFL_SPLIT_VAL, &st, &cnt) == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(dfl_dataset_split_range(ds, 1.0, DFL_SPLIT_TRAIN, &st, &cnt) == DFL_EUSAGE);
    dfl_clear_error();
    dfl_dataset_close(ds);

    /* Stored mean/std are used as they are. */
    f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    double mean[2] = {1.5, -2.0}, sd[2] = {2.0, 4.0};
    tf_attr_doubles(f, "mean", mean, 2);
    tf_attr_doubles(f, "std", sd, 2);
    H5Fclose(f);
    CHECK(dfl_dataset_open(p, &ds) == DFL_OK);
    in = dfl_dataset_get_info(ds);
    CHECK(in->stats_from_file == 1 && in->mean[1] == -2.0 && in->std[0] == 2.0);
    dfl_dataset_close(ds);
    free(obs);
    free(mask);
    free(got);
    free(gm);
    free(one);
    free((void *)p);
}

static void rank3_and_float_mask(void) {
    /* [N, H, W] obs with a float mask of 0.0 / 1.0 is accepted. */
    const int n = 3, h = 4, w = 4;
    float obs[3 * 16], maskf[3 * 16];
    for (int i = 0; i < n * h * w; ++i) {
        obs[i] = (float)i;
        maskf[i] = (float)(i % 3 != 0);
    }
    const char *p = path_of("rank3.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[3] = {3, 4, 4};
    tf_write(f, "/obs", H5T_IEEE_F64LE, H5T_NATIVE_FLOAT, 3, d, obs, 0);
    tf_write(f, "/mask", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d, maskf, 0);
    H5Fclose(f);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(p, &ds) == DFL_OK);
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    CHECK(in->n == 3 && in->c == 1 && in->mask_c == 1 && in->h == 4);
    float got[48];
    uint8_t m[48];
    CHECK(dfl_dataset_read_samples(ds, 0, 3, got, m) == DFL_OK);
    CHECK(m[0] == 0 && m[1] == 1 && got[0] == 0.0f);
    dfl_dataset_close(ds);
    /* A float mask holding 0.5 is rejected, not rounded. */
    maskf[17] = 0.5f;
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    tf_write(f, "/obs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d, obs, 0);
    tf_write(f, "/mask", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d, maskf, 0);
    H5Fclose(f);
    expect_bad(p, "mask values must be 0 or 1");
}

static void bad_inputs(void) {
    const int64_t n = 4;
    const int c = 2, h = 3, w = 5;
    float obs[4 * 2 * 15];
    uint8_t mask[4 * 2 * 15];
    tf_fill(n, c, 1, h, w, obs, mask);
    const char *p = strdup(path_of("bad.h5"));

    /* missing dataset */
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[4] = {4, 2, 3, 5};
    tf_write(f, "/obs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, d, obs, 0);
    H5Fclose(f);
    expect_bad(p, "/mask is missing");

    /* a /truth does not stand in for a missing /obs */
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    tf_write(f, "/truth", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, d, obs, 0);
    d[1] = 1;
    tf_write(f, "/mask", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, d, mask, 0);
    d[1] = 2;
    H5Fclose(f);
    expect_bad(p, "/obs is missing");

    /* obs / mask shape mismatch */
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    tf_write(f, "/obs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, d, obs, 0);
    hsize_t dm[4] = {4, 1, 5, 3};
    tf_write(f, "/mask", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, dm, mask, 0);
    H5Fclose(f);
    expect_bad(p, "but /mask has shape [4, 1, 5, 3]");

    /* non-finite observed value */
    obs[1 * 30 + 15 + 7] = INFINITY; /* sample 1, channel 1, row 1, column 2 */
    mask[1 * 15 + 7] = 1;
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    expect_bad(p, "non-finite value (inf) at observed entry: sample 1, channel 1, row 1, column 2");
    /* ... but fine at an unobserved entry */
    mask[1 * 15 + 7] = 0;
    mask[1 * 15 + 8] = 1;
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(p, &ds) == DFL_OK);
    dfl_dataset_close(ds);
    obs[1 * 30 + 15 + 7] = 1.0f;

    /* mask values other than 0/1 */
    mask[2 * 15 + 4] = 2;
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    expect_bad(p, "/mask has value 2 at sample 2");
    mask[2 * 15 + 4] = 1;

    /* a sample with no observed entry */
    memset(mask + 3 * 15, 0, 15);
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    expect_bad(p, "sample 3 has no observed entry");
    mask[3 * 15] = 1;

    /* wrong attributes */
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    tf_attr_string(f, "channels", "u,v,w");
    H5Fclose(f);
    expect_bad(p, "attribute 'channels' has 3 names");
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    tf_attr_string(f, "periodic", "z");
    H5Fclose(f);
    expect_bad(p, "periodic is 'z'");
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    double mean[2] = {0, 0}, sd[2] = {1, 0};
    tf_attr_doubles(f, "mean", mean, 2);
    tf_attr_doubles(f, "std", sd, 2);
    H5Fclose(f);
    expect_bad(p, "attribute 'std' of channel 1 is 0");

    /* truncated file, non-HDF5 file, missing file */
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    FILE *in = fopen(p, "rb");
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf, in);
    fclose(in);
    const char *q = strdup(path_of("truncated.h5"));
    FILE *out = fopen(q, "wb");
    fwrite(buf, 1, got > 1500 ? 1500 : got / 2, out);
    fclose(out);
    expect_bad(q, "truncated");
    out = fopen(q, "wb");
    fputs("this is not an HDF5 file\n", out);
    fclose(out);
    expect_bad(q, "not an HDF5 file");
    expect_bad(path_of("does-not-exist.h5"), "cannot read file");
    free((void *)p);
    free((void *)q);
}

/* dfl_dataset_open_lazy: a file with its statistics opens without the
 * full pass; a bad sample is reported when it is read, naming the file and
 * the sample; a file without statistics is scanned as by dfl_dataset_open. */
static void lazy_open(void) {
    const int64_t n = 6;
    const int c = 2, h = 4, w = 5;
    float obs[6 * 2 * 20];
    uint8_t mask[6 * 20];
    tf_fill(n, c, 1, h, w, obs, mask);
    mask[3 * 20 + 7] = 1;
    obs[(3 * 2 + 1) * 20 + 7] = NAN; /* sample 3, channel 1, row 1, column 2: observed and NaN */
    mask[5 * 20 + 4] = 2;            /* sample 5: a mask value 2 */
    const char *p = strdup(path_of("lazy.h5"));
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    const double mean[2] = {0, 100}, sd[2] = {1, 2};
    tf_attr_doubles(f, "mean", mean, 2);
    tf_attr_doubles(f, "std", sd, 2);
    H5Fclose(f);
    expect_bad(p, "non-finite value"); /* the full pass finds sample 3 at open */
    dfl_dataset *ds = NULL;
    dfl_clear_error();
    CHECK(dfl_dataset_open_lazy(p, &ds) == DFL_OK && ds);
    if (ds) {
        const dfl_dataset_info *in = dfl_dataset_get_info(ds);
        CHECK(in->n == n && in->stats_from_file && isnan(in->observed_fraction[0]));
        float o[2 * 20];
        uint8_t m[20];
        CHECK(dfl_dataset_read_samples(ds, 0, 3, NULL, NULL) == DFL_OK);
        CHECK(dfl_dataset_read_samples(ds, 2, 1, o, m) == DFL_OK);
        CHECK(dfl_dataset_read_samples(ds, 3, 1, o, m) == DFL_EUSAGE);
        CHECK_MSG(strstr(dfl_last_error(), p) && strstr(dfl_last_error(), "sample 3") &&
                      strstr(dfl_last_error(), "channel 1, row 1, column 2"),
                  "%s", dfl_last_error());
        dfl_clear_error();
        CHECK(dfl_dataset_read_samples(ds, 5, 1, o, m) == DFL_EUSAGE);
        CHECK_MSG(strstr(dfl_last_error(), "value 2 at sample 5"), "%s", dfl_last_error());
        dfl_clear_error();
        dfl_dataset_close(ds);
    }
    /* without statistics: the full pass, as dfl_dataset_open */
    tf_dataset(p, n, c, 1, h, w, obs, mask, 0);
    ds = NULL;
    CHECK(dfl_dataset_open_lazy(p, &ds) == DFL_EUSAGE && !ds);
    CHECK(strstr(dfl_last_error(), "non-finite value") != NULL);
    dfl_clear_error();
    free((void *)p);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dfl_data_dataset_%d", (int)getpid());
    mkdir(dir, 0755);
    good_dataset();
    rank3_and_float_mask();
    bad_inputs();
    lazy_open();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_dataset_test");
}
