/* `dynfill eval` scoring: metrics against hand-computed values on tiny
 * files written with the h5util helpers, latitude weighting, per-channel
 * masks, channel names, the --json writer (null for non-finite scores), the
 * ensemble CRPS of /members, the largest sample's share of the squared
 * error, and bad inputs failing with exit 2 and a
 * message naming the file and dataset. */
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

/* Everything written to the temporary file out, as a string (*n bytes);
 * closes out. */
static char *read_back(FILE *out, long *n) {
    *n = ftell(out);
    rewind(out);
    char *text = calloc((size_t)*n + 1, 1);
    DFL_ASSERT(text && fread(text, 1, (size_t)*n, out) == (size_t)*n);
    fclose(out);
    return text;
}

/* Opens pred and truth into *in and scores them into a report *rep whose
 * per-channel scores go to per; the caller closes *in. */
static void open_and_report(const char *pred, const char *truth, dfl_pred_input *in, dfl_eval_scores *per,
                            dfl_eval_report *rep) {
    dfl_clear_error();
    DFL_ASSERT(dfl_pred_input_open(path_of(pred), path_of(truth), in) == DFL_OK);
    memset(rep, 0, sizeof *rep);
    rep->in = in;
    rep->per_channel = per;
    CHECK(dfl_eval_score_files(in, per, &rep->overall, &rep->weighted) == DFL_OK);
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
    /* the largest sample's share of the squared error: channel 0 13 of 14 (s0), channel 1 8 of 9 (s1),
     * pooled 14 of 23 (s0); no /std, no spread-skill interval */
    CHECK_CLOSE(pc[0].largest_sample_share_missing, 13.0 / 14, 1e-12);
    CHECK_CLOSE(pc[1].largest_sample_share_missing, 8.0 / 9, 1e-12);
    CHECK_CLOSE(all.largest_sample_share_missing, 14.0 / 23, 1e-12);
    CHECK(isnan(all.spread_skill_p05_missing) && isnan(pc[0].spread_skill_p95_missing));
}

static const cJSON *key(const cJSON *obj, const char *name) { return cJSON_GetObjectItemCaseSensitive(obj, name); }

/* k_pred with /members of K 2: k_pred − 1 and k_pred + 1 (written in blocks of one sample
 * whatever the read block). Truth 0: an entry with prediction p scores
 * (|p − 1| + |p + 1|)/2 − 2·2/8 = max(|p|, 1) − 0.5, fair max(|p|, 1) − 1. */
static void write_pred_members(const char *name, const unsigned long long *dims, const float *members) {
    hid_t f;
    DFL_ASSERT(dfl_h5_create(path_of(name), &f) == DFL_OK);
    const unsigned long long d[4] = {2, 2, 2, 2}, md[4] = {2, 1, 2, 2};
    CHECK(dfl_h5_write_float(f, "/pred", 4, d, k_pred) == DFL_OK);
    CHECK(dfl_h5_write_u8(f, "/mask", 4, md, k_mask) == DFL_OK);
    CHECK(dfl_h5_write_float(f, "/members", dims[4] ? 5 : 4, dims, members) == DFL_OK);
    CHECK(dfl_h5_attr_write_string(f, "method", "test") == DFL_OK);
    H5Fclose(f);
}

static void test_members(void) {
    float members[32];
    for (int s = 0; s < 2; ++s)
        for (int j = 0; j < 2; ++j)
            for (int i = 0; i < 8; ++i) members[(s * 2 + j) * 8 + i] = k_pred[s * 8 + i] + (j ? 1.0f : -1.0f);
    const unsigned long long md[5] = {2, 2, 2, 2, 2};
    write_pred_members("pred_members.h5", md, members);
    dfl_eval_scores pc[2], all;
    int weighted = -1;
    CHECK(score("pred_members.h5", "truth.h5", pc, &all, &weighted) == DFL_OK);
    /* missing p: channel 0 2, 3, -1, 0 -> 1.5, 2.5, 0.5, 0.5; channel 1 1, 0, 2, 2 -> 0.5, 0.5, 1.5, 1.5 */
    CHECK_CLOSE(pc[0].crps_ensemble_missing, 1.25, 1e-12);
    CHECK_CLOSE(pc[1].crps_ensemble_missing, 1.0, 1e-12);
    CHECK_CLOSE(all.crps_ensemble_missing, 1.125, 1e-12);
    CHECK_CLOSE(pc[0].crps_ensemble_fair_missing, 0.75, 1e-12);
    CHECK_CLOSE(pc[1].crps_ensemble_fair_missing, 0.5, 1e-12);
    CHECK_CLOSE(all.crps_ensemble_fair_missing, 0.625, 1e-12);
    CHECK(isnan(all.crps_missing)); /* no /std */
    CHECK_CLOSE(all.mse_missing, 23.0 / 8, 1e-12);
    /* against a truth that differs per entry, read whole, in blocks of 2 samples with /members in
     * sub-blocks of 1, and in blocks of 1: the same scores */
    hid_t f;
    DFL_ASSERT(dfl_h5_create(path_of("truth_ramp.h5"), &f) == DFL_OK);
    const unsigned long long d[4] = {2, 2, 2, 2};
    float ramp[16];
    for (int i = 0; i < 16; ++i) ramp[i] = 0.25f * (float)i - 1.0f;
    CHECK(dfl_h5_write_float(f, "/truth", 4, d, ramp) == DFL_OK);
    H5Fclose(f);
    dfl_eval_scores ref[2], ref_all;
    for (size_t values = 0; values <= 16; values += 8) {
        dfl_pred_input in;
        dfl_clear_error();
        DFL_ASSERT(dfl_pred_input_open(path_of("pred_members.h5"), path_of("truth_ramp.h5"), &in) == DFL_OK);
        dfl_eval_scores bpc[2], ball;
        CHECK(dfl_eval_score_files_blocked(&in, values ? values : (size_t)1 << 20, values ? bpc : ref,
                                           values ? &ball : &ref_all, &weighted) == DFL_OK);
        dfl_pred_input_close(&in);
        if (!values) continue;
        for (int ch = 0; ch < 2; ++ch) {
            CHECK_CLOSE(bpc[ch].crps_ensemble_missing, ref[ch].crps_ensemble_missing, 1e-12);
            CHECK_CLOSE(bpc[ch].crps_ensemble_fair_missing, ref[ch].crps_ensemble_fair_missing, 1e-12);
        }
        CHECK_CLOSE(ball.crps_ensemble_missing, ref_all.crps_ensemble_missing, 1e-12);
        CHECK_CLOSE(ball.mse_missing, ref_all.mse_missing, 1e-12);
    }
    CHECK(ref_all.crps_ensemble_missing > 0.0 && fabs(ref_all.crps_ensemble_missing - 1.125) > 0.01);

    /* the JSON report: numbers with /members, null without (pred.h5 has neither /std nor /members) */
    const char *files[2] = {"pred_members.h5", "pred.h5"};
    for (int f = 0; f < 2; ++f) {
        dfl_pred_input in;
        dfl_eval_scores per[2];
        dfl_eval_report rep;
        open_and_report(files[f], "truth.h5", &in, per, &rep);
        CHECK(in.members == (f == 0 ? 2 : 0));
        FILE *out = tmpfile();
        DFL_ASSERT(out != NULL);
        CHECK(dfl_eval_print_json(out, &rep) == DFL_OK);
        const long json_end = ftell(out);
        dfl_eval_print_text(out, &rep);
        long n;
        char *text = read_back(out, &n);
        dfl_pred_input_close(&in);
        char *table = text + json_end; /* the JSON line, then the table */
        DFL_ASSERT(json_end > 0 && text[json_end - 1] == '\n');
        text[json_end - 1] = 0;
        cJSON *j = cJSON_Parse(text);
        CHECK_MSG(j != NULL, "not JSON: %s", text);
        if (j) {
            const cJSON *crps = key(j, "crps_ensemble_missing"), *fair = key(j, "crps_ensemble_fair_missing");
            const cJSON *c1 = cJSON_GetArrayItem(key(j, "per_channel"), 1);
            if (f == 0) {
                CHECK(cJSON_IsNumber(crps) && fabs(crps->valuedouble - 1.125) < 1e-8);
                CHECK(cJSON_IsNumber(fair) && fabs(fair->valuedouble - 0.625) < 1e-8);
                CHECK(c1 && cJSON_IsNumber(key(c1, "crps_ensemble_missing")) &&
                      fabs(key(c1, "crps_ensemble_missing")->valuedouble - 1.0) < 1e-8);
                CHECK(cJSON_IsNull(key(j, "crps_missing")));
                CHECK_MSG(strstr(table, "crps_ens") && strstr(table, "(from /members)"), "table: %s", table);
            } else {
                CHECK(cJSON_IsNull(crps) && cJSON_IsNull(fair));
                CHECK(c1 && cJSON_IsNull(key(c1, "crps_ensemble_missing")));
                CHECK_MSG(!strstr(table, "crps_ens") && !strstr(table, "uncertainty"), "table: %s", table);
            }
            cJSON_Delete(j);
        }
        free(text);
    }

    /* K = 1: the standard estimator is the absolute error, the fair one undefined (null) */
    const unsigned long long k1[5] = {2, 1, 2, 2, 2};
    write_pred_members("pred_members_k1.h5", k1, k_pred);
    CHECK(score("pred_members_k1.h5", "truth.h5", pc, &all, &weighted) == DFL_OK);
    CHECK_CLOSE(all.crps_ensemble_missing, (2 + 3 + 1 + 0 + 1 + 0 + 2 + 2) / 8.0, 1e-12);
    CHECK(isnan(all.crps_ensemble_fair_missing));
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
    dfl_eval_scores pc[2];
    dfl_eval_report rep;
    open_and_report("pred_ch1_full.h5", "truth_names.h5", &in, pc, &rep);
    CHECK(isnan(pc[1].mse_missing) && isnan(pc[1].rmse_missing) && pc[1].n_missing == 0);
    rep.overall.mse_all = INFINITY; /* any non-finite score, not only an empty set */

    FILE *out = tmpfile();
    DFL_ASSERT(out != NULL);
    CHECK(dfl_eval_print_json(out, &rep) == DFL_OK);
    long n;
    char *text = read_back(out, &n);
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

    /* /members of the wrong shape, rank or K = 0, and a NaN member */
    float members[64] = {0};
    const unsigned long long bad_c[5] = {2, 2, 3, 2, 2}, bad_n[5] = {1, 2, 2, 2, 2}, rank4[5] = {2, 2, 2, 2, 0},
                             k0[5] = {2, 0, 2, 2, 2}, good[5] = {2, 2, 2, 2, 2};
    write_pred_members("members_c3.h5", bad_c, members);
    expect_exit2(path_of("members_c3.h5"), path_of("truth.h5"), "members_c3.h5", "/members has shape [2,2,3,2,2]");
    write_pred_members("members_n1.h5", bad_n, members);
    expect_exit2(path_of("members_n1.h5"), path_of("truth.h5"), "members_n1.h5", "/members");
    write_pred_members("members_r4.h5", rank4, members);
    expect_exit2(path_of("members_r4.h5"), path_of("truth.h5"), "members_r4.h5", "[2,K,2,2,2]");
    write_pred_members("members_k0.h5", k0, members);
    expect_exit2(path_of("members_k0.h5"), path_of("truth.h5"), "members_k0.h5", "/members");
    members[21] = NAN;
    write_pred_members("members_nan.h5", good, members);
    expect_exit2(path_of("members_nan.h5"), path_of("truth.h5"), "members_nan.h5", "/members holds a non-finite");

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
    test_members();
    test_bad_inputs();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return dfl_test_finish("eval_metrics_test");
}
