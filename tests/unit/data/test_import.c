/* `dynfill import` on files this test writes itself: a NetCDF classic file
 * (float with _FillValue, packed short with scale/offset and
 * missing_value, a global longitude axis), a NetCDF-4 file with a level
 * axis and NaN, a plain HDF5 array with a fill_value attribute, and a
 * NetCDF file whose samples run along a `month` dimension (--sample-dim). */
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data_test_files.h"
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

enum { T = 6, NLAT = 4, NLON = 8, NLEV = 2 };
static char dir[256];

static int run_import(const char *const *args) {
    char *argv[32];
    int argc = 0;
    argv[argc++] = "import";
    for (int i = 0; args[i]; ++i) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    dfl_clear_error();
    int rc = dfl_cmd_import(argc, argv);
    return rc;
}

static double zval(int t, int y, int x) { return 5000.0 + 10.0 * t + y - 0.5 * x; }
static double tval(int t, int y, int x) { return 250.0 + 0.5 * t + 0.25 * y + 0.125 * x; }

static void write_classic(const char *path) {
    int nc, dt, dy, dx, vz, vt, vlat, vlon, vtime;
    NCK(nc_create(path, NC_CLOBBER, &nc)); /* classic format */
    NCK(nc_def_dim(nc, "time", NC_UNLIMITED, &dt));
    NCK(nc_def_dim(nc, "latitude", NLAT, &dy));
    NCK(nc_def_dim(nc, "longitude", NLON, &dx));
    NCK(nc_def_var(nc, "time", NC_DOUBLE, 1, &dt, &vtime));
    NCK(nc_def_var(nc, "latitude", NC_FLOAT, 1, &dy, &vlat));
    NCK(nc_def_var(nc, "longitude", NC_FLOAT, 1, &dx, &vlon));
    NCK(nc_put_att_text(nc, vlat, "units", 13, "degrees_north"));
    NCK(nc_put_att_text(nc, vlon, "units", 12, "degrees_east"));
    int dims[3] = {dt, dy, dx};
    NCK(nc_def_var(nc, "z", NC_FLOAT, 3, dims, &vz));
    float zfill = -999.0f;
    NCK(nc_put_att_float(nc, vz, "_FillValue", NC_FLOAT, 1, &zfill));
    NCK(nc_def_var(nc, "t", NC_SHORT, 3, dims, &vt));
    double scale = 0.125, offset = 250.0;
    short tmiss = -32000;
    NCK(nc_put_att_double(nc, vt, "scale_factor", NC_DOUBLE, 1, &scale));
    NCK(nc_put_att_double(nc, vt, "add_offset", NC_DOUBLE, 1, &offset));
    NCK(nc_put_att_short(nc, vt, "missing_value", NC_SHORT, 1, &tmiss));
    NCK(nc_enddef(nc));
    float lat[NLAT] = {60, 20, -20, -60}, lon[NLON];
    for (int i = 0; i < NLON; ++i) lon[i] = 45.0f * i; /* 0 .. 315: the whole globe */
    NCK(nc_put_var_float(nc, vlat, lat));
    NCK(nc_put_var_float(nc, vlon, lon));
    static float z[T][NLAT][NLON];
    static short ts[T][NLAT][NLON];
    for (int t = 0; t < T; ++t)
        for (int y = 0; y < NLAT; ++y)
            for (int x = 0; x < NLON; ++x) {
                z[t][y][x] = (float)zval(t, y, x);
                ts[t][y][x] = (short)lround((tval(t, y, x) - offset) / scale);
            }
    z[1][2][3] = zfill;
    z[4][0][0] = zfill;
    ts[2][1][1] = tmiss;
    size_t start[3] = {0, 0, 0}, count[3] = {T, NLAT, NLON};
    NCK(nc_put_vara_float(nc, vz, start, count, &z[0][0][0]));
    NCK(nc_put_vara_short(nc, vt, start, count, &ts[0][0][0]));
    double times[T];
    for (int t = 0; t < T; ++t) times[t] = t;
    size_t ct = T;
    NCK(nc_put_vara_double(nc, vtime, start, &ct, times));
    NCK(nc_close(nc));
}

static void write_netcdf4(const char *path) {
    int nc, dt, dl, dy, dx, vq, vlev, vlon;
    NCK(nc_create(path, NC_CLOBBER | NC_NETCDF4, &nc));
    NCK(nc_def_dim(nc, "valid_time", T, &dt));
    NCK(nc_def_dim(nc, "pressure_level", NLEV, &dl));
    NCK(nc_def_dim(nc, "lat", NLAT, &dy));
    NCK(nc_def_dim(nc, "lon", NLON, &dx));
    NCK(nc_def_var(nc, "pressure_level", NC_DOUBLE, 1, &dl, &vlev));
    NCK(nc_def_var(nc, "lon", NC_DOUBLE, 1, &dx, &vlon));
    int dims[4] = {dt, dl, dy, dx};
    NCK(nc_def_var(nc, "q", NC_DOUBLE, 4, dims, &vq));
    NCK(nc_enddef(nc));
    double lev[NLEV] = {500, 850}, lon[NLON];
    for (int i = 0; i < NLON; ++i) lon[i] = 10.0 * i; /* regional: not periodic */
    NCK(nc_put_var_double(nc, vlev, lev));
    NCK(nc_put_var_double(nc, vlon, lon));
    static double q[T][NLEV][NLAT][NLON];
    for (int t = 0; t < T; ++t)
        for (int l = 0; l < NLEV; ++l)
            for (int y = 0; y < NLAT; ++y)
                for (int x = 0; x < NLON; ++x) q[t][l][y][x] = 1e-3 * (1 + l) + 1e-5 * (t + y + x);
    q[3][1][2][2] = NAN;
    NCK(nc_put_var_double(nc, vq, &q[0][0][0][0]));
    NCK(nc_close(nc));
}

/* A file shaped like ERA-Interim monthly means as distributed with xarray's
 * tutorial data: u(month, level, latitude, longitude), packed shorts, and a
 * `month` dimension without a coordinate variable or CF attributes. */
static double uval(int m, int l, int y, int x) { return -20.0 + 3.0 * m + 5.0 * l + 0.5 * y - 0.25 * x; }

static void write_months(const char *path) {
    int nc, dm, dl, dy, dx, vu, vlev;
    NCK(nc_create(path, NC_CLOBBER | NC_64BIT_OFFSET, &nc));
    NCK(nc_def_dim(nc, "month", 2, &dm));
    NCK(nc_def_dim(nc, "level", NLEV, &dl));
    NCK(nc_def_dim(nc, "latitude", NLAT, &dy));
    NCK(nc_def_dim(nc, "longitude", NLON, &dx));
    NCK(nc_def_var(nc, "level", NC_INT, 1, &dl, &vlev));
    NCK(nc_put_att_text(nc, vlev, "units", 9, "millibars"));
    int dims[4] = {dm, dl, dy, dx};
    NCK(nc_def_var(nc, "u", NC_SHORT, 4, dims, &vu));
    double scale = -0.0015, offset = 27.0;
    NCK(nc_put_att_double(nc, vu, "scale_factor", NC_DOUBLE, 1, &scale));
    NCK(nc_put_att_double(nc, vu, "add_offset", NC_DOUBLE, 1, &offset));
    NCK(nc_enddef(nc));
    int lev[NLEV] = {500, 850};
    NCK(nc_put_var_int(nc, vlev, lev));
    static short u[2][NLEV][NLAT][NLON];
    for (int m = 0; m < 2; ++m)
        for (int l = 0; l < NLEV; ++l)
            for (int y = 0; y < NLAT; ++y)
                for (int x = 0; x < NLON; ++x) u[m][l][y][x] = (short)lround((uval(m, l, y, x) - offset) / scale);
    NCK(nc_put_var_short(nc, vu, &u[0][0][0][0]));
    NCK(nc_close(nc));
}

static void read_obs(const char *path, const char *name, void *out, hid_t type) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Dclose(d);
    H5Fclose(f);
}

static void classic(void) {
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/era.nc", dir);
    snprintf(out, sizeof out, "%s/era.h5", dir);
    write_classic(in);
    const char *args[] = {"--in", in, "--var", "z,t", "--out", out, NULL};
    CHECK(run_import(args) == 0);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    CHECK(info->n == T && info->c == 2 && info->h == NLAT && info->w == NLON);
    CHECK_MSG(info->mask_c == 2, "z and t are missing at different places: one mask per channel");
    CHECK(!strcmp(info->channels[0], "z") && !strcmp(info->channels[1], "t"));
    CHECK_MSG(info->periodic_x == 1 && info->periodic_y == 0, "a 0..315 step 45 longitude axis is global");
    CHECK(info->lat && info->lat[0] == 60 && info->lon && info->lon[7] == 315);
    static float obs[T][2][NLAT][NLON];
    static uint8_t mask[T][2][NLAT][NLON];
    read_obs(out, "/obs", obs, H5T_NATIVE_FLOAT);
    read_obs(out, "/mask", mask, H5T_NATIVE_UCHAR);
    CHECK(mask[1][0][2][3] == 0 && mask[4][0][0][0] == 0 && mask[2][1][1][1] == 0);
    CHECK(mask[1][1][2][3] == 1 && mask[2][0][1][1] == 1);
    CHECK(obs[1][0][2][3] == 0.0f);
    int values = 1, count = 0;
    for (int t = 0; t < T; ++t)
        for (int y = 0; y < NLAT; ++y)
            for (int x = 0; x < NLON; ++x) {
                if (mask[t][0][y][x]) values &= obs[t][0][y][x] == (float)zval(t, y, x);
                if (mask[t][1][y][x]) values &= fabs(obs[t][1][y][x] - tval(t, y, x)) < 1e-4; /* unpacked */
                count += mask[t][0][y][x] + mask[t][1][y][x];
            }
    CHECK_MSG(values, "values (unpacked with scale_factor/add_offset) match");
    CHECK(count == 2 * T * NLAT * NLON - 3);
    /* mean of z's valid entries */
    double s = 0, n = 0;
    for (int t = 0; t < T; ++t)
        for (int y = 0; y < NLAT; ++y)
            for (int x = 0; x < NLON; ++x)
                if (mask[t][0][y][x]) s += zval(t, y, x), n += 1;
    CHECK_CLOSE(info->mean[0], s / n, 1e-9);
    dfl_dataset_close(ds);

    /* --time 2:5 selects three steps. */
    const char *a2[] = {"--in", in, "--var", "t", "--time", "2:5", "--out", out, NULL};
    CHECK(run_import(a2) == 0);
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    info = dfl_dataset_get_info(ds);
    CHECK(info->n == 3 && info->c == 1 && info->mask_c == 1);
    float first[NLAT * NLON];
    uint8_t m1[NLAT * NLON];
    CHECK(dfl_dataset_read_samples(ds, 0, 1, first, m1) == DFL_OK);
    CHECK(m1[1 * NLON + 1] == 0 && first[1 * NLON + 1] == 0.0f); /* time step 2 had the missing t */
    dfl_dataset_close(ds);

    /* --truth refuses fields with missing values, accepts complete ones. */
    const char *a3[] = {"--in", in, "--var", "z", "--truth", "--out", out, NULL};
    CHECK(run_import(a3) == 2);
    CHECK(strstr(dfl_last_error(), "--truth needs complete fields") != NULL);
    const char *a4[] = {"--in", in, "--var", "z", "--time", "2:4", "--truth", "--out", out, NULL};
    CHECK(run_import(a4) == 0);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(H5Lexists(f, "/truth", H5P_DEFAULT) > 0 && H5Lexists(f, "/obs", H5P_DEFAULT) <= 0);
    H5Fclose(f);

    /* Bad requests: exit 2 naming the file and the problem. */
    const char *b1[] = {"--in", in, "--var", "z,w", "--out", out, NULL};
    CHECK(run_import(b1) == 2);
    CHECK(strstr(dfl_last_error(), "variable 'w' not found") && strstr(dfl_last_error(), in));
    const char *b2[] = {"--in", in, "--var", "z", "--time", "4:9", "--out", out, NULL};
    CHECK(run_import(b2) == 2);
    CHECK(strstr(dfl_last_error(), "outside the 6 time steps") != NULL);
    const char *b3[] = {"--in", in, "--var", "time", "--out", out, NULL};
    CHECK(run_import(b3) == 2);
    const char *b4[] = {"--in", "/nonexistent.nc", "--var", "z", "--out", out, NULL};
    CHECK(run_import(b4) == 2);
    const char *b5[] = {"--in", in, "--var", "z", "--time", "x:y", "--out", out, NULL};
    CHECK(run_import(b5) == 2);
    dfl_clear_error();
}

static void netcdf4_levels(void) {
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/levels.nc", dir);
    snprintf(out, sizeof out, "%s/levels.h5", dir);
    write_netcdf4(in);
    const char *args[] = {"--in", in, "--var", "q", "--out", out, NULL};
    CHECK(run_import(args) == 0);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    CHECK(info->c == 2 && info->mask_c == 2 && info->n == T);
    CHECK_MSG(!strcmp(info->channels[0], "q@500") && !strcmp(info->channels[1], "q@850"), "%s %s", info->channels[0],
              info->channels[1]);
    CHECK_MSG(info->periodic_x == 0, "a regional longitude axis is not periodic");
    CHECK(info->lon && !info->lat);
    CHECK_CLOSE(info->observed_fraction[1], 1.0 - 1.0 / (T * NLAT * NLON), 1e-12);
    CHECK_CLOSE(info->observed_fraction[0], 1.0, 1e-12);
    dfl_dataset_close(ds);
}

/* --sample-dim takes a dimension the CF attributes do not name as the time
 * axis; without it that dimension is an error that names the option. */
static void sample_dim(void) {
    char in[300], out[300], classic_in[300];
    snprintf(in, sizeof in, "%s/months.nc", dir);
    snprintf(out, sizeof out, "%s/months.h5", dir);
    snprintf(classic_in, sizeof classic_in, "%s/era.nc", dir); /* written by classic() */
    write_months(in);
    const char *plain[] = {"--in", in, "--var", "u", "--out", out, NULL};
    CHECK(run_import(plain) == 2);
    CHECK_MSG(strstr(dfl_last_error(), "dimension 'month' (length 2)") &&
                  strstr(dfl_last_error(), "--sample-dim month"),
              "%s", dfl_last_error());
    CHECK(access(out, F_OK) != 0);
    const char *args[] = {"--in", in, "--var", "u", "--sample-dim", "month", "--out", out, NULL};
    CHECK(run_import(args) == 0);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    CHECK(info->n == 2 && info->c == NLEV && info->h == NLAT && info->w == NLON);
    CHECK_MSG(!strcmp(info->channels[0], "u@500") && !strcmp(info->channels[1], "u@850"), "%s %s", info->channels[0],
              info->channels[1]);
    dfl_dataset_close(ds);
    static float o[2][NLEV][NLAT][NLON];
    read_obs(out, "/obs", o, H5T_NATIVE_FLOAT);
    int values = 1;
    for (int t = 0; t < 2; ++t)
        for (int l = 0; l < NLEV; ++l)
            for (int y = 0; y < NLAT; ++y)
                for (int x = 0; x < NLON; ++x) values &= fabs(o[t][l][y][x] - uval(t, l, y, x)) < 1e-3;
    CHECK_MSG(values, "sample t holds month t, unpacked");
    /* A name the variable lacks, a file that has a time axis as well, and a
     * non-NetCDF input: exit 2 naming the file. */
    const char *b1[] = {"--in", in, "--var", "u", "--sample-dim", "number", "--out", out, NULL};
    CHECK(run_import(b1) == 2);
    CHECK(strstr(dfl_last_error(),
                 "has no dimension 'number' (--sample-dim; its dimensions: month, level, latitude, longitude)") &&
          strstr(dfl_last_error(), in));
    const char *b2[] = {"--in", classic_in, "--var", "z", "--sample-dim", "latitude", "--out", out, NULL};
    CHECK(run_import(b2) == 2);
    CHECK_MSG(strstr(dfl_last_error(), "time axis 'time' besides --sample-dim 'latitude'"), "%s", dfl_last_error());
    char h5in[300];
    snprintf(h5in, sizeof h5in, "%s/arrays.h5", dir); /* written by hdf5_arrays() */
    const char *b3[] = {"--in", h5in, "--var", "sst", "--sample-dim", "month", "--out", out, NULL};
    CHECK(run_import(b3) == 2);
    CHECK(strstr(dfl_last_error(), "--sample-dim names a NetCDF dimension, and this file is HDF5") != NULL);
    dfl_clear_error();
}

static void hdf5_arrays(void) {
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/arrays.h5", dir);
    snprintf(out, sizeof out, "%s/arrays_obs.h5", dir);
    static float sst[T][NLAT][NLON];
    for (int t = 0; t < T; ++t)
        for (int y = 0; y < NLAT; ++y)
            for (int x = 0; x < NLON; ++x) sst[t][y][x] = (float)(280 + t + y * x);
    sst[0][0][0] = NAN;
    sst[5][3][7] = -9999.0f; /* fill value */
    hid_t f = H5Fcreate(in, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[3] = {T, NLAT, NLON};
    tf_write(f, "/sst", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d, sst, 1);
    hid_t ds_id = H5Dopen2(f, "/sst", H5P_DEFAULT);
    double fill = -9999.0;
    hsize_t one = 1;
    hid_t sp = H5Screate_simple(1, &one, NULL);
    hid_t a = H5Acreate2(ds_id, "fill_value", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &fill);
    H5Aclose(a);
    H5Sclose(sp);
    H5Dclose(ds_id);
    double lon[NLON];
    for (int i = 0; i < NLON; ++i) lon[i] = -180.0 + 45.0 * i;
    hsize_t dl = NLON;
    tf_write(f, "/lon", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dl, lon, 0);
    H5Fclose(f);
    const char *args[] = {"--in", in, "--var", "sst", "--out", out, NULL};
    CHECK(run_import(args) == 0);
    dfl_dataset *ds;
    CHECK(dfl_dataset_open(out, &ds) == DFL_OK);
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    CHECK(info->n == T && info->c == 1 && info->periodic_x == 1);
    static float o[T * NLAT * NLON];
    static uint8_t m[T * NLAT * NLON];
    CHECK(dfl_dataset_read_samples(ds, 0, T, o, m) == DFL_OK);
    CHECK(m[0] == 0 && m[5 * NLAT * NLON + 3 * NLON + 7] == 0 && m[1] == 1);
    CHECK_CLOSE(info->observed_fraction[0], 1.0 - 2.0 / (T * NLAT * NLON), 1e-12);
    dfl_dataset_close(ds);
    /* a missing dataset name */
    const char *b1[] = {"--in", in, "--var", "sst,ice", "--out", out, NULL};
    CHECK(run_import(b1) == 2);
    CHECK(strstr(dfl_last_error(), "dataset /ice is missing") && strstr(dfl_last_error(), in));
    dfl_clear_error();
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dfl_data_import_%d", (int)getpid());
    mkdir(dir, 0755);
    setenv("DFL_PROGRESS", "off", 1);
    dfl_set_quiet(1);
    classic();
    netcdf4_levels();
    hdf5_arrays();
    sample_dim();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_import_test");
}
