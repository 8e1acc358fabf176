/* CPU backend: construction, memory ops and the context's workspace
 * (docs/design.md, "Backend interface"). The ops live in one file per family (conv_cpu.c,
 * group_norm_cpu.c, elementwise_cpu.c, layout_cpu.c, dense_cpu.c,
 * optimizer_cpu.c) and register themselves into the vtable here. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_backend_internal.h"
#include "shared/buffer.h"

/* Copies larger than this are split across threads. */
#define DFL_CPU_PARALLEL_COPY_BYTES ((size_t)1 << 20)

const char *dfl_cpu_dnnl_status_name(dnnl_status_t s) {
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

void *dfl_cpu_buffer_reserve(dfl_cpu_buffer *b, size_t bytes) {
    if (bytes <= b->bytes && b->ptr) return b->ptr;
    free(b->ptr);
    b->ptr = NULL;
    const size_t want = dfl_buffer_grow_bytes(bytes, 64);
    if (posix_memalign(&b->ptr, 64, want) != 0) DFL_PANIC("out of memory allocating %zu bytes", want);
    b->bytes = want;
    return b->ptr;
}

void dfl_cpu_buffer_release(dfl_cpu_buffer *b) {
    free(b->ptr);
    b->ptr = NULL;
    b->bytes = 0;
}

static void *cpu_alloc(dfl_backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) DFL_PANIC("out of memory allocating %zu bytes", bytes);
    return p;
}

static void cpu_free(dfl_backend *be, void *p) {
    (void)be;
    free(p);
}

static void parallel_memcpy(void *dst, const void *src, size_t bytes) {
    if (dst == src || bytes == 0) return;
    if (bytes < DFL_CPU_PARALLEL_COPY_BYTES) {
        memmove(dst, src, bytes);
        return;
    }
    const size_t chunk = (size_t)1 << 18;
    const long nchunks = (long)((bytes + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < nchunks; ++i) {
        size_t off = (size_t)i * chunk;
        size_t len = bytes - off < chunk ? bytes - off : chunk;
        memcpy((char *)dst + off, (const char *)src + off, len);
    }
}

static void cpu_upload(dfl_backend *be, void *dst, const void *host_src, size_t bytes) {
    (void)be;
    parallel_memcpy(dst, host_src, bytes);
}

static void cpu_download(dfl_backend *be, void *host_dst, const void *src, size_t bytes) {
    (void)be;
    parallel_memcpy(host_dst, src, bytes);
}

static void cpu_copy(dfl_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    parallel_memcpy(dst, src, bytes);
}

static void cpu_fill(dfl_backend *be, float *x, float value, size_t n) {
    (void)be;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; ++i) x[i] = value;
}

static void cpu_synchronize(dfl_backend *be) { (void)be; /* every CPU op completes before it returns */ }

static void cpu_destroy(dfl_backend *be) {
    dfl_cpu_ctx *ctx = dfl_cpu_ctx_of(be);
    if (ctx) {
        dfl_cpu_conv_cache_destroy(ctx);
        for (int i = 0; i < DFL_CPU_WS_COUNT; ++i) dfl_cpu_buffer_release(&ctx->ws[i]);
        if (ctx->attr) dnnlCheck(dnnl_primitive_attr_destroy(ctx->attr));
        if (ctx->stream) dnnlCheck(dnnl_stream_destroy(ctx->stream));
        if (ctx->engine) dnnlCheck(dnnl_engine_destroy(ctx->engine));
        free(ctx);
    }
    free(be);
}

const char *dfl_cpu_isa_name(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic:
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

int dfl_cpu_isa_avx512(void) {
    static int avx512 = -1;
    if (avx512 < 0) {
        const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        avx512 = isa == dnnl_cpu_isa_avx512_core || isa == dnnl_cpu_isa_avx512_core_vnni ||
                 isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
    }
    return avx512;
}

dfl_precision dfl_cpu_auto_precision(int has_amx, int has_avx512_bf16, int vendor_amd) {
    if (has_amx) return DFL_PRECISION_BF16;
    return has_avx512_bf16 && vendor_amd ? DFL_PRECISION_BF16 : DFL_PRECISION_FP32;
}

int dfl_cpu_vendor_amd(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    char vendor[13];
    memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
    vendor[12] = '\0';
    return strcmp(vendor, "AuthenticAMD") == 0;
#else
    return 0;
#endif
}

const char *dfl_cpu_auto_precision_note(char *buf, size_t len) {
    snprintf(buf, len, "%s, %s CPU", dfl_cpu_isa_name(), dfl_cpu_vendor_amd() ? "an AMD" : "a non-AMD");
    return buf;
}

dfl_status dfl_backend_cpu_set_precision(dfl_backend *be, dfl_precision precision, const char *what) {
    dfl_cpu_ctx *ctx = dfl_cpu_ctx_of(be);
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const int has_bf16 = isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
    /* auto: docs/cpu-backend.md, "Precision" */
    if (precision == DFL_PRECISION_AUTO)
        precision = dfl_cpu_auto_precision(isa == dnnl_cpu_isa_avx512_core_amx, has_bf16, dfl_cpu_vendor_amd());
    if (precision == DFL_PRECISION_BF16 && !has_bf16)
        return dfl_fail(DFL_EUSAGE,
                        "%s: bf16 on the CPU backend needs AVX512_BF16 or AMX; this CPU dispatches %s (use fp32)", what,
                        dfl_cpu_isa_name());
    const int bf16 = precision == DFL_PRECISION_BF16;
    if (bf16 != ctx->conv_bf16) dfl_cpu_conv_cache_destroy(ctx);
    ctx->conv_bf16 = bf16;
    /* CPUs have no tf32 (a GPU tensor-core format): it runs as fp32, which is at least as precise */
    be->precision = bf16 ? DFL_PRECISION_BF16 : DFL_PRECISION_FP32;
    return DFL_OK;
}

dfl_backend *dfl_backend_cpu_create(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
    dfl_backend *be = dfl_xcalloc(1, sizeof *be);
    dfl_cpu_ctx *ctx = dfl_xcalloc(1, sizeof *ctx);
    be->name = "cpu";
    be->ctx = ctx;
    be->precision = DFL_PRECISION_FP32;

    dnnlCheck(dnnl_engine_create(&ctx->engine, dnnl_cpu, 0));
    dnnlCheck(dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags));
    dnnlCheck(dnnl_primitive_attr_create(&ctx->attr));
    dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(ctx->attr, dnnl_scratchpad_mode_user));
    for (int dir = 0; dir < DFL_CPU_CONV_NDIR; ++dir) ctx->conv_layout[dir] = DFL_CPU_CONV_AUTO;

    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_upload;
    be->download = cpu_download;
    be->copy = cpu_copy;
    be->fill = cpu_fill;
    be->synchronize = cpu_synchronize;
    be->destroy = cpu_destroy;

    dfl_cpu_register_conv_ops(be);
    dfl_cpu_register_group_norm_ops(be);
    dfl_cpu_register_elementwise_ops(be);
    dfl_cpu_register_layout_ops(be);
    dfl_cpu_register_input_fill_op(be);
    dfl_cpu_register_input_fill_spline_op(be);
    dfl_cpu_register_dense_ops(be);
    dfl_cpu_register_optimizer_ops(be);
    dfl_cpu_register_method_ops(be);
    return be;
}
