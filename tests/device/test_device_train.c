/* Device suite, part 2 (docs/design.md, "Testing"): a short training run of dfl-unet v1
 * through the real trainer (include/dynfill/train.h) on the CPU backend
 * and on the CUDA backend, from the same initial weights (Philox init) and
 * the same batches and keys. The network has two levels, attention, a
 * periodic x axis and C = 2, so every op of the model runs.
 *   strict fp32: every step's loss agrees within 1e-4 relative, the final
 *                weights within 1e-2 normalised error;
 *   tf32, bf16:  losses finite and within 5e-2 relative of the CPU run
 *                (a sanity bound: reduced-precision arithmetic drifts);
 *   uploads:     the fp32 run (pinned, double-buffered uploads on the copy
 *                stream, the CUDA default) and a run with DFL_UPLOAD=sync
 *                (plain synchronous uploads) give bit-identical losses and
 *                final weights.
 * Exit 77 (skipped) without a CUDA device; `--cpu-vs-cpu` runs the CPU
 * trainer twice (a check of this program that needs no GPU). */
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

#define STEPS 6
#define BATCH 4
#define C     2
#define H     16
#define W     16

typedef struct {
    double loss[STEPS];
    float *params; /* host copy after the run */
    size_t nparams;
    int ok;
} run_result;

static void make_batch(long step, float *obs, uint8_t *mask) {
    const size_t nm = (size_t)BATCH * H * W;
    for (size_t i = 0; i < nm; ++i) mask[i] = dfl_rng_uniform(99, 0x100u + (uint64_t)step, i) < 0.5f;
    /* a smooth field plus noise, so the loss has something to learn */
    for (int n = 0; n < BATCH; ++n)
        for (int c = 0; c < C; ++c)
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    const size_t i = (((size_t)n * C + c) * H + y) * W + x;
                    obs[i] = sinf(0.4f * (float)(x + step) + 0.3f * (float)c) * cosf(0.3f * (float)y) +
                             0.1f * (dfl_rng_uniform(98, (uint64_t)step, i) - 0.5f);
                }
}

static run_result train(dfl_backend *be, const char *label) {
    run_result r;
    memset(&r, 0, sizeof r);
    dfl_config cfg = dfl_test_train_config(STEPS, 7);
    cfg.clip = 1.0;
    cfg.ema = 0.999;
    cfg.weight_decay = 0.0;
    dfl_unet_config uc = dfl_test_unet_config(C, 16, 1);
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    dfl_unet *model = NULL;
    dfl_trainer *tr = NULL;
    dfl_comm *comm = dfl_comm_single();
    if (dfl_unet_create(be, &uc, &model) != DFL_OK) {
        fprintf(stderr, "%s: unet: %s\n", label, dfl_last_error());
        return r;
    }
    dfl_unet_init_params(model, 1234);
    if (dfl_trainer_create(be, model, comm, &cfg, &mp, BATCH, C, H, W, 1, &tr) != DFL_OK) {
        fprintf(stderr, "%s: trainer: %s\n", label, dfl_last_error());
        dfl_unet_destroy(model);
        return r;
    }
    float *obs = dfl_xmalloc((size_t)BATCH * C * H * W * sizeof(float));
    uint8_t *mask = dfl_xmalloc((size_t)BATCH * H * W);
    r.ok = 1;
    for (long s = 0; s < STEPS && r.ok; ++s) {
        make_batch(s, obs, mask);
        dfl_step_stats st;
        if (dfl_trainer_step(tr, obs, mask, s, &st) != DFL_OK) {
            fprintf(stderr, "%s: step %ld: %s\n", label, s, dfl_last_error());
            r.ok = 0;
            break;
        }
        r.loss[s] = st.loss;
    }
    r.nparams = dfl_unet_num_params(model);
    r.params = dfl_xmalloc(r.nparams * sizeof(float));
    be->download(be, r.params, dfl_unet_params(model), r.nparams * sizeof(float));
    free(obs);
    free(mask);
    dfl_trainer_destroy(tr);
    dfl_unet_destroy(model);
    dfl_comm_destroy(comm);
    return r;
}

static double params_err(const run_result *a, const run_result *ref) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < ref->nparams; ++i) {
        if (!isfinite(a->params[i])) return INFINITY;
        const double d = fabs((double)a->params[i] - ref->params[i]);
        md = d > md ? d : md;
        mb = fabs((double)ref->params[i]) > mb ? fabs((double)ref->params[i]) : mb;
    }
    return mb > 0 ? md / mb : md;
}

static void compare_runs(const char *label, const run_result *g, const run_result *c, double loss_tol,
                         double param_tol) {
    CHECK_MSG(g->ok && c->ok, "%s: a run failed", label);
    if (!g->ok || !c->ok) return;
    double worst = 0;
    for (int s = 0; s < STEPS; ++s) {
        const double rel = fabs(g->loss[s] - c->loss[s]) / fabs(c->loss[s]);
        printf("%-8s step %d  loss cpu %.8f  device %.8f  rel %.2e\n", label, s, c->loss[s], g->loss[s], rel);
        worst = rel > worst || !isfinite(rel) ? rel : worst;
        CHECK_MSG(isfinite(g->loss[s]) && rel <= loss_tol, "%s step %d: loss %.9g vs cpu %.9g (rel %.2e > %.1e)", label,
                  s, g->loss[s], c->loss[s], rel, loss_tol);
    }
    const double perr = g->nparams == c->nparams ? params_err(g, c) : INFINITY;
    printf("%-8s worst loss rel %.2e (tol %.1e), final weights err %.2e (tol %.1e)\n", label, worst, loss_tol, perr,
           param_tol);
    CHECK_MSG(perr <= param_tol, "%s: final weights differ by %.3e", label, perr);
    /* the run must learn something: loss of the last step below the first */
    CHECK_MSG(g->loss[STEPS - 1] < g->loss[0], "%s: loss did not fall (%g -> %g)", label, g->loss[0],
              g->loss[STEPS - 1]);
}

int main(int argc, char **argv) {
    const int cpu_vs_cpu = argc > 1 && !strcmp(argv[1], "--cpu-vs-cpu");
    dfl_set_quiet(1);
    if (!cpu_vs_cpu && !dfl_cuda_available()) {
        printf("device_train: no CUDA device: skipped\n");
        return 77;
    }
    dfl_backend *cpu = dfl_backend_cpu_create(0);
    run_result ref = train(cpu, "cpu");
    CHECK_MSG(ref.ok, "CPU reference run failed");
    if (cpu_vs_cpu) {
        dfl_backend *cpu2 = dfl_backend_cpu_create(0);
        run_result again = train(cpu2, "cpu2");
        compare_runs("cpu-cpu", &again, &ref, 0.0, 0.0);
        free(again.params);
        dfl_backend_destroy(cpu2);
    } else {
        const dfl_precision precs[3] = {DFL_PRECISION_FP32, DFL_PRECISION_TF32, DFL_PRECISION_BF16};
        const char *names[3] = {"fp32", "tf32", "bf16"};
        for (int k = 0; k < 3; ++k) {
            dfl_backend *gpu = dfl_backend_cuda_create(0, precs[k]);
            CHECK_MSG(gpu != NULL, "CUDA backend %s: %s", names[k], dfl_last_error());
            if (!gpu) continue;
            run_result g = train(gpu, names[k]);
            if (k == 0) {
                compare_runs(names[k], &g, &ref, 1e-4, 1e-2);
                /* the same run with synchronous uploads, on a fresh backend: the same bits */
                setenv("DFL_UPLOAD", "sync", 1);
                dfl_backend *gs = dfl_backend_cuda_create(0, precs[k]);
                run_result sy = gs ? train(gs, "fp32-sync") : (run_result){0};
                unsetenv("DFL_UPLOAD");
                CHECK_MSG(g.ok && sy.ok, "fp32 async/sync upload runs failed");
                if (g.ok && sy.ok) {
                    int same = g.nparams == sy.nparams && !memcmp(g.params, sy.params, g.nparams * sizeof(float));
                    for (int s = 0; s < STEPS; ++s) same &= g.loss[s] == sy.loss[s];
                    printf("fp32     async vs sync uploads: %s\n", same ? "bit-identical" : "DIFFER");
                    CHECK_MSG(same, "fp32: staged async uploads change the results (losses or weights differ)");
                }
                free(sy.params);
                if (gs) dfl_backend_destroy(gs);
            } else
                compare_runs(names[k], &g, &ref, 5e-2, 1.0);
            free(g.params);
            dfl_backend_destroy(gpu);
        }
    }
    free(ref.params);
    dfl_backend_destroy(cpu);
    return dfl_test_finish("device_train");
}
