/* Checkpoint round trip: save mid-training, reload into a fresh model and
 * optimizer, continue, and compare bit for bit with the uninterrupted run;
 * bad checkpoint files (missing tensor, wrong shape, truncated, not HDF5,
 * wrong version) fail with DFL_EUSAGE and a message naming the problem. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfl_test.h"
#include "dynfill/checkpoint.h"
#include "dynfill/config.h"
#include "shared/philox.h"

typedef struct {
    dfl_backend *be;
    dfl_unet *m;
    dfl_optimizer *opt;
    float *x, *t, *y, *dy;
} run;

static const int N = 2, H = 8, W = 8, C = 1;

static void run_init(run *r, dfl_backend *be, const dfl_unet_config *uc) {
    r->be = be;
    CHECK(dfl_unet_create(be, uc, &r->m) == DFL_OK);
    CHECK(dfl_unet_plan(r->m, N, H, W) == DFL_OK);
    dfl_unet_init_params(r->m, 4);
    dfl_optim_config oc;
    dfl_optim_config_defaults(&oc);
    oc.warmup = 2;
    oc.total_steps = 10;
    oc.cosine = 1;
    oc.weight_decay = 0.01;
    r->opt = dfl_optimizer_create(be, dfl_unet_num_params(r->m), &oc, dfl_unet_params(r->m));
    size_t nx = (size_t)N * H * W * 2 * C, ny = (size_t)N * H * W * C;
    r->x = be->alloc(be, nx * sizeof(float));
    r->y = be->alloc(be, ny * sizeof(float));
    r->dy = be->alloc(be, ny * sizeof(float));
    r->t = be->alloc(be, N * sizeof(float));
}

/* One training step on data that depends on the step number. */
static void train_step(run *r, int step) {
    size_t nx = (size_t)N * H * W * 2 * C, ny = (size_t)N * H * W * C;
    float *hx = malloc(nx * sizeof(float)), *hd = malloc(ny * sizeof(float)), ht[2];
    for (size_t i = 0; i < nx; ++i) hx[i] = dfl_rng_normal(1, (uint64_t)step, i);
    for (size_t i = 0; i < ny; ++i) hd[i] = dfl_rng_normal(2, (uint64_t)step, i);
    ht[0] = 0.3f;
    ht[1] = 0.8f;
    r->be->upload(r->be, r->x, hx, nx * sizeof(float));
    r->be->upload(r->be, r->dy, hd, ny * sizeof(float));
    r->be->upload(r->be, r->t, ht, sizeof ht);
    dfl_unet_forward(r->m, r->x, r->t, r->y);
    dfl_unet_backward(r->m, r->dy, NULL);
    dfl_optimizer_step(r->opt, dfl_unet_params(r->m), dfl_unet_grads(r->m));
    free(hx);
    free(hd);
}

static void run_free(run *r) {
    r->be->free(r->be, r->x);
    r->be->free(r->be, r->y);
    r->be->free(r->be, r->dy);
    r->be->free(r->be, r->t);
    dfl_optimizer_destroy(r->opt);
    dfl_unet_destroy(r->m);
}

static float *download_all(dfl_backend *be, const float *d, size_t n) {
    float *h = malloc(n * sizeof(float));
    be->download(be, h, d, n * sizeof(float));
    return h;
}

static void expect_usage_error(const char *path, const char *needle, dfl_backend *be) {
    dfl_config cfg;
    dfl_ckpt_meta meta;
    dfl_unet *m = NULL;
    dfl_clear_error();
    dfl_status s = dfl_checkpoint_build_model(path, be, 0, &cfg, &meta, &m);
    CHECK_MSG(s == DFL_EUSAGE, "%s: status %d", path, s);
    CHECK_MSG(strstr(dfl_last_error(), needle) != NULL, "message '%s' lacks '%s'", dfl_last_error(), needle);
    CHECK_MSG(strstr(dfl_last_error(), path) != NULL, "message '%s' does not name the file", dfl_last_error());
    if (m) dfl_unet_destroy(m);
}

static void copy_file(const char *from, const char *to, long truncate_to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t got;
    long total = 0;
    while ((got = fread(buf, 1, sizeof buf, a)) > 0) {
        if (truncate_to >= 0 && total + (long)got > truncate_to) got = (size_t)(truncate_to - total);
        fwrite(buf, 1, got, b);
        total += (long)got;
        if (truncate_to >= 0 && total >= truncate_to) break;
    }
    fclose(a);
    fclose(b);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    dfl_backend *be = dfl_backend_cpu_create(0);
    dfl_config cfg;
    dfl_config_defaults(&cfg);
    CHECK(dfl_config_set(&cfg, "model.base=8") == DFL_OK);
    CHECK(dfl_config_set(&cfg, "model.mult=1,2") == DFL_OK);
    CHECK(dfl_config_set(&cfg, "model.nres=1") == DFL_OK);
    CHECK(dfl_config_set(&cfg, "model.attention=1") == DFL_OK);
    dfl_unet_config uc;
    dfl_unet_config_from(&cfg, C, 1, 0, &uc);
    char dir[] = "/tmp/dfl_ckpt_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/ckpt.h5", dir);

    /* uninterrupted: 5 steps; interrupted: 3 steps, save, reload, 2 steps */
    run a;
    run_init(&a, be, &uc);
    for (int s = 0; s < 3; ++s) train_step(&a, s);
    dfl_ckpt_meta meta = {0};
    meta.step = 3;
    meta.seed = 0xDEADBEEFCAFEF00Dull;
    meta.data_epoch = 1;
    meta.data_position = 17;
    meta.world_size = 1;
    meta.config_text = dfl_config_to_text(&cfg);
    dfl_ckpt_meta_set_norm(&meta, C, (const double[]){0.25}, (const double[]){2.5});
    meta.periodic_x = 1;
    /* a calibration without order-3 spline weights: the four arrays it has, and NULL for the fifth */
    dfl_ckpt_calib_alloc(&meta.calib, C, 1, 0);
    CHECK(meta.calib.spline_weight && !meta.calib.spline3_weight);
    meta.calib.std_scale[0] = 1.5, meta.calib.std_floor[0] = 0.125, meta.calib.spline_weight[0] = 0.375;
    for (int b = 0; b < DFL_CKPT_GAP_BINS; ++b) meta.calib.std_gap_factor[b] = 0.5 + b;
    meta.calib.context_ratio = 0.7; /* fitted with pixel contexts of 0.7 */
    CHECK(dfl_checkpoint_save(path, a.m, a.opt, &meta) == DFL_OK);
    for (int s = 3; s < 5; ++s) train_step(&a, s);

    run b;
    run_init(&b, be, &uc);
    dfl_unet_init_params(b.m, 99); /* different weights: all must come from the file */
    CHECK(dfl_checkpoint_load(path, b.m, b.opt, 0) == DFL_OK);
    CHECK(b.opt->step == 3);
    for (int s = 3; s < 5; ++s) train_step(&b, s);
    size_t np = dfl_unet_num_params(a.m);
    float *pa = download_all(be, dfl_unet_params(a.m), np), *pb = download_all(be, dfl_unet_params(b.m), np);
    float *ea = download_all(be, a.opt->ema, np), *eb = download_all(be, b.opt->ema, np);
    CHECK_MSG(memcmp(pa, pb, np * sizeof(float)) == 0, "resumed parameters differ from the uninterrupted run");
    CHECK_MSG(memcmp(ea, eb, np * sizeof(float)) == 0, "resumed EMA differs from the uninterrupted run");
    int changed = 0;
    for (size_t i = 0; i < np; ++i) changed += pa[i] != 0.0f;
    CHECK(changed > 0);

    /* metadata round trip */
    dfl_ckpt_meta back;
    CHECK(dfl_checkpoint_read_meta(path, &back) == DFL_OK);
    CHECK(back.step == 3 && back.seed == 0xDEADBEEFCAFEF00Dull && back.data_epoch == 1 && back.data_position == 17);
    CHECK(back.channels == C && back.periodic_x == 1 && back.periodic_y == 0);
    CHECK(back.data_mean[0] == 0.25 && back.data_std[0] == 2.5);
    CHECK(back.config_text && strcmp(back.config_text, meta.config_text) == 0);
    CHECK(back.calib.std_scale && back.calib.std_scale[0] == 1.5 && back.calib.std_floor[0] == 0.125);
    CHECK(back.calib.spline_weight && back.calib.spline_weight[0] == 0.375 && !back.calib.spline3_weight);
    for (int b = 0; b < DFL_CKPT_GAP_BINS; ++b) CHECK(back.calib.std_gap_factor[b] == 0.5 + b);
    CHECK(back.calib.context_ratio == 0.7);
    dfl_ckpt_calib copy;
    dfl_ckpt_calib_copy(&copy, &back.calib, C);
    CHECK(copy.std_scale != back.calib.std_scale && copy.std_scale[0] == 1.5 && !copy.spline3_weight);
    CHECK(copy.context_ratio == 0.7);
    CHECK(copy.std_gap_factor[DFL_CKPT_GAP_BINS - 1] == 0.5 + DFL_CKPT_GAP_BINS - 1);
    dfl_ckpt_calib_free(&copy);
    CHECK(!copy.std_scale && !copy.std_gap_factor && copy.context_ratio == 0.0);
    dfl_ckpt_meta_free(&back);
    /* building the model from the checkpoint gives the saved weights */
    dfl_config cfg2;
    dfl_unet *m2 = NULL;
    CHECK(dfl_checkpoint_build_model(path, be, 0, &cfg2, &back, &m2) == DFL_OK);
    CHECK(dfl_unet_num_params(m2) == np);
    CHECK(dfl_unet_get_config(m2)->attention == 1 && dfl_unet_get_config(m2)->periodic_x == 1);
    dfl_ckpt_meta_free(&back);
    dfl_unet_destroy(m2);

    /* bad files */
    char bad[300];
    hid_t f;
    snprintf(bad, sizeof bad, "%s/missing_tensor.h5", dir);
    copy_file(path, bad, -1);
    f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/params/mid.res.0.conv1.weight", H5P_DEFAULT);
    H5Fclose(f);
    expect_usage_error(bad, "/params/mid.res.0.conv1.weight is missing", be);

    snprintf(bad, sizeof bad, "%s/wrong_shape.h5", dir);
    copy_file(path, bad, -1);
    f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/params/stem.bias", H5P_DEFAULT);
    hsize_t d = 5;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(f, "/params/stem.bias", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float five[5] = {0};
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, five);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
    expect_usage_error(bad, "has shape [5], the model expects [8]", be);

    snprintf(bad, sizeof bad, "%s/truncated.h5", dir);
    copy_file(path, bad, 3000);
    expect_usage_error(bad, "", be);

    snprintf(bad, sizeof bad, "%s/not_hdf5.h5", dir);
    FILE *t = fopen(bad, "w");
    fputs("this is not an HDF5 file\n", t);
    fclose(t);
    expect_usage_error(bad, "not an HDF5 file", be);

    snprintf(bad, sizeof bad, "%s/version.h5", dir);
    copy_file(path, bad, -1);
    f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "format_version");
    long long v99 = 99;
    sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(f, "format_version", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, H5T_NATIVE_LLONG, &v99);
    H5Aclose(at);
    H5Sclose(sp);
    H5Fclose(f);
    expect_usage_error(bad, "format version 99", be);

    snprintf(bad, sizeof bad, "%s/nonexistent.h5", dir);
    expect_usage_error(bad, "cannot read file", be);

    /* no temporary file is left behind by the atomic write */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", dir);
    CHECK(system(cmd) != 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);

    dfl_ckpt_meta_free(&meta);
    free(pa);
    free(pb);
    free(ea);
    free(eb);
    run_free(&a);
    run_free(&b);
    dfl_backend_destroy(be);
    return dfl_test_finish("model_checkpoint");
}
