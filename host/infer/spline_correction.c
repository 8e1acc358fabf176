/* The spline correction of an imputation (include/dynfill/infer.h, docs/design.md, "Spline correction"). */
#include <stdlib.h>
#include <string.h>

#include "dynfill/infer.h"
#include "dynfill/status.h"
#include "shared/fill_spline.h"

void dfl_spline_toward(dfl_backend *be, int n, int c, int h, int w, int mc, const float *obs, const uint8_t *mask,
                       const float *pred, int periodic_x, int periodic_y, float *toward) {
    const size_t px = (size_t)h * w, floats = px * 3 * (size_t)c;
    /* one sample at a time: the solve holds 8 fields of it (input, 5 scratch planes) */
    float *host = dfl_xmalloc(floats * sizeof(float));
    float *y = be->alloc(be, floats * sizeof(float));
    float *scratch = be->alloc(be, dfl_spline_scratch_floats(1, h, w, c) * sizeof(float));
    for (int i = 0; i < n; ++i) {
        for (int ch = 0; ch < c; ++ch) {
            const uint8_t *m = mask + ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px;
            const float *o = obs + ((size_t)i * c + ch) * px, *p = pred + ((size_t)i * c + ch) * px;
            for (size_t e = 0; e < px; ++e) {
                /* the solve keeps the entries whose mask part is set, and starts the others from pred */
                host[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_VALUE, ch)] = m[e] ? o[e] : 0.0f;
                host[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_MASK, ch)] = m[e] ? 1.0f : 0.0f;
                host[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)] = m[e] ? o[e] : p[e];
            }
        }
        be->upload(be, y, host, floats * sizeof(float));
        be->input_fill_spline(be, 1, h, w, c, periodic_x, periodic_y, DFL_SPLINE_ITERS, y, scratch);
        be->download(be, host, y, floats * sizeof(float));
        for (int ch = 0; ch < c; ++ch) {
            const uint8_t *m = mask + ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px;
            const float *p = pred + ((size_t)i * c + ch) * px;
            float *t = toward + ((size_t)i * c + ch) * px;
            for (size_t e = 0; e < px; ++e)
                t[e] = m[e] ? 0.0f : host[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)] - p[e];
        }
    }
    be->free(be, y);
    be->free(be, scratch);
    free(host);
}

void dfl_spline_correct(const double *weight, int n, int K, int c, size_t px, const float *toward, float *pred,
                        float *members) {
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            const float wt = (float)weight[ch];
            if (wt == 0.0f) continue;
            const float *t = toward + ((size_t)i * c + ch) * px;
            float *p = pred + ((size_t)i * c + ch) * px;
            for (size_t e = 0; e < px; ++e) p[e] += wt * t[e];
            for (int k = 0; members && k < K; ++k) {
                float *x = members + (((size_t)i * K + k) * c + ch) * px;
                for (size_t e = 0; e < px; ++e) x[e] += wt * t[e];
            }
        }
}

double dfl_spline_weight_fit(const float *err, const float *toward, const float *wt, size_t n) {
    /* the weight minimising sum wt (err + beta toward)^2 */
    double num = 0.0, den = 0.0;
    for (size_t k = 0; k < n; ++k) {
        const double v = wt ? wt[k] : 1.0;
        num -= v * (double)err[k] * toward[k];
        den += v * (double)toward[k] * toward[k];
    }
    if (!(den > 0.0)) return 0.0;
    const double beta = num / den;
    return beta < 0.0 ? 0.0 : (beta > 1.0 ? 1.0 : beta);
}
