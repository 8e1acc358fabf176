/* data.climatology (include/dynfill/climatology.h) on a file with a known
 * mean field: channel 0 is a fixed pattern plus unit noise, channel 1 noise
 * about a constant, channel 2 the pattern alone (a static field such as
 * the orography; its anomalies keep 1 % of its std as their scale),
 * channel 3 the pattern plus noise of std 4 (a per-pixel mean of about 40
 * values is then off by about 0.63: smoothing must take most of that off).
 * The estimate must find the pattern (and fill a block no sample observes
 * smoothly), measure the noise as the anomaly std, say how much of each
 * channel the field explains, take the pattern channels under `auto` and
 * leave the noise channel alone (exactly its channel mean and std), read
 * only the samples it is given, and the offsets must turn values into
 * anomalies (on crops and folded channels) and back. Under `mean` a noise
 * channel's field is shrunk to nearly flat. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../data/data_test_files.h"
#include "dfl_test.h"
#include "dynfill/infer.h"
#include "shared/philox.h"

enum { N = 80, C = 4, H = 12, W = 16 };

static double pattern(int y, int x) { return 3.0 * sin(0.5 * x) + 0.25 * y; }

/* never observed: rows 4-6, columns 5-7 */
static int hole(int y, int x) { return y >= 4 && y <= 6 && x >= 5 && x <= 7; }

static void write_file(const char *path) {
    float *obs = malloc(sizeof(float) * N * C * H * W);
    uint8_t *mask = malloc((size_t)N * H * W);
    for (int i = 0; i < N; ++i)
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const size_t p = (size_t)y * W + x, k = (size_t)i * H * W + p;
                mask[k] = !hole(y, x) && dfl_rng_uniform(7, 1, k) < 0.5f;
                obs[((size_t)i * C + 0) * H * W + p] = (float)(pattern(y, x) + dfl_rng_normal(7, 2, k));
                obs[((size_t)i * C + 1) * H * W + p] = (float)(5.0 + 2.0 * dfl_rng_normal(7, 3, k));
                obs[((size_t)i * C + 2) * H * W + p] = (float)(100.0 + pattern(y, x));
                obs[((size_t)i * C + 3) * H * W + p] = (float)(pattern(y, x) + 4.0 * dfl_rng_normal(7, 4, k));
            }
    tf_dataset(path, N, C, 1, H, W, obs, mask, 0);
    free(obs);
    free(mask);
}

static void check_estimate(const dfl_dataset *ds) {
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    dfl_climatology cl;
    CHECK(dfl_climatology_estimate(ds, 0, N, NULL, "auto", &cl) == DFL_OK);
    CHECK(cl.samples == N && cl.c == C && cl.h == H && cl.w == W);
    CHECK_MSG(cl.used[0] && !cl.used[1] && cl.used[2] && cl.used[3] && cl.any_used, "auto used %d %d %d %d", cl.used[0],
              cl.used[1], cl.used[2], cl.used[3]);
    CHECK_MSG(fabs(cl.anomaly_std[2] - DFL_CLIMATOLOGY_MIN_SCALE * in->std[2]) < 1e-9 * in->std[2],
              "static channel: anomaly std %.3g, channel std %.3g", cl.anomaly_std[2], in->std[2]);
    /* the pattern's variance is about 5.3 (a sine of amplitude 3 and a ramp): against unit noise the field
     * explains about 0.84 of a sample's variance, against noise of std 4 about 0.25, static 1, noise 0 */
    CHECK_MSG(cl.explained[0] > 0.75 && cl.explained[0] < 0.9, "pattern channel explains %.3f", cl.explained[0]);
    CHECK_MSG(cl.explained[1] < 0.02, "noise channel explains %.3f", cl.explained[1]);
    CHECK_MSG(cl.explained[2] > 0.99, "static channel explains %.3f", cl.explained[2]);
    CHECK_MSG(cl.explained[3] > 0.17 && cl.explained[3] < 0.33, "noisy pattern explains %.3f", cl.explained[3]);
    CHECK_MSG(cl.smooth_width[3] > 0 && cl.smooth_width[2] == 0, "smoothing widths %.1f (noisy), %.1f (static)",
              cl.smooth_width[3], cl.smooth_width[2]);
    double sq3 = 0, n3 = 0;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
            if (!hole(y, x)) {
                const double e = cl.mean_field[(size_t)3 * H * W + (size_t)y * W + x] - pattern(y, x);
                sq3 += e * e, n3 += 1;
            }
    CHECK_MSG(sqrt(sq3 / n3) < 0.45, "noisy pattern: smoothed field RMS error %.3f (unsmoothed about 0.63)",
              sqrt(sq3 / n3));
    /* about 40 observations a pixel: the mean is off by about 1/sqrt(40) = 0.16 */
    double sq = 0, n = 0, worst_hole = 0;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            const double e = cl.mean_field[(size_t)y * W + x] - pattern(y, x);
            if (hole(y, x))
                worst_hole = fmax(worst_hole, fabs(e));
            else
                sq += e * e, n += 1;
        }
    CHECK_MSG(sqrt(sq / n) < 0.25, "mean field RMS error %.3f", sqrt(sq / n));
    /* the smooth pattern varies by at most about 1.5 across the hole; harmonic filling stays close */
    CHECK_MSG(worst_hole < 1.0, "filled hole: worst error %.3f", worst_hole);
    CHECK_MSG(fabs(cl.anomaly_std[0] - 1.0) < 0.08, "anomaly std %.3f, the noise is 1", cl.anomaly_std[0]);
    CHECK_MSG(in->std[0] > 1.8, "the pattern channel's std %.3f about its channel mean", in->std[0]);
    for (size_t p = 0; p < (size_t)H * W; ++p) CHECK(cl.mean_field[(size_t)H * W + p] == (float)in->mean[1]);
    CHECK(cl.anomaly_std[1] == in->std[1]);
    dfl_climatology_free(&cl);

    /* mean: every channel; a span of the file reads only that span */
    CHECK(dfl_climatology_estimate(ds, 10, 20, NULL, "mean", &cl) == DFL_OK);
    CHECK(cl.used[0] && cl.used[1] && cl.used[2] && cl.samples == 20);
    CHECK_MSG(fabs(cl.anomaly_std[1] - 2.0) < 0.2, "noise channel about its own field: %.3f", cl.anomaly_std[1]);
    /* the noise channel's per-pixel means (about 10 values each) are noise alone: cross-validation gives them a
     * gain near 0, so the field stays nearly flat (gain 1 with the chosen smoothing: std about 0.1) */
    double sum1 = 0, sq1 = 0;
    for (size_t p = 0; p < (size_t)H * W; ++p) {
        const double f = cl.mean_field[(size_t)H * W + p];
        sum1 += f, sq1 += f * f;
    }
    const double spread1 = sqrt(fmax(sq1 / (H * W) - (sum1 / (H * W)) * (sum1 / (H * W)), 0.0));
    CHECK_MSG(cl.gain[1] < 0.3 && spread1 < 0.05, "noise channel under mean: gain %.3f, field std %.3f", cl.gain[1],
              spread1);
    dfl_climatology_free(&cl);
}

/* offsets, removal on a crop of a folded channel, restoration */
static void check_offsets(void) {
    enum { h = 3, w = 4 };
    float field[2 * h * w], off[2 * h * w];
    for (int i = 0; i < 2 * h * w; ++i) field[i] = (float)(10 + i);
    const double mean[2] = {10, 20}, std[2] = {2, 4};
    dfl_climatology_offsets(field, 2, (size_t)h * w, mean, std, off);
    CHECK(off[0] == 0.0f && off[5] == 2.5f && off[h * w + 2] == (24.0f - 20.0f) / 4.0f);
    /* one sample of channel 1 alone, a 2x2 crop at (1, 2) */
    float x[4] = {1, 2, 3, 4};
    const uint8_t m[4] = {1, 0, 1, 1};
    const float gain[2] = {1.0f, 0.5f};
    dfl_climatology_remove(off, gain, 1, h, w, 1, 2, 2, 2, 1, 1, 1, x, m);
    const float want[4] = {1 * 0.5f - off[h * w + 1 * w + 2], 2, 3 * 0.5f - off[h * w + 2 * w + 2],
                           4 * 0.5f - off[h * w + 2 * w + 3]};
    for (int i = 0; i < 4; ++i) CHECK_MSG(x[i] == want[i], "entry %d: %g, want %g", i, x[i], want[i]);
    /* whole fields: remove then restore gives the observed values back, and adds the field elsewhere */
    float y[2 * h * w];
    uint8_t my[h * w];
    for (int i = 0; i < 2 * h * w; ++i) y[i] = (float)i * 0.25f;
    for (int i = 0; i < h * w; ++i) my[i] = (uint8_t)(i % 3 != 0);
    dfl_climatology_remove(off, NULL, 0, h, w, 0, 0, h, w, 1, 2, 1, y, my);
    dfl_climatology_restore(off, 1, 2, (size_t)h * w, y);
    for (int i = 0; i < 2 * h * w; ++i) {
        const float orig = (float)i * 0.25f;
        const float expect = my[i % (h * w)] ? orig : orig + off[i];
        CHECK_MSG(fabsf(y[i] - expect) < 1e-5f, "entry %d: %g, want %g", i, y[i], expect);
    }
}

int main(void) {
    char path[] = "/tmp/dfl_climatology_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    write_file(path);
    dfl_dataset *ds = NULL;
    CHECK(dfl_dataset_open(path, &ds) == DFL_OK);
    if (ds) check_estimate(ds);
    dfl_dataset_close(ds);
    unlink(path);
    check_offsets();
    return dfl_test_finish("infer_climatology");
}
