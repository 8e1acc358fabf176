/* train.micro_batch (docs/design.md, "Configuration keys"): a step run as
 * micro-batches of 2 or 4 of a batch of 8 gives the weights of the unsplit
 * step to 1e-5 (the difference is summation order), micro_batch = batch is
 * bit-identical to no split, a run with another seed does NOT match (so
 * the tolerance can tell runs apart), validation in micro-batch passes
 * gives the unsplit loss, and a micro_batch that does not divide the batch
 * is a usage error naming the key. A communicator posing as rank 0 of 2
 * (identity sums) drives the gradient-ready hook: the bucketed sum covers
 * every gradient exactly once per step, after the last micro-batch. Also
 * the crop rule for periodic axes (dfl_train_crop_periodic). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dfl_test_train.h"
#include "dynfill/backend.h"
#include "dynfill/comm.h"
#include "dynfill/config.h"
#include "dynfill/method.h"
#include "dynfill/model.h"
#include "dynfill/train.h"
#include "shared/philox.h"

#define STEPS 3
#define BATCH 8
#define C     2
#define H     16
#define W     16

/* ---- a communicator posing as rank 0 of 2: sums are the identity, begun ranges are recorded ---- */
typedef struct {
    const float *grads; /* the model's gradient buffer */
    size_t begun;       /* floats begun this step */
    size_t next_end;    /* where the next begun range must end: ranges tile [0, n) downwards */
    int begins, ends, tiled;
} fake_state;

static void fake_sum(dfl_comm *c, dfl_backend *be, float *buf, size_t n) { (void)c, (void)be, (void)buf, (void)n; }
static void fake_sum_host(dfl_comm *c, double *buf, size_t n) { (void)c, (void)buf, (void)n; }
static void fake_begin(dfl_comm *c, dfl_backend *be, float *buf, size_t n) {
    (void)be;
    fake_state *f = c->ctx;
    if (buf + n != f->grads + f->next_end) f->tiled = 0;
    f->next_end = (size_t)(buf - f->grads);
    f->begun += n;
    f->begins++;
}
static void fake_end(dfl_comm *c, dfl_backend *be) {
    (void)be;
    ((fake_state *)c->ctx)->ends++;
}

typedef struct {
    double loss[STEPS], gnorm[STEPS];
    float *params;
    size_t nparams;
    double val_sum, val_count;
    size_t begun_per_step[STEPS];
    int ok;
} run_result;

static void make_batch(long step, float *obs, uint8_t *mask) {
    const size_t nm = (size_t)BATCH * H * W;
    for (size_t i = 0; i < nm; ++i) mask[i] = dfl_rng_uniform(99, 0x100u + (uint64_t)step, i) < 0.5f;
    for (int n = 0; n < BATCH; ++n)
        for (int c = 0; c < C; ++c)
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    const size_t i = (((size_t)n * C + c) * H + y) * W + x;
                    obs[i] = sinf(0.4f * (float)(x + step + n) + 0.3f * (float)c) * cosf(0.3f * (float)y) +
                             0.1f * (dfl_rng_uniform(98, (uint64_t)step, i) - 0.5f);
                    if (!mask[((size_t)n * H + y) * W + x]) obs[i] = 0;
                }
}

/* STEPS steps of batch BATCH split into micro-batches of `micro` (0 = none);
 * fake = 1 trains through the posing communicator with small buckets. */
static run_result train(dfl_backend *be, int micro, unsigned long long seed, int fake) {
    run_result r;
    memset(&r, 0, sizeof r);
    dfl_config cfg = dfl_test_train_config(STEPS, seed);
    cfg.micro_batch = micro;
    dfl_unet_config uc = dfl_test_unet_config(
        C, 16, 1); /* base 16: 2 channels per GroupNorm group, every parameter has a real gradient */
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    fake_state fs;
    memset(&fs, 0, sizeof fs);
    dfl_comm fc;
    memset(&fc, 0, sizeof fc);
    fc.name = "fake";
    fc.rank = 0;
    fc.world = 2;
    fc.ctx = &fs;
    fc.allreduce_sum = fake_sum;
    fc.allreduce_sum_host = fake_sum_host;
    fc.allreduce_sum_begin = fake_begin;
    fc.allreduce_sum_end = fake_end;
    fc.bucket_mb = 0.01; /* ~2600 floats: many buckets */
    dfl_comm *single = fake ? NULL : dfl_comm_single();
    dfl_comm *comm = fake ? &fc : single;
    dfl_unet *model = NULL;
    dfl_trainer *tr = NULL;
    if (dfl_unet_create(be, &uc, &model) != DFL_OK) return r;
    dfl_unet_init_params(model, 1234);
    fs.tiled = 1;
    if (dfl_trainer_create(be, model, comm, &cfg, &mp, BATCH, C, H, W, 1, &tr) != DFL_OK) {
        fprintf(stderr, "trainer: %s\n", dfl_last_error());
        dfl_unet_destroy(model);
        dfl_comm_destroy(single);
        return r;
    }
    fs.grads = dfl_unet_grads(model); /* allocated by the trainer's (first training) plan */
    float *obs = dfl_xmalloc((size_t)BATCH * C * H * W * sizeof(float));
    uint8_t *mask = dfl_xmalloc((size_t)BATCH * H * W);
    r.ok = 1;
    for (long s = 0; s < STEPS && r.ok; ++s) {
        make_batch(s, obs, mask);
        dfl_step_stats st;
        fs.begun = 0;
        fs.next_end = dfl_unet_num_params(model);
        if (dfl_trainer_step(tr, obs, mask, s, &st) != DFL_OK) {
            fprintf(stderr, "step %ld: %s\n", s, dfl_last_error());
            r.ok = 0;
        }
        r.loss[s] = st.loss;
        r.gnorm[s] = st.grad_norm;
        r.begun_per_step[s] = fs.begun;
        if (fake && fs.next_end != 0) fs.tiled = 0;
    }
    /* validation of 7 samples: passes of `micro` and a shorter last one */
    make_batch(100, obs, mask);
    if (r.ok && dfl_trainer_eval(tr, obs, mask, 7, 0x7FFFFF00L, 1, &r.val_sum, &r.val_count) != DFL_OK) r.ok = 0;
    r.nparams = dfl_unet_num_params(model);
    r.params = dfl_xmalloc(r.nparams * sizeof(float));
    be->download(be, r.params, dfl_unet_params(model), r.nparams * sizeof(float));
    CHECK_MSG(!fake || (fs.begins > STEPS && fs.ends == STEPS && fs.tiled), "hook: %d begins, %d ends, tiled %d",
              fs.begins, fs.ends, fs.tiled);
    free(obs);
    free(mask);
    dfl_trainer_destroy(tr);
    dfl_unet_destroy(model);
    dfl_comm_destroy(single);
    return r;
}

/* ||a - b|| / ||b|| over all parameters */
static double rel_err(const run_result *a, const run_result *b) {
    if (!a->ok || !b->ok || a->nparams != b->nparams) return INFINITY;
    double d2 = 0, r2 = 0;
    for (size_t i = 0; i < b->nparams; ++i) {
        const double d = (double)a->params[i] - b->params[i];
        d2 += d * d;
        r2 += (double)b->params[i] * b->params[i];
    }
    return isfinite(d2) ? sqrt(d2 / r2) : INFINITY;
}

static void compare(const char *label, const run_result *a, const run_result *ref, double tol) {
    const double e = rel_err(a, ref);
    printf("%-22s params rel err %.3e (tol %.0e)\n", label, e, tol);
    CHECK_MSG(e <= tol, "%s: params rel err %.3e", label, e);
    for (int s = 0; s < STEPS; ++s) {
        CHECK_MSG(fabs(a->loss[s] - ref->loss[s]) <= 1e-6 * fabs(ref->loss[s]), "%s step %d: loss %.9g vs %.9g", label,
                  s, a->loss[s], ref->loss[s]);
        CHECK_MSG(fabs(a->gnorm[s] - ref->gnorm[s]) <= 1e-5 * fabs(ref->gnorm[s]), "%s step %d: grad norm %.9g vs %.9g",
                  label, s, a->gnorm[s], ref->gnorm[s]);
    }
    CHECK_MSG(a->val_count == ref->val_count && fabs(a->val_sum - ref->val_sum) <= 1e-6 * ref->val_sum,
              "%s: validation %.9g / %.0f vs %.9g / %.0f", label, a->val_sum, a->val_count, ref->val_sum,
              ref->val_count);
}

static void free_run(run_result *r) { free(r->params); }

static void test_crop_rule(void) {
    int px = 1, py = 1;
    dfl_train_crop_periodic(16, 16, 16, 32, &px, &py); /* spans every row, cuts the columns */
    CHECK(px == 0 && py == 1);
    px = py = 1;
    dfl_train_crop_periodic(16, 16, 16, 16, &px, &py); /* the whole field */
    CHECK(px == 1 && py == 1);
    px = py = 1;
    dfl_train_crop_periodic(8, 8, 16, 16, &px, &py);
    CHECK(px == 0 && py == 0);
    px = 0, py = 0;
    dfl_train_crop_periodic(16, 16, 16, 16, &px, &py); /* never makes an axis periodic */
    CHECK(px == 0 && py == 0);
    px = 1, py = 0;
    dfl_train_crop_periodic(32, 32, 32, 64, &px, &py);
    CHECK(px == 0 && py == 0);
}

int main(void) {
    test_crop_rule();
    dfl_backend *be = dfl_backend_cpu_create(1);
    CHECK(be != NULL);
    if (!be) return dfl_test_finish("trainer_micro_batch");

    run_result whole = train(be, 0, 7, 0);
    CHECK(whole.ok);
    run_result m2 = train(be, 2, 7, 0), m4 = train(be, 4, 7, 0), m8 = train(be, 8, 7, 0);
    compare("micro_batch 2", &m2, &whole, 1e-5);
    compare("micro_batch 4", &m4, &whole, 1e-5);
    CHECK_MSG(m8.ok && rel_err(&m8, &whole) == 0.0, "micro_batch = batch must be bit-identical (err %.3e)",
              rel_err(&m8, &whole));
    /* control: another seed draws other times, masks and noise */
    run_result other = train(be, 0, 8, 0);
    const double ctrl = rel_err(&other, &whole);
    printf("%-22s params rel err %.3e (must exceed 1e-5)\n", "control: seed 8", ctrl);
    CHECK_MSG(ctrl > 1e-5, "control: a run with another seed matched (%.3e)", ctrl);

    /* the bucketed, hook-driven sum: once per step over every gradient, after the last micro-batch */
    run_result fw = train(be, 0, 7, 1), f2 = train(be, 2, 7, 1);
    compare("hook, micro_batch 2", &f2, &fw, 1e-5);
    for (int s = 0; s < STEPS; ++s) {
        CHECK_MSG(fw.begun_per_step[s] == whole.nparams, "unsplit: %zu of %zu gradients summed at step %d",
                  fw.begun_per_step[s], whole.nparams, s);
        CHECK_MSG(f2.begun_per_step[s] == whole.nparams, "micro: %zu of %zu gradients summed at step %d",
                  f2.begun_per_step[s], whole.nparams, s);
    }

    /* a micro_batch that does not divide the batch */
    dfl_clear_error();
    run_result bad = train(be, 3, 7, 0);
    CHECK(!bad.ok);
    CHECK_MSG(strstr(dfl_last_error(), "train.micro_batch = 3 must divide train.batch = 8") != NULL, "%s",
              dfl_last_error());
    dfl_clear_error();
    run_result big = train(be, 16, 7, 0);
    CHECK(!big.ok);
    CHECK_MSG(strstr(dfl_last_error(), "train.micro_batch = 16 must divide train.batch = 8") != NULL, "%s",
              dfl_last_error());

    free_run(&whole), free_run(&m2), free_run(&m4), free_run(&m8), free_run(&other), free_run(&fw), free_run(&f2);
    free_run(&bad), free_run(&big);
    dfl_backend_destroy(be);
    return dfl_test_finish("trainer_micro_batch");
}
