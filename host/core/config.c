/* INI experiment configuration (include/dynfill/config.h). A single table
 * of keys drives parsing, validation, overrides and serialisation, so a key
 * exists in exactly one place. */
#include "dynfill/config.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_STR, K_INT, K_LONG, K_DOUBLE, K_U64, K_BOOL, K_MULT, K_GRID, K_DURATION } key_kind;

typedef struct {
    const char *section, *name;
    key_kind kind;
    size_t offset;
    size_t size;         /* for strings */
    const char *choices; /* for strings: '|'-separated allowed values, NULL = any */
    double lo, hi;       /* numeric range */
} key_spec;

#define F(field) offsetof(dfl_config, field)
#define STR(sec, key, field, choices)                                                                                  \
    { sec, key, K_STR, F(field), sizeof(((dfl_config *)0)->field), choices, 0, 0 }
#define NUM(sec, key, kind, field, lo, hi)                                                                             \
    { sec, key, kind, F(field), 0, NULL, lo, hi }

static const key_spec k_keys[] = {
    STR("data", "path", data_path, NULL),
    NUM("data", "val_fraction", K_DOUBLE, val_fraction, 0, 0.9),
    NUM("data", "patch", K_INT, patch, 0, 65536),
    NUM("data", "augment_shift", K_BOOL, augment_shift, 0, 1),
    NUM("data", "augment_symmetry", K_BOOL, augment_symmetry, 0, 1),
    STR("data", "climatology", climatology, "auto|mean|none"),
    STR("data", "withhold_cells", withhold_cells, "auto|none"),
    NUM("model", "base", K_INT, base, 8, 4096),
    {"model", "mult", K_MULT, F(mult), 0, NULL, 1, 64},
    NUM("model", "nres", K_INT, nres, 1, 16),
    NUM("model", "attention", K_BOOL, attention, 0, 1),
    STR("model", "periodic", periodic, "none|x|y|xy|auto"),
    STR("model", "input_fill", input_fill, "none|pyramid|spline"),
    STR("model", "channels", channels, "auto|joint|shared"),
    STR("method", "strategy", strategy, "auto|pixel|block|empirical|missdiff|ambient"),
    NUM("method", "context_ratio", K_DOUBLE, context_ratio, 0, 1),
    NUM("method", "query_ratio", K_DOUBLE, query_ratio, 0, 1),
    STR("method", "query", query, "|auto|independent|complement|observed"),
    {"method", "grid", K_GRID, F(grid_h), 0, NULL, 1, 1024},
    NUM("method", "hide", K_INT, hide, 0, 1 << 20),
    NUM("method", "delta", K_DOUBLE, delta, 0, 1),
    NUM("method", "lat_weight", K_BOOL, lat_weight, 0, 1),
    STR("method", "t_sampling", t_sampling, "uniform|low_share|log_uniform|low_share_log"),
    NUM("method", "t_low_share", K_DOUBLE, t_low_share, 0, 1),
    NUM("train", "steps", K_LONG, steps, 0, 1e15),
    NUM("train", "time_budget", K_DURATION, time_budget, 0, 1e9),
    NUM("train", "batch", K_INT, batch, 1, 1 << 20),
    NUM("train", "micro_batch", K_INT, micro_batch, 0, 1 << 20),
    NUM("train", "lr", K_DOUBLE, lr, 0, 1e30),
    NUM("train", "warmup", K_LONG, warmup, 0, 1e15),
    STR("train", "schedule", schedule, "constant|cosine"),
    NUM("train", "weight_decay", K_DOUBLE, weight_decay, 0, 10),
    NUM("train", "clip", K_DOUBLE, clip, 0, 1e30),
    NUM("train", "ema", K_DOUBLE, ema, 0, 1),
    NUM("train", "seed", K_U64, seed, 0, 0),
    NUM("train", "ckpt_every", K_LONG, ckpt_every, 0, 1e15),
    NUM("train", "log_every", K_LONG, log_every, 1, 1e15),
    NUM("train", "val_every", K_LONG, val_every, 0, 1e15),
    STR("train", "backend", backend, "cpu|cuda|auto"),
    STR("train", "precision", precision, "auto|fp32|tf32|bf16"),
    NUM("train", "threads", K_INT, threads, 0, 4096),
    NUM("infer", "K", K_INT, infer_K, 1, 1 << 16),
    NUM("infer", "steps", K_INT, infer_steps, 1, 1 << 16),
    STR("infer", "update", infer_update, "ddim|x0"),
    NUM("infer", "t_eps", K_DOUBLE, infer_t_eps, 1e-6, 1),
    STR("infer", "context", infer_context, "auto|trained|pixel"),
    STR("dist", "comm", dist_comm, "auto|mpi|nccl|none"),
    NUM("dist", "bucket_mb", K_DOUBLE, dist_bucket_mb, 0.001, 4096),
};
#define N_KEYS (sizeof k_keys / sizeof k_keys[0])

void dfl_config_defaults(dfl_config *c) {
    memset(c, 0, sizeof *c);
    c->val_fraction = 0.1;
    c->patch = 0;
    c->base = 32;
    c->mult[0] = 1;
    c->mult[1] = 2;
    c->mult[2] = 2;
    c->levels = 3;
    c->nres = 2;
    c->attention = 0;
    snprintf(c->periodic, sizeof c->periodic, "auto");
    snprintf(c->input_fill, sizeof c->input_fill, "none");
    snprintf(c->climatology, sizeof c->climatology, "none");
    snprintf(c->withhold_cells, sizeof c->withhold_cells, "auto");
    snprintf(c->channels, sizeof c->channels, "auto"); /* chosen from the data (model/channel_choice.h) */
    snprintf(c->strategy, sizeof c->strategy, "auto"); /* chosen from the masks (method/strategy_choice.h) */
    c->context_ratio = 0.8;
    c->query_ratio = 0.7;
    c->grid_h = c->grid_w = 3;
    c->hide = 2; /* the paper's 1 (docs/method.md, "Defaults") */
    c->delta = 0.1;
    snprintf(c->t_sampling, sizeof c->t_sampling, "low_share_log");
    c->t_low_share = 0.9;
    c->steps = 2000;
    c->batch = 16;
    c->micro_batch = 0;
    c->lr = 1e-3;
    c->warmup = 100;
    snprintf(c->schedule, sizeof c->schedule, "cosine");
    c->weight_decay = 0.0;
    c->clip = 1.0;
    c->ema = 0.999;
    c->seed = 0;
    c->ckpt_every = 500;
    c->log_every = 20;
    c->val_every = 200;
    snprintf(c->backend, sizeof c->backend, "cpu");
    snprintf(c->precision, sizeof c->precision, "auto");
    c->infer_K = 10;
    c->infer_steps = 1;
    snprintf(c->infer_update, sizeof c->infer_update, "ddim");
    c->infer_t_eps = 1e-3;
    snprintf(c->infer_context, sizeof c->infer_context, "auto");
    snprintf(c->dist_comm, sizeof c->dist_comm, "auto");
    c->dist_bucket_mb = 25.0;
}

static int choice_ok(const char *choices, const char *v) {
    if (!choices) return 1;
    const char *p = choices;
    size_t n = strlen(v);
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!bar) return 0;
        p = bar + 1;
    }
}

/* Set one key from text; `where` names the origin ("file.ini:12"). */
static dfl_status set_value(dfl_config *c, const key_spec *k, const char *value, const char *where) {
    char *base = (char *)c;
    char *end = NULL;
    errno = 0;
    switch (k->kind) {
    case K_STR:
        if (!choice_ok(k->choices, value))
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = '%s' is not one of %s", where, k->section, k->name, value,
                            k->choices[0] == '|' ? k->choices + 1 : k->choices);
        if (strlen(value) >= k->size)
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s value is too long", where, k->section, k->name);
        snprintf(base + k->offset, k->size, "%s", value);
        return DFL_OK;
    case K_INT:
    case K_LONG:
    case K_BOOL: {
        long v;
        if (k->kind == K_BOOL && (!strcmp(value, "true") || !strcmp(value, "on") || !strcmp(value, "yes")))
            v = 1;
        else if (k->kind == K_BOOL && (!strcmp(value, "false") || !strcmp(value, "off") || !strcmp(value, "no")))
            v = 0;
        else {
            v = strtol(value, &end, 10);
            if (errno || end == value || *end)
                return dfl_fail(DFL_EUSAGE, "%s: %s.%s = '%s' is not an integer", where, k->section, k->name, value);
        }
        if (v < k->lo || v > k->hi)
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = %ld is outside [%.15g, %.15g]", where, k->section, k->name, v,
                            k->lo, k->hi);
        if (k->kind == K_LONG)
            *(long *)(base + k->offset) = v;
        else
            *(int *)(base + k->offset) = (int)v;
        return DFL_OK;
    }
    case K_U64: {
        if (value[0] == '-')
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = '%s' must be a non-negative integer", where, k->section, k->name,
                            value);
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || end == value || *end)
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = '%s' is not an integer", where, k->section, k->name, value);
        *(unsigned long long *)(base + k->offset) = v;
        return DFL_OK;
    }
    case K_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || end == value || *end || v != v)
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = '%s' is not a number", where, k->section, k->name, value);
        if (v < k->lo || v > k->hi)
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = %g is outside [%g, %g]", where, k->section, k->name, v, k->lo,
                            k->hi);
        *(double *)(base + k->offset) = v;
        return DFL_OK;
    }
    case K_MULT: {
        int m[DFL_MAX_LEVELS], n = 0;
        const char *p = value;
        while (*p) {
            if (n == DFL_MAX_LEVELS)
                return dfl_fail(DFL_EUSAGE, "%s: model.mult has more than %d levels", where, DFL_MAX_LEVELS);
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > 64)
                return dfl_fail(DFL_EUSAGE, "%s: model.mult = '%s' must be a comma list of integers in [1, 64]", where,
                                value);
            m[n++] = (int)v;
            p = end;
            while (*p == ' ') ++p;
            if (*p == ',')
                ++p;
            else if (*p)
                return dfl_fail(DFL_EUSAGE, "%s: model.mult = '%s' must be a comma list", where, value);
            while (*p == ' ') ++p;
        }
        if (n == 0) return dfl_fail(DFL_EUSAGE, "%s: model.mult is empty", where);
        memcpy(c->mult, m, sizeof(int) * (size_t)n);
        c->levels = n;
        return DFL_OK;
    }
    case K_DURATION: {
        /* a number with an optional unit s, m, h or d (bare: seconds); 0 = off */
        double v = strtod(value, &end);
        double unit = 1;
        if (!errno && end != value && v == v) {
            if (*end == 's')
                unit = 1, ++end;
            else if (*end == 'm')
                unit = 60, ++end;
            else if (*end == 'h')
                unit = 3600, ++end;
            else if (*end == 'd')
                unit = 86400, ++end;
        }
        if (errno || end == value || *end || v != v)
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = '%s' is not a duration (e.g. 90s, 20m, 6h)", where, k->section,
                            k->name, value);
        v *= unit;
        if (v < k->lo || v > k->hi)
            return dfl_fail(DFL_EUSAGE, "%s: %s.%s = %gs is outside [%gs, %gs]", where, k->section, k->name, v, k->lo,
                            k->hi);
        *(double *)(base + k->offset) = v;
        return DFL_OK;
    }
    case K_GRID: {
        int gh, gw;
        char tail;
        if (sscanf(value, "%dx%d%c", &gh, &gw, &tail) != 2 || gh < 1 || gw < 1 || gh > 1024 || gw > 1024)
            return dfl_fail(DFL_EUSAGE, "%s: method.grid = '%s' must look like 3x3", where, value);
        c->grid_h = gh;
        c->grid_w = gw;
        return DFL_OK;
    }
    }
    return DFL_OK;
}

static const key_spec *find_key(const char *section, const char *name) {
    for (size_t i = 0; i < N_KEYS; ++i)
        if (!strcmp(k_keys[i].section, section) && !strcmp(k_keys[i].name, name)) return &k_keys[i];
    return NULL;
}

static int section_known(const char *section) {
    for (size_t i = 0; i < N_KEYS; ++i)
        if (!strcmp(k_keys[i].section, section)) return 1;
    return 0;
}

/* libinih is driven through ini_parse_stream with our own line reader so
 * that the handler knows the line number of the key it is given (Debian's
 * build has INI_HANDLER_LINENO off). */
typedef struct {
    dfl_config *cfg;
    const char *origin;
    int line;
    dfl_status status;
    FILE *file;       /* either a file ... */
    const char *text; /* ... or a string */
} parse_state;

static char *read_line(char *buf, int size, void *stream) {
    parse_state *st = stream;
    if (st->file) {
        if (!fgets(buf, size, st->file)) return NULL;
    } else {
        if (!st->text || !*st->text) return NULL;
        int n = 0;
        while (n < size - 1 && st->text[n] && st->text[n] != '\n') ++n;
        if (n < size - 1 && st->text[n] == '\n') ++n;
        memcpy(buf, st->text, (size_t)n);
        buf[n] = 0;
        st->text += n;
    }
    st->line++;
    /* A section header is checked here, where its line is known: libinih
     * reports only keys, so an unknown section with no keys would pass. */
    const char *b = buf;
    while (*b == ' ' || *b == '\t') ++b;
    const char *e = *b == '[' ? strchr(b, ']') : NULL;
    if (e && st->status == DFL_OK) {
        char name[64];
        size_t len = (size_t)(e - b - 1);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, b + 1, len);
        name[len] = 0;
        if (!section_known(name)) {
            st->status = dfl_fail(DFL_EUSAGE, "%s:%d: unknown section [%s] (data, model, method, train, infer, dist)",
                                  st->origin, st->line, name);
            return NULL; /* stops the parse */
        }
    }
    return buf;
}

static int on_key(void *user, const char *section, const char *name, const char *value) {
    parse_state *st = user;
    if (st->status != DFL_OK) return 0;
    char where[1200];
    snprintf(where, sizeof where, "%s:%d", st->origin, st->line);
    if (!section_known(section)) {
        st->status = dfl_fail(DFL_EUSAGE, "%s: unknown section [%s]", where, section);
        return 0;
    }
    const key_spec *k = find_key(section, name);
    if (!k) {
        st->status = dfl_fail(DFL_EUSAGE, "%s: unknown key '%s' in section [%s]", where, name, section);
        return 0;
    }
    dfl_status s = set_value(st->cfg, k, value, where);
    if (s != DFL_OK) {
        st->status = s;
        return 0;
    }
    return 1;
}

static dfl_status finish_parse(int rc, parse_state *st) {
    if (st->status != DFL_OK) return st->status;
    if (rc > 0)
        return dfl_fail(DFL_EUSAGE, "%s:%d: malformed line (expected key = value or [section])", st->origin, rc);
    if (rc < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot read config file", st->origin);
    return DFL_OK;
}

dfl_status dfl_config_parse_text(const char *text, const char *origin, dfl_config *cfg) {
    parse_state st = {cfg, origin, 0, DFL_OK, NULL, text};
    int rc = ini_parse_stream(read_line, &st, on_key, &st);
    return finish_parse(rc, &st);
}

dfl_status dfl_config_set(dfl_config *cfg, const char *assignment) {
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq) return dfl_fail(DFL_EUSAGE, "--set '%s': expected section.key=value", assignment);
    char section[64], name[64];
    size_t ls = (size_t)(dot - assignment), ln = (size_t)(eq - dot - 1);
    if (ls >= sizeof section || ln >= sizeof name) return dfl_fail(DFL_EUSAGE, "--set '%s': key too long", assignment);
    memcpy(section, assignment, ls);
    section[ls] = 0;
    memcpy(name, dot + 1, ln);
    name[ln] = 0;
    if (!section_known(section)) return dfl_fail(DFL_EUSAGE, "--set '%s': unknown section [%s]", assignment, section);
    const key_spec *k = find_key(section, name);
    if (!k) return dfl_fail(DFL_EUSAGE, "--set '%s': unknown key '%s' in section [%s]", assignment, name, section);
    return set_value(cfg, k, eq + 1, "--set");
}

dfl_status dfl_config_load(const char *path, int nset, char *const *sets, dfl_config *cfg) {
    dfl_config_defaults(cfg);
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) return dfl_fail(DFL_EUSAGE, "%s: cannot open config file", path);
        parse_state st = {cfg, path, 0, DFL_OK, f, NULL};
        int rc = ini_parse_stream(read_line, &st, on_key, &st);
        fclose(f);
        DFL_TRY(finish_parse(rc, &st));
    }
    for (int i = 0; i < nset; ++i) DFL_TRY(dfl_config_set(cfg, sets[i]));
    return DFL_OK;
}

/* The shortest of %.15g..%.17g that reads back as the same double: 0.05, not
 * 0.050000000000000003, and still exact for a value no one typed. */
static void format_double(char *buf, size_t len, double v, const char *suffix) {
    for (int digits = 15; digits <= 17; ++digits) {
        snprintf(buf, len, "%.*g%s", digits, v, suffix);
        if (strtod(buf, NULL) == v) return;
    }
}

char *dfl_config_to_text(const dfl_config *c) {
    size_t cap = 8192, len = 0;
    char *out = dfl_xmalloc(cap);
    const char *cur = "";
    const char *base = (const char *)c;
    out[0] = 0;
    for (size_t i = 0; i < N_KEYS; ++i) {
        const key_spec *k = &k_keys[i];
        char val[DFL_PATH_MAX + 64];
        switch (k->kind) {
        case K_STR: snprintf(val, sizeof val, "%s", base + k->offset); break;
        case K_INT:
        case K_BOOL: snprintf(val, sizeof val, "%d", *(const int *)(base + k->offset)); break;
        case K_LONG: snprintf(val, sizeof val, "%ld", *(const long *)(base + k->offset)); break;
        case K_U64: snprintf(val, sizeof val, "%llu", *(const unsigned long long *)(base + k->offset)); break;
        case K_DOUBLE: format_double(val, sizeof val, *(const double *)(base + k->offset), ""); break;
        case K_DURATION: format_double(val, sizeof val, *(const double *)(base + k->offset), "s"); break;
        case K_MULT: {
            size_t l = 0;
            for (int j = 0; j < c->levels; ++j)
                l += (size_t)snprintf(val + l, sizeof val - l, j ? ",%d" : "%d", c->mult[j]);
            break;
        }
        case K_GRID: snprintf(val, sizeof val, "%dx%d", c->grid_h, c->grid_w); break;
        }
        char line[DFL_PATH_MAX + 200];
        int n = 0;
        if (strcmp(cur, k->section)) {
            n = snprintf(line, sizeof line, "%s[%s]\n", len ? "\n" : "", k->section);
            cur = k->section;
        }
        n += snprintf(line + n, sizeof line - (size_t)n, "%s = %s\n", k->name, val);
        out = dfl_xgrow(out, &cap, len + (size_t)n + 1, 1);
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    return out;
}
