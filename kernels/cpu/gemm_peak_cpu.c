/* The machine's matrix-multiply peak as oneDNN reaches it, measured in the
 * calling process with its OpenMP threads: the yardstick that `bench train`
 * divides its achieved GFLOP/s by (include/dynfill/backend.h).
 *
 * fp32: dnnl_sgemm on square 1024 matrices. bf16: a oneDNN matmul
 * primitive with bf16 inputs and an fp32 output (AMX or AVX512_BF16 where
 * the CPU has them). The best of a few timed calls after one warm-up. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_backend_internal.h"

#define PEAK_N    1024
#define PEAK_REPS 5

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double sgemm_peak(void) {
    const size_t nn = (size_t)PEAK_N * PEAK_N;
    float *a = dfl_xmalloc(3 * nn * sizeof(float)), *b = a + nn, *c = b + nn;
    for (size_t i = 0; i < 2 * nn; ++i) a[i] = (float)(i % 7) * 0.125f;
    double best = 1e30;
    for (int r = 0; r <= PEAK_REPS; ++r) {
        const double t0 = now_s();
        dnnlCheck(dnnl_sgemm('N', 'N', PEAK_N, PEAK_N, PEAK_N, 1.0f, a, PEAK_N, b, PEAK_N, 0.0f, c, PEAK_N));
        const double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    free(a);
    return 2.0 * PEAK_N * PEAK_N * PEAK_N / best / 1e9;
}

static double bf16_matmul_peak(void) {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0));
    dnnlCheck(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    dnnl_dims_t dims = {PEAK_N, PEAK_N};
    dnnl_memory_desc_t a_md, b_md, c_md, b_any;
    dnnlCheck(dnnl_memory_desc_init_by_tag(&a_md, 2, dims, dnnl_bf16, dnnl_ab));
    dnnlCheck(dnnl_memory_desc_init_by_tag(&b_any, 2, dims, dnnl_bf16, dnnl_format_tag_any));
    dnnlCheck(dnnl_memory_desc_init_by_tag(&c_md, 2, dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t md;
    dnnlCheck(dnnl_matmul_desc_init(&md, &a_md, &b_any, NULL, &c_md));
    dnnl_primitive_desc_t pd;
    dnnlCheck(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL));
    b_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_t prim;
    dnnlCheck(dnnl_primitive_create(&prim, pd));
    dnnl_memory_t a, b, c;
    dnnlCheck(dnnl_memory_create(&a, &a_md, engine, DNNL_MEMORY_ALLOCATE));
    dnnlCheck(dnnl_memory_create(&b, &b_md, engine, DNNL_MEMORY_ALLOCATE));
    dnnlCheck(dnnl_memory_create(&c, &c_md, engine, DNNL_MEMORY_ALLOCATE));
    for (int m = 0; m < 2; ++m) { /* zero bits are a valid bf16 0 */
        void *p = NULL;
        dnnlCheck(dnnl_memory_get_data_handle(m ? b : a, &p));
        memset(p, 0, dnnl_memory_desc_get_size(m ? &b_md : &a_md));
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
    double best = 1e30;
    for (int r = 0; r <= PEAK_REPS; ++r) {
        const double t0 = now_s();
        dnnlCheck(dnnl_primitive_execute(prim, stream, 3, args));
        dnnlCheck(dnnl_stream_wait(stream));
        const double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    dnnlCheck(dnnl_memory_destroy(a));
    dnnlCheck(dnnl_memory_destroy(b));
    dnnlCheck(dnnl_memory_destroy(c));
    dnnlCheck(dnnl_primitive_destroy(prim));
    dnnlCheck(dnnl_primitive_desc_destroy(pd));
    dnnlCheck(dnnl_stream_destroy(stream));
    dnnlCheck(dnnl_engine_destroy(engine));
    return 2.0 * PEAK_N * PEAK_N * PEAK_N / best / 1e9;
}

double dfl_cpu_gemm_peak_gflops(dfl_precision precision) {
    return precision == DFL_PRECISION_BF16 ? bf16_matmul_peak() : sgemm_peak();
}
