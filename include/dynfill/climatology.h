/* Climatology: the training data's mean field (docs/design.md, "Climatology").
 *
 * The network has no input that says where an entry is. Where the data's
 * mean differs from place to place (land and sea, mountains, a forcing
 * pattern, a dam in the middle of every field) it can only guess that
 * pattern from the observations around a gap. With data.climatology the
 * model works on anomalies instead: in model units an entry is
 *     z = (x - mean_field[c, y, x]) / anomaly_std[c]
 * where mean_field is the per-pixel mean of the observed training entries
 * (filled by harmonic interpolation where fewer than
 * DFL_CLIMATOLOGY_MIN_COUNT samples observe a pixel), smoothed and shrunk
 * towards the channel mean as far as cross-validation between the two
 * halves of the samples says its sampling noise calls for, and anomaly_std the
 * standard deviation of the observed entries about it. The checkpoint
 * stores mean_field as /climatology and anomaly_std as data_std; imputation
 * takes the field off its inputs and puts it back on its predictions.
 *
 * The estimate (dfl_climatology_estimate, include/dynfill/infer.h) lives
 * in the infer layer, since it fills gaps with the harmonic baseline, and
 * `dynfill train` passes it in. This header is the data layer's: the
 * result, its release and the offsets, used by the training loader (on
 * crops) and by imputation and calibration (on whole fields). */
#ifndef DYNFILL_CLIMATOLOGY_H
#define DYNFILL_CLIMATOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/data.h"
#include "dynfill/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pixel's mean needs this many observations; fewer: filled from its neighbours. */
#define DFL_CLIMATOLOGY_MIN_COUNT                4
/* data.climatology = auto uses a channel's mean field when, estimated from one half of the samples read and
 * scored on the other (both ways), it explains at least this share of the variance of the observed values
 * about their own sample's mean. A field that tells less buys little: the study's Navier-Stokes fields
 * (0.05) scored the same with the smoothed field as without, and 8 % worse with the unsmoothed one. */
#define DFL_CLIMATOLOGY_MIN_EXPLAINED            0.1
/* At most this many samples, one per equal stretch of the training split, and at most this many bytes of /obs
 * (but at least DFL_CLIMATOLOGY_MIN_SAMPLES samples) are read for the estimate. */
#define DFL_CLIMATOLOGY_MAX_SAMPLES              1024
#define DFL_CLIMATOLOGY_MAX_BYTES                (4ull << 30)
#define DFL_CLIMATOLOGY_MIN_SAMPLES              16
/* The estimate's host memory (rank 0, before training; freed after): its per-entry sums, bytes an entry of
 * one field of every channel (`train --dry-run` prints it). */
#define DFL_CLIMATOLOGY_ESTIMATE_BYTES_PER_ENTRY 48
/* The anomalies' std is at least this share of the channel's std (a static channel: its anomalies are
 * float rounding, which must not be scaled up). */
#define DFL_CLIMATOLOGY_MIN_SCALE                0.01

typedef struct {
    int c, h, w;
    float *mean_field;    /* [c, h, w] data units; a channel that does not use it holds its channel mean */
    double *anomaly_std;  /* c: std of x - mean_field over the observed entries read (data units); a channel
                            that does not use it: the dataset's std */
    double *explained;    /* c: the held-out share of the within-sample variance the field explains (NaN:
                             a half observes no pixel often enough) */
    double *smooth_width; /* c: the Gaussian std (pixels) the field was smoothed with, chosen from 0-4 */
    double *gain;         /* c: the factor its departures from the channel mean were scaled by */
    int *used;            /* c: 1 = the channel works on anomalies */
    int any_used;
    int64_t samples; /* samples read */
} dfl_climatology;

/* The estimate is dfl_climatology_estimate (include/dynfill/infer.h). */
void dfl_climatology_free(dfl_climatology *cl);

/* Model-unit offsets of a c x px mean field: offset[ch, p] = (mean_field[ch, p] - mean[ch]) / std[ch],
 * with mean/std the model's normalisation (the checkpoint's data_mean and data_std). */
void dfl_climatology_offsets(const float *mean_field, int c, size_t px, const double *mean, const double *std,
                             float *offset);

/* On n samples of c channels of a ph x pw crop at (y0, x0) of fields h x w (the whole field: 0, 0, h, w):
 * x = x * gain[ch] - offset[ch, y0 + y, x0 + x] at the observed entries (mask: n x mask_c, 1 or c
 * channels); unobserved entries stay as they are. gain NULL: 1. first_channel: the channel of the
 * offsets that x's channel 0 is (a folded one-channel sample of model.channels = shared). */
void dfl_climatology_remove(const float *offset, const float *gain, int first_channel, int h, int w, int y0, int x0,
                            int ph, int pw, int n, int c, int mask_c, float *x, const uint8_t *mask);
/* x[i, ch, p] += offset[ch, p] on every entry of n whole fields of c channels of px entries. */
void dfl_climatology_restore(const float *offset, int n, int c, size_t px, float *x);

#ifdef __cplusplus
}
#endif
#endif
