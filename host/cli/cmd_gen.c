/* `dynfill gen`: ground-truth fields from physical simulations
 * (docs/design.md, "Command line"). The truth file holds /truth float32 [N, C, H, W] (C =
 * --frames consecutive frames stacked as channels) and the attributes
 * channels, periodic, source and the generator parameters.
 *
 * Samples come from independent trajectories ("runs"): run r draws its
 * initial condition and parameters from Philox (seed, GEN, r), is spun up
 * for --spinup time units, then records K * T frames --interval apart
 * (K = --samples-per-run, T = --frames); sample k of the run is frames
 * [kT, kT + T). Runs are independent, so they run on all threads and the
 * file is the same for any thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "core/progress.h"
#include "data/data_write.h"
#include "gen/gen.h"
#include "io/h5_util_data.h"
#include "shared/philox.h"

typedef enum { KIND_NS, KIND_ADVECTION, KIND_SW } gen_kind;

typedef struct {
    gen_kind kind;
    const char *kind_name;
    long n, size, frames, samples_per_run;
    unsigned long long seed;
    double spinup, interval;
    int flow_fno;                                       /* ns: 0 Kolmogorov (default), 1 FNO setting */
    double nu, drag, forcing;                           /* ns */
    long oversample;                                    /* ns: solve on oversample * size points */
    double speed_min, speed_max;                        /* advection */
    double radius_min, radius_max, half_width, gravity; /* shallow water */
    int threads;
    const char *out;
    dfl_h5_layout layout; /* of /truth */
} gen_options;

static const char k_usage[] =
    "usage: dynfill gen --kind ns|advection|shallow-water --n N --out truth.h5 [options]\n\n"
    "Generate ground-truth fields from a physical simulation, deterministic by seed.\n"
    "Writes /truth float32 [N, frames, size, size] with attributes channels, periodic, source.\n\n"
    "  --kind K             ns: 2D Navier-Stokes vorticity, pseudo-spectral, periodic xy (see --flow)\n"
    "                       advection: random smooth field moved at a random constant velocity\n"
    "                           (exact Fourier shift), periodic xy\n"
    "                       shallow-water: radial dam break (PDEBench), h = 2 inside a random\n"
    "                           radius, 1 outside, finite volumes, reflective walls\n"
    "  --n N                number of samples\n"
    "  --size S             grid size S x S (default 64)\n"
    "  --frames T           consecutive frames stacked as channels (default 1)\n"
    "  --seed K             random seed (default 0)\n"
    "  --out PATH           output truth file\n"
    "  --samples-per-run K  samples recorded per trajectory (ns kolmogorov 30, others 10;\n"
    "                       1 = every sample from its own run)\n"
    "  --spinup T           time simulated before recording\n"
    "                       (ns kolmogorov 20, ns fno 5, advection 0, shallow-water 0.1)\n"
    "  --interval D         time between recorded frames\n"
    "                       (ns kolmogorov 1, ns fno 1, advection 0.05, shallow-water 0.1)\n"
    "ns only:\n"
    "  --flow F             kolmogorov (default): [0,2pi)^2, forcing sin(4y) in x (vorticity\n"
    "                           -4 cos 4y), nu 1e-3 (Re 1000), drag 0.1; chaotic, frames 1 apart\n"
    "                           decorrelate (Kochkov et al. 2021 setting)\n"
    "                       fno: [0,1)^2, forcing 0.1 (sin 2pi(x+y) + cos 2pi(x+y)), nu 1e-3, no drag\n"
    "                           (Li et al. 2021 Navier-Stokes data)\n"
    "  --nu V               viscosity (default 1e-3)\n"
    "  --drag A             linear drag (kolmogorov 0.1, fno 0)\n"
    "  --forcing A          forcing amplitude (kolmogorov 1, fno 0.1)\n"
    "  --oversample F       solve on F*size points and keep the resolved modes (default 1)\n"
    "  --threads K          threads (default: all)\n"
    "storage:\n" DFL_LAYOUT_USAGE;

enum {
    OPT_KIND = 256,
    OPT_N,
    OPT_SIZE,
    OPT_FRAMES,
    OPT_SEED,
    OPT_OUT,
    OPT_SAMPLES_PER_RUN,
    OPT_SPINUP,
    OPT_INTERVAL,
    OPT_FLOW,
    OPT_NU,
    OPT_DRAG,
    OPT_FORCING,
    OPT_OVERSAMPLE,
    OPT_THREADS,
    OPT_LAYOUT,
    OPT_COMPRESS
};
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"kind", required_argument, NULL, OPT_KIND},
    {"n", required_argument, NULL, OPT_N},
    {"size", required_argument, NULL, OPT_SIZE},
    {"frames", required_argument, NULL, OPT_FRAMES},
    {"seed", required_argument, NULL, OPT_SEED},
    {"out", required_argument, NULL, OPT_OUT},
    {"samples-per-run", required_argument, NULL, OPT_SAMPLES_PER_RUN},
    {"spinup", required_argument, NULL, OPT_SPINUP},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"flow", required_argument, NULL, OPT_FLOW},
    {"nu", required_argument, NULL, OPT_NU},
    {"drag", required_argument, NULL, OPT_DRAG},
    {"forcing", required_argument, NULL, OPT_FORCING},
    {"oversample", required_argument, NULL, OPT_OVERSAMPLE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fills o from argv; *help is set (and nothing else checked) on -h/--help. */
static dfl_status parse_args(int argc, char **argv, gen_options *o, int *help) {
    memset(o, 0, sizeof *o);
    o->size = 64;
    o->frames = 1;
    o->samples_per_run = -1;
    o->spinup = o->interval = NAN;
    o->nu = 1e-3;
    o->drag = NAN;
    o->forcing = NAN;
    o->oversample = 1;
    const char *flow = "kolmogorov";
    o->speed_min = 0.5;
    o->speed_max = 1.0;
    o->radius_min = 0.3;
    o->radius_max = 0.7;
    o->half_width = 2.5;
    o->gravity = 1.0;
    o->n = -1;
    const char *kind = NULL, *layout = NULL, *compress = NULL;
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        long l;
        double d;
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_KIND: kind = optarg; break;
        case OPT_N: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 1L << 40, &o->n)); break;
        case OPT_SIZE: DFL_TRY(dfl_cli_parse_int(name, optarg, 4, 16384, &o->size)); break;
        case OPT_FRAMES: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 4096, &o->frames)); break;
        case OPT_SEED:
            DFL_TRY(dfl_cli_parse_int(name, optarg, 0, 0x7fffffffffffffffL, &l));
            o->seed = (unsigned long long)l;
            break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_SAMPLES_PER_RUN: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 1L << 30, &o->samples_per_run)); break;
        case OPT_SPINUP:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &d));
            if (!(d >= 0 && d < 1e6)) return dfl_fail(DFL_EUSAGE, "option --spinup: %g must be in [0, 1e6)", d);
            o->spinup = d;
            break;
        case OPT_INTERVAL:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &d));
            if (!(d > 0 && d < 1e6)) return dfl_fail(DFL_EUSAGE, "option --interval: %g must be in (0, 1e6)", d);
            o->interval = d;
            break;
        case OPT_NU:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &d));
            if (!(d > 0 && d < 10)) return dfl_fail(DFL_EUSAGE, "option --nu: %g must be in (0, 10)", d);
            o->nu = d;
            break;
        case OPT_FLOW: flow = optarg; break;
        case OPT_DRAG:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &d));
            if (!(d >= 0 && d < 100)) return dfl_fail(DFL_EUSAGE, "option --drag: %g must be in [0, 100)", d);
            o->drag = d;
            break;
        case OPT_OVERSAMPLE: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 16, &o->oversample)); break;
        case OPT_FORCING:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &d));
            if (!(fabs(d) < 1e3)) return dfl_fail(DFL_EUSAGE, "option --forcing: %g is out of range", d);
            o->forcing = d;
            break;
        case OPT_THREADS:
            DFL_TRY(dfl_cli_parse_int(name, optarg, 0, 4096, &l));
            o->threads = (int)l;
            break;
        case OPT_LAYOUT: layout = optarg; break;
        case OPT_COMPRESS: compress = optarg; break;
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    DFL_TRY(dfl_opt_positionals(argc, argv, 0));
    DFL_TRY(dfl_data_parse_layout(layout, compress, &o->layout));
    if (!kind) return dfl_fail(DFL_EUSAGE, "--kind is required (ns, advection or shallow-water)");
    if (o->n < 0) return dfl_fail(DFL_EUSAGE, "--n is required");
    if (!o->out) return dfl_fail(DFL_EUSAGE, "--out is required");
    if (!strcmp(kind, "ns") || !strcmp(kind, "navier-stokes")) {
        o->kind = KIND_NS;
        o->kind_name = "ns";
        if (!strcmp(flow, "kolmogorov")) {
            o->flow_fno = 0;
        } else if (!strcmp(flow, "fno")) {
            o->flow_fno = 1;
        } else {
            return dfl_fail(DFL_EUSAGE, "--flow '%s' is unknown (kolmogorov or fno)", flow);
        }
        if (isnan(o->spinup)) o->spinup = o->flow_fno ? 5.0 : 20.0;
        if (isnan(o->interval)) o->interval = 1.0;
        if (isnan(o->drag)) o->drag = o->flow_fno ? 0.0 : 0.1;
        if (isnan(o->forcing)) o->forcing = o->flow_fno ? 0.1 : 1.0;
    } else if (!strcmp(kind, "advection")) {
        o->kind = KIND_ADVECTION;
        o->kind_name = "advection";
        if (isnan(o->spinup)) o->spinup = 0.0;
        if (isnan(o->interval)) o->interval = 0.05;
    } else if (!strcmp(kind, "shallow-water") || !strcmp(kind, "sw")) {
        o->kind = KIND_SW;
        o->kind_name = "shallow-water";
        if (isnan(o->spinup)) o->spinup = 0.1;
        if (isnan(o->interval)) o->interval = 0.1;
    } else {
        return dfl_fail(DFL_EUSAGE, "--kind '%s' is unknown (ns, advection or shallow-water)", kind);
    }
    if (o->samples_per_run < 0) o->samples_per_run = o->kind == KIND_NS && !o->flow_fno ? 30 : 10;
    if (o->kind != KIND_SW && o->size % 2 != 0)
        return dfl_fail(DFL_EUSAGE, "option --size: %ld must be even for the spectral '%s' generator", o->size,
                        o->kind_name);
    if (o->kind == KIND_NS && o->size < 8) return dfl_fail(DFL_EUSAGE, "option --size: ns needs at least 8");
    if (o->kind == KIND_NS && o->size * o->oversample > 16384)
        return dfl_fail(DFL_EUSAGE, "option --oversample: %ld x %ld points is too many", o->size * o->oversample,
                        o->size * o->oversample);
    return DFL_OK;
}

static uint64_t run_stream(long run, uint32_t what) { return dfl_rng_stream(DFL_RNG_PURPOSE_GEN, (uint32_t)run, what); }

/* Record `frames_needed` frames of run `run` into out[frame][S*S]. */
static void simulate_run(const gen_options *o, long run, long frames_needed, float *out) {
    const int S = (int)o->size;
    const size_t plane = (size_t)S * (size_t)S;
    double *field = dfl_xmalloc(sizeof(double) * plane);
    if (o->kind == KIND_NS) {
        const int n = S * (int)o->oversample;
        dfl_ns_params p = {0};
        p.n = n;
        p.nu = o->nu;
        p.drag = o->drag;
        p.forcing_amp = o->forcing;
        double *w0 = dfl_xmalloc(sizeof(double) * (size_t)n * (size_t)n);
        if (o->flow_fno) {
            /* FNO prior: GRF alpha 2.5, tau 7, sigma tau^(alpha-1) on the unit torus. */
            p.length = 1.0;
            p.forcing = DFL_NS_FORCING_FNO;
            dfl_grf_sample(n, 2.5, 7.0, pow(7.0, 1.5), o->seed, run_stream(run, 0), w0);
        } else {
            /* Smooth random vorticity of rms ~ 5, near the attractor's
             * enstrophy, so the spin-up is short. */
            p.length = 2.0 * M_PI;
            p.forcing = DFL_NS_FORCING_KOLMOGOROV;
            p.forcing_k = 4;
            dfl_grf_sample(n, 2.5, 7.0, 20.0 * pow(7.0, 1.5), o->seed, run_stream(run, 0), w0);
        }
        dfl_ns_solver *s = dfl_ns_create(&p);
        dfl_ns_set_vorticity(s, w0);
        free(w0);
        dfl_ns_advance(s, o->spinup);
        for (long f = 0; f < frames_needed; ++f) {
            if (f > 0) dfl_ns_advance(s, o->interval);
            dfl_ns_get_vorticity_resampled(s, S, field);
            for (size_t i = 0; i < plane; ++i) out[(size_t)f * plane + i] = (float)field[i];
        }
        dfl_ns_destroy(s);
    } else if (o->kind == KIND_ADVECTION) {
        dfl_grf_sample(S, 3.0, 5.0, 1.0, o->seed, run_stream(run, 0), field);
        /* Unit standard deviation, so every run has the same scale. */
        double ss = 0;
        for (size_t i = 0; i < plane; ++i) ss += field[i] * field[i];
        const double scale = ss > 0 ? 1.0 / sqrt(ss / (double)plane) : 1.0;
        for (size_t i = 0; i < plane; ++i) field[i] *= scale;
        const uint64_t ps = run_stream(run, 1);
        const double angle = 2.0 * M_PI * dfl_rng_uniform(o->seed, ps, 0);
        const double speed = o->speed_min + (o->speed_max - o->speed_min) * dfl_rng_uniform(o->seed, ps, 1);
        const double cx = speed * cos(angle), cy = speed * sin(angle);
        dfl_advection *a = dfl_advection_create(S, field);
        for (long f = 0; f < frames_needed; ++f) {
            dfl_advection_frame(a, cx, cy, o->spinup + (double)f * o->interval, field);
            for (size_t i = 0; i < plane; ++i) out[(size_t)f * plane + i] = (float)field[i];
        }
        dfl_advection_destroy(a);
    } else {
        const uint64_t ps = run_stream(run, 1);
        const double radius = o->radius_min + (o->radius_max - o->radius_min) * dfl_rng_uniform(o->seed, ps, 0);
        dfl_sw_solver *s = dfl_sw_create(S, o->half_width, o->gravity);
        dfl_sw_set_dam(s, 0.0, 0.0, radius, 2.0, 1.0);
        dfl_sw_advance(s, o->spinup);
        for (long f = 0; f < frames_needed; ++f) {
            if (f > 0) dfl_sw_advance(s, o->interval);
            const double *h = dfl_sw_height(s);
            for (size_t i = 0; i < plane; ++i) out[(size_t)f * plane + i] = (float)h[i];
        }
        dfl_sw_destroy(s);
    }
    free(field);
}

/* The dataset attributes of docs/design.md, "Files", and how the data was made. */
static dfl_status write_gen_attrs(hid_t file, const gen_options *o) {
    const long S = o->size, T = o->frames, K = o->samples_per_run;

    const char *base = o->kind == KIND_NS ? "vorticity" : o->kind == KIND_ADVECTION ? "u" : "h";
    char **names = dfl_data_channel_names(base, (int)T);
    char source[512];
    if (o->kind == KIND_NS && o->flow_fno)
        snprintf(source, sizeof source,
                 "dynfill gen ns --flow fno: 2D Navier-Stokes vorticity on [0,1)^2, nu %g, forcing %g (sin 2pi(x+y) + "
                 "cos 2pi(x+y)), drag %g, %ldx%ld (solved on %ld), seed %llu",
                 o->nu, o->forcing, o->drag, S, S, S * o->oversample, o->seed);
    else if (o->kind == KIND_NS)
        snprintf(source, sizeof source,
                 "dynfill gen ns --flow kolmogorov: 2D Navier-Stokes vorticity on [0,2pi)^2, nu %g, forcing %g sin(4y) "
                 "(vorticity -4 cos 4y), drag %g, %ldx%ld (solved on %ld), seed %llu",
                 o->nu, o->forcing, o->drag, S, S, S * o->oversample, o->seed);
    else if (o->kind == KIND_ADVECTION)
        snprintf(source, sizeof source,
                 "dynfill gen advection: exact 2D linear advection of a random smooth periodic field, speed in "
                 "[%g, %g], %ldx%ld, seed %llu",
                 o->speed_min, o->speed_max, S, S, o->seed);
    else
        snprintf(source, sizeof source,
                 "dynfill gen shallow-water: radial dam break on [-%g, %g]^2, g %g, h 2 inside radius in [%g, %g], "
                 "1 outside, %ldx%ld, seed %llu",
                 o->half_width, o->half_width, o->gravity, o->radius_min, o->radius_max, S, S, o->seed);
    dfl_data_attrs at = {0};
    at.c = (int)T;
    at.channels = (const char *const *)names;
    at.periodic = o->kind == KIND_SW ? "none" : "xy";
    /* The symmetries of each generator's distribution (docs/data.md, "Symmetries"):
     * Kolmogorov flow (vorticity forcing -k cos(k y), k = 4 on [0, 2 pi)): any x shift, y shifts by
     * whole forcing periods (S / 4 pixels), and the rotation by 180 degrees about a grid point
     * (vorticity is unchanged by a rotation; a mirror flips its sign, so flips are not declared).
     * FNO flow (forcing of x + y): nothing along one axis alone. Advection: a stationary isotropic
     * field moved at a uniformly random angle: shifts, flips and rotations. Shallow water: a dam
     * break centred in a closed box: nothing declared. */
    char sym[64] = "";
    if (o->kind == KIND_NS && !o->flow_fno)
        snprintf(sym, sizeof sym, S % 4 == 0 ? "shift_x,shift_y:%ld,rot180" : "shift_x,rot180", S / 4);
    else if (o->kind == KIND_ADVECTION)
        snprintf(sym, sizeof sym, "shift_x,shift_y,flip_x,flip_y,rot90");
    else
        snprintf(sym, sizeof sym, "none");
    at.symmetry = sym;
    at.source = source;
    at.h = at.w = (int)S;
    dfl_status st = dfl_data_write_attrs(file, &at);
    const char *vars[1] = {"/truth"};
    if (st == DFL_OK) st = dfl_data_write_dims(file, &at, o->n, NULL, vars, 1);
    dfl_h5_strings_free(names, (size_t)T);
    DFL_TRY(st);
    DFL_TRY(dfl_h5_attr_write_string(file, "gen_kind", o->kind_name));
    DFL_TRY(dfl_h5_attr_write_long(file, "gen_seed", (long long)o->seed));
    DFL_TRY(dfl_h5_attr_write_long(file, "gen_samples_per_run", K));
    DFL_TRY(dfl_h5_attr_write_double(file, "gen_spinup", o->spinup));
    DFL_TRY(dfl_h5_attr_write_double(file, "gen_interval", o->interval));
    if (o->kind == KIND_NS) {
        DFL_TRY(dfl_h5_attr_write_string(file, "gen_flow", o->flow_fno ? "fno" : "kolmogorov"));
        DFL_TRY(dfl_h5_attr_write_double(file, "gen_nu", o->nu));
        DFL_TRY(dfl_h5_attr_write_double(file, "gen_drag", o->drag));
        DFL_TRY(dfl_h5_attr_write_double(file, "gen_forcing", o->forcing));
        DFL_TRY(dfl_h5_attr_write_long(file, "gen_oversample", o->oversample));
    }
    return DFL_OK;
}

static dfl_status generate(const gen_options *o) {
    const long N = o->n, K = o->samples_per_run, T = o->frames, S = o->size;
    const size_t plane = (size_t)S * (size_t)S, per_sample = (size_t)T * plane;
    const long runs = (N + K - 1) / K;
    /* Runs per chunk: bounded memory (~64 MB of frames), enough to keep
     * the threads busy. */
    long chunk = (long)((64u << 20) / (sizeof(float) * per_sample * (size_t)K));
    if (chunk < 1) chunk = 1;
    if (chunk > runs) chunk = runs;
    hid_t file;
    char tmp[4096];
    DFL_TRY(dfl_h5_atomic_begin(o->out, &file, tmp, sizeof tmp));
    unsigned long long dims[4] = {(unsigned long long)N, (unsigned long long)T, (unsigned long long)S,
                                  (unsigned long long)S};
    hid_t dset = -1;
    dfl_status st = dfl_h5_create_dataset_layout(file, "/truth", H5T_IEEE_F32LE, 4, dims, &o->layout, &dset);
    if (st != DFL_OK) return dfl_h5_atomic_abort(file, tmp, o->out, st);
    float *buf = dfl_xmalloc(sizeof(float) * per_sample * (size_t)K * (size_t)chunk);
    if (o->threads > 0) omp_set_num_threads(o->threads);
    char label[64];
    snprintf(label, sizeof label, "gen %s", o->kind_name);
    dfl_progress *prog = dfl_progress_begin(label, N, "samples");
    long done = 0;
    for (long r0 = 0; st == DFL_OK && r0 < runs; r0 += chunk) {
        const long r1 = r0 + chunk < runs ? r0 + chunk : runs;
#pragma omp parallel for schedule(dynamic, 1)
        for (long r = r0; r < r1; ++r) {
            const long first = r * K;
            const long count = first + K <= N ? K : N - first;
            simulate_run(o, r, count * T, buf + (size_t)(r - r0) * (size_t)K * per_sample);
#pragma omp critical(dfl_gen_progress)
            {
                done += count;
                dfl_progress_update(prog, done);
            }
        }
        const long row0 = r0 * K, rows = (r1 * K < N ? r1 * K : N) - row0;
        st = dfl_h5_write_rows(dset, H5T_NATIVE_FLOAT, (unsigned long long)row0, (unsigned long long)rows, buf);
    }
    dfl_progress_end(prog);
    free(buf);
    if (st == DFL_OK) st = h5CheckWrite(file, H5Dclose(dset)); /* else H5Fclose closes it */
    if (st == DFL_OK) st = write_gen_attrs(file, o);
    if (st != DFL_OK) return dfl_h5_atomic_abort(file, tmp, o->out, st);
    return dfl_h5_atomic_commit(file, tmp, o->out);
}

int dfl_cmd_gen(int argc, char **argv) {
    gen_options o;
    int help;
    dfl_status st = parse_args(argc, argv, &o, &help);
    if (st == DFL_OK && help) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (st == DFL_OK) st = generate(&o);
    if (st == DFL_OK) dfl_info("wrote %s: /truth [%ld, %ld, %ld, %ld]", o.out, o.n, o.frames, o.size, o.size);
    return dfl_cli_exit("gen", st);
}
