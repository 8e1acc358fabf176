/* Error metrics of a prediction against ground truth (`dynfill eval`,
 * docs/eval.md). Sums are accumulated in double over blocks of samples so
 * files larger than memory can be scored; scores are formed at the end.
 *
 * "missing" entries are those with mask 0 (a 1-channel mask applies to
 * every channel); "all" entries are every entry. With latitudes, an entry
 * in row j has weight w_j = cos(lat_j) / mean_rows cos(lat), and the
 * latitude-weighted MSE of a set S of entries is Σ_S w e² / Σ_S w (for S =
 * all entries this is the usual mean of w e², as w has mean 1 over rows). */
#ifndef DYNFILL_HOST_EVAL_METRICS_H
#define DYNFILL_HOST_EVAL_METRICS_H

#include <stdint.h>

#include "data/pred_read.h"
#include "dynfill/status.h"

typedef struct {
    double sse_missing, sse_all;   /* Σ e² */
    long long n_missing, n_all;    /* entry counts */
    double wsse_missing, wsse_all; /* Σ w e² (with latitudes) */
    double wsum_missing, wsum_all; /* Σ w */
    long long nonfinite;           /* entries where pred or truth is NaN/inf */
    /* uncertainty on the missing entries, from /std (dfl_eval_accumulate_std) */
    long long n_std;               /* missing entries scored with a std */
    double sse_std, ssq_std, crps; /* Σ e², Σ σ², Σ CRPS of N(pred, σ²) */
    long long in1, in2;            /* entries with |e| <= σ, <= 2σ */
    /* ensemble CRPS on the missing entries, from /members (dfl_eval_accumulate_members) */
    long long n_members;                    /* missing entries scored with members */
    double crps_members, crps_members_fair; /* Σ CRPS of the ensemble: standard and fair estimator */
} dfl_eval_sums;

typedef struct {
    double mse_missing, rmse_missing, mse_all, rmse_all;
    double lat_rmse_missing, lat_rmse_all; /* NaN without latitudes */
    long long n_missing, n_all;
    /* missing entries against /std; NaN without it (docs/eval.md, "Uncertainty") */
    double crps_missing;                   /* mean CRPS of N(pred, std²) */
    double spread_skill_missing;           /* RMS(std) / RMSE */
    double cover1_missing, cover2_missing; /* share of entries with |error| <= std, <= 2 std */
    /* missing entries against /members; NaN without it (docs/eval.md, "Uncertainty") */
    double crps_ensemble_missing;      /* mean ensemble CRPS, standard estimator 1/(2K²) */
    double crps_ensemble_fair_missing; /* mean ensemble CRPS, fair estimator 1/(2K(K-1)); NaN for K = 1 */
    /* how far the scores rest on a few samples (dfl_eval_score_files; NaN from dfl_eval_scores_of) */
    double spread_skill_p05_missing, spread_skill_p95_missing; /* bootstrap over runs of samples (/std) */
    double largest_sample_share_missing; /* share of the squared error in the sample that holds most */
} dfl_eval_scores;

/* Row weights from latitudes in degrees: cos(lat) normalised to mean 1.
 * DFL_EUSAGE (naming `what`) when a latitude is outside [-90, 90] or not
 * finite, or when every row has weight 0. */
dfl_status dfl_eval_lat_weights(int h, const double *lat_deg, const char *what, double *weights);

/* Add the errors of n samples [n, c, h, w] to per_channel[c]. mask is
 * [n, mask_channels, h, w]; row_weight (h values) may be NULL. */
void dfl_eval_accumulate(int n, int c, int h, int w, int mask_channels, const float *pred, const float *truth,
                         const unsigned char *mask, const double *row_weight, dfl_eval_sums *per_channel);

/* CRPS of the Gaussian N(mu, sigma²) at y: sigma [z(2Φ(z) − 1) + 2φ(z) − 1/√π],
 * z = (y − mu) / sigma; |y − mu| for sigma = 0. */
double dfl_eval_crps_gaussian(double y, double mu, double sigma);

/* Add the uncertainty sums of the missing entries of n samples: std is the
 * spread [n, c, h, w] (same layout as pred). */
void dfl_eval_accumulate_std(int n, int c, int h, int w, int mask_channels, const float *pred, const float *truth,
                             const float *std, const unsigned char *mask, dfl_eval_sums *per_channel);

/* CRPS at y of the ensemble x[0..k-1] (k >= 1), the empirical distribution of the members:
 *   (1/k) Σ_i |x_i − y| − 1/(2k²) Σ_i Σ_j |x_i − x_j|
 * into *crps and the fair (unbiased for the ensemble's parent distribution) estimator with
 * 1/(2k(k−1)) into *fair (NaN for k = 1; fair may be NULL). Sorts x in place: the pair sum is
 * 2 Σ_i (2i − k + 1) x_(i) over the sorted members, O(k log k). */
void dfl_eval_crps_ensemble(double y, double *x, int k, double *crps, double *fair);

/* Add the ensemble CRPS of the missing entries of n samples: members is
 * [n, k, c, h, w] (the /members layout), truth [n, c, h, w]; scratch holds
 * k doubles. Entries whose truth or any member is not finite are skipped. */
void dfl_eval_accumulate_members(int n, int k, int c, int h, int w, int mask_channels, const float *members,
                                 const float *truth, const unsigned char *mask, double *scratch,
                                 dfl_eval_sums *per_channel);

void dfl_eval_sums_add(dfl_eval_sums *into, const dfl_eval_sums *s);

/* MSE/RMSE from sums; a set with no entries scores NaN. */
dfl_eval_scores dfl_eval_scores_of(const dfl_eval_sums *s, int weighted);

/* The spread-skill ratio's sampling spread: the 5th and 95th percentiles of
 * sqrt(sum ssq / sum sse) over DFL_EVAL_BOOTSTRAP_ROUNDS resamples, with
 * replacement, of the n samples in runs of `run` consecutive ones (the last
 * run may be shorter; sse[i], ssq[i]: sample i's sums of squared error and
 * of squared std), drawn by Philox from a fixed key, so a file scores the
 * same each time. Whole runs are drawn because the frames of one
 * trajectory are not independent: drawing them one by one makes the
 * interval too narrow. NaN for fewer than 2 runs or no error. */
#define DFL_EVAL_BOOTSTRAP_ROUNDS      2000
#define DFL_RNG_PURPOSE_EVAL_BOOTSTRAP 0xE0
void dfl_eval_spread_skill_bootstrap(const double *sse, const double *ssq, int64_t n, int64_t run, double *p05,
                                     double *p95);

/* Score every sample of an opened prediction/truth pair (truth required):
 * per_channel has in->c entries, overall pools all channels; *weighted is
 * set when latitudes were found. Non-finite values in /pred or /truth are
 * DFL_EUSAGE naming the file and sample. */
dfl_status dfl_eval_score_files(const dfl_pred_input *in, dfl_eval_scores *per_channel, dfl_eval_scores *overall,
                                int *weighted);
/* The same, reading blocks of about block_values values per array (at least
 * one sample; dfl_eval_score_files: 16 M), /members in sub-blocks of as many.
 * Both keep per sample and channel the sums the bootstrap (in runs of
 * in->samples_per_run samples) and the largest sample's share need (3
 * doubles each). */
dfl_status dfl_eval_score_files_blocked(const dfl_pred_input *in, size_t block_values, dfl_eval_scores *per_channel,
                                        dfl_eval_scores *overall, int *weighted);

#endif
