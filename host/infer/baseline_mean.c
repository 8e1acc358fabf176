/* Mean filling baseline (include/dynfill/baseline.h): every missing entry
 * of a sample and channel takes that sample's observed mean in the channel. */
#include <stddef.h>

#include "dynfill/baseline.h"

void dfl_baseline_channel_means(int n, int c, int h, int w, int mask_channels, const float *obs,
                                const unsigned char *mask, double *means) {
    const size_t plane = (size_t)h * (size_t)w;
    for (int ch = 0; ch < c; ++ch) {
        double sum = 0.0;
        long long count = 0;
        for (int s = 0; s < n; ++s) {
            const float *x = obs + ((size_t)s * c + ch) * plane;
            const unsigned char *m = mask + ((size_t)s * mask_channels + (mask_channels == 1 ? 0 : ch)) * plane;
            for (size_t i = 0; i < plane; ++i)
                if (m[i]) {
                    sum += x[i];
                    ++count;
                }
        }
        means[ch] = count ? sum / (double)count : 0.0;
    }
}

void dfl_baseline_mean(int n, int c, int h, int w, int mask_channels, const float *obs, const unsigned char *mask,
                       float *out) {
    const size_t plane = (size_t)h * (size_t)w;
    double fallback[c > 0 ? c : 1];
    dfl_baseline_channel_means(n, c, h, w, mask_channels, obs, mask, fallback);
#pragma omp parallel for schedule(static)
    for (long long sc = 0; sc < (long long)n * c; ++sc) {
        const int s = (int)(sc / c), ch = (int)(sc % c);
        const float *x = obs + (size_t)sc * plane;
        float *y = out + (size_t)sc * plane;
        const unsigned char *m = mask + ((size_t)s * mask_channels + (mask_channels == 1 ? 0 : ch)) * plane;
        double sum = 0.0;
        long long count = 0;
        for (size_t i = 0; i < plane; ++i)
            if (m[i]) {
                sum += x[i];
                ++count;
            }
        const float fill = (float)(count ? sum / (double)count : fallback[ch]);
        for (size_t i = 0; i < plane; ++i) y[i] = m[i] ? x[i] : fill;
    }
}
