/* Colour maps (host/plot/plot_colormap.h): piecewise-linear in RGB between
 * hand-picked control points, sampled into 256-entry tables. The
 * sequential map's lightness rises monotonically so ordering reads the
 * same in colour and in grey. */
#include "plot_colormap.h"

#include <math.h>
#include <pthread.h>

typedef struct {
    double at;
    unsigned char r, g, b;
} control_point;

static const control_point k_sequential[] = {
    {0.000, 68, 1, 84},    {0.125, 71, 44, 122}, {0.250, 59, 81, 139},  {0.375, 44, 113, 142}, {0.500, 33, 144, 141},
    {0.625, 39, 173, 129}, {0.750, 92, 200, 99}, {0.875, 170, 220, 50}, {1.000, 253, 231, 37},
};
static const control_point k_heat[] = {
    {0.00, 0, 0, 4},     {0.15, 40, 11, 84},   {0.30, 101, 21, 110}, {0.45, 159, 42, 99},
    {0.60, 212, 72, 66}, {0.75, 245, 125, 21}, {0.90, 250, 193, 39}, {1.00, 252, 255, 164},
};
static const control_point k_diverging[] = {
    {0.00, 5, 48, 97},     {0.15, 33, 102, 172}, {0.30, 103, 169, 207}, {0.45, 209, 229, 240}, {0.50, 247, 247, 247},
    {0.55, 253, 219, 199}, {0.70, 239, 138, 98}, {0.85, 178, 24, 43},   {1.00, 103, 0, 31},
};

enum { TABLE = 257 }; /* odd, so u = 0.5 hits the diverging map's white exactly */
static uint32_t g_tables[3][TABLE];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void sample(const control_point *cp, int n, uint32_t *table) {
    for (int i = 0; i < TABLE; ++i) {
        const double u = (double)i / (TABLE - 1);
        int k = 0;
        while (k < n - 2 && u > cp[k + 1].at) ++k;
        const double t = (u - cp[k].at) / (cp[k + 1].at - cp[k].at);
        const double r = cp[k].r + t * (cp[k + 1].r - cp[k].r);
        const double g = cp[k].g + t * (cp[k + 1].g - cp[k].g);
        const double b = cp[k].b + t * (cp[k + 1].b - cp[k].b);
        table[i] = (uint32_t)lround(r) << 16 | (uint32_t)lround(g) << 8 | (uint32_t)lround(b);
    }
}

static void build_tables(void) {
    sample(k_sequential, sizeof k_sequential / sizeof k_sequential[0], g_tables[DFL_CMAP_SEQUENTIAL]);
    sample(k_heat, sizeof k_heat / sizeof k_heat[0], g_tables[DFL_CMAP_HEAT]);
    sample(k_diverging, sizeof k_diverging / sizeof k_diverging[0], g_tables[DFL_CMAP_DIVERGING]);
}

uint32_t dfl_cmap_color(dfl_cmap map, double u) {
    pthread_once(&g_once, build_tables);
    if (isnan(u)) return 0x808080;
    u = u < 0 ? 0 : (u > 1 ? 1 : u);
    return g_tables[map][(int)lround(u * (TABLE - 1))];
}
