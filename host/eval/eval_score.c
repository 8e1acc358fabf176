/* Scoring a whole prediction file against its truth file in blocks of
 * samples (host/eval/eval_metrics.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/pred_read.h"
#include "eval_metrics.h"

/* Fails naming the file when a block holds NaN or infinity. */
static dfl_status check_finite(const float *x, size_t count, const char *path, const char *name, int start,
                               size_t per_sample) {
    for (size_t i = 0; i < count; ++i)
        if (!isfinite(x[i]))
            return dfl_fail(DFL_EUSAGE, "%s: dataset %s holds a non-finite value (sample %zu)", path, name,
                            (size_t)start + i / per_sample);
    return DFL_OK;
}

/* The scores that rest on per-sample sums: the largest sample's share of the squared error and, with /std,
 * the spread-skill ratio's bootstrap interval over runs of `run` samples. */
static void sample_shares(const double *sse, const double *sse_std, const double *ssq_std, int64_t n, int64_t run,
                          int has_std, dfl_eval_scores *s) {
    double total = 0.0, largest = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        total += sse[i];
        if (sse[i] > largest) largest = sse[i];
    }
    s->largest_sample_share_missing = total > 0.0 ? largest / total : NAN;
    if (has_std)
        dfl_eval_spread_skill_bootstrap(sse_std, ssq_std, n, run, &s->spread_skill_p05_missing,
                                        &s->spread_skill_p95_missing);
}

dfl_status dfl_eval_score_files(const dfl_pred_input *in, dfl_eval_scores *per_channel, dfl_eval_scores *overall,
                                int *weighted) {
    /* blocks of about 16 M values per array keep memory bounded for big files */
    return dfl_eval_score_files_blocked(in, (size_t)16 << 20, per_channel, overall, weighted);
}

dfl_status dfl_eval_score_files_blocked(const dfl_pred_input *in, size_t block_values, dfl_eval_scores *per_channel,
                                        dfl_eval_scores *overall, int *weighted) {
    DFL_ASSERT(in->truth >= 0);
    double *weights = NULL;
    dfl_status st = DFL_OK;
    if (in->lat) {
        weights = dfl_xmalloc((size_t)in->h * sizeof *weights);
        st = dfl_eval_lat_weights(in->h, in->lat, in->lat_from, weights);
    }
    const size_t per_sample = (size_t)in->c * in->h * in->w;
    const size_t mask_per_sample = (size_t)in->mask_channels * in->h * in->w;
    size_t block = block_values / per_sample;
    if (block < 1) block = 1;
    if (block > (size_t)in->n) block = (size_t)in->n;
    float *pred = dfl_xmalloc(block * per_sample * sizeof *pred);
    float *truth = dfl_xmalloc(block * per_sample * sizeof *truth);
    unsigned char *mask = dfl_xmalloc(block * mask_per_sample);
    float *std = in->has_std ? dfl_xmalloc(block * per_sample * sizeof *std) : NULL;
    /* /members is K times /pred: read in sub-blocks of as many values (at least one sample) */
    const size_t member_values = (size_t)in->members * per_sample;
    size_t member_block = in->members ? block_values / member_values : 0;
    if (in->members && member_block < 1) member_block = 1;
    if (member_block > block) member_block = block;
    float *members = in->members ? dfl_xmalloc(member_block * member_values * sizeof *members) : NULL;
    double *scratch = in->members ? dfl_xmalloc((size_t)in->members * sizeof *scratch) : NULL;
    dfl_eval_sums *sums = dfl_xcalloc((size_t)in->c, sizeof *sums);
    /* per channel and sample, then pooled over channels (row c): Σ e² of the missing entries, and with
     * /std those scored and Σ σ²; row-major, a channel's samples in a row */
    const size_t rows_n = (size_t)(in->c + 1) * in->n;
    double *sample_sse = dfl_xcalloc(rows_n, sizeof(double)), *sample_sse_std = dfl_xcalloc(rows_n, sizeof(double));
    double *sample_ssq_std = dfl_xcalloc(rows_n, sizeof(double));
    dfl_eval_sums *one = dfl_xmalloc((size_t)in->c * sizeof *one); /* one sample's sums */
    for (int start = 0; st == DFL_OK && start < in->n; start += (int)block) {
        const int rows = in->n - start < (int)block ? in->n - start : (int)block;
        const size_t count = (size_t)rows * per_sample;
        if ((st = dfl_pred_input_read_pred(in, start, rows, pred)) != DFL_OK) break;
        if ((st = dfl_pred_input_read_truth(in, start, rows, truth)) != DFL_OK) break;
        if ((st = dfl_pred_input_read_mask(in, start, rows, mask)) != DFL_OK) break;
        if ((st = check_finite(pred, count, in->pred_path, "/pred", start, per_sample)) != DFL_OK) break;
        if ((st = check_finite(truth, count, in->truth_path, "/truth", start, per_sample)) != DFL_OK) break;
        if (std && (st = dfl_pred_input_read_std(in, start, rows, std)) != DFL_OK) break;
        for (int r = 0; r < rows; ++r) { /* sample by sample, for the per-sample sums */
            const size_t at = (size_t)r * per_sample, mat = (size_t)r * mask_per_sample;
            memset(one, 0, (size_t)in->c * sizeof *one);
            dfl_eval_accumulate(1, in->c, in->h, in->w, in->mask_channels, pred + at, truth + at, mask + mat, weights,
                                one);
            if (std)
                dfl_eval_accumulate_std(1, in->c, in->h, in->w, in->mask_channels, pred + at, truth + at, std + at,
                                        mask + mat, one);
            for (int ch = 0; ch < in->c; ++ch) {
                const size_t k = (size_t)ch * in->n + (size_t)start + r, pooled = (size_t)in->c * in->n + start + r;
                sample_sse[k] = one[ch].sse_missing, sample_sse[pooled] += one[ch].sse_missing;
                sample_sse_std[k] = one[ch].sse_std, sample_sse_std[pooled] += one[ch].sse_std;
                sample_ssq_std[k] = one[ch].ssq_std, sample_ssq_std[pooled] += one[ch].ssq_std;
                dfl_eval_sums_add(&sums[ch], &one[ch]);
            }
        }
        for (int sub = 0; members && st == DFL_OK && sub < rows; sub += (int)member_block) {
            const int sub_rows = rows - sub < (int)member_block ? rows - sub : (int)member_block;
            if ((st = dfl_pred_input_read_members(in, start + sub, sub_rows, members)) != DFL_OK) break;
            st = check_finite(members, (size_t)sub_rows * member_values, in->pred_path, "/members", start + sub,
                              member_values);
            if (st != DFL_OK) break;
            dfl_eval_accumulate_members(sub_rows, in->members, in->c, in->h, in->w, in->mask_channels, members,
                                        truth + (size_t)sub * per_sample, mask + (size_t)sub * mask_per_sample, scratch,
                                        sums);
        }
    }
    if (st == DFL_OK) {
        dfl_eval_sums total;
        memset(&total, 0, sizeof total);
        for (int ch = 0; ch < in->c; ++ch) {
            per_channel[ch] = dfl_eval_scores_of(&sums[ch], weights != NULL);
            dfl_eval_sums_add(&total, &sums[ch]);
        }
        *overall = dfl_eval_scores_of(&total, weights != NULL);
        *weighted = weights != NULL;
        const int64_t n = in->n;
        for (int ch = 0; ch <= in->c; ++ch) /* row c: pooled */
            sample_shares(sample_sse + (size_t)ch * n, sample_sse_std + (size_t)ch * n, sample_ssq_std + (size_t)ch * n,
                          n, in->samples_per_run, std != NULL, ch < in->c ? &per_channel[ch] : overall);
    }
    free(one);
    free(sample_ssq_std);
    free(sample_sse_std);
    free(sample_sse);
    free(sums);
    free(scratch);
    free(members);
    free(std);
    free(mask);
    free(truth);
    free(pred);
    free(weights);
    return st;
}
