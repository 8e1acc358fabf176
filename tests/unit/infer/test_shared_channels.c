/* Imputation with model.channels = shared (docs/design.md, "Shared
 * channels"): a checkpoint of C data channels whose network has one channel
 * imputes [n, C, h, w] exactly as the same network imputes the one-channel
 * fields [n*C, 1, h, w] (sample i's channel ch is field i*C + ch, a shared
 * mask repeated per channel):
 *  - the prediction, the spread and the members (as [n, K, C, h, w]) are
 *    bit-identical, for a shared and a per-channel mask, single-step and
 *    with the multi-step sampler;
 *  - the pass's memory is that of the n*C fields plus the repeated mask;
 *  - the data must still have the checkpoint's C channels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/checkpoint.h"
#include "dynfill/infer.h"
#include "dynfill/model.h"
#include "dynfill/status.h"
#include "infer_test_ckpt.h"
#include "shared/philox.h"

enum { N = 2, C = 3, H = 16, W = 16, HW = H * W, K = 4 };

static void compare(dfl_imputer *shared, dfl_imputer *single, int mc, int steps) {
    static float obs[N * C * HW];
    static uint8_t mask[N * C * HW], mask1[N * C * HW];
    for (int i = 0; i < N * C * HW; ++i) obs[i] = dfl_rng_normal(11, 1, (uint64_t)i);
    for (int i = 0; i < N * mc * HW; ++i) mask[i] = (dfl_rng_bits(12, 2, (uint64_t)i).v[0] % 10) < 4;
    for (int f = 0; f < N * C; ++f) /* field f: channel f % C of sample f / C */
        memcpy(mask1 + f * HW, mask + (mc == 1 ? f / C : f) * HW, HW);
    for (int i = 0; i < N * C * HW; ++i)
        if (!mask1[i]) obs[i] = 0.0f;
    dfl_impute_opts o;
    memset(&o, 0, sizeof o);
    o.K = K;
    o.steps = steps;
    o.ddim = 1;
    o.t_eps = 1e-3f;
    o.seed = 5;
    const uint32_t offset = 7;
    float *pred_a = malloc(sizeof(float) * N * C * HW), *pred_b = malloc(sizeof(float) * N * C * HW);
    float *sd_a = malloc(sizeof(float) * N * C * HW), *sd_b = malloc(sizeof(float) * N * C * HW);
    float *mem_a = malloc(sizeof(float) * N * K * C * HW), *mem_b = malloc(sizeof(float) * N * C * K * HW);
    CHECK(dfl_imputer_run(shared, &o, N, C, H, W, mc, obs, mask, offset, pred_a, sd_a, mem_a) == DFL_OK);
    CHECK(dfl_imputer_run(single, &o, N * C, 1, H, W, 1, obs, mask1, offset * C, pred_b, sd_b, mem_b) == DFL_OK);
    CHECK_MSG(!memcmp(pred_a, pred_b, sizeof(float) * N * C * HW), "mask_c %d, %d step(s): the same prediction", mc,
              steps);
    CHECK_MSG(!memcmp(sd_a, sd_b, sizeof(float) * N * C * HW), "mask_c %d, %d step(s): the same spread", mc, steps);
    int members = 1;
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < K; ++k)
            for (int ch = 0; ch < C; ++ch)
                members &= !memcmp(mem_a + ((i * K + k) * C + ch) * HW, mem_b + (((i * C + ch) * K + k) * HW),
                                   sizeof(float) * HW);
    CHECK_MSG(members, "mask_c %d, %d step(s): member k of sample i, channel ch is member k of field i*C+ch", mc,
              steps);
    size_t bytes_a, bytes_b;
    CHECK(dfl_imputer_pass_bytes(shared, &o, N, C, H, W, mc, &bytes_a, NULL) == DFL_OK);
    CHECK(dfl_imputer_pass_bytes(single, &o, N * C, 1, H, W, 1, &bytes_b, NULL) == DFL_OK);
    CHECK_MSG(bytes_a == bytes_b + (mc == 1 ? (size_t)N * C * HW : 0),
              "mask_c %d: the pass holds the n*C fields' memory and the repeated mask", mc);
    free(pred_a);
    free(pred_b);
    free(sd_a);
    free(sd_b);
    free(mem_a);
    free(mem_b);
}

int main(void) {
    char dir[] = "/tmp/dfl_shared_channels_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path_shared[256], path_single[256];
    snprintf(path_shared, sizeof path_shared, "%s/shared.h5", dir);
    snprintf(path_single, sizeof path_single, "%s/single.h5", dir);
    infer_test_write_ckpt(path_shared, C, "shared");
    infer_test_write_ckpt(path_single, 1, "joint");

    dfl_backend *be = dfl_backend_cpu_create(0);
    dfl_imputer *shared = NULL, *single = NULL;
    CHECK(dfl_imputer_create(path_shared, be, 0, &shared) == DFL_OK);
    CHECK(dfl_imputer_create(path_single, be, 0, &single) == DFL_OK);
    if (shared && single) {
        compare(shared, single, 1, 1);
        compare(shared, single, C, 1);
        compare(shared, single, 1, 3);
        /* the data must still have the checkpoint's channels */
        dfl_impute_opts o;
        memset(&o, 0, sizeof o);
        o.K = K;
        o.steps = 1;
        o.t_eps = 1e-3f;
        static float obs[N * C * HW], pred[N * C * HW];
        static uint8_t mask[N * C * HW];
        dfl_clear_error();
        CHECK(dfl_imputer_run(shared, &o, N * C, 1, H, W, 1, obs, mask, 0, pred, NULL, NULL) == DFL_EUSAGE);
        CHECK(strstr(dfl_last_error(), "the data has 1 channels, the model was trained on 3") != NULL);
        dfl_clear_error();
    }
    dfl_imputer_destroy(shared);
    dfl_imputer_destroy(single);
    dfl_backend_destroy(be);
    unlink(path_shared);
    unlink(path_single);
    rmdir(dir);
    return dfl_test_finish("infer_shared_channels");
}
