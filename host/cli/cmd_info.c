/* `dynfill info FILE.h5`: datasets with shapes and types, root attributes,
 * and for an observed dataset its validation result and observed fraction
 * per channel (docs/design.md, "Command line"). Works on dataset, truth, prediction and
 * checkpoint files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "data/data_write.h"
#include "io/h5_util_data.h"
#include "train/train_channels_auto.h"
#include "train/train_strategy_auto.h"

static const char k_usage[] = "usage: dynfill info FILE.h5\n\n"
                              "Print the datasets (shape, type) and attributes of a dynfill file. For an observed\n"
                              "dataset (/obs, /mask) also validate it as training would and print the observed\n"
                              "fraction, mean and std per channel, and the context strategy method.strategy = auto\n"
                              "would train with (for the default 3x3 block grid) and whether model.channels = auto\n"
                              "would read the channels jointly or with one shared network; an invalid dataset exits 2\n"
                              "naming the problem.\n"
                              "For /truth and /pred print per-channel mean, std, min, max.\n";

static const char k_short[] = "h";
static const struct option k_options[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    char name[512];
    char type[32];
    char layout[32]; /* "  chunked", "  chunked, deflate 4" or "" (contiguous) */
    int rank;
    unsigned long long dims[8];
} entry;

typedef struct {
    entry *items;
    size_t n, cap;
} entry_list;

static void type_name(hid_t t, char *buf, size_t len) {
    H5T_class_t cls = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (cls == H5T_FLOAT)
        snprintf(buf, len, "float%zu", sz * 8);
    else if (cls == H5T_INTEGER)
        snprintf(buf, len, "%s%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int", sz * 8);
    else if (cls == H5T_STRING)
        snprintf(buf, len, "string");
    else if (cls == H5T_ENUM)
        snprintf(buf, len, "enum");
    else
        snprintf(buf, len, "other");
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *data) {
    if (info->type != H5O_TYPE_DATASET) return 0;
    entry_list *l = data;
    l->items = dfl_xgrow(l->items, &l->cap, l->n + 1, sizeof *l->items);
    entry *e = &l->items[l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "/%s", name);
    hid_t ds = H5Dopen2(obj, name, H5P_DEFAULT);
    if (ds < 0) return 0;
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    type_name(t, e->type, sizeof e->type);
    e->rank = H5Sget_simple_extent_ndims(sp);
    if (e->rank > 8) e->rank = 8;
    hsize_t d[8];
    if (e->rank > 0) H5Sget_simple_extent_dims(sp, d, NULL);
    for (int i = 0; i < e->rank; ++i) e->dims[i] = d[i];
    dfl_h5_layout lay;
    if (dfl_h5_get_layout(obj, "", e->name, &lay) == DFL_OK && lay.chunked) {
        if (lay.deflate)
            snprintf(e->layout, sizeof e->layout, "  chunked, deflate %d", lay.deflate);
        else
            snprintf(e->layout, sizeof e->layout, "  chunked");
    }
    dfl_clear_error();
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(ds);
    return 0;
}

static void print_shape(const entry *e) {
    printf("[");
    for (int i = 0; i < e->rank; ++i) printf("%s%llu", i ? ", " : "", e->dims[i]);
    printf("]");
}

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *data) {
    (void)ainfo;
    (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t t = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(t);
    H5Tclose(t);
    hid_t sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Aclose(a);
    printf("  %-20s ", name);
    if (cls == H5T_STRING) {
        char **items;
        size_t k;
        if (dfl_h5_attr_read_strings(loc, "", name, &items, &k) == DFL_OK) {
            for (size_t i = 0; i < k; ++i) printf("%s%s", i ? ", " : "", items[i]);
            dfl_h5_strings_free(items, k);
        } else {
            dfl_clear_error();
            printf("(unreadable string)");
        }
    } else if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && n > 0) {
        double *v = dfl_xmalloc(sizeof(double) * (size_t)n);
        if (dfl_h5_attr_read_doubles(loc, "", name, v, (size_t)n) == DFL_OK) {
            const hssize_t show = n > 8 ? 4 : n;
            for (hssize_t i = 0; i < show; ++i) printf("%s%.6g", i ? ", " : "", v[i]);
            if (n > 8) printf(", ... , %.6g (%lld values)", v[n - 1], (long long)n);
        } else {
            dfl_clear_error();
        }
        free(v);
    } else {
        printf("(%lld values)", (long long)n);
    }
    printf("\n");
    return 0;
}

/* Per-channel mean/std of a [N, C, H, W] float dataset, streamed. */
static dfl_status channel_stats(hid_t f, const char *path, const entry *e) {
    if (e->rank != 4 && e->rank != 3) return DFL_OK;
    const int64_t n = (int64_t)e->dims[0];
    const int c = e->rank == 4 ? (int)e->dims[1] : 1;
    const size_t plane = (size_t)e->dims[e->rank - 2] * (size_t)e->dims[e->rank - 1], per = (size_t)c * plane;
    if (n == 0 || per == 0) return DFL_OK;
    int64_t chunk = (int64_t)((16u << 20) / (per * sizeof(float)));
    if (chunk < 1) chunk = 1;
    float *x = dfl_xmalloc(sizeof(float) * per * (size_t)(chunk < n ? chunk : n));
    dfl_moments *mom = dfl_xcalloc((size_t)c, sizeof *mom);
    double *lo = dfl_xmalloc(sizeof(double) * (size_t)c), *hi = dfl_xmalloc(sizeof(double) * (size_t)c);
    for (int ch = 0; ch < c; ++ch) lo[ch] = INFINITY, hi[ch] = -INFINITY;
    dfl_status st = DFL_OK;
    for (int64_t s0 = 0; s0 < n && st == DFL_OK; s0 += chunk) {
        const int64_t k = n - s0 < chunk ? n - s0 : chunk;
        st = dfl_h5_read_float_rows(f, path, e->name, (unsigned long long)s0, (unsigned long long)k, x);
        for (int64_t s = 0; st == DFL_OK && s < k; ++s)
            for (int ch = 0; ch < c; ++ch) {
                const float *p = x + (size_t)s * per + (size_t)ch * plane;
                dfl_moments part = {0, 0, 0};
                dfl_moments_add_values(&part, p, NULL, plane);
                dfl_moments_merge(&mom[ch], &part);
                for (size_t i = 0; i < plane; ++i) {
                    if (p[i] < lo[ch]) lo[ch] = p[i];
                    if (p[i] > hi[ch]) hi[ch] = p[i];
                }
            }
    }
    if (st == DFL_OK) {
        printf("%s per channel:\n", e->name);
        for (int ch = 0; ch < c; ++ch)
            printf("  channel %-3d mean %-12.6g std %-12.6g min %-12.6g max %.6g\n", ch, mom[ch].mean,
                   mom[ch].n > 0 ? sqrt(mom[ch].m2 / mom[ch].n) : 0.0, lo[ch], hi[ch]);
    }
    free(x);
    free(mom);
    free(lo);
    free(hi);
    return st;
}

static dfl_status describe(const char *path) {
    hid_t f;
    DFL_TRY(dfl_h5_open_read(path, &f));
    entry_list l = {0};
    h5Check(H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit, &l));
    printf("%s\n", path);
    printf("datasets:\n");
    if (l.n <= 40) {
        for (size_t i = 0; i < l.n; ++i) {
            printf("  %-24s %-8s ", l.items[i].name, l.items[i].type);
            print_shape(&l.items[i]);
            printf("%s\n", l.items[i].layout);
        }
    } else {
        /* Checkpoints: summarise by top-level group. */
        for (size_t i = 0; i < l.n;) {
            const char *slash = strchr(l.items[i].name + 1, '/');
            size_t glen = slash ? (size_t)(slash - l.items[i].name) : strlen(l.items[i].name);
            size_t j = i;
            unsigned long long values = 0;
            while (j < l.n && !strncmp(l.items[j].name, l.items[i].name, glen) &&
                   (l.items[j].name[glen] == '/' || l.items[j].name[glen] == 0)) {
                unsigned long long v = 1;
                for (int r = 0; r < l.items[j].rank; ++r) v *= l.items[j].dims[r];
                values += v;
                ++j;
            }
            printf("  %-24.*s %zu datasets, %llu values\n", (int)glen, l.items[i].name, j - i, values);
            i = j;
        }
    }
    printf("attributes:\n");
    hsize_t idx = 0;
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, print_attr, NULL);
    dfl_status st = DFL_OK;
    for (size_t i = 0; i < l.n && st == DFL_OK; ++i)
        if (!strcmp(l.items[i].name, "/truth") || !strcmp(l.items[i].name, "/pred"))
            st = channel_stats(f, path, &l.items[i]);
    int is_dataset = dfl_h5_has(f, DFL_OBS_NAME) || (dfl_h5_has(f, DFL_MASK_NAME) && !dfl_h5_has(f, "/pred"));
    H5Fclose(f);
    free(l.items);
    if (st != DFL_OK || !is_dataset) return st;
    /* An observed dataset: validate exactly as training would. */
    dfl_dataset *ds;
    DFL_TRY(dfl_dataset_open(path, &ds));
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    printf("dataset: N %lld, C %d, H %d, W %d, mask channels %d, periodic %s%s\n", (long long)in->n, in->c, in->h,
           in->w, in->mask_c, in->periodic, in->lat && in->lon ? ", lat/lon grid" : "");
    for (int ch = 0; ch < in->c; ++ch)
        printf("  %-16s observed %6.2f%%  mean %-12.6g std %-12.6g%s\n", in->channels[ch],
               100.0 * in->observed_fraction[ch], in->mean[ch], in->std[ch], in->stats_from_file ? "" : " (computed)");
    printf("valid: yes\n");
    char why[384];
    dfl_train_choose_strategy(ds, 3, 3, why, sizeof why); /* the default method.grid */
    printf("method.strategy = auto would train with %s\n", why);
    dfl_train_choose_channels(ds, why, sizeof why);
    printf("model.channels = auto would train %s\n", why);
    dfl_dataset_close(ds);
    return DFL_OK;
}

int dfl_cmd_info(int argc, char **argv) {
    const char *name;
    dfl_opt_begin();
    int c = dfl_opt_next(argc, argv, k_short, k_options, &name); /* -h is its only option */
    if (c == 'h') {
        fputs(k_usage, stdout);
        return 0;
    }
    if (c != -1) return dfl_cli_exit("info", DFL_EUSAGE); /* '?': dfl_opt_next recorded the message */
    if (argc - optind != 1)
        return dfl_cli_exit("info", dfl_fail(DFL_EUSAGE, "expected one file (dynfill info FILE.h5)"));
    return dfl_cli_exit("info", describe(argv[optind]));
}
