/* Prediction files (include/dynfill/data.h): /pred, /std, /mask and
 * /members in the data's units with the source attributes; observed entries
 * keep the observed values exactly; incomplete files are never committed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_test_files.h"
#include "dfl_test.h"
#include "dynfill/data.h"

enum { N = 6, C = 2, MC = 2, H = 4, W = 5 };

int main(void) {
    char dir[256], src[300], out[300];
    snprintf(dir, sizeof dir, "/tmp/dfl_data_pred_%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(src, sizeof src, "%s/obs.h5", dir);
    snprintf(out, sizeof out, "%s/pred.h5", dir);
    static float obs[N * C * H * W];
    static uint8_t mask[N * MC * H * W];
    tf_fill(N, C, MC, H, W, obs, mask);
    tf_dataset(src, N, C, MC, H, W, obs, mask, 0);
    hid_t f = H5Fopen(src, H5F_ACC_RDWR, H5P_DEFAULT);
    tf_attr_string(f, "channels", "a,b");
    tf_attr_string(f, "mask_pattern", "pixel:0.6");
    double mean[2] = {3.0, 100.0}, sd[2] = {2.0, 0.5};
    tf_attr_doubles(f, "mean", mean, 2);
    tf_attr_doubles(f, "std", sd, 2);
    H5Fclose(f);

    dfl_dataset *ds;
    CHECK(dfl_dataset_open(src, &ds) == DFL_OK);
    /* Predict samples [2, 6): normalised prediction p = 0.1 * index, spread 0.5. */
    const int start = 2, count = 4, per = C * H * W;
    float *pred = malloc(sizeof(float) * count * per), *spread = malloc(sizeof(float) * count * per);
    for (int i = 0; i < count * per; ++i) {
        pred[i] = 0.1f * (float)i;
        spread[i] = 0.5f;
    }
    dfl_pred_writer *w;
    CHECK(dfl_pred_create(out, ds, start, count, &w) == DFL_OK);
    CHECK(dfl_pred_write(w, 2, 2, pred + 2 * per, spread + 2 * per, NULL) == DFL_OK);
    CHECK(dfl_pred_write(w, 0, 2, pred, spread, NULL) == DFL_OK);
    CHECK(access(out, F_OK) != 0); /* not visible before close */
    CHECK(dfl_pred_close(w) == DFL_OK);

    float *p = malloc(sizeof(float) * count * per), *s = malloc(sizeof(float) * count * per);
    uint8_t *m = malloc((size_t)count * MC * H * W);
    f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    hid_t d = H5Dopen2(f, "/pred", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, p) >= 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/std", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/mask", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, m) >= 0);
    H5Dclose(d);
    double got_mean[2] = {0, 0};
    hid_t a = H5Aopen(f, "mean", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, got_mean);
    H5Aclose(a);
    CHECK(got_mean[1] == 100.0);
    CHECK(H5Aexists(f, "channels") > 0 && H5Aexists(f, "mask_pattern") > 0 && H5Aexists(f, "source_file") > 0);
    long long src_start = -1;
    a = H5Aopen(f, "source_start", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_LLONG, &src_start);
    H5Aclose(a);
    CHECK(src_start == start);
    H5Fclose(f);
    CHECK(!memcmp(m, mask + (size_t)start * MC * H * W, (size_t)count * MC * H * W));
    int exact_obs = 1, denorm = 1;
    for (int r = 0; r < count; ++r)
        for (int ch = 0; ch < C; ++ch)
            for (int i = 0; i < H * W; ++i) {
                const size_t k = ((size_t)r * C + ch) * H * W + i;
                const int observed = mask[((size_t)(start + r) * MC + ch) * H * W + i];
                const float o = obs[((size_t)(start + r) * C + ch) * H * W + i];
                if (observed) {
                    exact_obs &= p[k] == o && s[k] == 0.0f;
                } else {
                    denorm &= fabs(p[k] - (pred[k] * sd[ch] + mean[ch])) < 1e-4 && fabs(s[k] - 0.5 * sd[ch]) < 1e-6;
                }
            }
    CHECK_MSG(exact_obs, "observed entries hold the observed values exactly, spread 0");
    CHECK_MSG(denorm, "missing entries hold pred * std + mean and spread * std");

    /* /members [count, K, C, H, W]: member k of row r is the normalised 0.1 * index + k,
     * written as pred; observed entries hold the observations exactly */
    enum { K = 3 };
    float *members = malloc(sizeof(float) * count * K * per), *got = malloc(sizeof(float) * count * K * per);
    for (int r = 0; r < count; ++r)
        for (int k = 0; k < K; ++k)
            for (int i = 0; i < per; ++i) members[((size_t)r * K + k) * per + i] = 0.1f * (float)(r * per + i) + k;
    snprintf(out, sizeof out, "%s/members.h5", dir);
    CHECK(dfl_pred_create(out, ds, start, count, &w) == DFL_OK);
    CHECK(dfl_pred_add_members(w, K) == DFL_OK);
    CHECK(dfl_pred_write(w, 0, 1, pred, spread, NULL) == DFL_EINTERNAL); /* the file has /members */
    dfl_clear_error();
    CHECK(dfl_pred_write(w, 1, 3, pred + per, spread + per, members + (size_t)K * per) == DFL_OK);
    CHECK(dfl_pred_write(w, 0, 1, pred, spread, members) == DFL_OK);
    CHECK(dfl_pred_close(w) == DFL_OK);
    f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    d = H5Dopen2(f, "/members", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[5] = {0};
    CHECK(H5Sget_simple_extent_ndims(sp) == 5 && H5Sget_simple_extent_dims(sp, dims, NULL) == 5);
    CHECK(dims[0] == (hsize_t)count && dims[1] == K && dims[2] == C && dims[3] == H && dims[4] == W);
    H5Sclose(sp);
    CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    H5Dclose(d);
    CHECK(H5Lexists(f, "/member", H5P_DEFAULT) > 0); /* the member dimension */
    H5Fclose(f);
    int member_obs = 1, member_denorm = 1;
    for (int r = 0; r < count; ++r)
        for (int k = 0; k < K; ++k)
            for (int ch = 0; ch < C; ++ch)
                for (int i = 0; i < H * W; ++i) {
                    const size_t at = (((size_t)r * K + k) * C + ch) * H * W + i;
                    const int observed = mask[((size_t)(start + r) * MC + ch) * H * W + i];
                    const float o = obs[((size_t)(start + r) * C + ch) * H * W + i];
                    if (observed)
                        member_obs &= got[at] == o;
                    else
                        member_denorm &= fabs(got[at] - (members[at] * sd[ch] + mean[ch])) < 1e-4;
                }
    CHECK_MSG(member_obs, "observed entries of /members hold the observed values exactly");
    CHECK_MSG(member_denorm, "missing entries of /members hold member * std + mean");
    /* members given to a file without /members are refused */
    snprintf(out, sizeof out, "%s/no_members.h5", dir);
    CHECK(dfl_pred_create(out, ds, start, 1, &w) == DFL_OK);
    CHECK(dfl_pred_write(w, 0, 1, pred, spread, members) == DFL_EINTERNAL);
    dfl_clear_error();
    dfl_pred_abort(w);
    CHECK(access(out, F_OK) != 0);
    free(members);
    free(got);

    /* Missing rows: close fails and leaves no file. */
    snprintf(out, sizeof out, "%s/partial.h5", dir);
    CHECK(dfl_pred_create(out, ds, 0, 3, &w) == DFL_OK);
    CHECK(dfl_pred_write(w, 0, 1, pred, NULL, NULL) == DFL_OK);
    CHECK(dfl_pred_close(w) == DFL_EINTERNAL);
    dfl_clear_error();
    CHECK(access(out, F_OK) != 0);
    /* Abort leaves nothing either; out-of-range requests are refused. */
    CHECK(dfl_pred_create(out, ds, 0, 1, &w) == DFL_OK);
    dfl_pred_abort(w);
    CHECK(access(out, F_OK) != 0);
    CHECK(dfl_pred_create(out, ds, 5, 2, &w) == DFL_EUSAGE);
    dfl_clear_error();
    dfl_dataset_close(ds);
    free(pred);
    free(spread);
    free(p);
    free(s);
    free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_pred_test");
}
