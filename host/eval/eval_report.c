/* Table and JSON output of `dynfill eval` (eval/eval_report.h). */
#include "eval_report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "core/json_util.h"

/* The score keys shared by the top level and each per_channel entry. */
static void json_scores(cJSON *o, const dfl_eval_scores *s, int weighted) {
    dfl_json_add_int(o, "count_missing", s->n_missing);
    dfl_json_add_int(o, "count_all", s->n_all);
    dfl_json_add_number(o, "mse_missing", s->mse_missing, 9);
    dfl_json_add_number(o, "rmse_missing", s->rmse_missing, 9);
    dfl_json_add_number(o, "mse_all", s->mse_all, 9);
    dfl_json_add_number(o, "rmse_all", s->rmse_all, 9);
    if (weighted) {
        dfl_json_add_number(o, "lat_weighted_rmse_missing", s->lat_rmse_missing, 9);
        dfl_json_add_number(o, "lat_weighted_rmse_all", s->lat_rmse_all, 9);
    }
    /* null without /std */
    dfl_json_add_number(o, "crps_missing", s->crps_missing, 9);
    dfl_json_add_number(o, "spread_skill_missing", s->spread_skill_missing, 9);
    dfl_json_add_number(o, "coverage_1std_missing", s->cover1_missing, 9);
    dfl_json_add_number(o, "coverage_2std_missing", s->cover2_missing, 9);
    dfl_json_add_number(o, "spread_skill_p05_missing", s->spread_skill_p05_missing, 9);
    dfl_json_add_number(o, "spread_skill_p95_missing", s->spread_skill_p95_missing, 9);
    dfl_json_add_number(o, "largest_sample_share_missing", s->largest_sample_share_missing, 9);
    /* null without /members */
    dfl_json_add_number(o, "crps_ensemble_missing", s->crps_ensemble_missing, 9);
    dfl_json_add_number(o, "crps_ensemble_fair_missing", s->crps_ensemble_fair_missing, 9);
}

dfl_status dfl_eval_print_json(FILE *f, const dfl_eval_report *r) {
    const dfl_pred_input *in = r->in;
    cJSON *root = dfl_json_object();
    dfl_json_add_string(root, "pred", in->pred_path);
    dfl_json_add_string(root, "truth", in->truth_path);
    dfl_json_add_string(root, "method", in->method);
    dfl_json_add_int(root, "n", in->n);
    dfl_json_add_int(root, "channels", in->c);
    dfl_json_add_int(root, "height", in->h);
    dfl_json_add_int(root, "width", in->w);
    dfl_json_add_bool(root, "lat_weighted", r->weighted);
    dfl_json_add_int(root, "samples_per_run", in->samples_per_run); /* the spread-skill bootstrap's runs */
    json_scores(root, &r->overall, r->weighted);
    cJSON *channels = dfl_json_add_array(root, "per_channel");
    for (int ch = 0; ch < in->c; ++ch) {
        cJSON *o = dfl_json_append_object(channels);
        dfl_json_add_int(o, "channel", ch);
        dfl_json_add_string(o, "name", in->names[ch]);
        json_scores(o, &r->per_channel[ch], r->weighted);
    }
    const int bad = dfl_json_write_line(f, root);
    cJSON_Delete(root);
    return bad ? dfl_fail(DFL_EINTERNAL, "writing the JSON report failed (%s)", strerror(errno)) : DFL_OK;
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
    if (!in->has_std && !in->members) return;
    fprintf(f, "uncertainty of the missing entries (from %s)",
            in->has_std && in->members ? "/std and /members"
            : in->has_std              ? "/std"
                                       : "/members");
    if (in->has_std)
        fprintf(f, "; ss_p05, ss_p95: spread_skill's 90 %% bootstrap interval over runs of %d sample(s)",
                in->samples_per_run);
    fputc('\n', f);
    fprintf(f, "%-14s", "channel");
    if (in->has_std)
        fprintf(f, " %12s %12s %12s %12s %12s %12s %12s", "crps", "spread_skill", "ss_p05", "ss_p95", "cover_1std",
                "cover_2std", "top_sample");
    if (in->members) fprintf(f, " %12s %12s", "crps_ens", "crps_ens_fair");
    fputc('\n', f);
    for (int ch = 0; ch <= in->c; ++ch) {
        if (ch == in->c && in->c == 1) break;
        const dfl_eval_scores *s = ch < in->c ? &r->per_channel[ch] : o;
        fprintf(f, "%-14.14s", ch < in->c ? in->names[ch] : "overall");
        if (in->has_std) {
            cell(f, s->crps_missing);
            cell(f, s->spread_skill_missing);
            cell(f, s->spread_skill_p05_missing);
            cell(f, s->spread_skill_p95_missing);
            cell(f, s->cover1_missing);
            cell(f, s->cover2_missing);
            cell(f, s->largest_sample_share_missing);
        }
        if (in->members) {
            cell(f, s->crps_ensemble_missing);
            cell(f, s->crps_ensemble_fair_missing);
        }
        fputc('\n', f);
    }
}
