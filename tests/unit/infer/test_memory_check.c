/* The memory check of inference against a device (docs/scaling.md,
 * "Memory"), on the CPU: a fake memory_info reports a device's free memory
 * the way the CUDA backend reports cudaMemGetInfo.
 *   - dfl_backend_memory_available (host/model/backend_select.c): the
 *     device's free memory, capped by a smaller DFL_MEMORY_LIMIT_BYTES; not
 *     known (0, no check) for a backend that cannot tell; host memory on the
 *     CPU backend;
 *   - dfl_backend_plan_need: host plans as they are, device plans with one
 *     more copy of the largest buffer and 1 GiB of cuDNN workspace;
 *   - dfl_imputer_fit with the imputer's backend reporting device memory:
 *     the need is the backend buffers with that estimate (the caller's host
 *     buffers and the sampler's host state left out); over the fake free
 *     size it is DFL_EUSAGE naming the knobs and the device; automatic
 *     passes shrink to fit it. */
#include <hdf5.h>
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

#define GIB ((size_t)1 << 30)

static size_t fake_free;

static void fake_memory_info(dfl_backend *be, size_t *free_bytes, size_t *total_bytes) {
    (void)be;
    *free_bytes = fake_free;
    *total_bytes = 2 * fake_free;
}

static void backend_functions(void) {
    const char *src = NULL;
    dfl_backend dev;
    memset(&dev, 0, sizeof dev);
    dev.name = "cuda";
    dev.memory_info = fake_memory_info;
    fake_free = 80 * GIB;
    unsetenv("DFL_MEMORY_LIMIT_BYTES");
    CHECK(dfl_backend_memory_available(&dev, &src) == 80 * GIB && strstr(src, "CUDA device"));
    setenv("DFL_MEMORY_LIMIT_BYTES", "5000", 1);
    CHECK(dfl_backend_memory_available(&dev, &src) == 5000 && !strcmp(src, "DFL_MEMORY_LIMIT_BYTES"));
    fake_free = 4000; /* a device with less free memory than the override: the device wins */
    CHECK(dfl_backend_memory_available(&dev, &src) == 4000 && strstr(src, "CUDA device"));
    setenv("DFL_MEMORY_LIMIT_BYTES", "junk", 1);
    CHECK(dfl_backend_memory_available(&dev, &src) == 4000 && strstr(src, "CUDA device"));
    unsetenv("DFL_MEMORY_LIMIT_BYTES");
    CHECK(dfl_backend_plan_need(&dev, 1000, 100) == 1100 + GIB);

    dfl_backend blind = dev; /* a device backend that cannot report its memory: not checked */
    blind.memory_info = NULL;
    CHECK(dfl_backend_memory_available(&blind, &src) == 0);
    CHECK(dfl_backend_plan_need(&blind, 1000, 100) == 1000);

    dfl_backend cpu; /* host memory, capped by the override, and the plan as it is */
    memset(&cpu, 0, sizeof cpu);
    cpu.name = "cpu";
    setenv("DFL_MEMORY_LIMIT_BYTES", "1000", 1);
    CHECK(dfl_backend_memory_available(&cpu, &src) == 1000 && !strcmp(src, "DFL_MEMORY_LIMIT_BYTES"));
    CHECK(dfl_backend_plan_need(&cpu, 1000, 100) == 1000);
    unsetenv("DFL_MEMORY_LIMIT_BYTES");
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    backend_functions();

    const int C = 2, H = 16, W = 16, K = 4;
    char dir[] = "/tmp/dfl_infer_mem_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/ckpt.h5", dir);
    infer_test_write_ckpt(path, C, "joint");

    dfl_backend *be = dfl_backend_cpu_create(0);
    dfl_imputer *im = NULL;
    CHECK(dfl_imputer_create(path, be, 0, &im) == DFL_OK);
    if (!im) return dfl_test_finish("infer_memory_check");

    dfl_impute_opts o;
    memset(&o, 0, sizeof o);
    o.K = K;
    o.steps = 3; /* the multi-step sampler: host state x, x0 */
    size_t host_bytes, largest, one_step_bytes;
    CHECK(dfl_imputer_pass_bytes(im, &o, 2, C, H, W, 1, &host_bytes, &largest) == DFL_OK);
    o.steps = 1;
    CHECK(dfl_imputer_pass_bytes(im, &o, 2, C, H, W, 1, &one_step_bytes, NULL) == DFL_OK);
    CHECK(host_bytes == one_step_bytes + 2 * (2 * (size_t)C * H * W * sizeof(float)));
    o.steps = 3;
    const size_t extra = 12345; /* the caller's host bytes per sample */

    /* host memory (memory_info NULL): the whole pass and the caller's buffers, as before */
    int n = 2;
    size_t need = 0;
    dfl_clear_error();
    CHECK(dfl_imputer_fit(im, &o, 0, &n, 1, C, H, W, 1, extra, 0, 0, NULL, "-K", &need) == DFL_OK);
    CHECK(need == host_bytes + 2 * extra);
    /* the caller's fixed backend bytes (the spline correction's solves) count once */
    const size_t fixed = 777;
    CHECK(dfl_imputer_fit(im, &o, 0, &n, 1, C, H, W, 1, extra, fixed, 0, NULL, "-K", &need) == DFL_OK);
    CHECK(need == host_bytes + 2 * extra + fixed);

    /* the same backend reporting device memory, the way the CUDA backend does */
    be->memory_info = fake_memory_info;
    const char *cpu_name = be->name;
    be->name = "cuda";
    const size_t dev_need = one_step_bytes + largest + GIB;
    n = 2;
    dfl_clear_error();
    CHECK(dfl_imputer_fit(im, &o, 0, &n, 1, C, H, W, 1, extra, 0, 0, NULL, "-K", &need) == DFL_OK);
    CHECK_MSG(need == dev_need, "device need %zu, expected %zu", need, dev_need);
    CHECK(dfl_imputer_fit(im, &o, 0, &n, 1, C, H, W, 1, extra, fixed, 0, NULL, "-K", &need) == DFL_OK);
    CHECK_MSG(need == dev_need + fixed, "device need with fixed bytes %zu, expected %zu", need, dev_need + fixed);

    /* fits the device's free memory */
    fake_free = dev_need;
    const char *src = NULL;
    size_t avail = dfl_backend_memory_available(be, &src);
    CHECK(avail == dev_need);
    n = 2;
    dfl_clear_error();
    CHECK(dfl_imputer_fit(im, &o, 0, &n, 1, C, H, W, 1, extra, 0, avail, src, "--batch (rows per pass) or -K", &need) ==
          DFL_OK);

    /* one byte short: exit 2 naming the device and the knobs */
    fake_free = dev_need - 1;
    avail = dfl_backend_memory_available(be, &src);
    n = 2;
    dfl_clear_error();
    CHECK(dfl_imputer_fit(im, &o, 0, &n, 1, C, H, W, 1, extra, 0, avail, src, "--batch (rows per pass) or -K", &need) ==
          DFL_EUSAGE);
    const char *msg = dfl_last_error();
    CHECK_MSG(msg && strstr(msg, "imputing 2 samples x K 4") && strstr(msg, "CUDA device") &&
                  strstr(msg, "lower --batch (rows per pass) or -K"),
              "message: %s", msg ? msg : "(none)");

    /* automatic passes (shrink): one sample per pass fits where two do not */
    n = 2;
    dfl_clear_error();
    CHECK(dfl_imputer_fit(im, &o, 1, &n, 1, C, H, W, 1, extra, 0, avail, src, "-K", &need) == DFL_OK);
    CHECK(n == 1 && need <= avail && o.fwd_rows == 0);

    /* DFL_MEMORY_LIMIT_BYTES caps the device figure: a tiny one refuses even the smallest pass */
    fake_free = 80 * GIB;
    setenv("DFL_MEMORY_LIMIT_BYTES", "1000", 1);
    avail = dfl_backend_memory_available(be, &src);
    CHECK(avail == 1000);
    n = 2;
    dfl_clear_error();
    CHECK(dfl_imputer_fit(im, &o, 1, &n, 1, C, H, W, 1, extra, 0, avail, src, "-K", &need) == DFL_EUSAGE);
    msg = dfl_last_error();
    CHECK_MSG(msg && strstr(msg, "DFL_MEMORY_LIMIT_BYTES") && strstr(msg, "lower -K"), "message: %s",
              msg ? msg : "(none)");
    unsetenv("DFL_MEMORY_LIMIT_BYTES");
    dfl_clear_error();

    be->memory_info = NULL;
    be->name = cpu_name;
    dfl_imputer_destroy(im);
    dfl_backend_destroy(be);
    unlink(path);
    rmdir(dir);
    return dfl_test_finish("infer_memory_check");
}
