/* Private state and helpers of the CPU backend (kernels/cpu).
 *
 * The backend is driven by one host thread at a time; ops run their loops
 * with OpenMP inside. All workspace memory lives in the context and is
 * grown on demand, so steady-state training allocates nothing per call. */
#ifndef DYNFILL_CPU_BACKEND_INTERNAL_H
#define DYNFILL_CPU_BACKEND_INTERNAL_H

#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

#include "dynfill/backend.h"

/* Every oneDNN call goes through dnnlCheck: a failure is a bug (shapes are
 * validated by the host), so it panics with file:line and the status. */
const char *dfl_cpu_dnnl_status_name(dnnl_status_t s);
#define dnnlCheck(call)                                                                                                \
    do {                                                                                                               \
        dnnl_status_t dnnl_check_s_ = (call);                                                                          \
        if (dnnl_check_s_ != dnnl_success)                                                                             \
            dfl_panic(__FILE__, __LINE__, "oneDNN call failed (%s): %s", dfl_cpu_dnnl_status_name(dnnl_check_s_),      \
                      #call);                                                                                          \
    } while (0)

/* A growable, 64-byte aligned buffer owned by the context. */
typedef struct {
    void *ptr;
    size_t bytes;
} dfl_cpu_buffer;

/* Returns b->ptr with at least `bytes` bytes (contents not preserved). */
void *dfl_cpu_buffer_reserve(dfl_cpu_buffer *b, size_t bytes);
void dfl_cpu_buffer_release(dfl_cpu_buffer *b);

/* Convolution activation layout per direction (forward, backward-data,
 * backward-weights): run the primitive on the NHWC tensors directly, or
 * let oneDNN pick its preferred (blocked) activation layout and reorder
 * NHWC <-> blocked around it. AUTO (the default) chooses by shape
 * (conv_cpu.c: conv_auto_layout); it depends on the shape only, so a shape
 * always runs the same kernels and gives the same bits run after run
 * (docs/cpu-backend.md has the measurements behind the rule). */
typedef enum {
    DFL_CPU_CONV_NHWC = 0,
    DFL_CPU_CONV_BLOCKED = 1,
    DFL_CPU_CONV_AUTO = 2,
    DFL_CPU_CONV_DIRECT = 3, /* backward-weights only: the direct AVX2 kernel where it supports the shape, else NHWC */
    DFL_CPU_CONV_TRANSPOSED = 4 /* backward-data only: a forward convolution with the flipped, transposed weights
                                   for stride-1 3x3 shapes (conv_cpu.c), else NHWC */
} dfl_cpu_conv_layout;
enum { DFL_CPU_CONV_FWD = 0, DFL_CPU_CONV_BWD_DATA = 1, DFL_CPU_CONV_BWD_WEIGHTS = 2, DFL_CPU_CONV_NDIR = 3 };

struct dfl_cpu_conv_entry; /* conv_cpu.c */

/* Workspace slots; an op uses each at most once at a time. */
enum {
    DFL_CPU_WS_HALO = 0,   /* haloed (circularly padded) activation copy */
    DFL_CPU_WS_SRC,        /* activation in the primitive's layout */
    DFL_CPU_WS_DST,        /* result in the primitive's layout */
    DFL_CPU_WS_WEIGHTS,    /* weights in the primitive's layout */
    DFL_CPU_WS_SCRATCHPAD, /* oneDNN user-managed scratchpad */
    DFL_CPU_WS_REDUCE,     /* partial sums of deterministic reductions */
    DFL_CPU_WS_TMP,        /* op-local temporaries (attention, group norm) */
    DFL_CPU_WS_COUNT
};

typedef struct {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr; /* user-managed scratchpad */
    dfl_cpu_conv_layout conv_layout[DFL_CPU_CONV_NDIR];
    int conv_bf16; /* precision bf16: convolution inputs and weights in bfloat16 */
    struct dfl_cpu_conv_entry *conv_cache;
    dfl_cpu_buffer ws[DFL_CPU_WS_COUNT];
} dfl_cpu_ctx;

static inline dfl_cpu_ctx *dfl_cpu_ctx_of(dfl_backend *be) { return (dfl_cpu_ctx *)be->ctx; }
static inline void *dfl_cpu_ws(dfl_backend *be, int slot, size_t bytes) {
    return dfl_cpu_buffer_reserve(&dfl_cpu_ctx_of(be)->ws[slot], bytes);
}

/* Registration of the op families (one file each) into the vtable. */
void dfl_cpu_register_conv_ops(dfl_backend *be);
void dfl_cpu_register_group_norm_ops(dfl_backend *be);
void dfl_cpu_register_elementwise_ops(dfl_backend *be);
void dfl_cpu_register_layout_ops(dfl_backend *be);
void dfl_cpu_register_input_fill_op(dfl_backend *be);
void dfl_cpu_register_input_fill_spline_op(dfl_backend *be);
void dfl_cpu_register_dense_ops(dfl_backend *be);
void dfl_cpu_register_optimizer_ops(dfl_backend *be);
/* The fused method ops (kernels/cpu/method_ops_cpu.c). */
void dfl_cpu_register_method_ops(dfl_backend *be);

/* Direct AVX2 weight gradient (conv_bwd_weights_direct.c):
 * whether it handles a shape, and the op on an input xs of size hs x ws
 * (haloed along periodic axes) with padding py, px. */
int dfl_cpu_conv_bwd_weights_direct_supported(const dfl_conv_desc *d);
void dfl_cpu_conv_bwd_weights_direct(dfl_backend *be, const dfl_conv_desc *d, const float *xs, int hs, int ws, int py,
                                     int px, const float *dy, float *dw, float *db);

/* oneDNN dispatches AVX-512 (avx512_core or newer) on this CPU (backend_cpu.c). */
int dfl_cpu_isa_avx512(void);
/* train.precision = auto on the CPU: bf16 on AMX, and on AVX512_BF16
 * without AMX where the CPU is an AMD one (EPYC Zen 4: oneDNN's bf16
 * kernels train 1.5x faster than fp32 there; on a Xeon capped to them they
 * were slower); fp32 everywhere else. A pure function of the machine, not
 * of a timing: two runs on one machine (a resume, a comparison) always
 * train in the same precision. */
dfl_precision dfl_cpu_auto_precision(int has_amx, int has_avx512_bf16, int vendor_amd);
/* 1 where CPUID's vendor is AuthenticAMD (0 elsewhere and off x86). */
int dfl_cpu_vendor_amd(void);

/* Frees the cached convolution primitives (conv_cpu.c). */
void dfl_cpu_conv_cache_destroy(dfl_cpu_ctx *ctx);

/* Sets the convolution layout policy of one direction (AUTO restores the
 * default); drops the primitive cache. For tests and benchmarks
 * (tests/unit/ops). */
void dfl_cpu_set_conv_layout(dfl_backend *be, int direction, dfl_cpu_conv_layout layout);
/* The oneDNN implementation name chosen for a conv shape and direction
 * (e.g. "jit:avx2"), creating the primitive if needed. */
const char *dfl_cpu_conv_impl_name(dfl_backend *be, const dfl_conv_desc *d, int direction);

#endif
