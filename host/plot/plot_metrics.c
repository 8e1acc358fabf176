/* Reading RUN_DIR/metrics.jsonl for the loss curve (plot/plot_figures.h).
 * Each line is one JSON object written by the trainer, such as
 *   {"step":100,"loss":0.123,"lr":0.001,"grad_norm":0.5,"samples_per_s":30.5}
 *   {"step":100,"val_loss":0.2}
 * parsed with cJSON. Nothing is skipped silently: a line that is not a JSON
 * object with a numeric "step" is an error naming the file and line, and a
 * null (non-finite) or non-positive loss is left out with a warning. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "plot_figures.h"

void dfl_series_free(dfl_series *s) {
    free(s->step);
    free(s->value);
    memset(s, 0, sizeof *s);
}

void dfl_series_push(dfl_series *s, double step, double value) {
    while (s->count > 0 && s->step[s->count - 1] >= step) --s->count;
    size_t value_cap = s->capacity;
    s->step = dfl_xgrow(s->step, &s->capacity, s->count + 1, sizeof *s->step);
    s->value = dfl_xgrow(s->value, &value_cap, s->count + 1, sizeof *s->value);
    s->step[s->count] = step;
    s->value[s->count] = value;
    ++s->count;
}

/* A loss value of one record: absent (0), a number or null (1, *v set,
 * NaN for null), or of another type (-1). */
static int loss_value(const cJSON *rec, const char *key, double *v) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!item) return 0;
    if (cJSON_IsNull(item)) {
        *v = NAN;
        return 1;
    }
    if (!cJSON_IsNumber(item)) return -1;
    *v = item->valuedouble;
    return 1;
}

/* Adds the points of one parsed line; DFL_EUSAGE naming the line when it is
 * not a record of the trainer. *found is the number of loss keys present;
 * *left_out counts the values that cannot be drawn (null, <= 0 on the log axis). */
static dfl_status add_record(const char *path, long lineno, const cJSON *rec, dfl_series *loss, dfl_series *val,
                             int *found, long *left_out) {
    if (!cJSON_IsObject(rec)) return dfl_fail(DFL_EUSAGE, "%s: line %ld is not a JSON object", path, lineno);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(rec, "step");
    if (!cJSON_IsNumber(step) || !isfinite(step->valuedouble))
        return dfl_fail(DFL_EUSAGE, "%s: line %ld has no numeric \"step\"", path, lineno);
    static const char *const keys[2] = {"loss", "val_loss"};
    *found = 0;
    dfl_series *series[2] = {loss, val};
    for (int k = 0; k < 2; ++k) {
        double v;
        const int has = loss_value(rec, keys[k], &v);
        if (has < 0) return dfl_fail(DFL_EUSAGE, "%s: line %ld: \"%s\" is not a number or null", path, lineno, keys[k]);
        if (!has) continue;
        ++*found;
        if (isfinite(v) && v > 0)
            dfl_series_push(series[k], step->valuedouble, v);
        else
            ++*left_out;
    }
    return DFL_OK;
}

dfl_status dfl_plot_read_metrics(const char *path, dfl_series *loss, dfl_series *val_loss) {
    memset(loss, 0, sizeof *loss);
    memset(val_loss, 0, sizeof *val_loss);
    FILE *f = fopen(path, "r");
    if (!f) return dfl_fail(DFL_EUSAGE, "%s: cannot open (%s)", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, left_out = 0, no_loss = 0, first_no_loss = 0;
    dfl_status st = DFL_OK;
    while (st == DFL_OK && (len = getline(&line, &cap, f)) >= 0) {
        ++lineno;
        if (strspn(line, " \t\r\n") == (size_t)len) continue; /* blank */
        const char *end = NULL;
        cJSON *rec = strlen(line) == (size_t)len ? cJSON_ParseWithOpts(line, &end, 1) : NULL;
        if (!rec) {
            /* A run killed mid-write leaves a partial last line. */
            if (line[len - 1] != '\n' && fgetc(f) == EOF) {
                dfl_warn("%s: line %ld is incomplete (no newline), ignored", path, lineno);
                break;
            }
            if (end && end >= line && end < line + len)
                st = dfl_fail(DFL_EUSAGE, "%s: line %ld is not valid JSON (column %ld)", path, lineno,
                              (long)(end - line) + 1);
            else
                st = dfl_fail(DFL_EUSAGE, "%s: line %ld is not valid JSON", path, lineno);
            break;
        }
        int found = 0;
        st = add_record(path, lineno, rec, loss, val_loss, &found, &left_out);
        cJSON_Delete(rec);
        if (st == DFL_OK && !found && no_loss++ == 0) first_no_loss = lineno;
    }
    free(line);
    if (st == DFL_OK && ferror(f)) st = dfl_fail(DFL_EUSAGE, "%s: read error after line %ld", path, lineno);
    fclose(f);
    if (st == DFL_OK && no_loss)
        dfl_warn("%s: %ld line(s) have neither \"loss\" nor \"val_loss\" (the first is line %ld)", path, no_loss,
                 first_no_loss);
    if (st == DFL_OK && left_out)
        dfl_warn("%s: %ld null (non-finite) or non-positive loss values left out of the log-scale plot", path,
                 left_out);
    if (st == DFL_OK && loss->count == 0 && val_loss->count == 0)
        st = dfl_fail(DFL_EUSAGE, "%s: no line has \"step\" with a positive \"loss\" or \"val_loss\"", path);
    if (st != DFL_OK) {
        dfl_series_free(loss);
        dfl_series_free(val_loss);
    }
    return st;
}
