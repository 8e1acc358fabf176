/* model.channels = auto: joint or shared channels chosen from the data
 * (docs/design.md, "Shared channels").
 *
 * A joint network reads a sample's C channels together through the same
 * `base` features; a shared one is a one-channel network applied to each
 * channel as a field of its own. Joint pays where one channel says much
 * about another (Kolmogorov frames 0.1 time units apart: 0.54-0.62 x
 * harmonic against shared's 0.65-0.66 x); where the channels are weakly
 * related it loses by far (frames 1 apart: 0.91-1.01 x against 0.59-0.61 x;
 * benchmarks/study/RESULTS.md, "Ten frames as channels" and "Choosing
 * shared channels from the data").
 *
 * Channels can be closely related without being correlated at one place:
 * the two components of a divergence-free wind have no pointwise
 * correlation, yet du/dx = -dv/dy (0.0105 joint against 0.0161 shared on
 * Kolmogorov winds). So the statistic also reads central differences.
 *
 * The statistic: three features per channel and pixel, the value and its
 * central differences along x and along y (each formed where the entries
 * it needs are observed and inside the field). For each channel, the
 * largest |Pearson correlation| of one of its features with one of
 * another channel's, over the entries where both are formed (each feature
 * centred by its mean over its formed entries); the median of that over
 * the channels. */
#ifndef DYNFILL_HOST_CHANNEL_CHOICE_H
#define DYNFILL_HOST_CHANNEL_CHOICE_H

#include <stddef.h>
#include <stdint.h>

/* Median best-partner correlation from which the channels are read jointly. */
#define DFL_CHANNELS_AUTO_CORRELATION 0.8
/* Entries where both features are formed below which a pair's correlation
 * is not used (its standard error is then above 1/16). */
#define DFL_CHANNELS_AUTO_MIN_PAIRS   256

typedef struct {
    int shared;         /* the choice: 1 shared, 0 joint */
    int channels;       /* C */
    double correlation; /* median over the channels of the best partner's |correlation| (0 when C = 1) */
    int64_t positions;  /* (sample, pixel) positions read */
} dfl_channel_choice;

/* obs [n, c, h, w], masks [n, mc, h, w] (mc 1 or c; nonzero = observed).
 * Reads every stride-th pixel of each sample (stride >= 1). One channel is
 * joint. Never fails. */
dfl_channel_choice dfl_channels_choose(const float *obs, const uint8_t *masks, int64_t n, int c, int mc, int h, int w,
                                       int64_t stride);

/* One line saying what was chosen and why, e.g. "shared: the channels are
 * weakly related (median best-partner correlation 0.29 < 0.8 over 10
 * channels)". */
void dfl_channel_choice_describe(const dfl_channel_choice *c, char *buf, size_t len);

#endif
