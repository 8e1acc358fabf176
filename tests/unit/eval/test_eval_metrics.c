/* `dynfill eval` scoring: metrics against hand-computed values on tiny
 * files written with the h5util helpers, latitude weighting, per-channel
 * masks, channel names, the --json writer (null for non-finite scores), and
 * bad inputs failing with exit 2 and a message naming the file and dataset. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/pred_read.h"
#include "dfl_test.h"
#include "eval/eval_metrics.h"
#include "eval/eval_report.h"
#include "io/h5_util.h"

static char g_dir[256];

static const char *path_of(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* truth = 0 everywhere; [N 2, C 2, H 2, W 2]. */
static const float k_pred[16] = {1,  2, 3, 4, /* s0 c0 */ 0, 1, 0, 2, /* s0 c1 */
                                 -1, 0, 0, 0, /* s1 c0 */ 2, 2, 2, 2 /* s1 c1 */};
static const unsigned char k_mask[8] = {1, 0, 0, 1, /* s0 */ 0, 0, 1, 1 /* s1 */};

static void write_pred(const char *name, const float *pred, int mask_channels, const unsigned char *mask,
                       int with_mask) {
    hid_t f;
    DFL_ASSERT(dfl_h5_create(path_of(name), &f) == DFL_OK);
    const unsigned long long d[4] = {2, 2, 2, 2}, md[4] = {2, (unsigned long long)mask_channels, 2, 2};
    CHECK(dfl_h5_write_float(f, "/pred", 4, d, pred) == DFL_OK);
    if (with_mask) CHECK(dfl_h5_write_u8(f, "/mask", 4, md, mask) == DFL_OK);
    CHECK(dfl_h5_attr_write_string(f, "method", "test") == DFL_OK);
    H5Fclose(f);
}

static void write_truth(const char *name, const unsigned long long *dims, const double *lat, size_t nlat) {
    hid_t f;
    DFL_ASSERT(dfl_h5_create(path_of(name), &f) == DFL_OK);
    size_t count = 1;
    for (int i = 0; i < 4; ++i) count *= dims[i];
    float *zero = calloc(count, sizeof *zero);
    CHECK(dfl_h5_write_float(f, "/truth", 4, dims, zero) == DFL_OK);
    free(zero);
    CHECK(dfl_h5_attr_write_string(f, "channels", "u, v") == DFL_OK);
    CHECK(dfl_h5_attr_write_string(f, "periodic", "none") == DFL_OK);
    if (lat) CHECK(dfl_h5_attr_write_doubles(f, "lat", lat, nlat) == DFL_OK);
    H5Fclose(f);
}

static dfl_status score(const char *pred, const char *truth, dfl_eval_scores pc[2], dfl_eval_scores *all,
                        int *weighted) {
    dfl_pred_input in;
    dfl_clear_error();
    DFL_TRY(dfl_pred_input_open(path_of(pred), path_of(truth), &in));
    dfl_status st = dfl_eval_score_files(&in, pc, all, weighted);
    if (st == DFL_OK) {
        CHECK(in.c == 2 && in.n == 2 && in.h == 2 && in.w == 2);
        CHECK(!strcmp(in.names[0], "u") && !strcmp(in.names[1], "v"));
        CHECK(in.method && !strcmp(in.method, "test"));
    }
    dfl_pred_input_close(&in);
    return st;
}

static void test_hand_values(void) {
    const unsigned long long d[4] = {2, 2, 2, 2};
    write_pred("pred.h5", k_pred, 1, k_mask, 1);
    write_truth("truth.h5", d, NULL, 0);
    dfl_eval_scores pc[2], all;
    int weighted = -1;
    CHECK(score("pred.h5", "truth.h5", pc, &all, &weighted) == DFL_OK);
    CHECK(weighted == 0);
    /* channel 0: missing e = 2,3 (s0) and -1,0 (s1): 14/4; all: 30 + 1 over 8 */
    CHECK_CLOSE(pc[0].mse_missing, 3.5, 1e-12);
    CHECK_CLOSE(pc[0].mse_all, 31.0 / 8, 1e-12);
    CHECK_CLOSE(pc[0].rmse_missing, sqrt(3.5), 1e-12);
    /* channel 1: missing e = 1,0 and 2,2: 9/4; all: 5 + 16 over 8 */
    CHECK_CLOSE(pc[1].mse_missing, 2.25, 1e-12);
    CHECK_CLOSE(pc[1].mse_all, 21.0 / 8, 1e-12);
    CHECK_CLOSE(pc[1].rmse_all, sqrt(21.0 / 8), 1e-12);
    /* pooled */
    CHECK_CLOSE(all.mse_missing, 23.0 / 8, 1e-12);
    CHECK_CLOSE(all.mse_all, 52.0 / 16, 1e-12);
    CHECK_CLOSE(all.rmse_missing, sqrt(23.0 / 8), 1e-12);
    CHECK(all.n_missing == 8 && all.n_all == 16);
    CHECK(isnan(all.lat_rmse_all));
}

static void test_lat_weights(void) {
    /* lat 0 and 60: cos 1 and 0.5, mean 0.75 -> weights 4/3 and 2/3 */
    double w[2];
    const double lat[2] = {0.0, 60.0};
    CHECK(dfl_eval_lat_weights(2, lat, "x", w) == DFL_OK);
    CHECK_CLOSE(w[0], 4.0 / 3, 1e-12);
    CHECK_CLOSE(w[1], 2.0 / 3, 1e-12);
    const double poles[2] = {90.0, -90.0};
    dfl_clear_error();
    CHECK(dfl_eval_lat_weights(2, poles, "x", w) == DFL_EUSAGE);

    const unsigned long long d[4] = {2, 2, 2, 2};
    write_truth("truth_lat.h5", d, lat, 2);
    dfl_eval_scores pc[2], all;
    int weighted = 0;
    CHECK(score("pred.h5", "truth_lat.h5", pc, &all, &weighted) == DFL_OK);
    CHECK(weighted == 1);
    /* channel 0, all entries: row 0 Σe² = 1+4 (s0) + 1+0 (s1) = 6, row 1: 9+16 = 25;
     * Σwe² = 4/3·6 + 2/3·25 = 74/3 over Σw = 8. */
    CHECK_CLOSE(pc[0].lat_rmse_all, sqrt(74.0 / 24), 1e-12);
    /* channel 0, missing: row 0 e² 4, 1, 0 (w 4/3), row 1 e² 9 (w 2/3): (20/3 + 6) / (4 + 2/3) */
    CHECK_CLOSE(pc[0].lat_rmse_missing, sqrt((38.0 / 3) / (14.0 / 3)), 1e-12);
    /* unweighted scores unchanged */
    CHECK_CLOSE(pc[0].mse_missing, 3.5, 1e-12);
    /* channel 1, all: row 0: 0+1 + 4+4 = 9, row 1: 0+4 + 4+4 = 12 -> (12 + 8) / 8 */
    CHECK_CLOSE(pc[1].lat_rmse_all, sqrt(20.0 / 8), 1e-12);
    /* pooled all: (74/3 + 20) / 16 */
    CHECK_CLOSE(all.lat_rmse_all, sqrt((74.0 / 3 + 20) / 16), 1e-12);
}

static void test_per_channel_mask(void) {
    /* channel 0 uses k_mask's sample mask, channel 1 has everything missing */
    unsigned char m[16];
    for (int s = 0; s < 2; ++s) {
        memcpy(m + s * 8, k_mask + s * 4, 4);
        memset(m + s * 8 + 4, 0, 4);
    }
    write_pred("pred_cm.h5", k_pred, 2, m, 1);
    dfl_eval_scores pc[2], all;
    int weighted;
    CHECK(score("pred_cm.h5", "truth.h5", pc, &all, &weighted) == DFL_OK);
    CHECK_CLOSE(pc[0].mse_missing, 3.5, 1e-12);
    CHECK_CLOSE(pc[1].mse_missing, 21.0 / 8, 1e-12);
    CHECK(pc[1].n_missing == 8 && all.n_missing == 12);
    CHECK_CLOSE(all.mse_missing, (14.0 + 21.0) / 12, 1e-12);
}

static const cJSON *key(const cJSON *obj, const char *name) { return cJSON_GetObjectItemCaseSensitive(obj, name); }

/* The --json writer on real scores where a set is empty: channel 1 has
 * nothing missing, so its missing-entry scores are NaN and must read back
 * as null, not as a bare nan that no JSON parser accepts. Channel names
 * with a quote and a backslash must come back unchanged. */
static void test_json_null(void) {
    unsigned char m[16];
    for (int s = 0; s < 2; ++s) {
        memcpy(m + s * 8, k_mask + s * 4, 4);
        memset(m + s * 8 + 4, 1, 4);
    }
    write_pred("pred_ch1_full.h5", k_pred, 2, m, 1);
    hid_t f;
    DFL_ASSERT(dfl_h5_create(path_of("truth_names.h5"), &f) == DFL_OK);
    const unsigned long long d[4] = {2, 2, 2, 2};
    float zero[16] = {0};
    CHECK(dfl_h5_write_float(f, "/truth", 4, d, zero) == DFL_OK);
    CHECK(dfl_h5_attr_write_string(f, "channels", "a\"b, c\\d") == DFL_OK);
    H5Fclose(f);

    dfl_pred_input in;
    dfl_clear_error();
    DFL_ASSERT(dfl_pred_input_open(path_of("pred_ch1_full.h5"), path_of("truth_names.h5"), &in) == DFL_OK);
    dfl_eval_scores pc[2];
    dfl_eval_report rep;
    memset(&rep, 0, sizeof rep);
    rep.in = &in;
    rep.per_channel = pc;
    CHECK(dfl_eval_score_files(&in, pc, &rep.overall, &rep.weighted) == DFL_OK);
    CHECK(isnan(pc[1].mse_missing) && isnan(pc[1].rmse_missing) && pc[1].n_missing == 0);
    rep.overall.mse_all = INFINITY; /* any non-finite score, not only an empty set */

    FILE *out = tmpfile();
    DFL_ASSERT(out != NULL);
    CHECK(dfl_eval_print_json(out, &rep) == DFL_OK);
    const long n = ftell(out);
    rewind(out);
    char *text = calloc((size_t)n + 1, 1);
    DFL_ASSERT(text && fread(text, 1, (size_t)n, out) == (size_t)n);
    fclose(out);
    dfl_pred_input_close(&in);

    CHECK_MSG(n > 0 && strchr(text, '\n') == text + n - 1, "not one line: %s", text);
    cJSON *j = cJSON_Parse(text);
    CHECK_MSG(j != NULL, "not JSON: %s", text);
    if (j) {
        CHECK(cJSON_IsNull(key(j, "mse_all")));
        CHECK(cJSON_IsNumber(key(j, "mse_missing")));
        CHECK_CLOSE(key(j, "mse_missing")->valuedouble, 3.5, 1e-8);
        CHECK(cJSON_IsNumber(key(j, "count_missing")) && key(j, "count_missing")->valuedouble == 4);
        CHECK(cJSON_IsFalse(key(j, "lat_weighted")) && key(j, "lat_weighted_rmse_all") == NULL);
        CHECK(cJSON_IsString(key(j, "method")) && !strcmp(key(j, "method")->valuestring, "test"));
        const cJSON *pcj = key(j, "per_channel");
        CHECK(cJSON_GetArraySize(pcj) == 2);
        const cJSON *c0 = cJSON_GetArrayItem(pcj, 0), *c1 = cJSON_GetArrayItem(pcj, 1);
        if (c0 && c1) {
            CHECK(cJSON_IsNull(key(c1, "mse_missing")) && cJSON_IsNull(key(c1, "rmse_missing")));
            CHECK(cJSON_IsNumber(key(c1, "mse_all")) && key(c1, "count_missing")->valuedouble == 0);
            CHECK(cJSON_IsString(key(c0, "name")) && !strcmp(key(c0, "name")->valuestring, "a\"b"));
            CHECK(cJSON_IsString(key(c1, "name")) && !strcmp(key(c1, "name")->valuestring, "c\\d"));
            CHECK(key(c1, "channel")->valuedouble == 1);
        }
        cJSON_Delete(j);
    }
    free(text);
}

/* Runs `dynfill eval` in process; returns its exit code, message in err. */
static int run_cli(const char *pred, const char *truth, char *err, size_t len) {
    char a0[] = "eval", a1[] = "--pred", a3[] = "--truth", a5[] = "--json";
    char p[512], t[512];
    snprintf(p, sizeof p, "%s", pred);
    snprintf(t, sizeof t, "%s", truth);
    char *argv[] = {a0, a1, p, a3, t, a5, NULL};
    dfl_clear_error();
    fflush(stdout);
    int code = dfl_cmd_eval(6, argv);
    snprintf(err, len, "%s", dfl_last_error());
    return code;
}

static void expect_exit2(const char *pred, const char *truth, const char *must1, const char *must2) {
    char err[1024];
    const int code = run_cli(pred, truth, err, sizeof err);
    CHECK_MSG(code == 2, "exit %d for %s / %s", code, pred, truth);
    CHECK_MSG(strstr(err, must1) != NULL, "message '%s' lacks '%s'", err, must1);
    if (must2) CHECK_MSG(strstr(err, must2) != NULL, "message '%s' lacks '%s'", err, must2);
}

static void test_bad_inputs(void) {
    char err[1024];
    CHECK(run_cli(path_of("pred.h5"), path_of("truth.h5"), err, sizeof err) == 0);

    write_pred("nomask.h5", k_pred, 1, k_mask, 0);
    expect_exit2(path_of("nomask.h5"), path_of("truth.h5"), "nomask.h5", "/mask");

    const unsigned long long wide[4] = {2, 2, 2, 3};
    write_truth("truth_wide.h5", wide, NULL, 0);
    expect_exit2(path_of("pred.h5"), path_of("truth_wide.h5"), "truth_wide.h5", "/truth");

    const unsigned long long fewer[4] = {3, 2, 2, 2};
    write_truth("truth_n3.h5", fewer, NULL, 0);
    expect_exit2(path_of("pred.h5"), path_of("truth_n3.h5"), "truth_n3.h5", "[3,2,2,2]");

    const double lat3[3] = {0, 10, 20};
    const unsigned long long d[4] = {2, 2, 2, 2};
    write_truth("truth_lat3.h5", d, lat3, 3);
    expect_exit2(path_of("pred.h5"), path_of("truth_lat3.h5"), "truth_lat3.h5", "'lat'");

    const double latbad[2] = {0, 100};
    write_truth("truth_latbad.h5", d, latbad, 2);
    expect_exit2(path_of("pred.h5"), path_of("truth_latbad.h5"), "truth_latbad.h5", "outside");

    float nanpred[16];
    memcpy(nanpred, k_pred, sizeof nanpred);
    nanpred[13] = NAN;
    write_pred("pred_nan.h5", nanpred, 1, k_mask, 1);
    expect_exit2(path_of("pred_nan.h5"), path_of("truth.h5"), "pred_nan.h5", "non-finite");

    /* /truth missing: a prediction file given as truth */
    expect_exit2(path_of("pred.h5"), path_of("pred.h5"), "pred.h5", "/truth");
    expect_exit2(path_of("absent.h5"), path_of("truth.h5"), "absent.h5", NULL);

    FILE *junk = fopen(path_of("junk.h5"), "w");
    fputs("not hdf5\n", junk);
    fclose(junk);
    expect_exit2(path_of("pred.h5"), path_of("junk.h5"), "junk.h5", "HDF5");

    /* mask with 3 channels for C = 2 */
    hid_t f;
    DFL_ASSERT(dfl_h5_create(path_of("pred_m3.h5"), &f) == DFL_OK);
    const unsigned long long m3[4] = {2, 3, 2, 2};
    unsigned char ones[24];
    memset(ones, 1, sizeof ones);
    CHECK(dfl_h5_write_float(f, "/pred", 4, d, k_pred) == DFL_OK);
    CHECK(dfl_h5_write_u8(f, "/mask", 4, m3, ones) == DFL_OK);
    H5Fclose(f);
    expect_exit2(path_of("pred_m3.h5"), path_of("truth.h5"), "pred_m3.h5", "/mask");

    /* rank-3 /pred */
    DFL_ASSERT(dfl_h5_create(path_of("pred_r3.h5"), &f) == DFL_OK);
    const unsigned long long r3[3] = {2, 2, 4};
    CHECK(dfl_h5_write_float(f, "/pred", 3, r3, k_pred) == DFL_OK);
    H5Fclose(f);
    expect_exit2(path_of("pred_r3.h5"), path_of("truth.h5"), "pred_r3.h5", "4 dimensions");

    /* usage errors */
    char a0[] = "eval", a1[] = "--pred", a2[] = "x.h5", a3[] = "--bogus";
    char *argv1[] = {a0, a1, a2, NULL};
    dfl_clear_error();
    CHECK(dfl_cmd_eval(3, argv1) == 2);
    char *argv2[] = {a0, a3, NULL};
    dfl_clear_error();
    CHECK(dfl_cmd_eval(2, argv2) == 2);
    CHECK(strstr(dfl_last_error(), "--bogus") != NULL);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/dfl_eval_test.XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    test_hand_values();
    test_lat_weights();
    test_per_channel_mask();
    test_json_null();
    test_bad_inputs();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return dfl_test_finish("eval_metrics_test");
}
