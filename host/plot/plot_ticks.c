/* Axis tick positions (host/plot/plot_figures.h). */
#include <math.h>

#include "plot_figures.h"

static int linear_ticks(double lo, double hi, double *ticks, int max) {
    const double span = hi - lo;
    if (!(span > 0)) {
        if (max > 0) ticks[0] = lo;
        return max > 0;
    }
    const double raw = span / 5.0;
    const double mag = pow(10.0, floor(log10(raw)));
    const double norm = raw / mag;
    const double step = (norm < 1.5 ? 1.0 : norm < 3.5 ? 2.0 : norm < 7.5 ? 5.0 : 10.0) * mag;
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < max; k += 1.0) {
        const double v = k * step;
        if (v > hi + 1e-9 * step) break;
        ticks[n++] = fabs(v) < 1e-12 * step ? 0.0 : v;
    }
    return n;
}

int dfl_plot_ticks(double lo, double hi, int log_axis, double *ticks, int max) {
    if (!log_axis || !(lo > 0) || !(hi >= lo)) return linear_ticks(lo, hi, ticks, max);
    static const double sets[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int sizes[3] = {1, 3, 9};
    static const int need[3] = {3, 3, 2};
    const int k0 = (int)floor(log10(lo)), k1 = (int)ceil(log10(hi));
    for (int s = 0; s < 3; ++s) {
        int n = 0;
        for (int k = k0; k <= k1; ++k)
            for (int i = 0; i < sizes[s]; ++i) {
                const double v = sets[s][i] * pow(10.0, k);
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) && n < max) ticks[n++] = v;
            }
        if (n >= need[s]) return n;
    }
    return linear_ticks(lo, hi, ticks, max);
}
