/* Shallow-water dam break against conservation and symmetry: total mass
 * is conserved to rounding (reflective walls), and a centred dam stays
 * symmetric under x -> -x, y -> -y and x <-> y. */
#include <math.h>
#include <stdlib.h>

#include "dfl_test.h"
#include "gen/gen.h"

static double max_asymmetry(const double *h, int n, int kind) {
    double e = 0;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            double o = kind == 0 ? h[j * n + (n - 1 - i)] : kind == 1 ? h[(n - 1 - j) * n + i] : h[i * n + j];
            e = fmax(e, fabs(h[j * n + i] - o));
        }
    return e;
}

int main(void) {
    const int n = 48;
    dfl_sw_solver *s = dfl_sw_create(n, 2.5, 1.0);
    dfl_sw_set_dam(s, 0.0, 0.0, 0.55, 2.0, 1.0);
    const double m0 = dfl_sw_mass(s);
    double hmin = 1e9, hmax = 0;
    for (int k = 0; k < 30; ++k) { /* to t = 3: the waves reflect off the walls */
        dfl_sw_advance(s, 0.1);
        const double m = dfl_sw_mass(s);
        CHECK_MSG(fabs(m - m0) <= 1e-12 * m0, "t = %.1f: mass %.17g vs %.17g", dfl_sw_time(s), m, m0);
        const double *h = dfl_sw_height(s);
        for (int kind = 0; kind < 3; ++kind) {
            const double a = max_asymmetry(h, n, kind);
            CHECK_MSG(a <= 1e-13, "t = %.1f: symmetry %d broken by %.3g", dfl_sw_time(s), kind, a);
        }
        for (int i = 0; i < n * n; ++i) {
            hmin = fmin(hmin, h[i]);
            hmax = fmax(hmax, h[i]);
        }
    }
    CHECK_MSG(hmin > 0.2 && hmax <= 2.0 + 1e-9, "heights stay physical: [%.3f, %.3f]", hmin, hmax);
    /* The wave moved: the centre is no longer at the initial 2. */
    CHECK_MSG(dfl_sw_height(s)[(n / 2) * n + n / 2] < 1.9, "the dam broke");
    dfl_sw_destroy(s);

    /* An off-centre dam is not symmetric but still conserves mass. */
    s = dfl_sw_create(40, 2.5, 1.0);
    dfl_sw_set_dam(s, 0.7, -0.4, 0.5, 2.0, 1.0);
    const double m1 = dfl_sw_mass(s);
    dfl_sw_advance(s, 2.0);
    CHECK_MSG(fabs(dfl_sw_mass(s) - m1) <= 1e-12 * m1, "off-centre mass %.17g vs %.17g", dfl_sw_mass(s), m1);
    CHECK(max_asymmetry(dfl_sw_height(s), 40, 0) > 1e-3);
    /* Exact mass of the initial state: cells inside the circle at 2, else 1. */
    dfl_sw_set_dam(s, 0.0, 0.0, 0.0, 2.0, 1.0);
    CHECK_CLOSE(dfl_sw_mass(s), 25.0, 1e-12);
    dfl_sw_destroy(s);
    return dfl_test_finish("data_gen_shallow_water_test");
}
