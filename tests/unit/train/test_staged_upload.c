/* The trainer's staged batch uploads (host/train/trainer.c, upload_batch):
 * two pinned slots and two device copies of the batch used alternately.
 * On the CPU backend DFL_UPLOAD=staged runs that path with plain uploads,
 * so the slot and buffer alternation is checked here without a GPU: steps
 * with an evaluation in between (eval uploads a batch of its own, of fewer
 * samples) give bit-identical losses, evaluation sums and final weights to
 * the synchronous path (DFL_UPLOAD=sync). The CUDA copy stream itself is
 * checked by the device suite (device_train: async against sync, bits). */
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

#define STEPS 5
#define BATCH 4
#define C     2
#define H     16
#define W     16

typedef struct {
    double loss[STEPS], eval_ss[STEPS], eval_n[STEPS];
    float *params;
    size_t nparams;
    int ok;
} run_result;

static void make_batch(long step, float *obs, uint8_t *mask) {
    const size_t nm = (size_t)BATCH * H * W;
    for (size_t i = 0; i < nm; ++i) mask[i] = dfl_rng_uniform(99, 0x100u + (uint64_t)step, i) < 0.5f;
    for (size_t i = 0; i < (size_t)BATCH * C * H * W; ++i)
        obs[i] = sinf(0.1f * (float)(i % 97) + (float)step) + 0.1f * (dfl_rng_uniform(98, (uint64_t)step, i) - 0.5f);
}

static run_result train(const char *mode) {
    setenv("DFL_UPLOAD", mode, 1);
    run_result r;
    memset(&r, 0, sizeof r);
    dfl_backend *be = dfl_backend_cpu_create(1);
    dfl_config cfg = dfl_test_train_config(STEPS, 7);
    dfl_unet_config uc = dfl_test_unet_config(C, 8, 0);
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    dfl_unet *model = NULL;
    dfl_trainer *tr = NULL;
    dfl_comm *comm = dfl_comm_single();
    if (dfl_unet_create(be, &uc, &model) != DFL_OK) return r;
    dfl_unet_init_params(model, 1234);
    if (dfl_trainer_create(be, model, comm, &cfg, &mp, BATCH, C, H, W, 1, &tr) != DFL_OK) {
        fprintf(stderr, "%s: trainer: %s\n", mode, dfl_last_error());
        return r;
    }
    float *obs = dfl_xmalloc((size_t)BATCH * C * H * W * sizeof(float));
    uint8_t *mask = dfl_xmalloc((size_t)BATCH * H * W);
    r.ok = 1;
    for (long s = 0; s < STEPS && r.ok; ++s) {
        make_batch(s, obs, mask);
        dfl_step_stats st;
        r.ok = dfl_trainer_step(tr, obs, mask, s, &st) == DFL_OK;
        r.loss[s] = st.loss;
        /* an evaluation on 3 samples of another batch between steps */
        make_batch(100 + s, obs, mask);
        r.ok = r.ok && dfl_trainer_eval(tr, obs, mask, 3, 1000, 0, &r.eval_ss[s], &r.eval_n[s]) == DFL_OK;
    }
    r.nparams = dfl_unet_num_params(model);
    r.params = dfl_xmalloc(r.nparams * sizeof(float));
    be->download(be, r.params, dfl_unet_params(model), r.nparams * sizeof(float));
    free(obs);
    free(mask);
    dfl_trainer_destroy(tr);
    dfl_unet_destroy(model);
    dfl_comm_destroy(comm);
    dfl_backend_destroy(be);
    unsetenv("DFL_UPLOAD");
    return r;
}

int main(void) {
    dfl_set_quiet(1);
    run_result a = train("sync"), b = train("staged");
    CHECK(a.ok && b.ok);
    for (int s = 0; s < STEPS; ++s) {
        CHECK_MSG(a.loss[s] == b.loss[s], "step %d: loss %.17g (sync) vs %.17g (staged)", s, a.loss[s], b.loss[s]);
        CHECK_MSG(a.eval_ss[s] == b.eval_ss[s] && a.eval_n[s] == b.eval_n[s], "step %d: eval %.17g/%g vs %.17g/%g", s,
                  a.eval_ss[s], a.eval_n[s], b.eval_ss[s], b.eval_n[s]);
        CHECK(isfinite(a.loss[s]) && a.eval_n[s] > 0);
    }
    CHECK(a.nparams == b.nparams && a.nparams > 0);
    if (a.nparams == b.nparams)
        CHECK_MSG(!memcmp(a.params, b.params, a.nparams * sizeof(float)), "final weights differ");
    /* the staged path really alternated: a different batch each step changes the loss */
    CHECK(a.loss[0] != a.loss[1]);
    free(a.params);
    free(b.params);
    return dfl_test_finish("train_staged_upload");
}
