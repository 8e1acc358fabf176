/* Table and JSON output of `dynfill eval` (host/eval/eval_report.h). */
#include "eval_report.h"

#include <math.h>
#include <string.h>

void dfl_eval_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void dfl_eval_json_number(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void json_key_number(FILE *f, const char *key, double v) {
    fprintf(f, ", \"%s\": ", key);
    dfl_eval_json_number(f, v);
}

/* The score keys shared by the top level and each per_channel entry. */
static void json_scores(FILE *f, const dfl_eval_scores *s, int weighted) {
    fprintf(f, "\"count_missing\": %lld, \"count_all\": %lld", s->n_missing, s->n_all);
    json_key_number(f, "mse_missing", s->mse_missing);
    json_key_number(f, "rmse_missing", s->rmse_missing);
    json_key_number(f, "mse_all", s->mse_all);
    json_key_number(f, "rmse_all", s->rmse_all);
    if (weighted) {
        json_key_number(f, "lat_weighted_rmse_missing", s->lat_rmse_missing);
        json_key_number(f, "lat_weighted_rmse_all", s->lat_rmse_all);
    }
}

void dfl_eval_print_json(FILE *f, const dfl_eval_report *r) {
    const dfl_pred_input *in = r->in;
    fputs("{\"pred\": ", f);
    dfl_eval_json_string(f, in->pred_path);
    fputs(", \"truth\": ", f);
    dfl_eval_json_string(f, in->truth_path);
    fputs(", \"method\": ", f);
    if (in->method)
        dfl_eval_json_string(f, in->method);
    else
        fputs("null", f);
    fprintf(f, ", \"n\": %d, \"channels\": %d, \"height\": %d, \"width\": %d, \"lat_weighted\": %s, ", in->n, in->c,
            in->h, in->w, r->weighted ? "true" : "false");
    json_scores(f, &r->overall, r->weighted);
    fputs(", \"per_channel\": [", f);
    for (int ch = 0; ch < in->c; ++ch) {
        fprintf(f, "%s{\"channel\": %d, \"name\": ", ch ? ", " : "", ch);
        dfl_eval_json_string(f, in->names[ch]);
        fputs(", ", f);
        json_scores(f, &r->per_channel[ch], r->weighted);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

static void cell(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, " %12.5g", v);
    else
        fprintf(f, " %12s", "n/a");
}

static void text_row(FILE *f, const char *label, const dfl_eval_scores *s, int weighted) {
    fprintf(f, "%-14.14s", label);
    cell(f, s->mse_missing);
    cell(f, s->rmse_missing);
    cell(f, s->mse_all);
    cell(f, s->rmse_all);
    if (weighted) {
        cell(f, s->lat_rmse_missing);
        cell(f, s->lat_rmse_all);
    }
    fputc('\n', f);
}

void dfl_eval_print_text(FILE *f, const dfl_eval_report *r) {
    const dfl_pred_input *in = r->in;
    const dfl_eval_scores *o = &r->overall;
    fprintf(f, "eval %s against %s%s%s%s\n", in->pred_path, in->truth_path, in->method ? " (method " : "",
            in->method ? in->method : "", in->method ? ")" : "");
    fprintf(f, "  %d samples x %d channels x %dx%d; missing entries %lld of %lld (%.1f %%)\n", in->n, in->c, in->h,
            in->w, o->n_missing, o->n_all, o->n_all ? 100.0 * (double)o->n_missing / (double)o->n_all : 0.0);
    if (r->weighted) fprintf(f, "  latitude weights cos(lat) from %s\n", in->lat_from);
    fprintf(f, "%-14s %12s %12s %12s %12s", "channel", "mse_missing", "rmse_missing", "mse_all", "rmse_all");
    if (r->weighted) fprintf(f, " %12s %12s", "lw_rmse_miss", "lw_rmse_all");
    fputc('\n', f);
    for (int ch = 0; ch < in->c; ++ch) text_row(f, in->names[ch], &r->per_channel[ch], r->weighted);
    if (in->c > 1) text_row(f, "overall", o, r->weighted);
}
