/* `dynfill import` of GRIB 2 files written here with ecCodes the way ERA5
 * comes: regular 1.5 degree grid (121 x 240), latitude 90 -> -90, t, u, v,
 * z on 3 pressure levels (written 1000, 850, 500) + 2t and msl = 14
 * channels, 6 hourly validity times written newest first, half of them as
 * a forecast step from an earlier base time, one field with a bitmap of
 * missing points. Every imported value is checked against the value
 * ecCodes decodes from the file, and the channel names, lat/lon, /time and
 * mask. A file split in two by time (the older part in GRIB 1) imports as
 * the same time axis. Rows south to north. Bad inputs (exit 2, the file
 * named, nothing written): a message on another grid, a missing level for
 * --levels, a missing and a duplicated message, a reduced Gaussian grid, a
 * truncated file, --format grib on a text file, an unknown shortName. */
#include <eccodes.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/data_write.h"
#include "dfl_test.h"
#include "dynfill/data.h"
#include "io/h5_util.h"

#define CK(call)                                                                                                       \
    do {                                                                                                               \
        int e_ = (call);                                                                                               \
        if (e_) {                                                                                                      \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, codes_get_error_message(e_));                \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

enum { NY = 121, NX = 240, NL = 3, NT = 6, NV3 = 4, NV2 = 2, NC = NV3 * NL + NV2, NPT = NY * NX };
static const char *const k_upper[NV3] = {"t", "u", "v", "z"};
static const char *const k_surface[NV2] = {"2t", "msl"};
static const char *const k_surface_level[NV2] = {"heightAboveGround", "meanSea"};
static const long k_surface_height[NV2] = {2, 0};
static const long k_levels[NL] = {500, 850, 1000}; /* channel order: increasing */
static char dir[256];

static int run_import(const char *const *args) {
    char *argv[40];
    int argc = 0;
    argv[argc++] = "import";
    for (int i = 0; args[i]; ++i) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    dfl_clear_error();
    return dfl_cmd_import(argc, argv);
}

/* The value written for channel c (upper-air channels first, var-major,
 * levels increasing; then 2t, msl) at time step t, row y, column x. */
static double field(int c, int t, int y, int x) {
    if (c < NV3 * NL) return 200.0 + 10.0 * c + 0.5 * t + 3.0 * sin(0.05 * y) * cos(0.03 * x) + 0.001 * x;
    return c == NV3 * NL ? 270.0 + t + 0.1 * y - 0.02 * x : 101325.0 + 50.0 * t - 3.0 * y + x;
}

typedef struct {
    int ny, nx;   /* grid: 121 x 240 at 1.5 degrees, or another */
    int south_up; /* jScansPositively = 1 */
    int t0, t1;   /* time steps [t0, t1) */
    int skip_c;   /* leave out channel skip_c at time skip_t (-1: none) */
    int skip_t;
    int dup;      /* write channel 0 at time t0 twice */
    int odd_grid; /* put message of 2t at time t0 on a 1 degree grid */
    int with_bitmap;
    int grib1; /* edition 1 (surface fields on typeOfLevel surface, as ERA5 has them) */
} spec;

static codes_handle *new_field(const spec *s, int c, int t, int ny, int nx) {
    codes_handle *h =
        codes_grib_handle_new_from_samples(NULL, s->grib1 ? "regular_ll_pl_grib1" : "regular_ll_pl_grib2");
    if (!h) {
        fprintf(stderr, "no ecCodes sample regular_ll_pl_grib%d\n", s->grib1 ? 1 : 2);
        exit(1);
    }
    const double d = 180.0 / (ny - 1);
    CK(codes_set_long(h, "Ni", nx));
    CK(codes_set_long(h, "Nj", ny));
    CK(codes_set_long(h, "jScansPositively", s->south_up));
    CK(codes_set_double(h, "latitudeOfFirstGridPointInDegrees", s->south_up ? -90.0 : 90.0));
    CK(codes_set_double(h, "latitudeOfLastGridPointInDegrees", s->south_up ? 90.0 : -90.0));
    CK(codes_set_double(h, "longitudeOfFirstGridPointInDegrees", 0.0));
    CK(codes_set_double(h, "longitudeOfLastGridPointInDegrees", 360.0 - 360.0 / nx));
    CK(codes_set_double(h, "iDirectionIncrementInDegrees", 360.0 / nx));
    CK(codes_set_double(h, "jDirectionIncrementInDegrees", d));
    size_t len;
    const char *name = c < NV3 * NL ? k_upper[c / NL] : k_surface[c - NV3 * NL];
    len = strlen(name);
    CK(codes_set_string(h, "shortName", name, &len));
    if (c < NV3 * NL) {
        len = strlen("isobaricInhPa");
        CK(codes_set_string(h, "typeOfLevel", "isobaricInhPa", &len));
        CK(codes_set_long(h, "level", k_levels[c % NL]));
    } else {
        const int k = c - NV3 * NL;
        const char *type = s->grib1 ? "surface" : k_surface_level[k];
        len = strlen(type);
        CK(codes_set_string(h, "typeOfLevel", type, &len));
        CK(codes_set_long(h, "level", s->grib1 ? 0 : k_surface_height[k]));
    }
    /* 2020-01-01 t:00; odd steps as a 1 hour forecast from the hour before */
    CK(codes_set_long(h, "dataDate", 20200101));
    CK(codes_set_long(h, "dataTime", (t - t % 2) * 100));
    CK(codes_set_long(h, "step", t % 2));
    CK(codes_set_long(h, "bitsPerValue", 24));
    return h;
}

static void put(FILE *f, const spec *s, int c, int t, int ny, int nx) {
    codes_handle *h = new_field(s, c, t, ny, nx);
    double *v = malloc(sizeof(double) * (size_t)ny * nx);
    for (int y = 0; y < ny; ++y)
        for (int x = 0; x < nx; ++x) v[y * nx + x] = field(c, t, s->south_up ? ny - 1 - y : y, x);
    if (s->with_bitmap && c == 4 && t == 2) { /* u@850 at step 2: a missing box */
        CK(codes_set_long(h, "bitmapPresent", 1));
        CK(codes_set_double(h, "missingValue", 9999.0));
        for (int y = 10; y < 20; ++y)
            for (int x = 30; x < 50; ++x) v[y * nx + x] = 9999.0;
    }
    CK(codes_set_double_array(h, "values", v, (size_t)ny * nx));
    const void *msg;
    size_t size;
    CK(codes_get_message(h, &msg, &size));
    if (fwrite(msg, 1, size, f) != size) exit(1);
    codes_handle_delete(h);
    free(v);
}

/* Newest time first, levels decreasing: the importer sorts. */
static void write_grib(const char *path, const spec *s) {
    FILE *f = fopen(path, "wb");
    if (!f) exit(1);
    for (int t = s->t1 - 1; t >= s->t0; --t)
        for (int c = 0; c < NC; ++c) {
            const int cc = c < NV3 * NL ? c / NL * NL + (NL - 1 - c % NL) : c;
            if (cc == s->skip_c && t == s->skip_t) continue;
            const int odd = s->odd_grid && cc == NV3 * NL && t == s->t0;
            put(f, s, cc, t, odd ? 181 : s->ny, odd ? 360 : s->nx);
            if (s->dup && cc == 0 && t == s->t0) put(f, s, cc, t, s->ny, s->nx);
        }
    fclose(f);
}

/* What ecCodes decodes for every (t, c) of a file written by write_grib:
 * dec[(t * NC + c) * NPT + i], rows north to south; missing[...] = 1 where
 * the bitmap says so. */
static void decode_all(const char *path, double *dec, uint8_t *missing, int t0, int nt) {
    FILE *f = fopen(path, "rb");
    int e = 0, n = 0;
    codes_handle *h;
    while ((h = codes_handle_new_from_file(NULL, f, PRODUCT_GRIB, &e))) {
        char name[32];
        size_t len = sizeof name;
        long level, date, hhmm, bitmap = 0;
        CK(codes_get_string(h, "shortName", name, &len));
        CK(codes_get_long(h, "level", &level));
        CK(codes_get_long(h, "validityDate", &date));
        CK(codes_get_long(h, "validityTime", &hhmm));
        CHECK(date == 20200101 && hhmm % 100 == 0);
        int c = -1;
        for (int v = 0; v < NV3; ++v)
            for (int l = 0; l < NL; ++l)
                if (!strcmp(name, k_upper[v]) && level == k_levels[l]) c = v * NL + l;
        for (int k = 0; k < NV2; ++k)
            if (!strcmp(name, k_surface[k])) c = NV3 * NL + k;
        CHECK_MSG(c >= 0, "message %s level %ld read back", name, level);
        const int t = (int)(hhmm / 100) - t0;
        size_t nv = NPT;
        CK(codes_set_double(h, "missingValue", 1e300));
        CK(codes_get_double_array(h, "values", dec + ((size_t)t * NC + c) * NPT, &nv));
        codes_get_long(h, "bitmapPresent", &bitmap);
        for (int i = 0; i < NPT; ++i) {
            missing[((size_t)t * NC + c) * NPT + i] = dec[((size_t)t * NC + c) * NPT + i] == 1e300;
            /* 24-bit packing keeps what was written to ~1e-5 of the range */
            if (!missing[((size_t)t * NC + c) * NPT + i])
                CHECK_CLOSE(dec[((size_t)t * NC + c) * NPT + i], field(c, t + t0, i / NX, i % NX), 1e-6);
        }
        codes_handle_delete(h);
        ++n;
    }
    CHECK(e == 0 && n == nt * NC);
    fclose(f);
}

static void read_all(const char *path, const char *name, hid_t type, void *out) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    CHECK(f >= 0 && d >= 0 && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Dclose(d);
    H5Fclose(f);
}

static spec base(void) {
    spec s = {NY, NX, 0, 0, NT, -1, -1, 0, 0, 1, 0};
    return s;
}

static float *g_whole; /* /obs of the one-file import */

static void one_file(void) {
    char path[300], out[300];
    snprintf(path, sizeof path, "%s/era5.grib", dir);
    snprintf(out, sizeof out, "%s/era5.h5", dir);
    const spec s = base();
    write_grib(path, &s);
    double *dec = malloc(sizeof(double) * NT * NC * NPT);
    uint8_t *missing = malloc((size_t)NT * NC * NPT);
    decode_all(path, dec, missing, 0, NT);
    const char *args[] = {"--in", path, "--var", "t,u,v,z,2t,msl", "--out", out, NULL};
    CHECK_MSG(run_import(args) == 0, "%s", dfl_last_error());
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    CHECK_MSG(info->n == NT && info->c == NC && info->h == NY && info->w == NX, "%lld x %d x %d x %d",
              (long long)info->n, info->c, info->h, info->w);
    CHECK(info->mask_c == NC); /* u@850 misses a box the others have */
    const char *names[NC] = {"t@500", "t@850",  "t@1000", "u@500", "u@850",  "u@1000", "v@500",
                             "v@850", "v@1000", "z@500",  "z@850", "z@1000", "2t",     "msl"};
    for (int c = 0; c < NC && c < info->c; ++c)
        CHECK_MSG(!strcmp(info->channels[c], names[c]), "channel %d: %s, want %s", c, info->channels[c], names[c]);
    CHECK_MSG(info->periodic_x == 1 && info->periodic_y == 0, "0..358.5 step 1.5 is the whole globe");
    CHECK(info->lat && info->lon);
    int axes_ok = 1;
    for (int y = 0; y < NY; ++y) axes_ok &= fabs(info->lat[y] - (90.0 - 1.5 * y)) < 1e-9;
    for (int x = 0; x < NX; ++x) axes_ok &= fabs(info->lon[x] - 1.5 * x) < 1e-9;
    CHECK_MSG(axes_ok, "lat 90 -> -90, lon 0 -> 358.5 in steps of 1.5");
    dfl_dataset_close(ds);
    /* units and long names carried from the messages (ecCodes' `units`, `name`) */
    hid_t uf = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    char **units = NULL, **long_names = NULL;
    dfl_data_read_channel_meta(uf, NC, &units, &long_names);
    H5Fclose(uf);
    CHECK_MSG(units && !strcmp(units[0], "K") && !strcmp(units[13], "Pa"), "units: %s, %s", units ? units[0] : "-",
              units ? units[13] : "-");
    CHECK_MSG(long_names && strstr(long_names[0], "emperature"), "long name: %s", long_names ? long_names[0] : "-");
    if (units) dfl_h5_strings_free(units, NC);
    if (long_names) dfl_h5_strings_free(long_names, NC);
    float *obs = malloc(sizeof(float) * NT * NC * NPT);
    uint8_t *mask = malloc((size_t)NT * NC * NPT);
    read_all(out, "/obs", H5T_NATIVE_FLOAT, obs);
    read_all(out, "/mask", H5T_NATIVE_UCHAR, mask);
    double worst = 0;
    size_t mask_wrong = 0, n_missing = 0;
    for (size_t i = 0; i < (size_t)NT * NC * NPT; ++i) {
        n_missing += missing[i];
        mask_wrong += mask[i] != !missing[i];
        if (missing[i]) {
            mask_wrong += obs[i] != 0.0f;
            continue;
        }
        const double err = fabs(obs[i] - (float)dec[i]) / fabs(dec[i]);
        if (err > worst) worst = err;
    }
    CHECK_MSG(worst < 1e-7, "every value equals what ecCodes decodes, max rel. error %g", worst);
    CHECK_MSG(n_missing == 200 && mask_wrong == 0, "%zu missing points, %zu mask errors", n_missing, mask_wrong);
    double time[NT];
    read_all(out, "/time", H5T_NATIVE_DOUBLE, time);
    for (int t = 0; t < NT; ++t) CHECK_MSG(time[t] == 1577836800.0 + 3600.0 * t, "time[%d] = %.0f", t, time[t]);
    g_whole = obs;

    /* --levels in its own order; a single-level field keeps its one channel */
    const char *lv[] = {"--in", path, "--var", "z,msl", "--levels", "850,500", "--time", "1:5", "--out", out, NULL};
    CHECK_MSG(run_import(lv) == 0, "%s", dfl_last_error());
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    info = dfl_dataset_get_info(ds);
    CHECK(info->n == 4 && info->c == 3 && !strcmp(info->channels[0], "z@850") && !strcmp(info->channels[1], "z@500") &&
          !strcmp(info->channels[2], "msl"));
    dfl_dataset_close(ds);
    float *few = malloc(sizeof(float) * 4 * 3 * NPT);
    read_all(out, "/obs", H5T_NATIVE_FLOAT, few);
    const int t = 2, i = 60 * NX + 100; /* selected step 2 = time step 3 */
    CHECK(few[((size_t)t * 3 + 0) * NPT + i] == (float)dec[((size_t)(t + 1) * NC + 10) * NPT + i]);
    CHECK(few[((size_t)t * 3 + 1) * NPT + i] == (float)dec[((size_t)(t + 1) * NC + 9) * NPT + i]);
    CHECK(few[((size_t)t * 3 + 2) * NPT + i] == (float)dec[((size_t)(t + 1) * NC + 13) * NPT + i]);
    free(few);
    free(dec);
    free(missing);
    free(mask);
}

/* Two files by time, given newest first, the older one in GRIB 1: one time
 * axis, the same values. */
static void split_files(void) {
    char a[300], b[300], out[300];
    snprintf(a, sizeof a, "%s/era5_a.grib", dir);
    snprintf(b, sizeof b, "%s/era5_b.grib", dir);
    snprintf(out, sizeof out, "%s/era5_ab.h5", dir);
    spec s = base();
    s.t1 = 2;
    s.grib1 = 1;
    write_grib(a, &s);
    s.grib1 = 0;
    s.t0 = 2;
    s.t1 = NT;
    write_grib(b, &s);
    const char *args[] = {"--in", b, "--in", a, "--var", "t,u,v,z,2t,msl", "--out", out, NULL};
    CHECK_MSG(run_import(args) == 0, "%s", dfl_last_error());
    float *obs = malloc(sizeof(float) * NT * NC * NPT);
    read_all(out, "/obs", H5T_NATIVE_FLOAT, obs);
    /* GRIB 1 packs its reference value otherwise: steps 0, 1 against what
     * ecCodes decodes, steps 2.. as the one-file import */
    double *dec = malloc(sizeof(double) * 2 * NC * NPT);
    uint8_t *missing = malloc((size_t)2 * NC * NPT);
    decode_all(a, dec, missing, 0, 2);
    size_t wrong = 0;
    for (size_t i = 0; i < (size_t)2 * NC * NPT; ++i) wrong += missing[i] || obs[i] != (float)dec[i];
    CHECK_MSG(wrong == 0, "GRIB 1 part: %zu values differ from ecCodes'", wrong);
    const size_t step = (size_t)NC * NPT;
    CHECK_MSG(!memcmp(obs + 2 * step, g_whole + 2 * step, sizeof(float) * (NT - 2) * step),
              "the GRIB 2 part imports as in the whole file");
    free(dec);
    free(missing);
    double time[NT];
    read_all(out, "/time", H5T_NATIVE_DOUBLE, time);
    for (int t = 0; t < NT; ++t) CHECK(time[t] == 1577836800.0 + 3600.0 * t);
    free(obs);
}

/* Rows stored south to north: lat ascends, the values follow. */
static void south_up(void) {
    char path[300], out[300];
    snprintf(path, sizeof path, "%s/south.grib", dir);
    snprintf(out, sizeof out, "%s/south.h5", dir);
    spec s = base();
    s.south_up = 1;
    s.t1 = 1;
    s.with_bitmap = 0;
    write_grib(path, &s);
    const char *args[] = {"--in", path, "--var", "msl", "--out", out, NULL};
    CHECK_MSG(run_import(args) == 0, "%s", dfl_last_error());
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    CHECK(info->lat && info->lat[0] == -90.0 && info->lat[NY - 1] == 90.0);
    dfl_dataset_close(ds);
    float *obs = malloc(sizeof(float) * NPT);
    read_all(out, "/obs", H5T_NATIVE_FLOAT, obs);
    /* row 0 is the south pole: field row NY - 1 */
    CHECK_CLOSE(obs[5], field(NC - 1, 0, NY - 1, 5), 1e-6);
    CHECK_CLOSE(obs[(NY - 1) * NX + 7], field(NC - 1, 0, 0, 7), 1e-6);
    free(obs);
}

static void bad_inputs(void) {
    char ok[300], bad[300], out[300];
    snprintf(ok, sizeof ok, "%s/era5_a.grib", dir); /* steps 0, 1 */
    snprintf(out, sizeof out, "%s/bad.h5", dir);
    struct {
        const char *what, *expect, *levels;
        spec s;
        int names_ok; /* the first file has the error too, and is opened first */
    } cases[] = {
        {"grid", "another grid", NULL, {NY, NX, 0, 2, NT, -1, -1, 0, 1, 0, 0}, 0},
        {"level", "no level 700", "500,700", {NY, NX, 0, 2, NT, -1, -1, 0, 0, 0, 0}, 1},
        {"missing", "no message of variable 'u' level 850", NULL, {NY, NX, 0, 2, NT, 4, 3, 0, 0, 0, 0}, 0},
        {"duplicate", "in two messages", NULL, {NY, NX, 0, 2, NT, -1, -1, 1, 0, 0, 0}, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        snprintf(bad, sizeof bad, "%s/bad_%s.grib", dir, cases[k].what);
        write_grib(bad, &cases[k].s); /* would follow era5_a.grib */
        const char *a[] = {"--in",
                           ok,
                           "--in",
                           bad,
                           "--var",
                           "t,u,v,z,2t,msl",
                           cases[k].levels ? "--levels" : "--time",
                           cases[k].levels ? cases[k].levels : "0:",
                           "--out",
                           out,
                           NULL};
        CHECK_MSG(run_import(a) == 2, "case %s", cases[k].what);
        CHECK_MSG(strstr(dfl_last_error(), cases[k].expect) && strstr(dfl_last_error(), cases[k].names_ok ? ok : bad),
                  "case %s: %s", cases[k].what, dfl_last_error());
        CHECK(access(out, F_OK) != 0);
    }
    /* the grid message names the message: 2t (the 13th field) of the last step written, 4th of 4 */
    snprintf(bad, sizeof bad, "%s/bad_grid.grib", dir);
    const char *g[] = {"--in", bad, "--var", "2t", "--out", out, NULL};
    CHECK(run_import(g) == 2);
    CHECK_MSG(strstr(dfl_last_error(), "message 55") != NULL, "%s", dfl_last_error());

    /* a reduced Gaussian grid */
    snprintf(bad, sizeof bad, "%s/gaussian.grib", dir);
    codes_handle *h = codes_grib_handle_new_from_samples(NULL, "reduced_gg_pl_32_grib2");
    CHECK(h != NULL);
    if (h) {
        const void *msg;
        size_t size;
        CK(codes_get_message(h, &msg, &size));
        FILE *f = fopen(bad, "wb");
        fwrite(msg, 1, size, f);
        fclose(f);
        char name[32];
        size_t len = sizeof name;
        CK(codes_get_string(h, "shortName", name, &len));
        codes_handle_delete(h);
        const char *a[] = {"--in", bad, "--var", name, "--out", out, NULL};
        CHECK(run_import(a) == 2);
        CHECK_MSG(strstr(dfl_last_error(), "reduced_gg") && strstr(dfl_last_error(), bad), "%s", dfl_last_error());
        CHECK(access(out, F_OK) != 0);
    }
    /* a truncated file: the last message cut short */
    snprintf(bad, sizeof bad, "%s/cut.grib", dir);
    char cmd[700];
    struct stat st;
    stat(ok, &st);
    snprintf(cmd, sizeof cmd, "head -c %lld %s > %s", (long long)st.st_size - 5000, ok, bad);
    CHECK(system(cmd) == 0);
    const char *cut[] = {"--in", bad, "--var", "t", "--out", out, NULL};
    CHECK(run_import(cut) == 2);
    CHECK_MSG(strstr(dfl_last_error(), bad) != NULL, "%s", dfl_last_error());
    CHECK(access(out, F_OK) != 0);
    /* not GRIB, forced: no message */
    snprintf(bad, sizeof bad, "%s/text.grib", dir);
    FILE *f = fopen(bad, "w");
    fputs("hello, world\n", f);
    fclose(f);
    const char *forced[] = {"--in", bad, "--format", "grib", "--var", "t", "--out", out, NULL};
    CHECK(run_import(forced) == 2);
    CHECK_MSG(strstr(dfl_last_error(), "no GRIB message") && strstr(dfl_last_error(), bad), "%s", dfl_last_error());
    /* an unknown shortName lists those of the file */
    const char *unknown[] = {"--in", ok, "--var", "q", "--out", out, NULL};
    CHECK(run_import(unknown) == 2);
    CHECK_MSG(strstr(dfl_last_error(), "'q' not found") && strstr(dfl_last_error(), "msl"), "%s", dfl_last_error());
    const char *twice[] = {"--in", ok, "--var", "t,z,t", "--out", out, NULL};
    CHECK(run_import(twice) == 2);
    CHECK_MSG(strstr(dfl_last_error(), "'t' is given twice") != NULL, "%s", dfl_last_error());
    CHECK(access(out, F_OK) != 0);
    dfl_clear_error();
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dfl_import_grib_%d", (int)getpid());
    mkdir(dir, 0755);
    setenv("DFL_PROGRESS", "off", 1);
    dfl_set_quiet(1);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    one_file();
    split_files();
    south_up();
    bad_inputs();
    free(g_whole);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_import_grib_test");
}
