/* The plan check against device memory (host/train/train_memory.c, with
 * dfl_backend_memory_available of host/model/backend_select.c and the pure
 * dfl_device_memory_available of host/core/memory.c), on the CPU: a fake device backend reports its free memory through memory_info,
 * the way the CUDA backend reports cudaMemGetInfo. A plan that fits passes;
 * one that does not is DFL_EUSAGE (exit 2) naming the knobs and the figure
 * it was checked against; DFL_MEMORY_LIMIT_BYTES still caps the device's
 * figure; a backend that cannot tell is not checked. */
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/status.h"
#include "train/train_memory.h"

static size_t fake_free, fake_total;
static int fake_calls;

static void fake_memory_info(dfl_backend *be, size_t *free_bytes, size_t *total_bytes) {
    (void)be;
    ++fake_calls;
    *free_bytes = fake_free;
    *total_bytes = fake_total;
}

static dfl_train_memory plan(size_t total, size_t total_bf16) {
    dfl_train_memory m;
    memset(&m, 0, sizeof m);
    m.total = total;
    m.total_bf16 = total_bf16;
    m.micro = 1;
    return m;
}

int main(void) {
    const char *src = NULL;
    /* the pure comparison: the device figure, capped by a smaller override only */
    CHECK(dfl_device_memory_available(1000, NULL, &src) == 1000 && strstr(src, "CUDA device"));
    CHECK(dfl_device_memory_available(1000, "", &src) == 1000 && strstr(src, "CUDA device"));
    CHECK(dfl_device_memory_available(1000, "400", &src) == 400 && !strcmp(src, "DFL_MEMORY_LIMIT_BYTES"));
    CHECK(dfl_device_memory_available(1000, "4000", &src) == 1000 && strstr(src, "CUDA device"));
    CHECK(dfl_device_memory_available(1000, "12x", &src) == 1000 && strstr(src, "CUDA device"));
    CHECK(dfl_device_memory_available(0, NULL, NULL) == 0);

    unsetenv("DFL_MEMORY_LIMIT_BYTES");
    dfl_backend dev;
    memset(&dev, 0, sizeof dev);
    dev.name = "cuda";
    dev.precision = DFL_PRECISION_BF16;
    dev.memory_info = fake_memory_info;
    fake_free = (size_t)80 << 30;
    fake_total = (size_t)141 << 30;

    /* device plans are checked with the CUDA estimate (total_bf16), not the fp32 total */
    dfl_train_memory m = plan((size_t)10 << 30, (size_t)12 << 30);
    CHECK(dfl_train_memory_need(&m, &dev) == m.total_bf16);
    CHECK(dfl_backend_memory_available(&dev, &src) == fake_free && fake_calls == 1);
    dfl_clear_error();
    CHECK(dfl_train_memory_check(&m, &dev, "train", "train.micro_batch or train.batch") == DFL_OK);

    /* over the device's free memory: exit 2, naming what, the source and the knobs */
    m = plan((size_t)70 << 30, (size_t)90 << 30);
    dfl_clear_error();
    CHECK(dfl_train_memory_check(&m, &dev, "train", "train.micro_batch or train.batch") == DFL_EUSAGE);
    const char *msg = dfl_last_error();
    CHECK_MSG(msg && strstr(msg, "train needs") && strstr(msg, "CUDA device") && strstr(msg, "train.micro_batch"),
              "message: %s", msg ? msg : "(none)");
    /* the fp32 total alone would have fitted: the device check uses the CUDA estimate */
    CHECK(m.total < fake_free);

    /* DFL_MEMORY_LIMIT_BYTES caps the device figure (the integration tests force refusals this way) */
    setenv("DFL_MEMORY_LIMIT_BYTES", "1000", 1);
    m = plan(600, 900);
    dfl_clear_error();
    CHECK(dfl_train_memory_check(&m, &dev, "bench train", "--batch") == DFL_OK);
    m = plan(600, 1001);
    dfl_clear_error();
    CHECK(dfl_train_memory_check(&m, &dev, "bench train", "--batch") == DFL_EUSAGE);
    msg = dfl_last_error();
    CHECK_MSG(msg && strstr(msg, "DFL_MEMORY_LIMIT_BYTES") && strstr(msg, "--batch"), "message: %s",
              msg ? msg : "(none)");
    /* a device with less free memory than the override: the device figure wins */
    fake_free = 500;
    CHECK(dfl_backend_memory_available(&dev, &src) == 500 && strstr(src, "CUDA device"));
    unsetenv("DFL_MEMORY_LIMIT_BYTES");

    /* a non-CPU backend that cannot report its memory: not checked */
    dfl_backend blind = dev;
    blind.memory_info = NULL;
    CHECK(dfl_backend_memory_available(&blind, &src) == 0);
    m = plan((size_t)1 << 60, (size_t)1 << 60);
    dfl_clear_error();
    CHECK(dfl_train_memory_check(&m, &blind, "train", "train.batch") == DFL_OK);

    /* the CPU backend: host memory and the fp32 total, as before */
    dfl_backend cpu;
    memset(&cpu, 0, sizeof cpu);
    cpu.name = "cpu";
    setenv("DFL_MEMORY_LIMIT_BYTES", "1000", 1);
    m = plan(999, 5000);
    CHECK(dfl_train_memory_need(&m, &cpu) == 999);
    dfl_clear_error();
    CHECK(dfl_train_memory_check(&m, &cpu, "train", "train.batch") == DFL_OK);
    m = plan(1001, 1001);
    dfl_clear_error();
    CHECK(dfl_train_memory_check(&m, &cpu, "train", "train.batch") == DFL_EUSAGE);
    unsetenv("DFL_MEMORY_LIMIT_BYTES");
    dfl_clear_error();
    return dfl_test_finish("train_memory_check");
}
