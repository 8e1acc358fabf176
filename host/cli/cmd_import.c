/* `dynfill import`: NetCDF (classic, NetCDF-4; ERA5 as downloaded), GRIB
 * (ERA5's native format) or plain HDF5 arrays with NaN / fill values as
 * missing -> a dynfill dataset (/obs, /mask, mean/std of valid entries) or,
 * with --truth, a truth file (docs/design.md, "Files"). */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "data/data_write.h"
#include "import/import.h"
#include "io/h5_util_data.h"

static const char k_usage[] =
    "usage: dynfill import --in FILE --var a,b --out obs.h5 [options]\n\n"
    "Convert gridded fields to a dynfill dataset: /obs [T, C, H, W] (missing entries 0), /mask\n"
    "(1 = valid; one channel when every variable is missing at the same places, else one per\n"
    "channel), attributes channels, mean/std of valid entries, periodic (\"x\" when the longitude\n"
    "axis covers the globe), lat/lon, source, mask_pattern.\n\n"
    "  --in FILE       NetCDF classic or NetCDF-4 (axes recognised by CF attributes: optional\n"
    "                  time, optional vertical (one channel per level, named var@level),\n"
    "                  latitude, longitude), GRIB 1/2 on a regular lat/lon grid (time axis: the\n"
    "                  validity times; pressure and model levels one channel each, var@level),\n"
    "                  or HDF5 with datasets [T, H, W] / [T, K, H, W] /\n"
    "                  [H, W]. Repeat --in, or give a glob ('era5_*.nc'), for several files:\n"
    "                  they are joined along time in time order (a gap, an overlap or another\n"
    "                  grid is an error)\n"
    "  --levels a,b    keep these vertical levels (values of the level axis or GRIB level,\n"
    "                  e.g. 500,850)\n"
    "  --var a,b       variables (NetCDF), shortNames (GRIB: t,z,2t,msl) or dataset names\n"
    "                  (HDF5) to import, in channel order\n"
    "  --out PATH      output file\n"
    "  --time a:b      time steps a (included) to b (excluded); a:, :b, or one index a\n"
    "  --sample-dim D  NetCDF: take dimension D (e.g. month, number, member) as the time axis,\n"
    "                  one sample per index, where the file has no time axis\n"
    "  --fill V        a value that marks missing entries (besides NaN, _FillValue,\n"
    "                  missing_value, the NetCDF default fill and GRIB bitmaps)\n"
    "  --truth         write a truth file (/truth, for dynfill mask / eval); every entry must\n"
    "                  be valid\n"
    "  --format F      auto (default: by content), nc, h5 or grib\n"
    "  --symmetry S    symmetries of the data's distribution, written as the attribute `symmetry`\n"
    "                  for data.augment_shift / augment_symmetry: a comma list of shift_x[:P]\n"
    "                  (needs a global longitude), flip_x, flip_y, rot180 (default: none)\n" DFL_LAYOUT_USAGE;

enum {
    OPT_IN = 256,
    OPT_LEVELS,
    OPT_VAR,
    OPT_OUT,
    OPT_TIME,
    OPT_FILL,
    OPT_TRUTH,
    OPT_FORMAT,
    OPT_LAYOUT,
    OPT_COMPRESS,
    OPT_SYMMETRY,
    OPT_SAMPLE_DIM
};
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"in", required_argument, NULL, OPT_IN},
    {"levels", required_argument, NULL, OPT_LEVELS},
    {"var", required_argument, NULL, OPT_VAR},
    {"out", required_argument, NULL, OPT_OUT},
    {"time", required_argument, NULL, OPT_TIME},
    {"fill", required_argument, NULL, OPT_FILL},
    {"truth", no_argument, NULL, OPT_TRUTH},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"symmetry", required_argument, NULL, OPT_SYMMETRY},
    {"sample-dim", required_argument, NULL, OPT_SAMPLE_DIM},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Adds the files of one --in argument: a path, or a glob pattern (sorted
 * matches; a pattern without a match is an error). */
static dfl_status add_inputs(const char *arg, char ***list, int *n, size_t *cap) {
    if (!strpbrk(arg, "*?[")) {
        *list = dfl_xgrow(*list, cap, (size_t)*n + 1, sizeof **list);
        (*list)[(*n)++] = strdup(arg);
        return DFL_OK;
    }
    glob_t g;
    if (glob(arg, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        globfree(&g);
        return dfl_fail(DFL_EUSAGE, "option --in: no file matches '%s'", arg);
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) {
        *list = dfl_xgrow(*list, cap, (size_t)*n + 1, sizeof **list);
        (*list)[(*n)++] = strdup(g.gl_pathv[i]);
    }
    globfree(&g);
    return DFL_OK;
}

int dfl_cmd_import(int argc, char **argv) {
    dfl_import_options o;
    memset(&o, 0, sizeof o);
    o.t1 = -1;
    const char *name;
    o.format = "auto";
    char **inputs = NULL;
    int n_inputs = 0;
    size_t inputs_cap = 0;
    dfl_status st = DFL_OK;
    int c;
    const char *layout = NULL, *compress = NULL;
    dfl_opt_begin();
    while (st == DFL_OK && (c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': fputs(k_usage, stdout); return 0;
        case OPT_IN: st = add_inputs(optarg, &inputs, &n_inputs, &inputs_cap); break;
        case OPT_LEVELS: o.levels = optarg; break;
        case OPT_OUT: o.out = optarg; break;
        case OPT_VAR: o.vars = optarg; break;
        case OPT_TIME: st = dfl_import_parse_time(optarg, &o.t0, &o.t1); break;
        case OPT_FILL:
            st = dfl_cli_parse_float(name, optarg, &o.fill);
            o.have_fill = 1;
            break;
        case OPT_FORMAT: o.format = optarg; break;
        case OPT_TRUTH: o.as_truth = 1; break;
        case OPT_LAYOUT: layout = optarg; break;
        case OPT_COMPRESS: compress = optarg; break;
        case OPT_SYMMETRY: o.symmetry = optarg; break;
        case OPT_SAMPLE_DIM: o.sample_dim = optarg; break;
        default: st = DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    if (st == DFL_OK) st = dfl_opt_positionals(argc, argv, 0);
    if (st == DFL_OK) st = dfl_data_parse_layout(layout, compress, &o.layout);
    o.inputs = (const char *const *)inputs;
    o.n_inputs = n_inputs;
    if (st == DFL_OK && !n_inputs) st = dfl_fail(DFL_EUSAGE, "--in is required");
    if (st == DFL_OK && !o.out) st = dfl_fail(DFL_EUSAGE, "--out is required");
    if (st == DFL_OK && (!o.vars || !*o.vars)) st = dfl_fail(DFL_EUSAGE, "--var is required (e.g. --var z,t)");
    for (int i = 0; st == DFL_OK && i < n_inputs; ++i) st = dfl_data_check_distinct(inputs[i], o.out);
    dfl_import_source *src = NULL;
    if (st == DFL_OK) st = dfl_import_open(&o, &src);
    if (st == DFL_OK) {
        st = dfl_import_write(src, &o);
        if (st == DFL_OK)
            dfl_info("wrote %s: %s [%lld, %d, %d, %d] from %d file%s (%s)", o.out,
                     o.as_truth ? "/truth" : "/obs, /mask", (long long)src->t, src->c, src->h, src->w, n_inputs,
                     n_inputs > 1 ? "s" : "", src->format);
        src->close(src);
    }
    for (int i = 0; i < n_inputs; ++i) free(inputs[i]);
    free(inputs);
    return dfl_cli_exit("import", st);
}
