/* Reading RUN_DIR/metrics.jsonl for the loss curve (host/plot.h). Each
 * line is one flat JSON object such as
 *   {"step": 100, "loss": 0.123, "val_loss": 0.2, "lr": 0.001}
 * Nested values are skipped; NaN/Infinity tokens (which some writers emit)
 * read as non-finite numbers and those points are left out. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_figures.h"

void dfl_series_free(dfl_series *s) {
    free(s->step);
    free(s->value);
    memset(s, 0, sizeof *s);
}

void dfl_series_push(dfl_series *s, double step, double value) {
    while (s->count > 0 && s->step[s->count - 1] >= step) --s->count;
    if (s->count == s->capacity) {
        s->capacity = s->capacity ? 2 * s->capacity : 256;
        s->step = realloc(s->step, (size_t)s->capacity * sizeof *s->step);
        s->value = realloc(s->value, (size_t)s->capacity * sizeof *s->value);
        if (!s->step || !s->value) DFL_PANIC("out of memory");
    }
    s->step[s->count] = step;
    s->value[s->count] = value;
    ++s->count;
}

typedef struct {
    const char *p;
} cursor;

static void skip_ws(cursor *c) {
    while (*c->p && isspace((unsigned char)*c->p)) ++c->p;
}

/* A JSON string; copies up to len-1 bytes of its (unescaped) text. */
static int parse_string(cursor *c, char *out, size_t len) {
    if (*c->p != '"') return 0;
    ++c->p;
    size_t k = 0;
    while (*c->p && *c->p != '"') {
        char ch = *c->p++;
        if (ch == '\\') {
            if (!*c->p) return 0;
            ch = *c->p++;
            if (ch == 'u') { /* keep \uXXXX out of keys we care about */
                for (int i = 0; i < 4; ++i)
                    if (!isxdigit((unsigned char)*c->p++)) return 0;
                ch = '?';
            }
        }
        if (k + 1 < len) out[k++] = ch;
    }
    if (*c->p != '"') return 0;
    ++c->p;
    if (len) out[k] = 0;
    return 1;
}

/* Skip a nested object or array, respecting strings. */
static int skip_nested(cursor *c) {
    int depth = 0;
    do {
        if (*c->p == '"') {
            char dummy[1];
            if (!parse_string(c, dummy, 0)) return 0;
            continue;
        }
        if (!*c->p) return 0;
        if (*c->p == '{' || *c->p == '[') ++depth;
        if (*c->p == '}' || *c->p == ']') --depth;
        ++c->p;
    } while (depth > 0);
    return 1;
}

/* A value; *number is set (and *is_number = 1) for numbers. */
static int parse_value(cursor *c, double *number, int *is_number) {
    *is_number = 0;
    const char *p = c->p;
    if (*p == '"') {
        char dummy[1];
        return parse_string(c, dummy, 0);
    }
    if (*p == '{' || *p == '[') return skip_nested(c);
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; ++i)
        if (!strncmp(p, words[i], strlen(words[i]))) {
            c->p += strlen(words[i]);
            return 1;
        }
    static const char *const nonfinite[] = {"NaN", "nan", "-NaN", "-nan", "Infinity", "-Infinity", "inf", "-inf"};
    for (int i = 0; i < 8; ++i)
        if (!strncmp(p, nonfinite[i], strlen(nonfinite[i]))) {
            c->p += strlen(nonfinite[i]);
            *number = NAN;
            *is_number = 1;
            return 1;
        }
    if (*p != '-' && !isdigit((unsigned char)*p)) return 0;
    char *end = NULL;
    errno = 0;
    *number = strtod(p, &end);
    if (end == p) return 0;
    c->p = end;
    *is_number = 1;
    return 1;
}

typedef struct {
    int has_step, has_loss, has_val;
    double step, loss, val;
} metrics_line;

static int parse_line(const char *text, metrics_line *out) {
    cursor c = {text};
    memset(out, 0, sizeof *out);
    skip_ws(&c);
    if (*c.p != '{') return 0;
    ++c.p;
    skip_ws(&c);
    if (*c.p == '}') {
        ++c.p;
    } else {
        for (;;) {
            char key[64];
            skip_ws(&c);
            if (!parse_string(&c, key, sizeof key)) return 0;
            skip_ws(&c);
            if (*c.p != ':') return 0;
            ++c.p;
            skip_ws(&c);
            double v = 0.0;
            int is_number = 0;
            if (!parse_value(&c, &v, &is_number)) return 0;
            if (is_number && !strcmp(key, "step")) out->has_step = 1, out->step = v;
            if (is_number && !strcmp(key, "loss")) out->has_loss = 1, out->loss = v;
            if (is_number && !strcmp(key, "val_loss")) out->has_val = 1, out->val = v;
            skip_ws(&c);
            if (*c.p == ',') {
                ++c.p;
                continue;
            }
            if (*c.p == '}') {
                ++c.p;
                break;
            }
            return 0;
        }
    }
    skip_ws(&c);
    return *c.p == 0;
}

dfl_status dfl_plot_read_metrics(const char *path, dfl_series *loss, dfl_series *val_loss) {
    memset(loss, 0, sizeof *loss);
    memset(val_loss, 0, sizeof *val_loss);
    FILE *f = fopen(path, "r");
    if (!f) return dfl_fail(DFL_EUSAGE, "%s: cannot open (%s)", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    long skipped_nonfinite = 0;
    dfl_status st = DFL_OK;
    while ((len = getline(&line, &cap, f)) >= 0) {
        ++lineno;
        const int complete = len > 0 && line[len - 1] == '\n';
        const char *p = line;
        while (*p && isspace((unsigned char)*p)) ++p;
        if (!*p) continue;
        metrics_line m;
        if (!parse_line(line, &m)) {
            /* A run killed mid-write leaves a partial last line: skip it. */
            if (!complete && fgetc(f) == EOF) {
                dfl_warn("%s: line %ld is incomplete, ignored", path, lineno);
                break;
            }
            st = dfl_fail(DFL_EUSAGE, "%s: line %ld is not a JSON object", path, lineno);
            break;
        }
        if (!m.has_step) continue;
        if (m.has_loss) {
            if (isfinite(m.loss) && m.loss > 0)
                dfl_series_push(loss, m.step, m.loss);
            else
                ++skipped_nonfinite;
        }
        if (m.has_val) {
            if (isfinite(m.val) && m.val > 0)
                dfl_series_push(val_loss, m.step, m.val);
            else
                ++skipped_nonfinite;
        }
    }
    free(line);
    fclose(f);
    if (st == DFL_OK && skipped_nonfinite)
        dfl_warn("%s: %ld non-finite or non-positive loss values left out of the log-scale plot", path,
                 skipped_nonfinite);
    if (st == DFL_OK && loss->count == 0 && val_loss->count == 0)
        st = dfl_fail(DFL_EUSAGE, "%s: no line has \"step\" with \"loss\" or \"val_loss\"", path);
    if (st != DFL_OK) {
        dfl_series_free(loss);
        dfl_series_free(val_loss);
    }
    return st;
}
