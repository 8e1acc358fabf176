/* Inference (docs/design.md, "The method"): imputation with a trained model: single-step
 * K-ensemble at t = t_eps, batched as N*K network rows, or the multi-step sampler
 * (DDIM or the reference's x0 update) whose last step is that K-ensemble
 * (docs/method.md, "Multi-step sampler"); plus the classical baselines for comparison. */
#ifndef DYNFILL_INFER_H
#define DYNFILL_INFER_H

#include <stdint.h>

#include "dynfill/checkpoint.h"
#include "dynfill/climatology.h"
#include "dynfill/data.h"
#include "dynfill/method.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int K;     /* context draws per sample */
    int steps; /* 1: single step at t_eps; > 1: multi-step sampler, passes at linspace(1, t_eps, steps) */
    int ddim;  /* multi-step update: 1 DDIM, 0 the reference's x0 update */
    float t_eps;
    uint64_t seed;
    int fwd_rows;    /* network rows per forward: 0 = one sample's draws (K; 1 in the sampler's earlier
                        passes); else a divisor of K (fewer rows when K do not fit the memory). Every
                        forward has the same shape, so the result does not depend on how many samples
                        a dfl_imputer_run call holds */
    int score_only;  /* calibration (dfl_std_calibrate_run): hide as pixel contexts hide, whatever the
                        contexts' rule, and score the hidden entries with the calibration passed in (its
                        spline weights, scale, floor and gap factors applied), fitting and changing nothing */
    int spread_only; /* calibration: the spline weights in the calibration passed in (the caller's) are
                        applied as they are, and the spread, floor and gap factors are fitted to the
                        errors they leave (impute's plain run on a station checkpoint given other stations) */
    int block_hide;  /* block contexts: observed blocks each draw hides; 0 = the checkpoint's method.hide
                        (calibration, which has hidden one block itself, hides one fewer) */
} dfl_impute_opts;

/* The largest divisor of K that is at most cap (cap >= 1). */
int dfl_impute_fwd_rows(int K, int cap);

typedef struct dfl_imputer dfl_imputer;

/* A model loaded from a checkpoint (EMA weights unless use_raw). */
dfl_status dfl_imputer_create(const char *ckpt_path, dfl_backend *be, int use_raw, dfl_imputer **out);
void dfl_imputer_destroy(dfl_imputer *im);
/* The context rule imputation draws its K contexts with: the checkpoint's
 * [method] unless dfl_imputer_set_pixel_contexts changed it. */
const dfl_method_params *dfl_imputer_method(const dfl_imputer *im);
/* The checkpoint's [method], the rule the network trained with. */
const dfl_method_params *dfl_imputer_trained_method(const dfl_imputer *im);
/* Draws pixel contexts instead (`impute --context pixel`, infer.context):
 * the checkpoint's [method] with strategy pixel, its query pixel's own,
 * each context `ratio` of the observed entries; ratio 0: the trained rule
 * again. dfl_imputer_create leaves the trained rule in place. */
void dfl_imputer_set_pixel_contexts(dfl_imputer *im, double ratio);
/* The ratio of the pixel contexts set, 0 = the trained rule. */
double dfl_imputer_pixel_ratio(const dfl_imputer *im);
const dfl_config *dfl_imputer_config(const dfl_imputer *im);
/* Re-expresses normalised values from one normalisation to another:
 * ((x std_a + mean_a) - mean_b) / std_b per channel (shift 0: x std_a /
 * std_b, for spreads); x is [n, c, px], the normalisations [c]. Where a
 * equals b the values stay bit for bit. */
void dfl_renormalise(float *x, int n, int c, size_t px, const double *mean_a, const double *std_a, const double *mean_b,
                     const double *std_b, int shift);
/* The checkpoint's metadata (periodic axes, normalisation, calibration). */
const dfl_ckpt_meta *dfl_imputer_meta(const dfl_imputer *im);
/* The backend the imputer runs on. */
dfl_backend *dfl_imputer_backend(const dfl_imputer *im);

/* Impute n samples: obs normalised with the CHECKPOINT's statistics
 * ([n, c, h, w], 0 where unobserved), mask [n, mc, h, w]; writes the
 * normalised prediction (ensemble mean; observed entries are whatever the
 * network says — callers keep the observations), spread (may be NULL) and
 * members (may be NULL): the K single-draw x0 predictions of the final
 * (t_eps) ensemble pass, [n, K, c, h, w], whose mean (in double) is pred.
 * sample_offset keys the random draws (the file row of sample 0). */
dfl_status dfl_imputer_run(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                           const float *obs, const uint8_t *mask, uint32_t sample_offset, float *pred, float *spread,
                           float *members);

/* Memory one dfl_imputer_run of n samples holds (docs/scaling.md,
 * "Memory"): the model's parameters, its inference plan for the n*K rows
 * (measured by the planning walk) and the backend's convolution workspace
 * (estimate), the imputer's backend buffers and the
 * multi-step sampler's host state; *largest (may be NULL) gets the largest
 * single buffer. */
dfl_status dfl_imputer_pass_bytes(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                                  size_t *bytes, size_t *largest);

/* Fits a pass into `avail` bytes (0: unknown, no check; dfl_backend_memory_available gives host
 * memory on the CPU backend, the device's free memory on CUDA). With shrink, lowers the
 * samples per pass from *n down to n_least, then the rows per forward (divisors of K below
 * o->fwd_rows, or K when 0) down to 1, until the pass fits; without, only checks. extra: the
 * caller's own host bytes per sample; fixed: the caller's own bytes on the backend besides (the
 * spline correction's solves). On host memory the need is the whole pass plus extra and fixed;
 * on a device backend (memory_info) the pass's backend buffers and fixed with the CUDA estimate
 * (dfl_backend_plan_need), host buffers left out. Sets *n, o->fwd_rows and *need; DFL_EUSAGE
 * naming `knobs` when the smallest pass does not fit. */
dfl_status dfl_imputer_fit(dfl_imputer *im, dfl_impute_opts *o, int shrink, int *n, int n_least, int c, int h, int w,
                           int mask_c, size_t extra, size_t fixed, size_t avail, const char *source, const char *knobs,
                           size_t *need);

/* Calibrated spread (docs/design.md, "Calibrated spread"): the K-ensemble's
 * spread is too narrow, so training ends by hiding in each held-out sample
 * the observed entries its training strategy would query outside the
 * context (one context draw; DFL_CALIB_HIDE_FRACTION of its observed entries at random where
 * that hides nothing or everything; for pixel contexts a smaller share at random, down to
 * DFL_CALIB_PIXEL_HIDE_MIN, so that the input stays nearly as dense as at imputation), imputing
 * them (single step,
 * K draws) and fitting per channel a scale a_c and a floor b_c on the
 * hidden entries, weighted by gap width so that they count as the
 * held-out samples' missing entries do (dfl_spread_gap_weights,
 * dfl_spread_fit_weighted; pixel contexts also hide squares where the
 * data's gaps are wider than scattered pixels); `impute` writes
 * /std = sqrt((a_c spread)^2 + b_c^2) (checkpoint attributes std_scale and
 * std_floor), times a factor f_c,g by the entry's gap bin g so that the
 * hidden entries of each bin get spread-skill 1 (std_gap_factor,
 * dfl_spread_gap_factors). Rounds of other draws (hidden entries and contexts) repeat
 * until every channel has DFL_CALIB_MIN_ENTRIES hidden entries, at most
 * DFL_CALIB_MAX_ROUNDS rounds. */
/* Samples per pass of an empirical imputation (and calibration) by
 * default: a sample's K contexts draw partner masks from the others of its
 * pass, and with the 6 samples of 64 rows at K = 10 strips of swath masks
 * often found few partners that meet them (advection swath:6:0.3: MSE
 * 0.0481 with 6, 0.0412 with 64). Fewer where memory does not allow. */
#define DFL_EMPIRICAL_PASS_SAMPLES 64
#define DFL_CALIB_HIDE_FRACTION    0.2
#define DFL_CALIB_PIXEL_HIDE_MIN   0.01
#define DFL_CALIB_PIXEL_ROUNDS     24
#define DFL_CALIB_MIN_ENTRIES      20000
#define DFL_CALIB_MAX_ROUNDS       32
/* with withheld cells (data.withhold_cells) the hidden entries are the same in every round; the rounds
 * draw other contexts */
#define DFL_CALIB_WITHHELD_ROUNDS  4
#define DFL_CALIB_GAP_MIN_ENTRIES  500
#define DFL_CALIB_GAP_MAX_WEIGHT   3.0
#define DFL_CALIB_GAP_FACTOR_MAX   10.0

/* data.withhold_cells (docs/design.md, "Withheld cells"): how much of a
 * checkpoint's withheld cells count samples spread over span samples from
 * start observe. The calibration hides those cells where the samples observe
 * at least half of them and DFL_CALIB_WITHHELD_MIN_ENTRIES entries there
 * (enough: the training's held-out samples do, and a file with the same
 * stations; one whose stations sit elsewhere may share a few, too few to fit
 * on: 113 entries at 2 of 16 withheld cells gave a spread-skill of 0.28 on
 * ERA5 stations), else it hides as training does. All zero for a checkpoint
 * without withheld cells or of another field size. */
#define DFL_CALIB_WITHHELD_MIN_ENTRIES 100
typedef struct {
    size_t entries, cells_seen, cells; /* observed entries at withheld cells; cells observed; withheld cells */
    int enough;
} dfl_withheld_seen;
dfl_status dfl_calib_withheld_seen(const dfl_dataset *ds, const dfl_ckpt_meta *meta, int64_t start, int64_t count,
                                   int64_t span, dfl_withheld_seen *seen);

/* Agreement of errors and spreads on a set of entries. */
typedef struct {
    double n, sq_err, sq_std; /* entries, sums of err^2 and std^2 */
    double in1, in2;          /* entries with |err| <= std, <= 2 std */
    double crps;              /* sum of the CRPS of N(0, std^2) at err (eval_metrics.h) */
} dfl_spread_stats;
void dfl_spread_stats_add(dfl_spread_stats *st, double err, double std);
/* The same, the entry counting `weight` times (n the sum of the weights). */
void dfl_spread_stats_add_weighted(dfl_spread_stats *st, double err, double std, double weight);
/* RMS(std) / RMSE (NaN without entries or error). */
double dfl_spread_stats_ratio(const dfl_spread_stats *st);

/* The calibrated standard deviation of an entry: sqrt((a spread)^2 + b^2). */
double dfl_spread_calibrated(double spread, double a, double b);

/* Fits the scale a >= 0 and floor b >= 0 of v = (a sd)^2 + b^2 to n
 * errors err[i] with ensemble spreads sd[i]: the spread says where the
 * error is larger, the floor carries the error the spread does not see.
 * Two conditions, as a calibrated Gaussian meets them: mean(v) =
 * mean(err^2) (spread-skill 1), and the share of |err| <= 2 sqrt(v)
 * near 95.45 %: among the floor shares whose coverage is within 2 points
 * of it (where none is, within 0.25 points of the nearest), the Gaussian
 * likelihood's best (on Gaussian errors the model's a and b). Deterministic; at most DFL_SPREAD_FIT_MAX entries are
 * used (an even stride through them). Without error (n = 0 or all err 0):
 * a = 1, b = 0; without spread: a = 1, b = RMSE. */
#define DFL_SPREAD_FIT_MAX 200000
void dfl_spread_fit(const float *err, const float *sd, size_t n, double *a, double *b);
/* The same fit with a weight wt[i] >= 0 per entry (weighted means, a
 * weighted likelihood and coverage; entries of weight 0 are left out);
 * wt NULL: every weight 1, dfl_spread_fit. */
void dfl_spread_fit_weighted(const float *err, const float *sd, const float *wt, size_t n, double *a, double *b);

/* Weights per gap-distance bin (host/method/mask_gap_distance.h: 1, 2,
 * 3-4, ..., 33+) that make calibration's hidden entries count as the
 * held-out samples' missing entries are distributed over gap distances:
 * bins are joined, from the narrowest, into groups of at least
 * DFL_CALIB_GAP_MIN_ENTRIES hidden entries (a short widest group joins the
 * one before), and w[b] = (share of the missing entries in b's group) /
 * (share of the hidden entries in it). Missing entries wider than any
 * hidden gap count in the widest group. All 1 where either histogram is
 * empty. */
/* missing, hidden and w hold DFL_GAP_BINS (7) values each. */
void dfl_spread_gap_weights(const double *missing, const double *hidden, double *w);
/* The factors on the calibrated /std by gap bin: err2[b] and std2[b] are
 * the sums of the squared (corrected) errors and squared calibrated
 * spreads of the n[b] hidden entries in bin b. Where n[b] >=
 * DFL_CALIB_GAP_MIN_ENTRIES, factor[b] = sqrt(err2[b] / std2[b]) (the
 * bin's spread-skill becomes 1), clamped to [1/DFL_CALIB_GAP_FACTOR_MAX,
 * DFL_CALIB_GAP_FACTOR_MAX]; another bin takes the factor of the nearest
 * such bin (the wider at a tie), so missing entries wider than any hidden
 * gap take the widest bin's; all 1 where no bin has enough. The spread of
 * the ensemble varies too little with the distance to the nearest
 * observation where the spline correction carries the prediction
 * (advection 5/9 blocks: spread-skill 15.6 at distance 1 and 0.75 at 9-16
 * with one factor for all). Each array holds DFL_GAP_BINS values. */
void dfl_spread_gap_factors(const double *err2, const double *std2, const double *n, double *factor);
/* The gap bin (method/mask_gap_distance.h: chessboard distance to the
 * nearest known entry, the shorter way round along a periodic axis,
 * binned 1, 2, 3-4, 5-8, 9-16, 17-32, 33+) of every entry of an h x w
 * mask plane that is not known; known entries get 0. */
void dfl_gap_bins(const uint8_t *known, int h, int w, int periodic_x, int periodic_y, uint16_t *bin);

/* Spline correction (docs/design.md, "Spline correction"): the network's
 * ensemble mean P is moved towards two grid splines through the observed
 * entries: S2, the thin-plate (order-2) spline of shared/fill_spline.h that
 * DFL_SPLINE_ITERS conjugate-gradient steps reach from P itself, and S3,
 * the order-3 spline of shared/fill_spline3.h that DFL_SPLINE3_ITERS steps
 * reach from S2:
 *
 *   /pred = P + a_c (S2 - P) + b_c (S3 - P) on the missing entries,
 *   a_c, b_c >= 0, a_c + b_c <= 1 (a convex mix of P, S2, S3),
 *
 * and every member by the same amount. a_c and b_c are fitted per channel
 * by least squares on calibration's hidden entries (checkpoint attributes
 * spline_weight and spline3_weight). Where the fields are smooth at the
 * spacing of the observations a spline is the better estimate (the
 * smoother the field, the higher the order); where the network sees what
 * a spline cannot (vortices, fronts) both are near 0. Inside wide gaps the
 * steps do not reach the splines: S2 there is P smoothed. */
/* toward [n, c, h, w]: S2 - P on the entries mask leaves missing, 0 on the
 * observed ones; toward3 (NULL: not computed) S3 - P alike; obs, pred
 * normalised [n, c, h, w], mask [n, mc, h, w]; both are solved on be
 * (input_fill_spline, then input_fill_spline3 from its result, in buffers
 * it allocates for as many samples at a time as fit in chunk_bytes of
 * input and scratch, at least one; 0: DFL_SPLINE_CHUNK_BYTES), both
 * wrapping along the periodic axes. */
#define DFL_SPLINE_CHUNK_BYTES ((size_t)256 << 20)
void dfl_spline_toward(dfl_backend *be, int n, int c, int h, int w, int mc, const float *obs, const uint8_t *mask,
                       const float *pred, int periodic_x, int periodic_y, size_t chunk_bytes, float *toward,
                       float *toward3);
/* The memory dfl_spline_toward (chunk_bytes 0) holds on be for n samples,
 * as a memory plan counts it: *plan_bytes with the backend's own buffers
 * (input and scratch, and on a host backend the staging copy too),
 * *host_bytes on the host besides (a device backend's staging copy; 0 on
 * a host backend). */
void dfl_spline_toward_bytes(const dfl_backend *be, int n, int c, int h, int w, size_t *plan_bytes, size_t *host_bytes);
/* pred [n, c, px] (and members [n, K, c, px] when not NULL) += weight[ch]
 * toward + weight3[ch] toward3 (weight3 NULL: none). */
void dfl_spline_correct(const double *weight, const double *weight3, int n, int K, int c, size_t px,
                        const float *toward, const float *toward3, float *pred, float *members);
/* The weights a, b >= 0, a + b <= 1 that minimise sum wt (err + a d2 + b d3)^2
 * over n entries (err = P - truth; wt NULL: all 1; d3 NULL: b = 0); 0
 * where the steps are all 0. */
void dfl_spline_weights_fit(const float *err, const float *d2, const float *d3, const float *wt, size_t n, double *a,
                            double *b);
/* Hides, imputes and fits on count samples of ds spread over the span
 * samples from start (dfl_sample_spread; span = count: samples
 * [start, start + count)), re-expressed in the checkpoint's
 * normalisation (hidden entries keyed by o->seed and the sample's
 * position; log lines prefixed `who`), `pass` samples per imputation pass
 * (at least 2). Fills cal's arrays: the spline correction's weights
 * (spline_weight NULL: none, the spread fitted to the network's own
 * errors; spline3_weight NULL: order 2 alone; o->spread_only: the weights
 * cal holds are applied, not fitted), then std_scale and
 * std_floor on the corrected errors, std_gap_factor (NULL: none) on
 * those, and the statistics before / after (c each). */
dfl_status dfl_std_calibrate_run(dfl_imputer *im, const dfl_impute_opts *o, const dfl_dataset *ds, int64_t start,
                                 int64_t count, int64_t span, int pass, double hide_fraction, const char *who,
                                 dfl_ckpt_calib *cal, dfl_spread_stats *before, dfl_spread_stats *after);
/* dfl_std_calibrate_run with K draws and `seed` on count samples spread
 * over the span samples from start, in whatever normalisation ds has (they are
 * re-expressed in the checkpoint's), the before/after figures logged as
 * `who` ("train": held-out samples; "impute": `impute --calibrate` on its
 * own input); cal->context_ratio says which contexts it was fitted with.
 * spread_only: cal's spline weights, filled by the caller, stay
 * (dfl_impute_opts.spread_only). */
dfl_status dfl_std_calibrate_imputer(dfl_imputer *im, const dfl_dataset *ds, int64_t start, int64_t count, int64_t span,
                                     int K, uint64_t seed, int spread_only, const char *who, dfl_ckpt_calib *cal);
/* How a context rule with its calibration does on entries hidden as pixel
 * contexts hide them (dfl_impute_opts.score_only), drawn with seed +
 * DFL_CALIB_SCORE_SEED, which no calibration round of that seed draws. */
typedef struct {
    double mse;          /* the hidden entries' error after cal's spline correction, weighted by gap
                            distance as the fit weighs them, in the checkpoint's normalised units,
                            averaged over the channels */
    double crps;         /* their CRPS under N(corrected prediction, calibrated std^2), weighted and
                            averaged as mse */
    double spread_skill; /* their RMS calibrated spread over their RMSE, all channels */
    double entries;      /* hidden entries, all channels */
} dfl_calib_score;
#define DFL_CALIB_SCORE_SEED 0x5C0E
/* Scores the imputer's contexts with cal (fitted on other entries) on the
 * samples dfl_std_calibrate_imputer would fit on. The hidden entries
 * depend on the checkpoint's rule, seed and samples only, so two context
 * rules (dfl_imputer_set_pixel_contexts), each with its own calibration, are
 * scored on the same entries (`impute --context auto`); `who` as for
 * dfl_std_calibrate_imputer (nothing is logged; messages name it). */
dfl_status dfl_std_score_imputer(dfl_imputer *im, const dfl_dataset *ds, int64_t start, int64_t count, int64_t span,
                                 int K, uint64_t seed, const char *who, const dfl_ckpt_calib *cal,
                                 dfl_calib_score *score);
/* The choice between the imputer's trained contexts, calibrated in *cal
 * (dfl_std_calibrate_imputer on the same samples), and pixel contexts of
 * pixel_ratio (> 0, a share of the observed entries): the pixel
 * contexts are calibrated on those samples too, both rules are scored, each
 * with its own calibration, on one third set of hidden entries
 * (dfl_std_score_imputer), and pixel contexts win where their Gaussian
 * CRPS there is DFL_CONTEXT_PIXEL_MARGIN lower than the trained rule's.
 * The winner is left set on the imputer and its calibration in *cal
 * (context_ratio saying which); the choice is logged as `who`. Only an
 * empirical model is offered it: one trained on other contexts keeps them,
 * with nothing run. `train` runs it
 * on its held-out samples (infer.context = auto), `impute --calibrate
 * --context auto` on its input. */
#define DFL_CONTEXT_PIXEL_MARGIN 0.04
dfl_status dfl_std_choose_contexts(dfl_imputer *im, const dfl_dataset *ds, int64_t start, int64_t count, int64_t span,
                                   int K, uint64_t seed, double pixel_ratio, const char *who, dfl_ckpt_calib *cal);
/* The calibration `dynfill train` runs on its final checkpoint (EMA weights,
 * K draws, seed; the before/after figures logged) with the contexts of
 * infer.context (trained, pixel, or auto: dfl_std_choose_contexts), on
 * count samples spread over the span from start (dfl_sample_spread); the
 * signature of dfl_train_calibrate_fn. */
dfl_status dfl_std_calibrate(const char *ckpt_path, dfl_backend *be, const dfl_dataset *ds, int64_t start,
                             int64_t count, int64_t span, int K, uint64_t seed, dfl_ckpt_calib *cal);

/* data.climatology (include/dynfill/climatology.h): the mean field of the observed entries of samples
 * [start, start + count) of ds (at most DFL_CLIMATOLOGY_MAX_SAMPLES of them, one per equal stretch), in one pass,
 * filled by harmonic interpolation (dfl_baseline_harmonic) where a pixel has fewer than
 * DFL_CLIMATOLOGY_MIN_COUNT observations, smoothed and shrunk as the halves' cross-validation chooses.
 * mode "mean": every channel that some pixel observes that often uses it; "auto": the channels whose field
 * explains DFL_CLIMATOLOGY_MIN_EXPLAINED of the within-sample variance held out. The signature of
 * withheld: NULL, or an [H, W] plane of cells read as unobserved (data.withhold_cells). The signature of
 * dfl_train_climatology_fn. */
/* A checkpoint's climatology (docs/design.md, "Climatology") for the h x w fields of the file `fields`: the
 * mean field in the model's units, [c, h, w] (malloc'ed), into *offset; NULL for a model of values.
 * DFL_EUSAGE naming both files and sizes when the fields are of another size. */
dfl_status dfl_ckpt_climatology_offsets(const dfl_ckpt_meta *meta, const char *ckpt, const char *fields, int c, int h,
                                        int w, float **offset);

dfl_status dfl_climatology_estimate(const dfl_dataset *ds, int64_t start, int64_t count, const uint8_t *withheld,
                                    const char *mode, dfl_climatology *out);

#ifdef __cplusplus
}
#endif
#endif
