/* `dynfill import`: NetCDF (classic, NetCDF-4; ERA5 as downloaded) or
 * plain HDF5 arrays with NaN / fill values as missing -> a dynfill dataset
 * (/obs, /mask, mean/std of valid entries) or, with --truth, a truth file
 * (DESIGN.md §4). */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "data/data_write.h"
#include "io/h5_util_data.h"
#include "import/import.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: dynfill import --in FILE --var a,b --out obs.h5 [options]\n\n"
            "Convert gridded fields to a dynfill dataset: /obs [T, C, H, W] (missing entries 0), /mask\n"
            "(1 = valid; one channel when every variable is missing at the same places, else one per\n"
            "channel), attributes channels, mean/std of valid entries, periodic (\"x\" when the longitude\n"
            "axis covers the globe), lat/lon, source, mask_pattern.\n\n"
            "  --in FILE       NetCDF classic or NetCDF-4 (axes recognised by CF attributes: optional\n"
            "                  time, optional vertical (one channel per level, named var@level),\n"
            "                  latitude, longitude), or HDF5 with datasets [T, H, W] / [T, K, H, W] /\n"
            "                  [H, W]. Repeat --in, or give a glob ('era5_*.nc'), for several files:\n"
            "                  they are joined along time in time order (a gap, an overlap or another\n"
            "                  grid is an error)\n"
            "  --levels a,b    keep these vertical levels (values of the level axis, e.g. 500,850)\n"
            "  --var a,b       variables (NetCDF) or dataset names (HDF5) to import, in channel order\n"
            "  --out PATH      output file\n"
            "  --time a:b      time steps a (included) to b (excluded); a:, :b, or one index a\n"
            "  --fill V        a value that marks missing entries (besides NaN, _FillValue,\n"
            "                  missing_value and the NetCDF default fill)\n"
            "  --truth         write a truth file (/truth, for dynfill mask / eval); every entry must\n"
            "                  be valid\n"
            "  --format F      auto (default: by content), nc or h5\n");
}

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
    if (dfl_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    dfl_import_options o;
    memset(&o, 0, sizeof o);
    o.t1 = -1;
    o.format = "auto";
    char **inputs = NULL;
    int n_inputs = 0;
    size_t inputs_cap = 0;
    dfl_status st = DFL_OK;
    for (int i = 1; i < argc && st == DFL_OK; ++i) {
        const char *v;
        if (dfl_cli_take(argc, argv, &i, "--in", &v)) {
            if (!v) st = DFL_EUSAGE;
            else st = add_inputs(v, &inputs, &n_inputs, &inputs_cap);
        } else if (dfl_cli_take(argc, argv, &i, "--levels", &v)) {
            if (!v) st = DFL_EUSAGE;
            o.levels = v;
        } else if (dfl_cli_take(argc, argv, &i, "--out", &v)) {
            if (!v) st = DFL_EUSAGE;
            o.out = v;
        } else if (dfl_cli_take(argc, argv, &i, "--var", &v)) {
            if (!v) st = DFL_EUSAGE;
            o.vars = v;
        } else if (dfl_cli_take(argc, argv, &i, "--time", &v)) {
            if (!v) st = DFL_EUSAGE;
            else st = dfl_import_parse_time(v, &o.t0, &o.t1);
        } else if (dfl_cli_take(argc, argv, &i, "--fill", &v)) {
            if (!v) st = DFL_EUSAGE;
            else st = dfl_cli_parse_float("--fill", v, &o.fill);
            o.have_fill = 1;
        } else if (dfl_cli_take(argc, argv, &i, "--format", &v)) {
            if (!v) st = DFL_EUSAGE;
            o.format = v;
        } else if (!strcmp(argv[i], "--truth")) {
            o.as_truth = 1;
        } else {
            st = dfl_fail(DFL_EUSAGE, "unknown option '%s' (see dynfill import --help)", argv[i]);
        }
    }
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
            dfl_info("wrote %s: %s [%lld, %d, %d, %d] from %d file%s (%s)", o.out, o.as_truth ? "/truth" : "/obs, /mask",
                     (long long)src->t, src->c, src->h, src->w, n_inputs, n_inputs > 1 ? "s" : "", src->format);
        src->close(src);
    }
    for (int i = 0; i < n_inputs; ++i) free(inputs[i]);
    free(inputs);
    return dfl_cli_exit("import", st);
}
