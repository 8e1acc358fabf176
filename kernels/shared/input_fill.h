/* Pyramid fill of the network's masked input (model.input_fill = pyramid,
 * docs/design.md, "Input fill"), shared by the CPU and CUDA backends.
 *
 * The network sees M_ctx ⊙ x_t and M_ctx. A convolution can form local
 * sums of values and of mask entries, but not their ratio, the local mean
 * of the observed values, which is what any interpolation starts from.
 * The fill hands the network that ratio at every scale ("push-pull"):
 *
 *   push: level l+1 sums each 2x2 block of level l, values S and mask
 *         weights W separately (level 0: S = m x, W = m);
 *   pull: from the coarsest level (1x1) down,
 *         F_l = c S_l / W_l + (1 - c) U(F_{l+1}),  c = min(W_l, 1),
 *         where U is bilinear (cell-centred) up-sampling of the coarser
 *         fill, clamped at the borders.
 *
 * At level 0, with a 0/1 mask, F_0 is x on the context and the fill from
 * the coarser levels elsewhere. F is linear in the values for a fixed
 * mask, and has no parameters. Odd sizes round up: level l+1 has
 * ceil(h_l / 2) rows; a block at the border has fewer children. */
#ifndef DYNFILL_SHARED_INPUT_FILL_H
#define DYNFILL_SHARED_INPUT_FILL_H

#include <stddef.h>

#include "dfl_hd.h"
#include "net_input.h"

/* Levels above the field, until 1x1 (0 for a 1x1 field). */
DFL_HD int dfl_fill_levels(int h, int w) {
    int l = 0;
    while (h > 1 || w > 1) {
        h = (h + 1) / 2;
        w = (w + 1) / 2;
        ++l;
    }
    return l;
}

/* Floats of scratch for n samples of h x w x c: S and W of levels 1..L. */
DFL_HD size_t dfl_fill_scratch_floats(int n, int h, int w, int c) {
    size_t cells = 0;
    while (h > 1 || w > 1) {
        h = (h + 1) / 2;
        w = (w + 1) / 2;
        cells += (size_t)h * w;
    }
    return 2 * cells * (size_t)n * (size_t)c;
}

/* Push: the sums of the (up to) 2x2 children of cell (i, j) of the next
 * level, in a fixed order. s, m: the finer level's values and weights
 * (pixel stride `stride` floats, rows of wl pixels, hl rows), already
 * offset to channel ch; mask_values: 1 at level 0, where the values are
 * multiplied by the mask, 0 above (S is already a sum of masked values). */
DFL_HD void dfl_fill_push(const float *s, const float *m, size_t stride, int hl, int wl, int i, int j, int mask_values,
                          float *out_s, float *out_w) {
    float ss = 0.0f, ww = 0.0f;
    for (int a = 0; a < 2; ++a) {
        const int y = 2 * i + a;
        if (y >= hl) break;
        for (int b = 0; b < 2; ++b) {
            const int x = 2 * j + b;
            if (x >= wl) break;
            const size_t idx = ((size_t)y * wl + x) * stride;
            const float wt = m[idx];
            ss += mask_values ? s[idx] * wt : s[idx];
            ww += wt;
        }
    }
    *out_s = ss;
    *out_w = ww;
}

/* Bilinear (cell-centred) taps on the coarser level for index i of the
 * finer one: 0.75 on parent i/2 and 0.25 on its neighbour towards i,
 * clamped to [0, pn). */
DFL_HD int dfl_fill_tap(int i, int pn) {
    int k = (i & 1) ? (i >> 1) + 1 : (i >> 1) - 1;
    return k < 0 ? 0 : (k >= pn ? pn - 1 : k);
}

/* U(F) at (i, j) from the coarser fill F [ph, pw, c] (channel ch). */
DFL_HD float dfl_fill_upsample(const float *f, int ph, int pw, int c, int i, int j, int ch) {
    const int y0 = i >> 1, y1 = dfl_fill_tap(i, ph), x0 = j >> 1, x1 = dfl_fill_tap(j, pw);
    const float a = f[((size_t)y0 * pw + x0) * c + ch], b = f[((size_t)y0 * pw + x1) * c + ch];
    const float d = f[((size_t)y1 * pw + x0) * c + ch], e = f[((size_t)y1 * pw + x1) * c + ch];
    return 0.5625f * a + 0.1875f * b + 0.1875f * d + 0.0625f * e;
}

/* Pull: c S / W + (1 - c) up with c = min(W, 1); for W < 1 this is
 * S + (1 - W) up, since c S / W = S. */
DFL_HD float dfl_fill_pull(float s, float w, float up) {
    if (w >= 1.0f) return s / w;
    return s + (1.0f - w) * up;
}

#endif
