/* `dynfill bench allreduce`: time of one in-place float32 sum all-reduce
 * through the communicator dynfill trains with (MPI on host memory, or
 * NCCL on GPU memory), for message sizes from --min to --max doubling.
 * Run it under mpirun / srun, one process per rank (per GPU for NCCL).
 *
 * Figures as nccl-tests define them: time = mean seconds per operation
 * (averaged over the ranks), algbw = bytes / time, busbw = algbw * 2(n-1)/n
 * (the bytes each rank's link must carry in a bandwidth-optimal all-reduce,
 * so busbw compares with the link's bandwidth whatever n is). Every size
 * is checked once: ranks fill rank+1, the sum must be n(n+1)/2 everywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/args.h"
#include "core/clock.h"
#include "dynfill/comm.h"

#ifdef DYNFILL_HAVE_CUDA
/* kernels/cuda/comm_nccl.cu */
#endif

/* Bytes moved by one size at most (caps the iterations of large sizes). */
#define BENCH_BYTES_PER_SIZE ((double)(2ull << 30))

static const char k_usage[] =
    "usage: mpirun -np N dynfill bench allreduce [--comm mpi|nccl] [--min 1K] [--max 256M]\n"
    "                                          [--iters 20] [--warmup 5] [--bucket-mb 25]\n"
    "Times one in-place float32 sum all-reduce per message size, sizes doubling from --min to --max\n"
    "(bytes; K, M, G suffixes are powers of 1024), and prints time per operation, algbw = bytes / time\n"
    "and busbw = algbw * 2(n-1)/n as nccl-tests define them. Rank 0 prints the table.\n"
    "  --comm mpi     MPI_Allreduce on host memory (the CPU backend's path)\n"
    "  --comm nccl    ncclAllReduce on GPU memory in dist.bucket_mb buckets (the CUDA backend's path);\n"
    "                 rank r uses GPU local_rank % (visible GPUs)\n"
    "  --iters N      timed operations per size (fewer above 100 MiB: at most 2 GiB per size, at least 3)\n"
    "  --warmup N     untimed operations per size first\n"
    "  --bucket-mb X  NCCL bucket size (dist.bucket_mb), default 25\n";

enum { OPT_COMM = 256, OPT_MIN, OPT_MAX, OPT_ITERS, OPT_WARMUP, OPT_BUCKET_MB };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"comm", required_argument, NULL, OPT_COMM},
    {"min", required_argument, NULL, OPT_MIN},
    {"max", required_argument, NULL, OPT_MAX},
    {"iters", required_argument, NULL, OPT_ITERS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"bucket-mb", required_argument, NULL, OPT_BUCKET_MB},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "4096", "1K", "256M", "1G" -> bytes. */
static dfl_status parse_size(const char *opt, const char *text, unsigned long long *out) {
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    unsigned long long mult = 1;
    if (end == text) return dfl_fail(DFL_EUSAGE, "option %s: '%s' is not a size (e.g. 4096, 1K, 256M)", opt, text);
    if (*end == 'K' || *end == 'k')
        mult = 1ull << 10, ++end;
    else if (*end == 'M' || *end == 'm')
        mult = 1ull << 20, ++end;
    else if (*end == 'G' || *end == 'g')
        mult = 1ull << 30, ++end;
    if (*end == 'B' || *end == 'b') ++end;
    if (*end != 0 || v == 0 || v > (16ull << 30) / mult)
        return dfl_fail(DFL_EUSAGE, "option %s: '%s' is not a size between 4 bytes and 16G", opt, text);
    *out = v * mult;
    if (*out < sizeof(float)) return dfl_fail(DFL_EUSAGE, "option %s: sizes start at 4 bytes (one float)", opt);
    return DFL_OK;
}

typedef struct {
    const char *comm;
    unsigned long long min_bytes, max_bytes;
    long iters, warmup;
    double bucket_mb;
} bench_args;

/* Fills a from argv; *help is set (and nothing else checked) on -h/--help. */
static dfl_status parse_args(int argc, char **argv, bench_args *a, int *help) {
    a->comm = "mpi";
    a->min_bytes = 1ull << 10;
    a->max_bytes = 256ull << 20;
    a->iters = 20;
    a->warmup = 5;
    a->bucket_mb = 25.0;
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_COMM: a->comm = optarg; break;
        case OPT_MIN: DFL_TRY(parse_size(name, optarg, &a->min_bytes)); break;
        case OPT_MAX: DFL_TRY(parse_size(name, optarg, &a->max_bytes)); break;
        case OPT_ITERS: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 1 << 20, &a->iters)); break;
        case OPT_WARMUP: DFL_TRY(dfl_cli_parse_int(name, optarg, 0, 1 << 20, &a->warmup)); break;
        case OPT_BUCKET_MB:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &a->bucket_mb));
            if (!(a->bucket_mb > 0)) return dfl_fail(DFL_EUSAGE, "option --bucket-mb must be > 0");
            break;
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    DFL_TRY(dfl_opt_positionals(argc, argv, 0));
    if (!a->comm || (strcmp(a->comm, "mpi") && strcmp(a->comm, "nccl")))
        return dfl_fail(DFL_EUSAGE, "option --comm: '%s' is not mpi or nccl", a->comm ? a->comm : "");
    if (a->min_bytes > a->max_bytes) return dfl_fail(DFL_EUSAGE, "--min is larger than --max");
    return DFL_OK;
}

/* The communicator and the backend whose memory it reduces. */
static dfl_status open_comm(const bench_args *a, dfl_comm **comm, dfl_backend **be) {
    *comm = NULL;
    *be = NULL;
    if (!strcmp(a->comm, "mpi")) {
        *comm = dfl_comm_mpi_create();
        if (!*comm) return DFL_EUSAGE;
        *be = dfl_backend_cpu_create(1);
        return DFL_OK;
    }
#ifdef DYNFILL_HAVE_CUDA
    *comm = dfl_comm_create("nccl", a->bucket_mb);
    if (!*comm) return DFL_EUSAGE;
    *be = dfl_backend_cuda_create(dfl_comm_nccl_device(*comm), DFL_PRECISION_FP32);
    if (!*be) return DFL_EUSAGE;
    return DFL_OK;
#else
    return dfl_fail(DFL_EUSAGE, "--comm nccl needs the CUDA backend: this dynfill was built without it");
#endif
}

/* One checked all-reduce: ranks contribute rank+1, every element must
 * come back as n(n+1)/2. Returns the wrong elements of all ranks. */
static double check_sum(dfl_comm *comm, dfl_backend *be, float *buf, float *host, size_t count) {
    be->fill(be, buf, (float)(comm->rank + 1), count);
    comm->allreduce_sum(comm, be, buf, count);
    be->download(be, host, buf, count * sizeof(float));
    const float want = (float)comm->world * (float)(comm->world + 1) / 2.0f;
    double wrong = 0;
    for (size_t i = 0; i < count; ++i) wrong += host[i] != want;
    comm->allreduce_sum_host(comm, &wrong, 1);
    return wrong;
}

static dfl_status run(const bench_args *a, dfl_comm *comm, dfl_backend *be) {
    const int rank0 = comm->rank == 0;
    const size_t max_count = (size_t)(a->max_bytes / sizeof(float));
    float *buf = be->alloc(be, max_count * sizeof(float));
    float *host = dfl_xmalloc(max_count * sizeof(float));
    const double factor = comm->world > 1 ? 2.0 * (comm->world - 1) / comm->world : 0.0;
    if (rank0) {
        printf("# dynfill bench allreduce: comm %s, %d rank(s), float32 sum in place, %ld iters (at most %.0f MiB "
               "moved per size), %ld warm-up\n",
               comm->name, comm->world, a->iters, BENCH_BYTES_PER_SIZE / (1 << 20), a->warmup);
        printf("# %12s %12s %7s %12s %10s %10s %8s\n", "size", "count", "iters", "time", "algbw", "busbw", "#wrong");
        printf("# %12s %12s %7s %12s %10s %10s %8s\n", "(B)", "(elements)", "", "(us)", "(GB/s)", "(GB/s)", "");
        fflush(stdout);
    }
    double busbw_sum = 0, wrong_total = 0;
    int sizes = 0;
    for (unsigned long long bytes = a->min_bytes; bytes <= a->max_bytes; bytes *= 2) {
        size_t count = (size_t)(bytes / sizeof(float));
        size_t nbytes = count * sizeof(float);
        double wrong = check_sum(comm, be, buf, host, count);
        long iters = a->iters;
        long cap = (long)(BENCH_BYTES_PER_SIZE / (double)nbytes);
        if (cap < 3) cap = 3;
        if (iters > cap) iters = cap;
        long warm = a->warmup < iters ? a->warmup : iters;
        be->fill(be, buf, 0.0f, count); /* zeros stay zeros: no overflow however many sums */
        for (long i = 0; i < warm; ++i) comm->allreduce_sum(comm, be, buf, count);
        be->synchronize(be);
        comm->barrier(comm);
        double t0 = dfl_clock_seconds();
        for (long i = 0; i < iters; ++i) comm->allreduce_sum(comm, be, buf, count);
        be->synchronize(be);
        double t = (dfl_clock_seconds() - t0) / (double)iters;
        comm->allreduce_sum_host(comm, &t, 1);
        t /= comm->world;
        double algbw = (double)nbytes / t / 1e9, busbw = algbw * factor;
        busbw_sum += busbw;
        wrong_total += wrong;
        ++sizes;
        if (rank0) {
            printf("  %12zu %12zu %7ld %12.2f %10.3f %10.3f %8.0f\n", nbytes, count, iters, t * 1e6, algbw, busbw,
                   wrong);
            fflush(stdout);
        }
    }
    if (rank0)
        printf("# avg busbw: %.3f GB/s over %d sizes; wrong elements: %.0f\n", busbw_sum / sizes, sizes, wrong_total);
    free(host);
    be->free(be, buf);
    if (wrong_total > 0) return dfl_fail(DFL_EINTERNAL, "all-reduce returned %.0f wrong elements", wrong_total);
    return DFL_OK;
}

int dfl_bench_allreduce(int argc, char **argv) {
    bench_args a;
    int help;
    dfl_status s = parse_args(argc, argv, &a, &help);
    if (s == DFL_OK && help) {
        fputs(k_usage, stdout);
        return 0;
    }
    dfl_comm *comm = NULL;
    dfl_backend *be = NULL;
    if (s == DFL_OK) s = open_comm(&a, &comm, &be);
    if (s == DFL_OK) s = run(&a, comm, be);
    dfl_backend_destroy(be);
    dfl_comm_destroy(comm);
    return dfl_cli_exit("bench allreduce", s);
}
