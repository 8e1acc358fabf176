/* `dynfill import` on an ERA5-shaped reduced case written here the way the
 * Copernicus store delivers it: NetCDF-4, deflate-compressed chunks,
 * valid_time in seconds since 1970, pressure_level, latitude descending
 * 90 -> -90 at 1.5 degrees (121 x 240), packed shorts in one file, split
 * over three monthly files given out of order; 4 upper-air variables on 3
 * levels plus 2 surface variables = 14 channels. Every value is checked
 * against the source. Then the CF-axis cases (an ocean TEMP(depth, lat,
 * lon) is one sample with one channel per depth) and the bad inputs: a
 * part on another grid, a missing level, a variable on another time axis,
 * a gap and an overlap in time, a corrupt file. */
#include <hdf5.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dfl_test.h"
#include "dynfill/data.h"

#define NCK(call)                                                                                                      \
    do {                                                                                                               \
        int e_ = (call);                                                                                               \
        if (e_ != NC_NOERR) {                                                                                          \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, nc_strerror(e_));                            \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

enum { NY = 121, NX = 240, NL = 3, TPF = 4, NFILES = 3, NT = TPF * NFILES, NC3 = 4, NC2 = 2 };
static const char *const k_upper[NC3] = {"t", "u", "v", "z"};
static const char *const k_surface[NC2] = {"t2m", "msl"};
static const double k_levels[NL] = {1000, 850, 500};
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

/* The value of upper-air variable v at level l, time step t (global), row y, column x. */
static double upper(int v, int l, int t, int y, int x) {
    return 100.0 * v + 10.0 * l + 0.5 * t + sin(0.05 * y) * cos(0.03 * x) + 0.001 * x;
}
static double surface(int v, int t, int y, int x) { return 1000.0 * (v + 1) + t + 0.01 * y - 0.02 * x; }
static double lat_of(int y) { return 90.0 - 1.5 * y; }

/* Monthly part `part` (time steps part*TPF ..), hourly from 2020-01-01
 * 00:00 + part * TPF hours plus `shift_hours`; `packed`: shorts with
 * scale_factor / add_offset; `grid_w`: the number of longitudes. */
static void write_part(const char *path, int part, int shift_hours, int packed, int grid_w, int with_level_500) {
    int nc, dt, dl, dy, dx, vt, vl, vy, vx;
    NCK(nc_create(path, NC_CLOBBER | NC_NETCDF4, &nc));
    NCK(nc_def_dim(nc, "valid_time", TPF, &dt));
    NCK(nc_def_dim(nc, "pressure_level", NL, &dl));
    NCK(nc_def_dim(nc, "latitude", NY, &dy));
    NCK(nc_def_dim(nc, "longitude", (size_t)grid_w, &dx));
    NCK(nc_def_var(nc, "valid_time", NC_INT64, 1, &dt, &vt));
    NCK(nc_put_att_text(nc, vt, "units", 33, "seconds since 1970-01-01 00:00:00"));
    NCK(nc_put_att_text(nc, vt, "standard_name", 4, "time"));
    NCK(nc_def_var(nc, "pressure_level", NC_DOUBLE, 1, &dl, &vl));
    NCK(nc_put_att_text(nc, vl, "units", 3, "hPa"));
    NCK(nc_put_att_text(nc, vl, "positive", 4, "down"));
    NCK(nc_def_var(nc, "latitude", NC_DOUBLE, 1, &dy, &vy));
    NCK(nc_put_att_text(nc, vy, "units", 13, "degrees_north"));
    NCK(nc_def_var(nc, "longitude", NC_DOUBLE, 1, &dx, &vx));
    NCK(nc_put_att_text(nc, vx, "units", 12, "degrees_east"));
    int v3[NC3], v2[NC2];
    const int d4[4] = {dt, dl, dy, dx}, d3[3] = {dt, dy, dx};
    const size_t chunk4[4] = {1, 1, NY, (size_t)grid_w}, chunk3[3] = {1, NY, (size_t)grid_w};
    const double scale = 0.01, offset = 200.0;
    for (int v = 0; v < NC3; ++v) {
        NCK(nc_def_var(nc, k_upper[v], packed ? NC_SHORT : NC_FLOAT, 4, d4, &v3[v]));
        NCK(nc_def_var_chunking(nc, v3[v], NC_CHUNKED, chunk4));
        NCK(nc_def_var_deflate(nc, v3[v], 1, 1, 4));
        if (packed) {
            NCK(nc_put_att_double(nc, v3[v], "scale_factor", NC_DOUBLE, 1, &scale));
            NCK(nc_put_att_double(nc, v3[v], "add_offset", NC_DOUBLE, 1, &offset));
        }
    }
    for (int v = 0; v < NC2; ++v) {
        NCK(nc_def_var(nc, k_surface[v], NC_FLOAT, 3, d3, &v2[v]));
        NCK(nc_def_var_chunking(nc, v2[v], NC_CHUNKED, chunk3));
        NCK(nc_def_var_deflate(nc, v2[v], 1, 1, 4));
    }
    NCK(nc_enddef(nc));
    long long times[TPF];
    for (int t = 0; t < TPF; ++t) times[t] = 1577836800LL + 3600LL * (part * TPF + t + shift_hours);
    NCK(nc_put_var_longlong(nc, vt, times));
    double lev[NL];
    for (int l = 0; l < NL; ++l) lev[l] = with_level_500 || l < 2 ? k_levels[l] : 300;
    NCK(nc_put_var_double(nc, vl, lev));
    double *lat = malloc(sizeof(double) * NY), *lon = malloc(sizeof(double) * (size_t)grid_w);
    for (int y = 0; y < NY; ++y) lat[y] = lat_of(y);
    for (int x = 0; x < grid_w; ++x) lon[x] = 360.0 * x / grid_w;
    NCK(nc_put_var_double(nc, vy, lat));
    NCK(nc_put_var_double(nc, vx, lon));
    double *plane = malloc(sizeof(double) * NY * (size_t)grid_w);
    for (int t = 0; t < TPF; ++t) {
        const int tg = part * TPF + t;
        for (int v = 0; v < NC3; ++v)
            for (int l = 0; l < NL; ++l) {
                for (int y = 0; y < NY; ++y)
                    for (int x = 0; x < grid_w; ++x) {
                        double val = upper(v, l, tg, y, x);
                        if (packed) val = round((val - offset) / scale); /* stored short */
                        plane[(size_t)y * grid_w + x] = val;
                    }
                size_t st[4] = {(size_t)t, (size_t)l, 0, 0}, ct[4] = {1, 1, NY, (size_t)grid_w};
                NCK(nc_put_vara_double(nc, v3[v], st, ct, plane));
            }
        for (int v = 0; v < NC2; ++v) {
            for (int y = 0; y < NY; ++y)
                for (int x = 0; x < grid_w; ++x) plane[(size_t)y * grid_w + x] = surface(v, tg, y, x);
            size_t st[3] = {(size_t)t, 0, 0}, ct[3] = {1, NY, (size_t)grid_w};
            NCK(nc_put_vara_double(nc, v2[v], st, ct, plane));
        }
    }
    NCK(nc_close(nc));
    free(plane);
    free(lat);
    free(lon);
}

static void part_path(char *buf, size_t n, const char *tag, int part) {
    snprintf(buf, n, "%s/era5_%s_2020%02d.nc", dir, tag, part + 1);
}

static void read_all(const char *path, const char *name, hid_t type, void *out) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    CHECK(f >= 0 && d >= 0 && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Dclose(d);
    H5Fclose(f);
}

static void era5_parts(void) {
    char p[NFILES][300], out[300];
    for (int i = 0; i < NFILES; ++i) {
        part_path(p[i], sizeof p[i], "ok", i);
        write_part(p[i], i, 0, i == 1, NX, 1);
    }
    snprintf(out, sizeof out, "%s/era5.h5", dir);
    /* out of order on the command line: sorted by their first time value */
    const char *args[] = {"--in", p[2], "--in", p[0], "--in", p[1], "--var", "t,u,v,z,t2m,msl", "--out", out, NULL};
    CHECK(run_import(args) == 0);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const int C = NC3 * NL + NC2;
    CHECK(info->n == NT && info->c == C && info->h == NY && info->w == NX && info->mask_c == 1);
    CHECK(!strcmp(info->channels[0], "t@1000") && !strcmp(info->channels[2], "t@500") &&
          !strcmp(info->channels[11], "z@500") && !strcmp(info->channels[12], "t2m") &&
          !strcmp(info->channels[13], "msl"));
    CHECK_MSG(info->periodic_x == 1 && info->periodic_y == 0, "0..358.5 step 1.5 is the whole globe");
    CHECK(info->lat && info->lat[0] == 90.0 && info->lat[NY - 1] == -90.0);
    float *obs = malloc(sizeof(float) * (size_t)NT * C * NY * NX);
    uint8_t *mask = malloc((size_t)NT * NY * NX);
    dfl_dataset_close(ds);
    read_all(out, "/obs", H5T_NATIVE_FLOAT, obs); /* the file's values, in the data's units */
    read_all(out, "/mask", H5T_NATIVE_UCHAR, mask);
    double worst = 0;
    size_t unmasked = 0;
    for (int t = 0; t < NT; ++t)
        for (int c = 0; c < C; ++c)
            for (int y = 0; y < NY; ++y)
                for (int x = 0; x < NX; ++x) {
                    const int part = t / TPF;
                    double want;
                    if (c < NC3 * NL) {
                        want = upper(c / NL, c % NL, t, y, x);
                        if (part == 1) want = round((want - 200.0) / 0.01) * 0.01 + 200.0; /* packed file */
                    } else {
                        want = surface(c - NC3 * NL, t, y, x);
                    }
                    const float got = obs[(((size_t)t * C + c) * NY + y) * NX + x];
                    const double err = fabs(got - (float)want) / (fabs(want) + 1e-30);
                    if (err > worst) worst = err;
                }
    for (size_t i = 0; i < (size_t)NT * NY * NX; ++i) unmasked += mask[i] == 0;
    CHECK_MSG(worst < 1e-6, "every value equals its source, max rel. error %g", worst);
    CHECK(unmasked == 0);
    double time[NT];
    read_all(out, "/time", H5T_NATIVE_DOUBLE, time);
    for (int t = 0; t < NT; ++t) CHECK(time[t] == 1577836800.0 + 3600.0 * t);
    /* --levels keeps two levels; a glob gives the three files */
    char glob[300];
    snprintf(glob, sizeof glob, "%s/era5_ok_*.nc", dir);
    const char *lv[] = {"--in", glob, "--var", "z,t2m", "--levels", "500,850", "--time", "2:10", "--out", out, NULL};
    CHECK(run_import(lv) == 0);
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    info = dfl_dataset_get_info(ds);
    CHECK(info->n == 8 && info->c == 3 && !strcmp(info->channels[0], "z@500") && !strcmp(info->channels[1], "z@850") &&
          !strcmp(info->channels[2], "t2m"));
    dfl_dataset_close(ds);
    float *one = malloc(sizeof(float) * 8 * 3 * NY * NX);
    read_all(out, "/obs", H5T_NATIVE_FLOAT, one);
    one += (size_t)3 * 3 * NY * NX; /* step 3 of the selection = global step 5, in the second (packed) file */
    const double z500 = round((upper(3, 2, 5, 60, 100) - 200.0) / 0.01) * 0.01 + 200.0;
    CHECK_CLOSE(one[(size_t)0 * NY * NX + 60 * NX + 100], z500, 1e-3);
    CHECK_CLOSE(one[(size_t)2 * NY * NX + 60 * NX + 100], surface(0, 5, 60, 100), 1e-3);
    free(one - (size_t)3 * 3 * NY * NX);
    free(obs);
    free(mask);

    /* ---- bad inputs: exit 2, a message naming the file, nothing written ---- */
    char bad[300], bad_out[300];
    snprintf(bad_out, sizeof bad_out, "%s/bad.h5", dir);
    struct {
        const char *what, *expect;
        int shift, grid_w, with_500;
        const char *levels, *vars;
    } cases[] = {
        {"grid", "grid", 0, 120, 1, NULL, "t"},
        {"level", "no level 500", 0, NX, 0, "500", "t"},
        {"gap", "gap in time", 1, NX, 1, NULL, "t"},
        {"overlap", "overlap in time", -2, NX, 1, NULL, "t"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        part_path(bad, sizeof bad, cases[k].what, 3);
        write_part(bad, 3, cases[k].shift, 0, cases[k].grid_w, cases[k].with_500); /* would follow part 2 */
        const char *a[] = {"--in",
                           p[0],
                           "--in",
                           p[1],
                           "--in",
                           p[2],
                           "--in",
                           bad,
                           "--var",
                           cases[k].vars,
                           cases[k].levels ? "--levels" : "--time",
                           cases[k].levels ? cases[k].levels : "0:",
                           "--out",
                           bad_out,
                           NULL};
        CHECK_MSG(run_import(a) == 2, "case %s", cases[k].what);
        CHECK_MSG(strstr(dfl_last_error(), cases[k].expect) && strstr(dfl_last_error(), bad), "case %s: %s",
                  cases[k].what, dfl_last_error());
        CHECK(access(bad_out, F_OK) != 0);
    }
    /* a corrupt chunk: the file's tail overwritten */
    snprintf(bad, sizeof bad, "%s/era5_corrupt.nc", dir);
    write_part(bad, 3, 0, 0, NX, 1);
    FILE *f = fopen(bad, "r+b");
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    for (long i = size / 2; i < size - 4096; ++i) fputc(0x5a, f);
    fclose(f);
    const char *corrupt[] = {"--in", bad, "--var", "t,u,v,z", "--out", bad_out, NULL};
    CHECK(run_import(corrupt) == 2);
    CHECK_MSG(strstr(dfl_last_error(), bad) != NULL, "%s", dfl_last_error());
    CHECK(access(bad_out, F_OK) != 0);
    dfl_clear_error();
}

/* A variable on another time axis, and an ocean climatology TEMP(depth,
 * lat, lon) with CF attributes: one sample, one channel per depth. */
static void cf_axes(void) {
    char path[300], out[300];
    snprintf(path, sizeof path, "%s/ocean.nc", dir);
    snprintf(out, sizeof out, "%s/ocean.h5", dir);
    int nc, dd, dy, dx, dt, dt2, vd, vy, vx, vT, va, vb, vtt, vtt2;
    NCK(nc_create(path, NC_CLOBBER | NC_NETCDF4, &nc));
    NCK(nc_def_dim(nc, "DEPTH", 5, &dd));
    NCK(nc_def_dim(nc, "YC", 6, &dy));
    NCK(nc_def_dim(nc, "XC", 8, &dx));
    NCK(nc_def_dim(nc, "time", 3, &dt));
    NCK(nc_def_dim(nc, "time2", 3, &dt2));
    NCK(nc_def_var(nc, "DEPTH", NC_DOUBLE, 1, &dd, &vd));
    NCK(nc_put_att_text(nc, vd, "units", 1, "m"));
    NCK(nc_put_att_text(nc, vd, "positive", 4, "down"));
    NCK(nc_def_var(nc, "YC", NC_DOUBLE, 1, &dy, &vy));
    NCK(nc_put_att_text(nc, vy, "standard_name", 8, "latitude"));
    NCK(nc_def_var(nc, "XC", NC_DOUBLE, 1, &dx, &vx));
    NCK(nc_put_att_text(nc, vx, "axis", 1, "X"));
    NCK(nc_put_att_text(nc, vx, "units", 11, "degree_east"));
    NCK(nc_def_var(nc, "time", NC_DOUBLE, 1, &dt, &vtt));
    NCK(nc_put_att_text(nc, vtt, "units", 24, "days since 2000-01-01 00:00"));
    NCK(nc_def_var(nc, "time2", NC_DOUBLE, 1, &dt2, &vtt2));
    NCK(nc_put_att_text(nc, vtt2, "units", 24, "days since 2001-01-01 00:00"));
    int d3[3] = {dd, dy, dx}, ta[3] = {dt, dy, dx}, tb[3] = {dt2, dy, dx};
    NCK(nc_def_var(nc, "TEMP", NC_FLOAT, 3, d3, &vT));
    NCK(nc_def_var(nc, "a", NC_FLOAT, 3, ta, &va));
    NCK(nc_def_var(nc, "b", NC_FLOAT, 3, tb, &vb));
    NCK(nc_enddef(nc));
    double depth[5] = {0, 10, 20, 50, 100}, y6[6], x8[8], tv[3] = {0, 1, 2};
    for (int i = 0; i < 6; ++i) y6[i] = -50 + 20 * i;
    for (int i = 0; i < 8; ++i) x8[i] = 10 + 5 * i;
    NCK(nc_put_var_double(nc, vd, depth));
    NCK(nc_put_var_double(nc, vy, y6));
    NCK(nc_put_var_double(nc, vx, x8));
    NCK(nc_put_var_double(nc, vtt, tv));
    NCK(nc_put_var_double(nc, vtt2, tv));
    float temp[5 * 6 * 8], ab[3 * 6 * 8];
    for (int i = 0; i < 5 * 6 * 8; ++i) temp[i] = 20.0f - 0.1f * (float)(i / 48) * depth[i / 48] + 0.01f * (float)i;
    for (int i = 0; i < 3 * 6 * 8; ++i) ab[i] = (float)i;
    NCK(nc_put_var_float(nc, vT, temp));
    NCK(nc_put_var_float(nc, va, ab));
    NCK(nc_put_var_float(nc, vb, ab));
    NCK(nc_close(nc));
    const char *args[] = {"--in", path, "--var", "TEMP", "--out", out, NULL};
    CHECK(run_import(args) == 0);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    CHECK_MSG(info->n == 1 && info->c == 5, "one sample of 5 depths, got %lld x %d", (long long)info->n, info->c);
    CHECK_MSG(!strcmp(info->channels[3], "TEMP@50"), "%s", info->channels[3]);
    CHECK(info->lat && info->lat[5] == 50.0 && info->lon && info->lon[1] == 15.0);
    dfl_dataset_close(ds);
    float o[5 * 6 * 8];
    read_all(out, "/obs", H5T_NATIVE_FLOAT, o);
    int same = 1;
    for (int i = 0; i < 5 * 6 * 8; ++i) same &= o[i] == temp[i];
    CHECK(same);
    const char *two[] = {"--in", path, "--var", "a,b", "--out", out, NULL};
    CHECK(run_import(two) == 2);
    CHECK_MSG(strstr(dfl_last_error(), "time axis") && strstr(dfl_last_error(), "'b'") &&
                  strstr(dfl_last_error(), path),
              "%s", dfl_last_error());
    dfl_clear_error();
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dfl_import_era5_%d", (int)getpid());
    mkdir(dir, 0755);
    setenv("DFL_PROGRESS", "off", 1);
    dfl_set_quiet(1);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    era5_parts();
    cf_axes();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_import_era5_test");
}
