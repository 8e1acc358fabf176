/* `dynfill import`: NetCDF (classic, NetCDF-4; ERA5 as downloaded) or
 * plain HDF5 arrays with NaN / fill values as missing -> a dynfill dataset
 * (/obs, /mask, mean/std of valid entries) or, with --truth, a truth file
 * (DESIGN.md §4). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "data/data_write.h"
#include "io/h5_util_data.h"
#include "import/import.h"

static const char k_usage[] =
    "usage: dynfill import --in FILE --var a,b --out obs.h5 [options]\n\n"
    "Convert gridded fields to a dynfill dataset: /obs [T, C, H, W] (missing entries 0), /mask\n"
    "(1 = valid; one channel when every variable is missing at the same places, else one per\n"
    "channel), attributes channels, mean/std of valid entries, periodic (\"x\" when the longitude\n"
    "axis covers the globe), lat/lon, source, mask_pattern.\n\n"
    "  --in FILE       NetCDF classic or NetCDF-4 (variables [time, lat, lon] or\n"
    "                  [time, level, lat, lon], one channel per level, named var@level), or\n"
    "                  HDF5 with datasets [T, H, W] / [T, K, H, W] / [H, W]\n"
    "  --var a,b       variables (NetCDF) or dataset names (HDF5) to import, in channel order\n"
    "  --out PATH      output file\n"
    "  --time a:b      time steps a (included) to b (excluded); a:, :b, or one index a\n"
    "  --fill V        a value that marks missing entries (besides NaN, _FillValue,\n"
    "                  missing_value and the NetCDF default fill)\n"
    "  --truth         write a truth file (/truth, for dynfill mask / eval); every entry must\n"
    "                  be valid\n"
    "  --format F      auto (default: by content), nc or h5\n";

enum { OPT_IN = 256, OPT_VAR, OPT_OUT, OPT_TIME, OPT_FILL, OPT_TRUTH, OPT_FORMAT };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"in", required_argument, NULL, OPT_IN},
    {"var", required_argument, NULL, OPT_VAR},
    {"out", required_argument, NULL, OPT_OUT},
    {"time", required_argument, NULL, OPT_TIME},
    {"fill", required_argument, NULL, OPT_FILL},
    {"truth", no_argument, NULL, OPT_TRUTH},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* NetCDF classic magic, or HDF5 with the NetCDF-4 marker attribute. */
static dfl_status detect_format(const char *path, int *is_netcdf) {
    FILE *f = fopen(path, "rb");
    if (!f) return dfl_fail(DFL_EUSAGE, "%s: cannot read file (missing or no permission)", path);
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got >= 4 && magic[0] == 'C' && magic[1] == 'D' && magic[2] == 'F' &&
        (magic[3] == 1 || magic[3] == 2 || magic[3] == 5)) {
        *is_netcdf = 1;
        return DFL_OK;
    }
    static const unsigned char h5sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (got == 8 && !memcmp(magic, h5sig, 8)) {
        hid_t h;
        DFL_TRY(dfl_h5_open_read(path, &h));
        *is_netcdf = dfl_h5_attr_exists(h, "_NCProperties");
        H5Fclose(h);
        return DFL_OK;
    }
    return dfl_fail(DFL_EUSAGE, "%s: neither NetCDF nor HDF5 (unknown file signature)", path);
}

int dfl_cmd_import(int argc, char **argv) {
    dfl_import_options o;
    memset(&o, 0, sizeof o);
    o.t1 = -1;
    const char *format = "auto", *name;
    dfl_status st = DFL_OK;
    int c;
    dfl_opt_begin();
    while (st == DFL_OK && (c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': fputs(k_usage, stdout); return 0;
        case OPT_IN: o.in = optarg; break;
        case OPT_OUT: o.out = optarg; break;
        case OPT_VAR: o.vars = optarg; break;
        case OPT_TIME: st = dfl_import_parse_time(optarg, &o.t0, &o.t1); break;
        case OPT_FILL:
            st = dfl_cli_parse_float(name, optarg, &o.fill);
            o.have_fill = 1;
            break;
        case OPT_FORMAT: format = optarg; break;
        case OPT_TRUTH: o.as_truth = 1; break;
        default: st = DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    if (st == DFL_OK) st = dfl_opt_positionals(argc, argv, 0);
    if (st == DFL_OK && !o.in) st = dfl_fail(DFL_EUSAGE, "--in is required");
    if (st == DFL_OK && !o.out) st = dfl_fail(DFL_EUSAGE, "--out is required");
    if (st == DFL_OK && (!o.vars || !*o.vars)) st = dfl_fail(DFL_EUSAGE, "--var is required (e.g. --var z,t)");
    if (st == DFL_OK) st = dfl_data_check_distinct(o.in, o.out);
    int is_netcdf = 0;
    if (st == DFL_OK) {
        if (!strcmp(format, "nc") || !strcmp(format, "netcdf"))
            is_netcdf = 1;
        else if (!strcmp(format, "h5") || !strcmp(format, "hdf5"))
            is_netcdf = 0;
        else if (!strcmp(format, "auto"))
            st = detect_format(o.in, &is_netcdf);
        else
            st = dfl_fail(DFL_EUSAGE, "--format '%s' is unknown (auto, nc, h5)", format);
    }
    dfl_import_source *src = NULL;
    if (st == DFL_OK) st = is_netcdf ? dfl_import_open_netcdf(&o, &src) : dfl_import_open_hdf5(&o, &src);
    if (st == DFL_OK) {
        st = dfl_import_write(src, &o);
        if (st == DFL_OK)
            dfl_info("wrote %s: %s [%lld, %d, %d, %d] from %s (%s)", o.out, o.as_truth ? "/truth" : "/obs, /mask",
                     (long long)src->t, src->c, src->h, src->w, o.in, src->format);
        src->close(src);
    }
    return dfl_cli_exit("import", st);
}
