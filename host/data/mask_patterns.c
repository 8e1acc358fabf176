/* Observation mask patterns (host/data/mask.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "io/h5_util_data.h"
#include "mask.h"
#include "shared/philox.h"

#define MAX_ATTEMPTS 1000

struct dfl_mask_sampler {
    dfl_mask_pattern pat;
    int64_t n;
    int c, h, w, mc;
    uint64_t seed;
    int32_t *station_cells; /* stations: cell index y*w + x */
    /* file pattern */
    hid_t file;
    int64_t file_n;
    int file_rank;
};

/* ---- parsing ---- */

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

static int parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

/* Split `text` at ':' into at most `max` fields (modifies buf). */
static int split_fields(char *buf, char **fields, int max) {
    int n = 0;
    char *p = buf;
    while (n < max) {
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon) break;
        *colon = 0;
        p = colon + 1;
    }
    return n;
}

dfl_status dfl_mask_pattern_parse(const char *text, dfl_mask_pattern *out) {
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return dfl_fail(DFL_EUSAGE, "mask pattern is empty (pixel:p, block:GHxGW:k, stations:n[:dropout], "
                                    "swath:width:coverage[:angle], file:PATH)");
    if (!strncmp(text, "file:", 5)) {
        out->kind = DFL_MASK_FILE;
        if (!text[5]) return dfl_fail(DFL_EUSAGE, "mask pattern '%s': file: needs a path", text);
        snprintf(out->path, sizeof out->path, "%s", text + 5);
        snprintf(out->text, sizeof out->text, "file:%s", out->path);
        return DFL_OK;
    }
    char buf[512];
    if (strlen(text) >= sizeof buf) return dfl_fail(DFL_EUSAGE, "mask pattern is too long");
    snprintf(buf, sizeof buf, "%s", text);
    char *f[6];
    int nf = split_fields(buf, f, 6);
    const char *kind = f[0];
    if (!strcmp(kind, "pixel")) {
        out->kind = DFL_MASK_PIXEL;
        if (nf != 2 || !parse_double(f[1], &out->p))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': expected pixel:p with p the observed fraction", text);
        if (!(out->p > 0 && out->p <= 1))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': p = %g must be in (0, 1]", text, out->p);
        snprintf(out->text, sizeof out->text, "pixel:%g", out->p);
    } else if (!strcmp(kind, "block")) {
        out->kind = DFL_MASK_BLOCK;
        long k;
        char *x = nf == 3 ? strchr(f[1], 'x') : NULL;
        long gh = 0, gw = 0;
        if (x) {
            *x = 0;
            if (!parse_long(f[1], &gh) || !parse_long(x + 1, &gw)) x = NULL;
        }
        if (!x || !parse_long(f[2], &k))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': expected block:GHxGW:k (e.g. block:3x3:8)", text);
        if (gh < 1 || gw < 1 || gh > 100000 || gw > 100000)
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': the block grid must be at least 1x1", text);
        if (k < 1 || k > gh * gw)
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': k = %ld observed blocks must be in [1, %ld]", text, k,
                            gh * gw);
        out->gh = (int)gh;
        out->gw = (int)gw;
        out->k = (int)k;
        snprintf(out->text, sizeof out->text, "block:%dx%d:%d", out->gh, out->gw, out->k);
    } else if (!strcmp(kind, "stations")) {
        out->kind = DFL_MASK_STATIONS;
        if ((nf != 2 && nf != 3) || !parse_long(f[1], &out->stations) ||
            (nf == 3 && !parse_double(f[2], &out->dropout)))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': expected stations:n[:dropout] (e.g. stations:200:0.1)",
                            text);
        if (out->stations < 1) return dfl_fail(DFL_EUSAGE, "mask pattern '%s': n must be >= 1", text);
        if (!(out->dropout >= 0 && out->dropout < 1))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': dropout %g must be in [0, 1)", text, out->dropout);
        snprintf(out->text, sizeof out->text, "stations:%ld:%g", out->stations, out->dropout);
    } else if (!strcmp(kind, "swath")) {
        out->kind = DFL_MASK_SWATH;
        if ((nf != 3 && nf != 4) || !parse_double(f[1], &out->width) || !parse_double(f[2], &out->coverage) ||
            (nf == 4 && !parse_double(f[3], &out->angle)))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': expected swath:width:coverage[:angle] (e.g. swath:4:0.3)",
                            text);
        if (!(out->width > 0 && out->width < 1e9))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': width %g must be > 0 cells", text, out->width);
        if (!(out->coverage > 0 && out->coverage <= 1))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': coverage %g must be in (0, 1]", text, out->coverage);
        if (!(out->angle > -90 && out->angle < 90))
            return dfl_fail(DFL_EUSAGE, "mask pattern '%s': angle %g must be in (-90, 90) degrees", text, out->angle);
        snprintf(out->text, sizeof out->text, "swath:%g:%g:%g", out->width, out->coverage, out->angle);
    } else {
        return dfl_fail(DFL_EUSAGE,
                        "mask pattern '%s': unknown kind '%s' (pixel:p, block:GHxGW:k, stations:n[:dropout], "
                        "swath:width:coverage[:angle], file:PATH)",
                        text, kind);
    }
    return DFL_OK;
}

/* ---- sampling ---- */

/* Uniform (0,1) number `idx` of a stream, using all four Philox lanes. */
static inline float uniform_at(uint64_t seed, uint64_t stream, uint64_t idx) {
    return dfl_bits_to_u01(dfl_rng_bits(seed, stream, idx >> 2).v[idx & 3]);
}

static inline uint64_t below(uint64_t seed, uint64_t stream, uint64_t idx, uint64_t m) {
    dfl_philox_u4 b = dfl_rng_bits(seed, stream, idx);
    uint64_t r = ((uint64_t)b.v[1] << 32) | b.v[0];
    return (uint64_t)(((unsigned __int128)r * m) >> 64);
}

static dfl_status open_mask_file(dfl_mask_sampler *s) {
    const char *p = s->pat.path;
    DFL_TRY(dfl_h5_open_read(p, &s->file));
    int rank;
    unsigned long long d[8];
    DFL_TRY(dfl_h5_dataset_shape(s->file, p, DFL_MASK_NAME, &rank, d));
    if (rank != 3 && rank != 4)
        return dfl_fail(DFL_EUSAGE, "%s: /mask has rank %d; expected [N, 1 or C, H, W]", p, rank);
    unsigned long long mc = rank == 4 ? d[1] : 1;
    if (d[rank - 2] != (unsigned long long)s->h || d[rank - 1] != (unsigned long long)s->w)
        return dfl_fail(DFL_EUSAGE, "%s: /mask fields are %llux%llu but the data is %dx%d", p, d[rank - 2], d[rank - 1],
                        s->h, s->w);
    if (mc != 1 && mc != (unsigned long long)s->c)
        return dfl_fail(DFL_EUSAGE, "%s: /mask has %llu channels; expected 1 or %d", p, mc, s->c);
    if (d[0] == 0) return dfl_fail(DFL_EUSAGE, "%s: /mask has no samples", p);
    s->file_n = (int64_t)d[0];
    s->file_rank = rank;
    s->mc = (int)mc;
    return DFL_OK;
}

dfl_status dfl_mask_sampler_create(const dfl_mask_pattern *p, int64_t n, int c, int h, int w, int per_channel,
                                   uint64_t seed, dfl_mask_sampler **out) {
    *out = NULL;
    dfl_mask_sampler *s = dfl_xcalloc(1, sizeof *s);
    s->pat = *p;
    s->n = n;
    s->c = c;
    s->h = h;
    s->w = w;
    s->mc = per_channel ? c : 1;
    s->seed = seed;
    s->file = -1;
    dfl_status st = DFL_OK;
    const long cells = (long)h * (long)w;
    switch (p->kind) {
    case DFL_MASK_BLOCK:
        if (p->gh > h || p->gw > w)
            st = dfl_fail(DFL_EUSAGE, "mask pattern '%s': a %dx%d block grid is finer than the %dx%d field", p->text,
                          p->gh, p->gw, h, w);
        break;
    case DFL_MASK_STATIONS:
        if (p->stations > cells) {
            st = dfl_fail(DFL_EUSAGE, "mask pattern '%s': %ld stations but the field has only %ld cells", p->text,
                          p->stations, cells);
            break;
        }
        {
            /* Partial Fisher-Yates over the cells: the first n are the stations. */
            int32_t *all = dfl_xmalloc(sizeof(int32_t) * (size_t)cells);
            for (long i = 0; i < cells; ++i) all[i] = (int32_t)i;
            const uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_STATIONS, 0, 0);
            for (long i = 0; i < p->stations; ++i) {
                long j = i + (long)below(seed, stream, (uint64_t)i, (uint64_t)(cells - i));
                int32_t t = all[i];
                all[i] = all[j];
                all[j] = t;
            }
            s->station_cells = all;
        }
        break;
    case DFL_MASK_FILE: st = open_mask_file(s); break;
    default: break;
    }
    if (st != DFL_OK) {
        dfl_mask_sampler_destroy(s);
        return st;
    }
    *out = s;
    return DFL_OK;
}

int dfl_mask_sampler_channels(const dfl_mask_sampler *s) { return s->mc; }

/* One channel's mask for (sample, attempt): writes plane [h*w], returns
 * the number of observed cells. */
static long draw_channel(const dfl_mask_sampler *s, int64_t sample, int attempt, int ch, uint8_t *m) {
    const dfl_mask_pattern *p = &s->pat;
    const int h = s->h, w = s->w;
    const size_t plane = (size_t)h * (size_t)w;
    const uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_MASK, (uint32_t)sample, (uint32_t)attempt);
    long count = 0;
    switch (p->kind) {
    case DFL_MASK_PIXEL: {
        const uint64_t base = (uint64_t)ch * plane;
        const float pf = (float)p->p;
        for (size_t i = 0; i < plane; ++i) {
            m[i] = uniform_at(s->seed, stream, base + i) < pf;
            count += m[i];
        }
        break;
    }
    case DFL_MASK_BLOCK: {
        const int G = p->gh * p->gw;
        int *order = dfl_xmalloc(sizeof(int) * (size_t)G);
        for (int i = 0; i < G; ++i) order[i] = i;
        const uint64_t base = (uint64_t)ch * (uint64_t)G;
        for (int i = 0; i < p->k; ++i) {
            int j = i + (int)below(s->seed, stream, base + (uint64_t)i, (uint64_t)(G - i));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        memset(m, 0, plane);
        const int bh = h / p->gh, bw = w / p->gw;
        for (int i = 0; i < p->k; ++i) {
            const int by = order[i] / p->gw, bx = order[i] % p->gw;
            const int y0 = by * bh, y1 = by == p->gh - 1 ? h : y0 + bh;
            const int x0 = bx * bw, x1 = bx == p->gw - 1 ? w : x0 + bw;
            for (int y = y0; y < y1; ++y) memset(m + (size_t)y * w + x0, 1, (size_t)(x1 - x0));
            count += (long)(y1 - y0) * (x1 - x0);
        }
        free(order);
        break;
    }
    case DFL_MASK_STATIONS: {
        memset(m, 0, plane);
        const uint64_t base = (uint64_t)ch * (uint64_t)p->stations;
        const float drop = (float)p->dropout;
        for (long k = 0; k < p->stations; ++k) {
            if (drop > 0 && uniform_at(s->seed, stream, base + (uint64_t)k) < drop) continue;
            m[s->station_cells[k]] = 1;
            ++count;
        }
        break;
    }
    case DFL_MASK_SWATH: {
        /* Observed where (x + tan(angle) y + phase) mod period < width,
         * period = width / coverage, at cell centres. */
        const double period = p->width / p->coverage;
        const double phase = period * (double)uniform_at(s->seed, stream, (uint64_t)ch);
        const double slope = tan(p->angle * M_PI / 180.0);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                double u = fmod((double)x + 0.5 + slope * ((double)y + 0.5) + phase, period);
                if (u < 0) u += period;
                const uint8_t v = u < p->width;
                m[(size_t)y * w + x] = v;
                count += v;
            }
        break;
    }
    case DFL_MASK_FILE: DFL_PANIC("file masks are not drawn");
    }
    return count;
}

static dfl_status read_file_masks(dfl_mask_sampler *s, int64_t first, int64_t count, uint8_t *out) {
    const size_t per = (size_t)s->mc * (size_t)s->h * (size_t)s->w;
    const char *p = s->pat.path;
    float *tmp = dfl_xmalloc(sizeof(float) * per);
    dfl_status st = DFL_OK;
    for (int64_t i = 0; i < count && st == DFL_OK; ++i) {
        const int64_t src = (first + i) % s->file_n;
        st = dfl_h5_read_float_rows(s->file, p, DFL_MASK_NAME, (unsigned long long)src, 1, tmp);
        size_t observed = 0;
        for (size_t k = 0; st == DFL_OK && k < per; ++k) {
            if (tmp[k] != 0.0f && tmp[k] != 1.0f) {
                st = dfl_fail(DFL_EUSAGE, "%s: /mask has value %g in sample %lld; mask values must be 0 or 1", p,
                              (double)tmp[k], (long long)src);
                break;
            }
            out[(size_t)i * per + k] = tmp[k] != 0.0f;
            observed += tmp[k] != 0.0f;
        }
        if (st == DFL_OK && observed == 0)
            st = dfl_fail(DFL_EUSAGE, "%s: sample %lld has no observed entry (its /mask is all 0)", p, (long long)src);
    }
    free(tmp);
    return st;
}

dfl_status dfl_mask_sampler_draw(dfl_mask_sampler *s, int64_t first, int64_t count, uint8_t *out) {
    if (s->pat.kind == DFL_MASK_FILE) return read_file_masks(s, first, count, out);
    const size_t plane = (size_t)s->h * (size_t)s->w;
    int64_t failed = -1;
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < count; ++i) {
        const int64_t sample = first + i;
        uint8_t *m = out + (size_t)i * (size_t)s->mc * plane;
        int ok = 0;
        for (int attempt = 0; attempt < MAX_ATTEMPTS && !ok; ++attempt) {
            long total = 0;
            for (int ch = 0; ch < s->mc; ++ch) total += draw_channel(s, sample, attempt, ch, m + (size_t)ch * plane);
            ok = total > 0;
        }
        if (!ok) {
#pragma omp critical(dfl_mask_failed)
            if (failed < 0 || sample < failed) failed = sample;
        }
    }
    if (failed >= 0)
        return dfl_fail(DFL_EUSAGE,
                        "mask pattern '%s' observed nothing in sample %lld after %d draws; observe more entries",
                        s->pat.text, (long long)failed, MAX_ATTEMPTS);
    return DFL_OK;
}

void dfl_mask_sampler_destroy(dfl_mask_sampler *s) {
    if (!s) return;
    if (s->file >= 0) H5Fclose(s->file);
    free(s->station_cells);
    free(s);
}
