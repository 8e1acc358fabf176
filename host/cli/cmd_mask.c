/* `dynfill mask`: draw observation masks over a truth file and write the
 * observed dataset (docs/design.md, "Files" and "Command line"): /obs (truth where observed, 0
 * elsewhere) and /mask, with channels, periodic, source, lat/lon copied
 * from the truth file, mask_pattern, mask_seed and mean/std of the
 * observed entries. The truth itself is never copied into the output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "core/progress.h"
#include "data/data_write.h"
#include "data/mask.h"
#include "io/h5_util_data.h"

#define TRUTH_NAME "/truth"

typedef struct {
    const char *in, *out, *pattern;
    unsigned long long seed;
    int per_channel;
    const char *layout_text, *compress_text;
    dfl_h5_layout layout;
} mask_options;

static const char k_usage[] =
    "usage: dynfill mask --in truth.h5 --pattern P --seed K --out obs.h5 [--per-channel]\n\n"
    "Draw observation masks (deterministic by seed) over the ground truth /truth [N, C, H, W]\n"
    "and write the observed dataset: /obs (observed values, 0 where unobserved), /mask (uint8),\n"
    "attributes channels, periodic, source, lat/lon (copied), mask_pattern, mask_seed, and\n"
    "mean/std per channel computed from observed entries only. /truth is not copied.\n\n"
    "patterns:\n"
    "  pixel:p                    every entry observed independently with probability p\n"
    "  block:GHxGW:k              k of the GH x GW blocks observed (last row/column of blocks\n"
    "                             takes the remainder), e.g. block:3x3:8\n"
    "  stations:n[:dropout]       n fixed cells, each missing per sample with prob. dropout\n"
    "  swath:width:coverage[:angle]  strips `width` cells wide covering `coverage` of the\n"
    "                             field, tilted by angle degrees, random phase per sample\n"
    "  file:PATH                  the /mask of another dataset (reused cyclically)\n\n"
    "options:\n"
    "  --seed K          random seed (default 0)\n"
    "  --per-channel     independent masks per channel (default: one mask for all channels)\n" DFL_LAYOUT_USAGE;

enum { OPT_IN = 256, OPT_OUT, OPT_PATTERN, OPT_SEED, OPT_PER_CHANNEL, OPT_LAYOUT, OPT_COMPRESS };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"in", required_argument, NULL, OPT_IN},
    {"out", required_argument, NULL, OPT_OUT},
    {"pattern", required_argument, NULL, OPT_PATTERN},
    {"seed", required_argument, NULL, OPT_SEED},
    {"per-channel", no_argument, NULL, OPT_PER_CHANNEL},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fills o from argv; *help is set (and nothing else checked) on -h/--help. */
static dfl_status parse_args(int argc, char **argv, mask_options *o, int *help) {
    memset(o, 0, sizeof *o);
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        long l;
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_IN: o->in = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_PATTERN: o->pattern = optarg; break;
        case OPT_SEED:
            DFL_TRY(dfl_cli_parse_int(name, optarg, 0, 0x7fffffffffffffffL, &l));
            o->seed = (unsigned long long)l;
            break;
        case OPT_PER_CHANNEL: o->per_channel = 1; break;
        case OPT_LAYOUT: o->layout_text = optarg; break;
        case OPT_COMPRESS: o->compress_text = optarg; break;
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    DFL_TRY(dfl_opt_positionals(argc, argv, 0));
    DFL_TRY(dfl_data_parse_layout(o->layout_text, o->compress_text, &o->layout));
    if (!o->in) return dfl_fail(DFL_EUSAGE, "--in is required (a truth file from dynfill gen or import --truth)");
    if (!o->out) return dfl_fail(DFL_EUSAGE, "--out is required");
    if (!o->pattern) return dfl_fail(DFL_EUSAGE, "--pattern is required (e.g. pixel:0.2 or block:3x3:8)");
    return dfl_data_check_distinct(o->in, o->out);
}

/* Attributes of the truth file carried over to the dataset. */
typedef struct {
    char **channels;
    size_t nchannels;
    char *periodic, *source, *symmetry;
    double *lat, *lon;
} truth_attrs;

static void truth_attrs_free(truth_attrs *a) {
    dfl_h5_strings_free(a->channels, a->nchannels);
    free(a->periodic);
    free(a->source);
    free(a->symmetry);
    free(a->lat);
    free(a->lon);
}

static dfl_status read_truth_attrs(hid_t f, const char *path, int c, int h, int w, truth_attrs *a) {
    memset(a, 0, sizeof *a);
    if (dfl_h5_attr_exists(f, "channels")) {
        DFL_TRY(dfl_h5_attr_read_names(f, path, "channels", &a->channels, &a->nchannels));
        if ((int)a->nchannels != c)
            return dfl_fail(DFL_EUSAGE, "%s: attribute 'channels' has %zu names but /truth has %d channels", path,
                            a->nchannels, c);
    } else {
        a->channels = dfl_xcalloc((size_t)c, sizeof(char *));
        for (int i = 0; i < c; ++i) {
            char buf[32];
            snprintf(buf, sizeof buf, "ch%d", i);
            a->channels[i] = strdup(buf);
        }
        a->nchannels = (size_t)c;
    }
    if (dfl_h5_attr_exists(f, "periodic")) {
        DFL_TRY(dfl_h5_attr_read_text(f, path, "periodic", &a->periodic));
        int px, py;
        DFL_TRY(dfl_data_parse_periodic(path, a->periodic, &px, &py));
    } else {
        a->periodic = strdup("none");
    }
    if (dfl_h5_attr_exists(f, "symmetry")) DFL_TRY(dfl_h5_attr_read_text(f, path, "symmetry", &a->symmetry));
    if (dfl_h5_attr_exists(f, "source"))
        DFL_TRY(dfl_h5_attr_read_text(f, path, "source", &a->source));
    else
        a->source = strdup(path);
    const char *axis[2] = {"lat", "lon"};
    double **dst[2] = {&a->lat, &a->lon};
    const int len[2] = {h, w};
    for (int k = 0; k < 2; ++k) {
        if (!dfl_h5_attr_exists(f, axis[k])) continue;
        if (dfl_h5_attr_numeric_count(f, axis[k]) != len[k])
            return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' does not have %d values", path, axis[k], len[k]);
        *dst[k] = dfl_xmalloc(sizeof(double) * (size_t)len[k]);
        DFL_TRY(dfl_h5_attr_read_doubles(f, path, axis[k], *dst[k], (size_t)len[k]));
    }
    return DFL_OK;
}

static dfl_status run_mask(const mask_options *o) {
    dfl_mask_pattern pat;
    DFL_TRY(dfl_mask_pattern_parse(o->pattern, &pat));
    hid_t tf;
    DFL_TRY(dfl_h5_open_read(o->in, &tf));
    int rank;
    unsigned long long d[8];
    dfl_status st = dfl_h5_dataset_shape(tf, o->in, TRUTH_NAME, &rank, d);
    if (st == DFL_OK && rank != 4 && rank != 3)
        st = dfl_fail(DFL_EUSAGE, "%s: /truth has rank %d; expected [N, C, H, W]", o->in, rank);
    if (st != DFL_OK) {
        H5Fclose(tf);
        return st;
    }
    const int64_t N = (int64_t)d[0];
    const int C = rank == 4 ? (int)d[1] : 1, H = (int)d[rank - 2], W = (int)d[rank - 1];
    if (N == 0 || C == 0 || H == 0 || W == 0) {
        H5Fclose(tf);
        return dfl_fail(DFL_EUSAGE, "%s: /truth is empty", o->in);
    }
    truth_attrs ta;
    st = read_truth_attrs(tf, o->in, C, H, W, &ta);
    dfl_mask_sampler *sampler = NULL;
    if (st == DFL_OK) st = dfl_mask_sampler_create(&pat, N, C, H, W, o->per_channel, o->seed, &sampler);
    if (st != DFL_OK) {
        truth_attrs_free(&ta);
        H5Fclose(tf);
        return st;
    }
    const int MC = dfl_mask_sampler_channels(sampler);
    const size_t plane = (size_t)H * (size_t)W, per = (size_t)C * plane, per_m = (size_t)MC * plane;
    int64_t chunk = (int64_t)((32u << 20) / (per * sizeof(float)));
    if (chunk < 1) chunk = 1;
    if (chunk > N) chunk = N;
    hid_t of;
    char tmp[4096];
    st = dfl_h5_atomic_begin(o->out, &of, tmp, sizeof tmp);
    if (st != DFL_OK) {
        dfl_mask_sampler_destroy(sampler);
        truth_attrs_free(&ta);
        H5Fclose(tf);
        return st;
    }
    unsigned long long dims[4] = {(unsigned long long)N, (unsigned long long)C, (unsigned long long)H,
                                  (unsigned long long)W};
    hid_t dobs = -1, dmask = -1;
    st = dfl_h5_create_dataset_layout(of, DFL_OBS_NAME, H5T_IEEE_F32LE, 4, dims, &o->layout, &dobs);
    dims[1] = (unsigned long long)MC;
    if (st == DFL_OK) st = dfl_h5_create_dataset_layout(of, DFL_MASK_NAME, H5T_STD_U8LE, 4, dims, &o->layout, &dmask);
    float *x = dfl_xmalloc(sizeof(float) * per * (size_t)chunk);
    uint8_t *m = dfl_xmalloc(per_m * (size_t)chunk);
    dfl_moments *mom = dfl_xcalloc((size_t)C, sizeof *mom);
    dfl_progress *prog = dfl_progress_begin("mask", N, "samples");
    for (int64_t s0 = 0; s0 < N && st == DFL_OK; s0 += chunk) {
        const int64_t k = N - s0 < chunk ? N - s0 : chunk;
        st = dfl_h5_read_float_rows(tf, o->in, TRUTH_NAME, (unsigned long long)s0, (unsigned long long)k, x);
        if (st == DFL_OK) st = dfl_mask_sampler_draw(sampler, s0, k, m);
        for (int64_t s = 0; s < k && st == DFL_OK; ++s)
            for (int ch = 0; ch < C && st == DFL_OK; ++ch) {
                float *xc = x + (size_t)s * per + (size_t)ch * plane;
                const uint8_t *mc = m + (size_t)s * per_m + (size_t)(MC == 1 ? 0 : ch) * plane;
                for (size_t i = 0; i < plane; ++i) {
                    if (!mc[i]) {
                        xc[i] = 0.0f;
                    } else if (!isfinite(xc[i])) {
                        st = dfl_fail(DFL_EUSAGE, "%s: /truth has a non-finite value at sample %lld, channel %d", o->in,
                                      (long long)(s0 + s), ch);
                        break;
                    }
                }
                dfl_moments part = {0, 0, 0};
                dfl_moments_add_values(&part, xc, mc, plane);
                dfl_moments_merge(&mom[ch], &part);
            }
        if (st != DFL_OK) break;
        st = dfl_h5_write_rows(dobs, H5T_NATIVE_FLOAT, (unsigned long long)s0, (unsigned long long)k, x);
        if (st == DFL_OK)
            st = dfl_h5_write_rows(dmask, H5T_NATIVE_UCHAR, (unsigned long long)s0, (unsigned long long)k, m);
        dfl_progress_update(prog, s0 + k);
    }
    dfl_progress_end(prog);
    /* after a failure H5Fclose closes them (dfl_h5_atomic_abort) */
    if (st == DFL_OK) st = h5CheckWrite(of, H5Dclose(dobs));
    if (st == DFL_OK) st = h5CheckWrite(of, H5Dclose(dmask));
    if (st == DFL_OK) {
        double *mean = dfl_xcalloc((size_t)C, sizeof(double)), *sd = dfl_xcalloc((size_t)C, sizeof(double));
        for (int ch = 0; ch < C; ++ch) {
            mean[ch] = mom[ch].n > 0 ? mom[ch].mean : 0.0;
            sd[ch] = dfl_moments_std(&mom[ch]);
        }
        dfl_data_attrs at = {0};
        at.c = C;
        at.channels = (const char *const *)ta.channels;
        at.periodic = ta.periodic;
        at.symmetry = ta.symmetry;
        at.source = ta.source;
        at.lat = ta.lat;
        at.lon = ta.lon;
        at.h = H;
        at.w = W;
        at.mean = mean;
        at.std = sd;
        at.mask_pattern = pat.text;
        char **units = NULL, **long_names = NULL;
        dfl_data_read_channel_meta(tf, C, &units, &long_names);
        at.units = (const char *const *)units;
        at.long_names = (const char *const *)long_names;
        /* the truth's time axis (an imported truth file) carries over */
        double *time = NULL;
        int trank = 0;
        unsigned long long td[8];
        if (dfl_h5_has(tf, "/time") && dfl_h5_dataset_shape(tf, o->in, "/time", &trank, td) == DFL_OK && trank == 1 &&
            td[0] == (unsigned long long)N) {
            time = dfl_xmalloc(sizeof(double) * (size_t)N);
            if (dfl_h5_read_box(tf, o->in, "/time", H5T_NATIVE_DOUBLE, 1, (unsigned long long[]){0}, td, time) !=
                DFL_OK) {
                free(time);
                time = NULL;
            }
        }
        dfl_clear_error();
        st = dfl_data_write_attrs(of, &at);
        const char *vars[2] = {DFL_OBS_NAME, DFL_MASK_NAME};
        if (st == DFL_OK) st = dfl_data_write_dims(of, &at, N, time, vars, 2);
        if (st == DFL_OK) st = dfl_h5_attr_write_long(of, "mask_seed", (long long)o->seed);
        free(time);
        dfl_h5_strings_free(units, (size_t)C);
        dfl_h5_strings_free(long_names, (size_t)C);
        free(mean);
        free(sd);
    }
    if (st == DFL_OK)
        st = dfl_h5_atomic_commit(of, tmp, o->out);
    else
        st = dfl_h5_atomic_abort(of, tmp, o->out, st);
    free(x);
    free(m);
    free(mom);
    dfl_mask_sampler_destroy(sampler);
    truth_attrs_free(&ta);
    H5Fclose(tf);
    return st;
}

int dfl_cmd_mask(int argc, char **argv) {
    mask_options o;
    int help;
    dfl_status st = parse_args(argc, argv, &o, &help);
    if (st == DFL_OK && help) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (st == DFL_OK) st = run_mask(&o);
    if (st == DFL_OK) dfl_info("wrote %s", o.out);
    return dfl_cli_exit("mask", st);
}
