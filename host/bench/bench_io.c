/* `dynfill bench io`: data loader throughput from the page cache
 * (docs/design.md, "Distributed training"; target >= 1 GB/s). Without --data it writes a synthetic
 * dataset of --gb gigabytes to the temporary directory first (removed
 * afterwards unless --keep), then drives the loader (shuffled, with the
 * prefetch thread) for --seconds and reports GB/s of file data delivered
 * as normalised batches. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "core/args.h"
#include "core/clock.h"
#include "core/json_util.h"
#include "core/progress.h"
#include "data/data_write.h"
#include "dynfill/data.h"
#include "io/h5_util_data.h"
#include "shared/philox.h"

typedef struct {
    const char *data;
    double gb, seconds;
    long size, channels, batch, patch;
    int prefetch, keep, json;
    const char *layout_text, *compress_text;
    dfl_h5_layout layout; /* of the synthetic file */
} bench_options;

static const char k_usage[] =
    "usage: dynfill bench io [--data obs.h5] [options]\n\n"
    "Measure the training data loader (shuffled hyperslab/pread reads, crops, normalisation,\n"
    "prefetch thread) from the page cache, in GB/s of file data. Without --data a synthetic\n"
    "dataset is written to $TMPDIR (default /tmp) first and removed afterwards.\n\n"
    "  --data PATH     an existing dataset instead of the synthetic one\n"
    "  --gb G          synthetic dataset size in GB (default 2)\n"
    "  --size S        synthetic field size S x S (default 64)\n"
    "  --channels C    synthetic channels (default 1)\n"
    "  --batch B       samples per batch (default 32)\n"
    "  --patch P       crop size, 0 = whole field (default 0)\n"
    "  --seconds T     measuring time (default 5)\n"
    "  --no-prefetch   read in the calling thread\n"
    "  --keep          keep the synthetic file\n"
    "  --json          one JSON line on stdout\n" DFL_LAYOUT_USAGE;

enum {
    OPT_DATA = 256,
    OPT_GB,
    OPT_SIZE,
    OPT_CHANNELS,
    OPT_BATCH,
    OPT_PATCH,
    OPT_SECONDS,
    OPT_NO_PREFETCH,
    OPT_KEEP,
    OPT_JSON,
    OPT_LAYOUT,
    OPT_COMPRESS
};
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"gb", required_argument, NULL, OPT_GB},
    {"size", required_argument, NULL, OPT_SIZE},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"patch", required_argument, NULL, OPT_PATCH},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"no-prefetch", no_argument, NULL, OPT_NO_PREFETCH},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"json", no_argument, NULL, OPT_JSON},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fills o from argv; *help is set (and nothing else checked) on -h/--help. */
static dfl_status parse(int argc, char **argv, bench_options *o, int *help) {
    memset(o, 0, sizeof *o);
    o->gb = 2.0;
    o->seconds = 5.0;
    o->size = 64;
    o->channels = 1;
    o->batch = 32;
    o->prefetch = 1;
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_DATA: o->data = optarg; break;
        case OPT_GB:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &o->gb));
            if (!(o->gb > 0 && o->gb <= 1024))
                return dfl_fail(DFL_EUSAGE, "option --gb: %g must be in (0, 1024]", o->gb);
            break;
        case OPT_SECONDS:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &o->seconds));
            if (!(o->seconds > 0)) return dfl_fail(DFL_EUSAGE, "option --seconds must be > 0");
            break;
        case OPT_SIZE: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 65536, &o->size)); break;
        case OPT_CHANNELS: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 4096, &o->channels)); break;
        case OPT_BATCH: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 1 << 20, &o->batch)); break;
        case OPT_PATCH: DFL_TRY(dfl_cli_parse_int(name, optarg, 0, 65536, &o->patch)); break;
        case OPT_NO_PREFETCH: o->prefetch = 0; break;
        case OPT_KEEP: o->keep = 1; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_LAYOUT: o->layout_text = optarg; break;
        case OPT_COMPRESS: o->compress_text = optarg; break;
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    DFL_TRY(dfl_opt_positionals(argc, argv, 0));
    if (o->data && (o->layout_text || o->compress_text))
        return dfl_fail(DFL_EUSAGE, "options --layout and --compress make the synthetic file; not with --data");
    return dfl_data_parse_layout(o->layout_text, o->compress_text, &o->layout);
}

/* Synthetic dataset: standard normal values (a 32 MB block of Philox
 * draws repeated), pixel masks with p = 0.5 (at least one entry per
 * sample), mean 0 / std 1 attributes. */
static dfl_status write_synthetic(const bench_options *o, const char *path, int64_t *n_out) {
    const size_t plane = (size_t)o->size * (size_t)o->size, per = (size_t)o->channels * plane;
    const double bytes_per = (double)per * 4.0 + (double)plane;
    int64_t n = (int64_t)(o->gb * 1e9 / bytes_per);
    if (n < 1) n = 1;
    int64_t chunk = (int64_t)((32u << 20) / (per * 4));
    if (chunk < 1) chunk = 1;
    if (chunk > n) chunk = n;
    float *x = dfl_xmalloc(sizeof(float) * per * (size_t)chunk);
    uint8_t *m = dfl_xmalloc(plane * (size_t)chunk);
    const uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_BENCH, 0, 0);
#pragma omp parallel for
    for (int64_t i = 0; i < (int64_t)(per * (size_t)chunk); ++i) x[i] = dfl_rng_normal(1, stream, (uint64_t)i);
#pragma omp parallel for
    for (int64_t i = 0; i < (int64_t)(plane * (size_t)chunk); ++i)
        m[i] = (i % (int64_t)plane) == 0 || (dfl_rng_bits(2, stream, (uint64_t)i).v[0] & 1u);
    hid_t f;
    DFL_TRY(dfl_h5_create(path, &f));
    unsigned long long d[4] = {(unsigned long long)n, (unsigned long long)o->channels, (unsigned long long)o->size,
                               (unsigned long long)o->size};
    hid_t dobs = -1, dmask = -1;
    dfl_status st = dfl_h5_create_dataset_layout(f, DFL_OBS_NAME, H5T_IEEE_F32LE, 4, d, &o->layout, &dobs);
    d[1] = 1;
    if (st == DFL_OK) st = dfl_h5_create_dataset_layout(f, DFL_MASK_NAME, H5T_STD_U8LE, 4, d, &o->layout, &dmask);
    dfl_progress *p = dfl_progress_begin("bench io: writing", n, "samples");
    for (int64_t s0 = 0; st == DFL_OK && s0 < n; s0 += chunk) {
        const int64_t k = n - s0 < chunk ? n - s0 : chunk;
        st = dfl_h5_write_rows(dobs, H5T_NATIVE_FLOAT, (unsigned long long)s0, (unsigned long long)k, x);
        if (st == DFL_OK)
            st = dfl_h5_write_rows(dmask, H5T_NATIVE_UCHAR, (unsigned long long)s0, (unsigned long long)k, m);
        dfl_progress_update(p, s0 + k);
    }
    dfl_progress_end(p);
    if (st == DFL_OK) st = h5CheckWrite(f, H5Dclose(dobs));
    if (st == DFL_OK) st = h5CheckWrite(f, H5Dclose(dmask));
    double *mean = dfl_xcalloc((size_t)o->channels, sizeof(double)),
           *sd = dfl_xcalloc((size_t)o->channels, sizeof(double));
    for (long c = 0; c < o->channels; ++c) sd[c] = 1.0;
    char **names = dfl_data_channel_names("x", (int)o->channels);
    dfl_data_attrs at = {0};
    at.c = (int)o->channels;
    at.channels = (const char *const *)names;
    at.periodic = "none";
    at.source = "dynfill bench io synthetic data";
    at.mean = mean;
    at.std = sd;
    at.mask_pattern = "pixel:0.5";
    if (st == DFL_OK) st = dfl_data_write_attrs(f, &at);
    dfl_h5_strings_free(names, (size_t)o->channels);
    free(mean);
    free(sd);
    free(x);
    free(m);
    if (st == DFL_OK) {
        st = h5CheckWrite(f, H5Fclose(f));
    } else {
        (void)H5Fclose(f); /* discarded below: its errors change nothing */
    }
    if (st != DFL_OK) {
        unlink(path);
        return st;
    }
    *n_out = n;
    return DFL_OK;
}

static dfl_status run(const bench_options *o) {
    char tmp_path[4096];
    const char *path = o->data;
    int64_t n = 0;
    if (!path) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp_path, sizeof tmp_path, "%s/dynfill_bench_io_%d.h5", dir && *dir ? dir : "/tmp", (int)getpid());
        DFL_TRY(write_synthetic(o, tmp_path, &n));
        path = tmp_path;
    }
    dfl_status st;
    dfl_dataset *ds = NULL;
    double t_open = dfl_clock_seconds();
    st = dfl_dataset_open(path, &ds); /* the validation pass also warms the page cache */
    t_open = dfl_clock_seconds() - t_open;
    dfl_h5_layout lay = {0, 0}; /* of /obs, to report */
    long long file_bytes = 0;
    if (st == DFL_OK) {
        hid_t f;
        st = dfl_h5_open_read(path, &f);
        if (st == DFL_OK) {
            st = dfl_h5_get_layout(f, path, DFL_OBS_NAME, &lay);
            hsize_t sz = 0;
            if (H5Fget_filesize(f, &sz) >= 0) file_bytes = (long long)sz;
            H5Fclose(f);
        }
    }
    dfl_loader *ld = NULL;
    if (st == DFL_OK) {
        dfl_loader_config cfg;
        dfl_loader_config_default(&cfg);
        cfg.batch = (int)o->batch;
        cfg.patch = (int)o->patch;
        cfg.prefetch = o->prefetch;
        cfg.seed = 1;
        st = dfl_loader_create(ds, &cfg, &ld);
    }
    if (st == DFL_OK) {
        const dfl_dataset_info *in = dfl_dataset_get_info(ds);
        const char *mode = dfl_dataset_read_mode(ds);
        dfl_batch b;
        st = dfl_loader_next(ld, &b); /* start the pipeline */
        const uint64_t bytes0 = dfl_loader_bytes_read(ld);
        long batches = 0;
        double checksum = 0;
        const double t0 = dfl_clock_seconds();
        double t = t0;
        while (st == DFL_OK && t - t0 < o->seconds) {
            st = dfl_loader_next(ld, &b);
            checksum += b.obs[0];
            ++batches;
            t = dfl_clock_seconds();
        }
        if (st == DFL_OK) {
            const double secs = t - t0;
            /* Bytes delivered by the batches handed out during the window
             * (the prefetched one in flight is not counted). */
            const double per_batch =
                (double)o->batch * ((double)in->c * 4.0 + (double)in->mask_c) * (double)b.h * (double)b.w;
            const double bytes = per_batch * (double)batches;
            const double gbs = bytes / secs / 1e9;
            (void)bytes0;
            if (o->json) {
                cJSON *j = dfl_json_object();
                dfl_json_add_string(j, "bench", "io");
                dfl_json_add_number(j, "gb_per_s", gbs, 6);
                dfl_json_add_number(j, "samples_per_s", (double)batches * (double)o->batch / secs, 6);
                dfl_json_add_number(j, "ms_per_batch", 1e3 * secs / (double)batches, 6);
                dfl_json_add_int(j, "batch", o->batch);
                dfl_json_add_int(j, "patch", o->patch);
                dfl_json_add_bool(j, "prefetch", o->prefetch);
                dfl_json_add_int(j, "samples", (long long)in->n);
                dfl_json_add_int(j, "c", in->c);
                dfl_json_add_int(j, "h", in->h);
                dfl_json_add_int(j, "w", in->w);
                dfl_json_add_bool(j, "direct_reads", strcmp(mode, "HDF5 hyperslab") != 0);
                dfl_json_add_bool(j, "mmap", strcmp(mode, "mmap") == 0);
                dfl_json_add_string(j, "layout", lay.chunked ? "chunked" : "contiguous");
                dfl_json_add_int(j, "compress", lay.deflate);
                dfl_json_add_int(j, "file_bytes", file_bytes);
                dfl_json_add_number(j, "seconds", secs, 4);
                dfl_json_add_number(j, "open_seconds", t_open, 4);
                dfl_json_write_line(stdout, j);
                cJSON_Delete(j);
            } else {
                printf("bench io: %s, %lld samples of %dx%dx%d, %s%s (%.3g GB on disk), batch %ld, patch %ld, "
                       "prefetch %s, %s reads\n"
                       "  loader: %.2f GB/s  (%.0f samples/s, %.3f ms per batch; target >= 1 GB/s)\n"
                       "  open + validate: %.2f s  (checksum %g)\n",
                       path, (long long)in->n, in->c, in->h, in->w, lay.chunked ? "chunked" : "contiguous",
                       lay.deflate ? " + deflate" : "", (double)file_bytes / 1e9, o->batch, o->patch,
                       o->prefetch ? "on" : "off", mode, gbs, (double)batches * (double)o->batch / secs,
                       1e3 * secs / (double)batches, t_open, checksum);
            }
        }
    }
    dfl_loader_destroy(ld);
    if (ds) dfl_dataset_close(ds);
    if (!o->data && !o->keep) unlink(tmp_path);
    (void)n;
    return st;
}

int dfl_bench_io(int argc, char **argv) {
    bench_options o;
    int help;
    dfl_status st = parse(argc, argv, &o, &help);
    if (st == DFL_OK && help) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (st == DFL_OK) st = run(&o);
    return dfl_cli_exit("bench io", st);
}
