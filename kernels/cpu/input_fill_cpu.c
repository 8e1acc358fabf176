/* The pyramid fill of the network input on the CPU (kernels/shared/input_fill.h):
 * one parallel pass per level, over all samples and rows. */

#include "cpu/cpu_backend_internal.h"
#include "shared/input_fill.h"

#define FILL_PARALLEL_MIN 16384

typedef struct {
    int h, w;
    float *s, *m; /* [n, h, w, c] each */
} fill_level;

static void cpu_input_fill(dfl_backend *be, int n, int h, int w, int c, const float *x, float *y, float *scratch) {
    (void)be;
    const int L = dfl_fill_levels(h, w);
    fill_level lv[64];
    lv[0].h = h;
    lv[0].w = w;
    float *next = scratch;
    for (int l = 1; l <= L; ++l) {
        lv[l].h = (lv[l - 1].h + 1) / 2;
        lv[l].w = (lv[l - 1].w + 1) / 2;
        const size_t cells = (size_t)n * lv[l].h * lv[l].w * c;
        lv[l].s = next;
        lv[l].m = next + cells;
        next += 2 * cells;
    }
    /* push: level 1 from the input (values and mask interleaved, stride 2c), then 2x2 sums */
    for (int l = 1; l <= L; ++l) {
        const int hl = lv[l - 1].h, wl = lv[l - 1].w, ho = lv[l].h, wo = lv[l].w;
        const size_t stride = l == 1 ? 2 * (size_t)c : (size_t)c;
        const size_t total = (size_t)n * ho * wo * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > FILL_PARALLEL_MIN)
        for (int i = 0; i < n; ++i) {
            for (int yy = 0; yy < ho; ++yy) {
                const float *s = l == 1 ? x + (size_t)i * hl * wl * 2 * c : lv[l - 1].s + (size_t)i * hl * wl * c;
                const float *m = l == 1 ? s + c : lv[l - 1].m + (size_t)i * hl * wl * c;
                float *os = lv[l].s + ((size_t)i * ho + yy) * wo * c, *om = lv[l].m + ((size_t)i * ho + yy) * wo * c;
                for (int xx = 0; xx < wo; ++xx)
                    for (int ch = 0; ch < c; ++ch)
                        dfl_fill_push(s + ch, m + ch, stride, hl, wl, yy, xx, l == 1, os + (size_t)xx * c + ch,
                                      om + (size_t)xx * c + ch);
            }
        }
    }
    /* pull: the coarsest level has nothing above it (up = 0); each finer
     * level's fill overwrites its S */
    for (int l = L; l >= 1; --l) {
        const int hl = lv[l].h, wl = lv[l].w;
        const size_t total = (size_t)n * hl * wl * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > FILL_PARALLEL_MIN)
        for (int i = 0; i < n; ++i) {
            for (int yy = 0; yy < hl; ++yy) {
                float *s = lv[l].s + ((size_t)i * hl + yy) * wl * c;
                const float *m = lv[l].m + ((size_t)i * hl + yy) * wl * c;
                const float *up = l < L ? lv[l + 1].s + (size_t)i * lv[l + 1].h * lv[l + 1].w * c : NULL;
                for (int xx = 0; xx < wl; ++xx)
                    for (int ch = 0; ch < c; ++ch) {
                        const size_t k = (size_t)xx * c + ch;
                        const float u = up ? dfl_fill_upsample(up, lv[l + 1].h, lv[l + 1].w, c, yy, xx, ch) : 0.0f;
                        s[k] = dfl_fill_pull(s[k], m[k], u);
                    }
            }
        }
    }
    /* level 0: values | mask copied, the fill after them */
    const size_t total = (size_t)n * h * w * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > FILL_PARALLEL_MIN)
    for (int i = 0; i < n; ++i) {
        for (int yy = 0; yy < h; ++yy) {
            const float *up = L > 0 ? lv[1].s + (size_t)i * lv[1].h * lv[1].w * c : NULL;
            for (int xx = 0; xx < w; ++xx) {
                const size_t pix = ((size_t)i * h + yy) * w + xx;
                for (int ch = 0; ch < c; ++ch) {
                    const float u = up ? dfl_fill_upsample(up, lv[1].h, lv[1].w, c, yy, xx, ch) : 0.0f;
                    const float v = x[dfl_net_input_index(pix, 2, c, DFL_INPUT_PART_VALUE, ch)];
                    const float mk = x[dfl_net_input_index(pix, 2, c, DFL_INPUT_PART_MASK, ch)];
                    y[dfl_net_input_index(pix, 3, c, DFL_INPUT_PART_VALUE, ch)] = v;
                    y[dfl_net_input_index(pix, 3, c, DFL_INPUT_PART_MASK, ch)] = mk;
                    y[dfl_net_input_index(pix, 3, c, DFL_INPUT_PART_FILL, ch)] = dfl_fill_pull(v * mk, mk, u);
                }
            }
        }
    }
}

void dfl_cpu_register_input_fill_op(dfl_backend *be) { be->input_fill = cpu_input_fill; }
