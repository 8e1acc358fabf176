/* Non-learned imputation baselines (issue 4 item 5; `dynfill impute
 * --method mean|harmonic`). Pure C on host buffers.
 *
 * Layout: obs and out are float32 NCHW [n, c, h, w] in the data's units;
 * mask is uint8 [n, mask_channels, h, w] with mask_channels 1 (one mask
 * shared by every channel) or c; nonzero = observed. Values of obs at
 * unobserved entries are never read (they may be NaN). Observed entries are
 * copied to out unchanged; obs and out may be the same buffer.
 *
 * A (sample, channel) with no observed entry at all is filled with the
 * mean of that channel's observed entries over all samples (0 when the
 * channel has no observed entry anywhere). */
#ifndef DYNFILL_BASELINE_H
#define DYNFILL_BASELINE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Per-channel mean of the observed entries over all samples, in double
 * (0 for a channel without observed entries): the fallback fill above.
 * means has c entries. */
void dfl_baseline_channel_means(int n, int c, int h, int w, int mask_channels, const float *obs,
                                const unsigned char *mask, double *means);

/* Missing entries of each sample and channel take that sample's observed
 * mean in that channel (accumulated in double). */
void dfl_baseline_mean(int n, int c, int h, int w, int mask_channels, const float *obs, const unsigned char *mask,
                       float *out);

/* Laplace interpolation: the missing entries solve the 5-point discrete
 * ∇²u = 0 with the observed entries as Dirichlet data; periodic along W
 * when periodic_x, along H when periodic_y, reflective (zero-flux Neumann)
 * at non-periodic borders. Solved per sample and channel by Jacobi-
 * preconditioned conjugate gradients in double precision on the missing
 * unknowns only, to relative residual 1e-6; OpenMP over (sample, channel). */
void dfl_baseline_harmonic(int n, int c, int h, int w, int mask_channels, const float *obs, const unsigned char *mask,
                           int periodic_x, int periodic_y, float *out);

/* Same, with explicit tolerance / iteration limit and a report. */
typedef struct {
    double tol;   /* relative residual ||b - A u|| / ||b||; <= 0 means 1e-6 */
    int max_iter; /* per (sample, channel) solve; <= 0 means 20 * (h + w) + 1000 */
} dfl_harmonic_opts;

typedef struct {
    double max_rel_residual; /* worst final relative residual over all solves */
    int max_iters;           /* most CG iterations any solve needed */
    long long solves;        /* solves that had at least one missing entry */
    long long unconverged;   /* solves that hit max_iter above tol */
} dfl_harmonic_stats;

void dfl_baseline_harmonic_ex(int n, int c, int h, int w, int mask_channels, const float *obs,
                              const unsigned char *mask, int periodic_x, int periodic_y, const dfl_harmonic_opts *opts,
                              dfl_harmonic_stats *stats, float *out);

#ifdef __cplusplus
}
#endif
#endif
