/* model.channels = auto (host/model/channel_choice.h) on synthetic fields:
 *   - the statistic equals its definition computed naively (per-channel
 *     masks, stride 3): each channel's largest |r| of its value or central
 *     differences with another channel's, over the entries where both are
 *     formed, the median over the channels;
 *   - values at missing entries are never read (garbage there changes
 *     nothing, bit for bit);
 *   - one mask for all channels equals the same mask repeated per channel;
 *   - a chain x_k+1 = rho x_k + sqrt(1 - rho^2) e (frames of a flow):
 *     median best partner rho (0.3 and 0.7 shared, 0.9 joint);
 *   - a channel and its negative are one channel to the rule: joint;
 *   - the two components of a divergence-free field from a stream function
 *     (uncorrelated at each pixel, d_x u = -d_y v): 1, joint;
 *   - independent channels: near 0, shared; one channel: joint. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "model/channel_choice.h"

enum { N = 16, C = 6, H = 24, W = 20 };
#define PLANE ((size_t)H * W)

static double gaussian(void) {
    return sqrt(-2.0 * log(1.0 - dfl_test_uniform())) * cos(6.283185307179586 * dfl_test_uniform());
}

/* x[n, c] = rho x[n, c-1] + sqrt(1 - rho^2) e, plus 3 so that the centring matters */
static void chain(float *x, int c, double rho) {
    for (int n = 0; n < N; ++n)
        for (size_t p = 0; p < PLANE; ++p) {
            double v = gaussian();
            for (int k = 0; k < c; ++k) {
                if (k) v = rho * v + sqrt(1.0 - rho * rho) * gaussian();
                x[((size_t)n * c + k) * PLANE + p] = (float)(3.0 + v);
            }
        }
}

static double median(double *v, int n) { /* insertion sort, n small */
    for (int i = 1; i < n; ++i)
        for (int j = i; j > 0 && v[j - 1] > v[j]; --j) {
            const double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Feature k (0 value, 1 central difference along x, 2 along y) of channel a at (n, y, x), as the header
 * defines it; 0 where it is not formed. mask channels mc = c. */
static int naive_feature(const float *x, const uint8_t *m, int c, int n, int a, int y, int xx, int k, double *v) {
    const size_t base = ((size_t)n * c + a) * PLANE;
    if (k == 0) {
        *v = x[base + (size_t)y * W + xx];
        return m[base + (size_t)y * W + xx] != 0;
    }
    const int dy = k == 2, dx = k == 1;
    if (y - dy < 0 || y + dy >= H || xx - dx < 0 || xx + dx >= W) return 0;
    const size_t lo = base + (size_t)(y - dy) * W + (xx - dx), hi = base + (size_t)(y + dy) * W + (xx + dx);
    *v = (double)x[hi] - (double)x[lo];
    return m[lo] && m[hi];
}

/* The definition, one feature pair at a time. */
static double naive(const float *x, const uint8_t *m, int c, int stride) {
    double mean[C][3], best[C];
    for (int a = 0; a < c; ++a) {
        best[a] = 0.0;
        for (int k = 0; k < 3; ++k) {
            double s = 0.0, cnt = 0.0, v;
            for (int n = 0; n < N; ++n)
                for (int p = 0; p < (int)PLANE; p += stride)
                    if (naive_feature(x, m, c, n, a, p / W, p % W, k, &v)) {
                        s += v;
                        cnt += 1.0;
                    }
            mean[a][k] = cnt > 0.0 ? s / cnt : 0.0;
        }
    }
    for (int a = 0; a < c; ++a)
        for (int b = 0; b < c; ++b)
            for (int ka = 0; ka < 3 && a != b; ++ka)
                for (int kb = 0; kb < 3; ++kb) {
                    double ab = 0.0, aa = 0.0, bb = 0.0, cnt = 0.0, va, vb;
                    for (int n = 0; n < N; ++n)
                        for (int p = 0; p < (int)PLANE; p += stride) {
                            if (!naive_feature(x, m, c, n, a, p / W, p % W, ka, &va)) continue;
                            if (!naive_feature(x, m, c, n, b, p / W, p % W, kb, &vb)) continue;
                            va -= mean[a][ka];
                            vb -= mean[b][kb];
                            ab += va * vb;
                            aa += va * va;
                            bb += vb * vb;
                            cnt += 1.0;
                        }
                    if (cnt < DFL_CHANNELS_AUTO_MIN_PAIRS) continue;
                    const double r = fabs(ab / sqrt(aa * bb));
                    if (r > best[a]) best[a] = r;
                }
    return median(best, c);
}

int main(void) {
    dfl_test_seed(0x2545F4914F6CDD1Dull);
    const size_t entries = (size_t)N * C * PLANE;
    float *x = malloc(entries * sizeof(float)), *y = malloc(entries * sizeof(float));
    uint8_t *m = malloc(entries), *ones = malloc(entries);
    memset(ones, 1, entries);

    /* the statistic against its definition, a mask per channel, every third pixel */
    chain(x, C, 0.6);
    for (size_t i = 0; i < entries; ++i) m[i] = dfl_test_uniform() < 0.5;
    dfl_channel_choice ch = dfl_channels_choose(x, m, N, C, C, H, W, 3);
    const double want = naive(x, m, C, 3);
    CHECK_MSG(fabs(ch.correlation - want) < 1e-9, "per-channel masks: %.15g against the naive %.15g", ch.correlation,
              want);
    CHECK(ch.channels == C && ch.positions == (int64_t)N * (int64_t)((PLANE + 2) / 3));

    /* missing entries are never read */
    memcpy(y, x, entries * sizeof(float));
    for (size_t i = 0; i < entries; ++i)
        if (!m[i]) y[i] = 1e30f;
    dfl_channel_choice garbage = dfl_channels_choose(y, m, N, C, C, H, W, 3);
    CHECK_MSG(garbage.correlation == ch.correlation, "values at missing entries changed it: %.17g against %.17g",
              garbage.correlation, ch.correlation);

    /* one mask for the channels is that mask in every channel */
    uint8_t *rep = malloc(entries);
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < C; ++k) memcpy(rep + ((size_t)n * C + k) * PLANE, m + (size_t)n * PLANE, PLANE);
    dfl_channel_choice one = dfl_channels_choose(x, m, N, C, 1, H, W, 1); /* mask [N, 1, H, W]: m's first N planes */
    dfl_channel_choice repeated = dfl_channels_choose(x, rep, N, C, C, H, W, 1);
    CHECK_MSG(one.correlation == repeated.correlation, "one mask %.17g, repeated %.17g", one.correlation,
              repeated.correlation);
    free(rep);

    /* chains of three strengths: the median best partner is rho */
    const double rhos[] = {0.3, 0.7, 0.9};
    for (int k = 0; k < 3; ++k) {
        chain(x, C, rhos[k]);
        ch = dfl_channels_choose(x, ones, N, C, 1, H, W, 1);
        /* the best of two sample correlations of about 7 700 pairs: within 0.03 of rho */
        CHECK_MSG(fabs(ch.correlation - rhos[k]) < 0.03, "rho %g: %g", rhos[k], ch.correlation);
        CHECK_MSG(ch.shared == (rhos[k] < DFL_CHANNELS_AUTO_CORRELATION), "rho %g: shared %d", rhos[k], ch.shared);
    }
    char line[256];
    dfl_channel_choice_describe(&ch, line, sizeof line);
    CHECK_MSG(strstr(line, "joint: the channels are strongly related") == line, "%s", line);

    /* a channel and its negative: |r| = 1 */
    chain(x, 2, 0.0);
    for (int n = 0; n < N; ++n)
        for (size_t p = 0; p < PLANE; ++p) x[((size_t)n * 2 + 1) * PLANE + p] = -x[((size_t)n * 2) * PLANE + p];
    ch = dfl_channels_choose(x, ones, N, 2, 1, H, W, 1);
    CHECK_MSG(fabs(ch.correlation - 1.0) < 1e-9 && !ch.shared, "negated channel: %g", ch.correlation);

    /* a divergence-free pair from a white-noise stream function psi: u = d_y psi, v = -d_x psi (central
     * differences) are uncorrelated at each pixel, but d_x u = -d_y v in the interior: |r| = 1 */
    float *psi = malloc((size_t)N * PLANE * sizeof(float));
    for (size_t i = 0; i < (size_t)N * PLANE; ++i) psi[i] = (float)gaussian();
    for (int n = 0; n < N; ++n)
        for (int y = 0; y < H; ++y)
            for (int xx = 0; xx < W; ++xx) {
                const float *q = psi + (size_t)n * PLANE;
                const int yu = (y + 1) % H, yd = (y + H - 1) % H, xr = (xx + 1) % W, xl = (xx + W - 1) % W;
                x[((size_t)n * 2) * PLANE + (size_t)y * W + xx] = q[yu * W + xx] - q[yd * W + xx];
                x[((size_t)n * 2 + 1) * PLANE + (size_t)y * W + xx] = -(q[y * W + xr] - q[y * W + xl]);
            }
    free(psi);
    ch = dfl_channels_choose(x, ones, N, 2, 1, H, W, 1);
    CHECK_MSG(fabs(ch.correlation - 1.0) < 1e-6 && !ch.shared, "divergence-free pair: %g", ch.correlation);
    const double want_pair = naive(x, ones, 2, 1);
    CHECK_MSG(fabs(want_pair - ch.correlation) < 1e-9, "divergence-free pair against the naive: %g", want_pair);

    /* independent channels */
    chain(x, C, 0.0);
    ch = dfl_channels_choose(x, ones, N, C, 1, H, W, 1);
    CHECK_MSG(ch.correlation < 0.06 && ch.shared, "independent: %g", ch.correlation);
    dfl_channel_choice_describe(&ch, line, sizeof line);
    CHECK_MSG(strstr(line, "shared: the channels are weakly related") == line, "%s", line);

    /* one channel */
    ch = dfl_channels_choose(x, ones, N, 1, 1, H, W, 1);
    CHECK(!ch.shared && ch.correlation == 0.0);
    dfl_channel_choice_describe(&ch, line, sizeof line);
    CHECK_MSG(!strcmp(line, "joint: one channel"), "%s", line);

    free(x);
    free(y);
    free(m);
    free(ones);
    return dfl_test_finish("channel_choice");
}
