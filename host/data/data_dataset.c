/* Opening and validating observed datasets, and reading their samples
 * (include/dynfill/data.h, docs/design.md, "Files"). Only /obs and /mask are ever
 * opened here. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_internal.h"
#include "io/h5_util_data.h"

/* Validation reads this many bytes of /obs per step (bounded memory). */
#define SCAN_CHUNK_BYTES (32u << 20)

static void dataset_free(dfl_dataset *ds) {
    if (!ds) return;
    if (ds->mask_memtype >= 0 && ds->mask_memtype != H5T_NATIVE_UCHAR) H5Tclose(ds->mask_memtype);
    if (ds->obs_dset >= 0) H5Dclose(ds->obs_dset);
    if (ds->mask_dset >= 0) H5Dclose(ds->mask_dset);
    if (ds->file >= 0) H5Fclose(ds->file);
    if (ds->map) munmap((void *)ds->map, ds->map_len);
    if (ds->fd >= 0) close(ds->fd);
    dfl_h5_strings_free(ds->channel_store, (size_t)ds->info.c);
    free(ds->mean);
    free(ds->std);
    free(ds->observed_fraction);
    free(ds->lat);
    free(ds->lon);
    free(ds->mean_f);
    free(ds->inv_std_f);
    free(ds->periodic);
    free(ds->symmetry);
    free(ds->mask_pattern);
    free(ds->source);
    free(ds->path);
    free(ds);
}

void dfl_dataset_close(dfl_dataset *ds) { dataset_free(ds); }

const dfl_dataset_info *dfl_dataset_get_info(const dfl_dataset *ds) { return &ds->info; }

static void format_dims(char *buf, size_t len, int rank, const unsigned long long *d) {
    size_t off = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && off < len; ++i)
        off += (size_t)snprintf(buf + off, len - off, "%s%llu", i ? ", " : "", d[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
}

/* Shapes of /obs and /mask and their element types. */
static dfl_status check_shapes(dfl_dataset *ds, int *mask_is_u8) {
    const char *p = ds->path;
    int ro, rm;
    unsigned long long dobs[8], dmask[8];
    DFL_TRY(dfl_h5_dataset_shape(ds->file, p, DFL_OBS_NAME, &ro, dobs));
    DFL_TRY(dfl_h5_dataset_shape(ds->file, p, DFL_MASK_NAME, &rm, dmask));
    H5T_class_t co, cm;
    size_t so, sm;
    int le_o, le_m;
    DFL_TRY(dfl_h5_dataset_type(ds->file, p, DFL_OBS_NAME, &co, &so, &le_o));
    DFL_TRY(dfl_h5_dataset_type(ds->file, p, DFL_MASK_NAME, &cm, &sm, &le_m));
    if (co != H5T_FLOAT && co != H5T_INTEGER)
        return dfl_fail(DFL_EUSAGE, "%s: /obs is not a numeric dataset (expected float32)", p);
    if (cm != H5T_FLOAT && cm != H5T_INTEGER && !(cm == H5T_ENUM && sm == 1))
        return dfl_fail(DFL_EUSAGE, "%s: /mask has an unsupported element type (expected uint8 0/1)", p);
    if (ro != 4 && ro != 3)
        return dfl_fail(DFL_EUSAGE, "%s: /obs has rank %d; expected [N, C, H, W] (or [N, H, W])", p, ro);
    char so_txt[160], sm_txt[160];
    format_dims(so_txt, sizeof so_txt, ro, dobs);
    format_dims(sm_txt, sizeof sm_txt, rm, dmask);
    unsigned long long n = dobs[0], c = ro == 4 ? dobs[1] : 1, h = dobs[ro - 2], w = dobs[ro - 1];
    unsigned long long mc = 0;
    if (rm == ro) mc = ro == 4 ? dmask[1] : 1;
    if (rm != ro || dmask[0] != n || dmask[rm - 2] != h || dmask[rm - 1] != w || (mc != 1 && mc != c))
        return dfl_fail(DFL_EUSAGE,
                        "%s: /obs has shape %s but /mask has shape %s; /mask must be [N, 1 or C, H, W] with the "
                        "N, H, W of /obs",
                        p, so_txt, sm_txt);
    if (n == 0) return dfl_fail(DFL_EUSAGE, "%s: /obs has no samples (N = 0)", p);
    if (c == 0 || h == 0 || w == 0) return dfl_fail(DFL_EUSAGE, "%s: /obs has an empty dimension %s", p, so_txt);
    if (h > (1u << 30) || w > (1u << 30) || c > (1u << 20))
        return dfl_fail(DFL_EUSAGE, "%s: /obs shape %s is too large", p, so_txt);
    ds->rank = ro;
    ds->info.n = (int64_t)n;
    ds->info.c = (int)c;
    ds->info.h = (int)h;
    ds->info.w = (int)w;
    ds->info.mask_c = (int)mc;
    *mask_is_u8 = (cm == H5T_INTEGER || cm == H5T_ENUM) && sm == 1;
    if (cm == H5T_ENUM) {
        /* numpy bool arrays written by h5py: an enum FALSE = 0, TRUE = 1
         * over int8; read its raw values (validated to be 0/1 below). */
        hid_t d = H5Dopen2(ds->file, DFL_MASK_NAME, H5P_DEFAULT);
        hid_t t = H5Dget_type(d);
        ds->mask_memtype = H5Tget_native_type(t, H5T_DIR_ASCEND);
        h5Check(ds->mask_memtype);
        H5Tclose(t);
        H5Dclose(d);
    }
    /* Direct pread path: contiguous little-endian float32 obs and 1-byte mask. */
    if (co == H5T_FLOAT && so == 4 && le_o) ds->obs_offset = dfl_h5_contiguous_offset(ds->file, DFL_OBS_NAME);
    if (*mask_is_u8) ds->mask_offset = dfl_h5_contiguous_offset(ds->file, DFL_MASK_NAME);
    return DFL_OK;
}

static dfl_status read_optional_string(dfl_dataset *ds, const char *name, char **out, const char *fallback) {
    hid_t root = ds->file;
    if (dfl_h5_attr_exists(root, name)) return dfl_h5_attr_read_text(root, ds->path, name, out);
    *out = strdup(fallback);
    return DFL_OK;
}

static dfl_status read_axis(dfl_dataset *ds, const char *name, int len, double **out) {
    *out = NULL;
    if (!dfl_h5_attr_exists(ds->file, name)) return DFL_OK;
    long cnt = dfl_h5_attr_numeric_count(ds->file, name);
    if (cnt != len)
        return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' has %ld values; expected %d (one per %s)", ds->path, name, cnt,
                        len, !strcmp(name, "lat") ? "row" : "column");
    *out = dfl_xmalloc(sizeof(double) * (size_t)len);
    DFL_TRY(dfl_h5_attr_read_doubles(ds->file, ds->path, name, *out, (size_t)len));
    for (int i = 0; i < len; ++i)
        if (!isfinite((*out)[i]))
            return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' has a non-finite value", ds->path, name);
    return DFL_OK;
}

static dfl_status read_attributes(dfl_dataset *ds, int *have_stats) {
    const char *p = ds->path;
    int c = ds->info.c;
    /* channels */
    if (dfl_h5_attr_exists(ds->file, "channels")) {
        char **names;
        size_t n;
        DFL_TRY(dfl_h5_attr_read_names(ds->file, p, "channels", &names, &n));
        if ((int)n != c) {
            dfl_h5_strings_free(names, n);
            return dfl_fail(DFL_EUSAGE, "%s: attribute 'channels' has %zu names but /obs has %d channels", p, n, c);
        }
        ds->channel_store = names;
    } else {
        ds->channel_store = dfl_xcalloc((size_t)c, sizeof(char *));
        for (int i = 0; i < c; ++i) {
            char buf[32];
            snprintf(buf, sizeof buf, "ch%d", i);
            ds->channel_store[i] = strdup(buf);
        }
    }
    /* mean / std */
    int has_mean = dfl_h5_attr_exists(ds->file, "mean"), has_std = dfl_h5_attr_exists(ds->file, "std");
    ds->mean = dfl_xcalloc((size_t)c, sizeof(double));
    ds->std = dfl_xcalloc((size_t)c, sizeof(double));
    if (has_mean != has_std)
        return dfl_fail(DFL_EUSAGE, "%s: attribute '%s' is present but '%s' is missing", p, has_mean ? "mean" : "std",
                        has_mean ? "std" : "mean");
    *have_stats = has_mean && has_std;
    if (*have_stats) {
        long nm = dfl_h5_attr_numeric_count(ds->file, "mean"), ns = dfl_h5_attr_numeric_count(ds->file, "std");
        if (nm != c || ns != c)
            return dfl_fail(DFL_EUSAGE,
                            "%s: attributes 'mean'/'std' have %ld/%ld values; expected %d (one per channel)", p, nm, ns,
                            c);
        DFL_TRY(dfl_h5_attr_read_doubles(ds->file, p, "mean", ds->mean, (size_t)c));
        DFL_TRY(dfl_h5_attr_read_doubles(ds->file, p, "std", ds->std, (size_t)c));
        for (int i = 0; i < c; ++i) {
            if (!isfinite(ds->mean[i]))
                return dfl_fail(DFL_EUSAGE, "%s: attribute 'mean' of channel %d is not finite", p, i);
            if (!isfinite(ds->std[i]) || !(ds->std[i] > 0))
                return dfl_fail(DFL_EUSAGE, "%s: attribute 'std' of channel %d is %g; must be finite and > 0", p, i,
                                ds->std[i]);
        }
    }
    /* periodic, mask_pattern, source */
    DFL_TRY(read_optional_string(ds, "periodic", &ds->periodic, "none"));
    DFL_TRY(dfl_data_parse_periodic(p, ds->periodic, &ds->info.periodic_x, &ds->info.periodic_y));
    DFL_TRY(read_optional_string(ds, "mask_pattern", &ds->mask_pattern, ""));
    DFL_TRY(read_optional_string(ds, "source", &ds->source, ""));
    ds->info.has_symmetry = dfl_h5_attr_exists(ds->file, "symmetry");
    DFL_TRY(read_optional_string(ds, "symmetry", &ds->symmetry, ""));
    DFL_TRY(dfl_data_parse_symmetry(p, ds->symmetry, ds->info.h, ds->info.w, ds->info.periodic_x, ds->info.periodic_y,
                                    &ds->info.sym));
    DFL_TRY(read_axis(ds, "lat", ds->info.h, &ds->lat));
    DFL_TRY(read_axis(ds, "lon", ds->info.w, &ds->lon));
    return DFL_OK;
}

/* Largest mask value and number of ones in a plane (vectorisable). */
static size_t count_mask(const uint8_t *restrict m, size_t n, uint8_t *max_value) {
    size_t ones = 0;
    uint8_t mx = 0;
    for (size_t i = 0; i < n; ++i) {
        ones += m[i] == 1;
        mx = m[i] > mx ? m[i] : mx;
    }
    *max_value = mx;
    return ones;
}

/* Whether every observed value of a plane is finite (vectorisable: a
 * finite float has a non-all-ones exponent). */
static int observed_finite(const float *restrict x, const uint8_t *restrict m, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        bad |= (m[i] != 0) & ((bits & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

static dfl_status check_crop(const dfl_dataset *ds, int64_t sample, int c0, int c, int y0, int x0, int ph, int pw,
                             const float *obs, const uint8_t *mask);

/* One pass over every sample: mask values, finiteness, non-empty samples,
 * observed fractions and (when absent) mean/std. */
static dfl_status scan(dfl_dataset *ds, int mask_is_u8, int have_stats) {
    const char *p = ds->path;
    const int c = ds->info.c, mc = ds->info.mask_c;
    const size_t hw = (size_t)ds->info.h * (size_t)ds->info.w;
    const size_t per_obs = (size_t)c * hw, per_mask = (size_t)mc * hw;
    int64_t chunk = (int64_t)(SCAN_CHUNK_BYTES / (per_obs * sizeof(float)));
    if (chunk < 1) chunk = 1;
    if (chunk > ds->info.n) chunk = ds->info.n;
    float *obs = dfl_xmalloc(sizeof(float) * per_obs * (size_t)chunk);
    uint8_t *mask = dfl_xmalloc(per_mask * (size_t)chunk);
    float *maskf = mask_is_u8 ? NULL : dfl_xmalloc(sizeof(float) * per_mask * (size_t)chunk);
    dfl_moments *mom = dfl_xcalloc((size_t)c, sizeof *mom);
    double *observed = dfl_xcalloc((size_t)c, sizeof(double));
    dfl_status st = DFL_OK;
    for (int64_t s0 = 0; s0 < ds->info.n && st == DFL_OK; s0 += chunk) {
        int64_t k = ds->info.n - s0 < chunk ? ds->info.n - s0 : chunk;
        st = dfl_h5_read_float_rows(ds->file, p, DFL_OBS_NAME, (unsigned long long)s0, (unsigned long long)k, obs);
        if (st != DFL_OK) break;
        if (mask_is_u8) {
            unsigned long long start[4] = {(unsigned long long)s0, 0, 0, 0};
            unsigned long long count[4] = {(unsigned long long)k, (unsigned long long)mc,
                                           (unsigned long long)ds->info.h, (unsigned long long)ds->info.w};
            if (ds->rank == 3) count[1] = (unsigned long long)ds->info.h, count[2] = (unsigned long long)ds->info.w;
            st = dfl_h5_read_box(ds->file, p, DFL_MASK_NAME, ds->mask_memtype, ds->rank, start, count, mask);
        } else {
            /* Non-uint8 masks are read as float so that 0.5 or -1 cannot
             * silently convert to 0/1. */
            st = dfl_h5_read_float_rows(ds->file, p, DFL_MASK_NAME, (unsigned long long)s0, (unsigned long long)k,
                                        maskf);
            for (size_t i = 0; st == DFL_OK && i < per_mask * (size_t)k; ++i) {
                float v = maskf[i];
                if (v != 0.0f && v != 1.0f) {
                    size_t s = i / per_mask, r = i % per_mask;
                    st =
                        dfl_fail(DFL_EUSAGE,
                                 "%s: /mask has value %g at sample %lld, channel %zu, row %zu, column %zu; mask values "
                                 "must be 0 or 1",
                                 p, (double)v, (long long)(s0 + (int64_t)s), r / hw, (r % hw) / (size_t)ds->info.w,
                                 r % (size_t)ds->info.w);
                }
                mask[i] = v != 0.0f;
            }
        }
        if (st != DFL_OK) break;
        for (int64_t s = 0; s < k && st == DFL_OK; ++s) {
            const float *x = obs + (size_t)s * per_obs;
            const uint8_t *m = mask + (size_t)s * per_mask;
            /* the same checks a lazily opened dataset makes on each read */
            st = check_crop(ds, s0 + s, 0, ds->info.c, 0, 0, ds->info.h, ds->info.w, x, m);
            for (int ch = 0; ch < c && st == DFL_OK; ++ch) {
                const float *xc = x + (size_t)ch * hw;
                const uint8_t *mch = m + (size_t)(mc == 1 ? 0 : ch) * hw;
                uint8_t unused;
                const size_t cnt = count_mask(mch, hw, &unused);
                observed[ch] += (double)cnt;
                if (!have_stats) {
                    dfl_moments part = {0, 0, 0};
                    dfl_moments_add_values(&part, xc, mch, hw);
                    dfl_moments_merge(&mom[ch], &part);
                }
            }
        }
    }
    if (st == DFL_OK) {
        double total = (double)ds->info.n * (double)hw;
        for (int ch = 0; ch < c; ++ch) {
            ds->observed_fraction[ch] = observed[ch] / total;
            if (!have_stats) {
                if (mom[ch].n == 0) {
                    st = dfl_fail(DFL_EUSAGE, "%s: channel %d (%s) has no observed entry in any sample", p, ch,
                                  ds->channel_store[ch]);
                    break;
                }
                ds->mean[ch] = mom[ch].mean;
                ds->std[ch] = dfl_moments_std(&mom[ch]);
            }
        }
    }
    free(obs);
    free(mask);
    free(maskf);
    free(mom);
    free(observed);
    return st;
}

static dfl_status open_dataset(const char *path, int lazy, dfl_dataset **out) {
    *out = NULL;
    dfl_dataset *ds = dfl_xcalloc(1, sizeof *ds);
    ds->file = -1;
    ds->fd = -1;
    ds->obs_offset = ds->mask_offset = -1;
    ds->obs_dset = ds->mask_dset = -1;
    ds->mask_memtype = H5T_NATIVE_UCHAR;
    ds->path = strdup(path);
    dfl_status st = dfl_h5_open_read(path, &ds->file);
    if (st != DFL_OK) {
        ds->file = -1;
        dataset_free(ds);
        return st;
    }
    int mask_is_u8 = 0, have_stats = 0;
    st = check_shapes(ds, &mask_is_u8);
    if (st == DFL_OK) st = read_attributes(ds, &have_stats);
    if (st == DFL_OK) {
        ds->observed_fraction = dfl_xcalloc((size_t)ds->info.c, sizeof(double));
        if (lazy && have_stats && mask_is_u8) {
            ds->check_on_read = 1;
            for (int ch = 0; ch < ds->info.c; ++ch) ds->observed_fraction[ch] = NAN;
        } else {
            st = scan(ds, mask_is_u8, have_stats);
        }
    }
    if (st != DFL_OK) {
        dataset_free(ds);
        return st;
    }
    if (dfl_dataset_direct(ds)) {
        /* Direct reads: only when both datasets lie inside the file as it
         * is now (a file truncated at rest keeps going through HDF5, which
         * reports it). The whole file is mapped read-only: samples are
         * copied from the page cache without a system call each. */
        const size_t plane = (size_t)ds->info.h * (size_t)ds->info.w;
        const uint64_t obs_end = (uint64_t)ds->obs_offset + (uint64_t)ds->info.n * ds->info.c * plane * 4;
        const uint64_t mask_end = (uint64_t)ds->mask_offset + (uint64_t)ds->info.n * ds->info.mask_c * plane;
        struct stat sb;
        ds->fd = open(path, O_RDONLY);
        if (ds->fd < 0 || fstat(ds->fd, &sb) != 0 || obs_end > (uint64_t)sb.st_size ||
            mask_end > (uint64_t)sb.st_size) {
            ds->obs_offset = ds->mask_offset = -1;
        } else if (sb.st_size > 0) {
            void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, ds->fd, 0);
            if (m != MAP_FAILED) {
                ds->map = m;
                ds->map_len = (size_t)sb.st_size;
            }
        }
    }
    if (!dfl_dataset_direct(ds)) {
        /* Through HDF5 (chunked, compressed, big-endian, ...): keep both
         * datasets open with a chunk cache of one sample, so that a crop
         * decompresses its sample's chunk once (docs/data.md, "The training
         * loader"). */
        const size_t plane = (size_t)ds->info.h * (size_t)ds->info.w;
        st = dfl_h5_open_cached(ds->file, path, DFL_OBS_NAME, (size_t)ds->info.c * plane * sizeof(float) + 4096,
                                &ds->obs_dset);
        if (st == DFL_OK)
            st = dfl_h5_open_cached(ds->file, path, DFL_MASK_NAME, (size_t)ds->info.mask_c * plane * 8 + 4096,
                                    &ds->mask_dset);
        if (st != DFL_OK) {
            dataset_free(ds);
            return st;
        }
    }
    hbool_t ts = 0;
    H5is_library_threadsafe(&ts);
    ds->hdf5_threadsafe = ts ? 1 : 0;
    int c = ds->info.c;
    ds->mean_f = dfl_xmalloc(sizeof(float) * (size_t)c);
    ds->inv_std_f = dfl_xmalloc(sizeof(float) * (size_t)c);
    for (int i = 0; i < c; ++i) {
        ds->mean_f[i] = (float)ds->mean[i];
        ds->inv_std_f[i] = (float)(1.0 / ds->std[i]);
    }
    dfl_dataset_info *in = &ds->info;
    in->path = ds->path;
    in->periodic = ds->periodic;
    in->symmetry = ds->symmetry;
    in->channels = (const char *const *)ds->channel_store;
    in->mean = ds->mean;
    in->std = ds->std;
    in->stats_from_file = have_stats;
    in->observed_fraction = ds->observed_fraction;
    in->mask_pattern = ds->mask_pattern;
    in->source = ds->source;
    in->lat = ds->lat;
    in->lon = ds->lon;
    *out = ds;
    return DFL_OK;
}

dfl_status dfl_dataset_open(const char *path, dfl_dataset **out) { return open_dataset(path, 0, out); }

dfl_status dfl_dataset_open_lazy(const char *path, dfl_dataset **out) { return open_dataset(path, 1, out); }

/* ---- reading ---- */

size_t dfl_dataset_crop_scratch_bytes(const dfl_dataset *ds, int ph) {
    return sizeof(float) * (size_t)ph * (size_t)ds->info.w;
}

static dfl_status pread_full(const dfl_dataset *ds, void *buf, size_t bytes, int64_t offset) {
    if (ds->map) {
        DFL_ASSERT((uint64_t)offset + bytes <= ds->map_len);
        memcpy(buf, ds->map + offset, bytes);
        return DFL_OK;
    }
    char *b = buf;
    while (bytes > 0) {
        ssize_t got = pread(ds->fd, b, bytes, (off_t)offset);
        if (got <= 0)
            return dfl_fail(DFL_EUSAGE, "%s: read failed at byte %lld (file truncated or changed while in use)",
                            ds->path, (long long)offset);
        b += got;
        bytes -= (size_t)got;
        offset += got;
    }
    return DFL_OK;
}

/* Rows [y0, y0+ph) of channel planes [c0, c0+nch) of sample `sample` (of
 * c_all planes), element size `es`, dataset at `base`; columns [x0, x0+pw)
 * copied to out. */
static dfl_status direct_crop(const dfl_dataset *ds, int64_t base, size_t es, int c_all, int c0, int nch,
                              int64_t sample, int y0, int x0, int ph, int pw, void *out, void *scratch) {
    const size_t W = (size_t)ds->info.w, H = (size_t)ds->info.h;
    const size_t plane = H * W * es;
    const int64_t sample_off = base + (int64_t)(((size_t)sample * (size_t)c_all + (size_t)c0) * plane);
    if (y0 == 0 && x0 == 0 && (size_t)ph == H && (size_t)pw == W)
        return pread_full(ds, out, plane * (size_t)nch, sample_off);
    char *o = out;
    if (ds->map) { /* straight from the mapping, row by row */
        for (int ch = 0; ch < nch; ++ch)
            for (int y = 0; y < ph; ++y) {
                const int64_t off =
                    sample_off + (int64_t)((size_t)ch * plane + ((size_t)(y0 + y) * W + (size_t)x0) * es);
                DFL_TRY(
                    pread_full(ds, o + ((size_t)ch * (size_t)ph + (size_t)y) * (size_t)pw * es, (size_t)pw * es, off));
            }
        return DFL_OK;
    }
    for (int ch = 0; ch < nch; ++ch) {
        int64_t off = sample_off + (int64_t)((size_t)ch * plane + (size_t)y0 * W * es);
        if ((size_t)pw == W) {
            DFL_TRY(pread_full(ds, o + (size_t)ch * (size_t)ph * W * es, (size_t)ph * W * es, off));
            continue;
        }
        DFL_TRY(pread_full(ds, scratch, (size_t)ph * W * es, off));
        const char *s = scratch;
        for (int y = 0; y < ph; ++y)
            memcpy(o + ((size_t)ch * (size_t)ph + (size_t)y) * (size_t)pw * es, s + ((size_t)y * W + (size_t)x0) * es,
                   (size_t)pw * es);
    }
    return DFL_OK;
}

/* The checks of the full pass (scan) on one crop of channels [c0, c0+c)
 * read by a lazily opened dataset (mask: the shared plane, or those c
 * channels'): mask values, finite observed values, and, for a whole field
 * of every channel or of the shared mask, at least one observed entry. */
static dfl_status check_crop(const dfl_dataset *ds, int64_t sample, int c0, int c, int y0, int x0, int ph, int pw,
                             const float *obs, const uint8_t *mask) {
    const size_t hw = (size_t)ph * (size_t)pw;
    const int shared_mask = ds->info.mask_c == 1;
    const int mc = shared_mask ? 1 : c, mask_c0 = shared_mask ? 0 : c0;
    uint8_t mmax;
    const size_t nobs = count_mask(mask, (size_t)mc * hw, &mmax);
    if (mmax > 1)
        for (size_t i = 0; i < (size_t)mc * hw; ++i)
            if (mask[i] > 1)
                return dfl_fail(DFL_EUSAGE,
                                "%s: /mask has value %d at sample %lld, channel %zu, row %zu, column %zu; mask values "
                                "must be 0 or 1",
                                ds->path, mask[i], (long long)sample, (size_t)mask_c0 + i / hw,
                                (size_t)y0 + (i % hw) / (size_t)pw, (size_t)x0 + i % (size_t)pw);
    if (nobs == 0 && ph == ds->info.h && pw == ds->info.w && (shared_mask || c == ds->info.c))
        return dfl_fail(DFL_EUSAGE, "%s: sample %lld has no observed entry (its /mask is all 0)", ds->path,
                        (long long)sample);
    if (!obs) return DFL_OK;
    for (int ch = 0; ch < c; ++ch) {
        const float *xc = obs + (size_t)ch * hw;
        const uint8_t *mch = mask + (size_t)(mc == 1 ? 0 : ch) * hw;
        if (observed_finite(xc, mch, hw)) continue;
        for (size_t i = 0; i < hw; ++i)
            if (mch[i] && !isfinite(xc[i]))
                return dfl_fail(DFL_EUSAGE,
                                "%s: /obs has a non-finite value (%g) at observed entry: sample %lld, channel %d, row "
                                "%zu, column %zu",
                                ds->path, (double)xc[i], (long long)sample, c0 + ch, (size_t)y0 + i / (size_t)pw,
                                (size_t)x0 + i % (size_t)pw);
    }
    return DFL_OK;
}

static dfl_status read_crop(const dfl_dataset *ds, int64_t sample, int c0, int nch, int y0, int x0, int ph, int pw,
                            float *obs, uint8_t *mask, void *scratch);

dfl_status dfl_dataset_read_crop(const dfl_dataset *ds, int64_t sample, int y0, int x0, int ph, int pw, float *obs,
                                 uint8_t *mask, void *scratch) {
    DFL_TRY(read_crop(ds, sample, 0, ds->info.c, y0, x0, ph, pw, obs, mask, scratch));
    if (ds->check_on_read && mask) DFL_TRY(check_crop(ds, sample, 0, ds->info.c, y0, x0, ph, pw, obs, mask));
    return DFL_OK;
}

dfl_status dfl_dataset_read_crop_channel(const dfl_dataset *ds, int64_t sample, int ch, int y0, int x0, int ph, int pw,
                                         float *obs, uint8_t *mask, void *scratch) {
    DFL_ASSERT(ch >= 0 && ch < ds->info.c);
    DFL_TRY(read_crop(ds, sample, ch, 1, y0, x0, ph, pw, obs, mask, scratch));
    if (ds->check_on_read && mask) DFL_TRY(check_crop(ds, sample, ch, 1, y0, x0, ph, pw, obs, mask));
    return DFL_OK;
}

/* Channels [c0, c0+nch) of /obs; of /mask the shared plane, or the same channels. */
static dfl_status read_crop(const dfl_dataset *ds, int64_t sample, int c0, int nch, int y0, int x0, int ph, int pw,
                            float *obs, uint8_t *mask, void *scratch) {
    DFL_ASSERT(sample >= 0 && sample < ds->info.n && y0 >= 0 && x0 >= 0 && y0 + ph <= ds->info.h &&
               x0 + pw <= ds->info.w && c0 >= 0 && nch >= 1 && c0 + nch <= ds->info.c);
    const int shared_mask = ds->info.mask_c == 1;
    const int mask_c0 = shared_mask ? 0 : c0, mask_nch = shared_mask ? 1 : nch;
    if (dfl_dataset_direct(ds) && ds->fd >= 0) {
        if (obs)
            DFL_TRY(direct_crop(ds, ds->obs_offset, sizeof(float), ds->info.c, c0, nch, sample, y0, x0, ph, pw, obs,
                                scratch));
        if (mask)
            DFL_TRY(direct_crop(ds, ds->mask_offset, 1, ds->info.mask_c, mask_c0, mask_nch, sample, y0, x0, ph, pw,
                                mask, scratch));
        return DFL_OK;
    }
    unsigned long long start[4], count[4];
    int r = ds->rank;
    start[0] = (unsigned long long)sample;
    count[0] = 1;
    if (r == 4) {
        start[1] = (unsigned long long)c0;
        count[1] = (unsigned long long)nch;
    }
    start[r - 2] = (unsigned long long)y0;
    count[r - 2] = (unsigned long long)ph;
    start[r - 1] = (unsigned long long)x0;
    count[r - 1] = (unsigned long long)pw;
    if (obs)
        DFL_TRY(dfl_h5_read_box_dset(ds->obs_dset, ds->path, DFL_OBS_NAME, H5T_NATIVE_FLOAT, r, start, count, obs));
    if (mask) {
        if (r == 4) {
            start[1] = (unsigned long long)mask_c0;
            count[1] = (unsigned long long)mask_nch;
        }
        DFL_TRY(dfl_h5_read_box_dset(ds->mask_dset, ds->path, DFL_MASK_NAME, ds->mask_memtype, r, start, count, mask));
    }
    return DFL_OK;
}

/* x = m ? (x - mean) * inv_std : 0 over one plane; restrict lets the
 * compiler vectorise (a uint8_t pointer may otherwise alias the floats). */
static void normalise_plane(float *restrict x, const uint8_t *restrict m, size_t n, float mean, float inv) {
    /* Select with a bit mask rather than ?: so that GCC (which may not
     * speculate float arithmetic under -ftrapping-math) vectorises it. */
    for (size_t i = 0; i < n; ++i) {
        const float v = (x[i] - mean) * inv;
        uint32_t bits;
        memcpy(&bits, &v, 4);
        bits &= 0u - (uint32_t)(m[i] != 0);
        memcpy(&x[i], &bits, 4);
    }
}

void dfl_dataset_normalise_channel(const dfl_dataset *ds, int ch, int ph, int pw, float *obs, const uint8_t *mask) {
    normalise_plane(obs, mask, (size_t)ph * (size_t)pw, ds->mean_f[ch], ds->inv_std_f[ch]);
}

void dfl_dataset_normalise_masked(const dfl_dataset *ds, int64_t count, int ph, int pw, float *obs,
                                  const uint8_t *mask) {
    const int c = ds->info.c, mc = ds->info.mask_c;
    const size_t plane = (size_t)ph * (size_t)pw;
    for (int64_t s = 0; s < count; ++s)
        for (int ch = 0; ch < c; ++ch)
            normalise_plane(obs + ((size_t)s * (size_t)c + (size_t)ch) * plane,
                            mask + ((size_t)s * (size_t)mc + (size_t)(mc == 1 ? 0 : ch)) * plane, plane, ds->mean_f[ch],
                            ds->inv_std_f[ch]);
}

dfl_status dfl_dataset_read_samples(const dfl_dataset *ds, int64_t start, int64_t count, float *obs, uint8_t *mask) {
    if (start < 0 || count < 0 || start + count > ds->info.n)
        return dfl_fail(DFL_EUSAGE, "%s: samples [%lld, %lld) are outside [0, %lld)", ds->path, (long long)start,
                        (long long)(start + count), (long long)ds->info.n);
    const int h = ds->info.h, w = ds->info.w;
    const size_t per_obs = (size_t)ds->info.c * (size_t)h * (size_t)w;
    const size_t per_mask = (size_t)ds->info.mask_c * (size_t)h * (size_t)w;
    /* Normalising needs the mask even when the caller does not want it. */
    uint8_t *m = mask;
    uint8_t *own = NULL;
    if (!m && obs) m = own = dfl_xmalloc(per_mask);
    dfl_status st = DFL_OK;
    for (int64_t s = 0; s < count && st == DFL_OK; ++s) {
        float *o = obs ? obs + (size_t)s * per_obs : NULL;
        uint8_t *mm = own ? own : (m ? m + (size_t)s * per_mask : NULL);
        st = dfl_dataset_read_crop(ds, start + s, 0, 0, h, w, o, mm, NULL);
        if (st == DFL_OK && o) dfl_dataset_normalise_masked(ds, 1, h, w, o, mm);
    }
    free(own);
    return st;
}

void dfl_dataset_normalise(const dfl_dataset *ds, int64_t count, float *x) {
    const size_t plane = (size_t)ds->info.h * (size_t)ds->info.w;
    for (int64_t s = 0; s < count; ++s)
        for (int ch = 0; ch < ds->info.c; ++ch) {
            float *p = x + ((size_t)s * (size_t)ds->info.c + (size_t)ch) * plane;
            const float mean = ds->mean_f[ch], inv = ds->inv_std_f[ch];
            for (size_t i = 0; i < plane; ++i) p[i] = (p[i] - mean) * inv;
        }
}

void dfl_dataset_denormalise(const dfl_dataset *ds, int64_t count, float *x) {
    const size_t plane = (size_t)ds->info.h * (size_t)ds->info.w;
    for (int64_t s = 0; s < count; ++s)
        for (int ch = 0; ch < ds->info.c; ++ch) {
            float *p = x + ((size_t)s * (size_t)ds->info.c + (size_t)ch) * plane;
            const double mean = ds->mean[ch], sd = ds->std[ch];
            for (size_t i = 0; i < plane; ++i) p[i] = (float)((double)p[i] * sd + mean);
        }
}

dfl_status dfl_dataset_split_range(const dfl_dataset *ds, double val_fraction, dfl_split split, int64_t *start,
                                   int64_t *count) {
    const int64_t n = ds->info.n;
    if (!(val_fraction >= 0 && val_fraction < 1))
        return dfl_fail(DFL_EUSAGE, "data.val_fraction %g is outside [0, 1)", val_fraction);
    int64_t nval = (int64_t)llround(val_fraction * (double)n);
    if (val_fraction > 0 && nval < 1) nval = 1;
    if (nval > n - 1) nval = n - 1;
    switch (split) {
    case DFL_SPLIT_ALL:
        *start = 0;
        *count = n;
        break;
    case DFL_SPLIT_TRAIN:
        *start = 0;
        *count = n - nval;
        break;
    case DFL_SPLIT_VAL:
        *start = n - nval;
        *count = nval;
        break;
    default: DFL_PANIC("unknown split %d", (int)split);
    }
    if (*count <= 0)
        return dfl_fail(DFL_EUSAGE, "%s: the %s split is empty (N = %lld, val_fraction = %g)", ds->path,
                        split == DFL_SPLIT_VAL ? "validation" : "training", (long long)n, val_fraction);
    return DFL_OK;
}

const char *dfl_dataset_read_mode(const dfl_dataset *ds) {
    return ds->map ? "mmap" : dfl_dataset_direct(ds) ? "direct pread" : "HDF5 hyperslab";
}
