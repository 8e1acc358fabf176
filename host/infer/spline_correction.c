/* The spline correction of an imputation (include/dynfill/infer.h, docs/design.md, "Spline correction"). */
#include <stdlib.h>
#include <string.h>

#include "dynfill/infer.h"
#include "dynfill/status.h"
#include "shared/fill_spline.h"
#include "shared/fill_spline3.h"

/* Samples per backend call: as many as fit in chunk_bytes of input and
 * scratch (the solve holds 8 floats per entry: the input's 3 and 5 scratch
 * planes), at least one, at most n. */
static int spline_chunk(int n, int c, int h, int w, size_t chunk_bytes, size_t *per_sample) {
    *per_sample = (size_t)h * w * 3 * (size_t)c;
    const size_t bytes = (*per_sample + dfl_spline_scratch_floats(1, h, w, c)) * sizeof(float);
    if (!chunk_bytes) chunk_bytes = DFL_SPLINE_CHUNK_BYTES;
    const size_t fit = chunk_bytes / bytes;
    return fit < 1 ? 1 : fit < (size_t)n ? (int)fit : n;
}

void dfl_spline_toward_bytes(const dfl_backend *be, int n, int c, int h, int w, size_t *plan_bytes,
                             size_t *host_bytes) {
    size_t per_sample = 0;
    const int chunk = n > 0 ? spline_chunk(n, c, h, w, 0, &per_sample) : 0;
    const size_t on_backend = ((size_t)chunk * per_sample + dfl_spline_scratch_floats(chunk, h, w, c)) * sizeof(float);
    const size_t staging = (size_t)chunk * per_sample * sizeof(float);
    const int device = be->memory_info != NULL; /* a device reports its own memory (dfl_backend_memory_available) */
    *plan_bytes = on_backend + (device ? 0 : staging);
    *host_bytes = device ? staging : 0;
}

void dfl_spline_toward(dfl_backend *be, int n, int c, int h, int w, int mc, const float *obs, const uint8_t *mask,
                       const float *pred, int periodic_x, int periodic_y, size_t chunk_bytes, float *toward,
                       float *toward3) {
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return;
    const size_t px = (size_t)h * w;
    size_t per_sample = 0;
    const int chunk = spline_chunk(n, c, h, w, chunk_bytes, &per_sample);
    float *host = dfl_xmalloc((size_t)chunk * per_sample * sizeof(float));
    float *y = be->alloc(be, (size_t)chunk * per_sample * sizeof(float));
    float *scratch = be->alloc(be, dfl_spline_scratch_floats(chunk, h, w, c) * sizeof(float));
    for (int i0 = 0; i0 < n; i0 += chunk) {
        const int m = n - i0 < chunk ? n - i0 : chunk;
        for (int i = i0; i < i0 + m; ++i) {
            float *hs = host + (size_t)(i - i0) * per_sample;
            for (int ch = 0; ch < c; ++ch) {
                const uint8_t *mk = mask + ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px;
                const float *o = obs + ((size_t)i * c + ch) * px, *p = pred + ((size_t)i * c + ch) * px;
                for (size_t e = 0; e < px; ++e) {
                    /* the solve keeps the entries whose mask part is set, and starts the others from pred */
                    hs[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_VALUE, ch)] = mk[e] ? o[e] : 0.0f;
                    hs[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_MASK, ch)] = mk[e] ? 1.0f : 0.0f;
                    hs[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)] = mk[e] ? o[e] : p[e];
                }
            }
        }
        const size_t floats = (size_t)m * per_sample;
        be->upload(be, y, host, floats * sizeof(float));
        for (int order = 2; order <= (toward3 ? 3 : 2); ++order) {
            /* S3 starts from S2, which the fill channels now hold */
            if (order == 2)
                be->input_fill_spline(be, m, h, w, c, periodic_x, periodic_y, DFL_SPLINE_ITERS, y, scratch);
            else
                be->input_fill_spline3(be, m, h, w, c, periodic_x, periodic_y, DFL_SPLINE3_ITERS, y, scratch);
            be->download(be, host, y, floats * sizeof(float));
            float *out = order == 2 ? toward : toward3;
            for (int i = i0; i < i0 + m; ++i)
                for (int ch = 0; ch < c; ++ch) {
                    const uint8_t *mk = mask + ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px;
                    const float *p = pred + ((size_t)i * c + ch) * px, *hs = host + (size_t)(i - i0) * per_sample;
                    float *t = out + ((size_t)i * c + ch) * px;
                    for (size_t e = 0; e < px; ++e)
                        t[e] = mk[e] ? 0.0f : hs[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)] - p[e];
                }
        }
    }
    be->free(be, y);
    be->free(be, scratch);
    free(host);
}

void dfl_spline_correct(const double *weight, const double *weight3, int n, int K, int c, size_t px,
                        const float *toward, const float *toward3, float *pred, float *members) {
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            const float a = (float)weight[ch], b = weight3 && toward3 ? (float)weight3[ch] : 0.0f;
            if (a == 0.0f && b == 0.0f) continue;
            const float *t2 = toward + ((size_t)i * c + ch) * px;
            const float *t3 = b != 0.0f ? toward3 + ((size_t)i * c + ch) * px : NULL;
            for (int k = -1; k < (members ? K : 0); ++k) { /* k = -1: pred, then the members */
                float *x = k < 0 ? pred + ((size_t)i * c + ch) * px : members + (((size_t)i * K + k) * c + ch) * px;
                for (size_t e = 0; e < px; ++e) x[e] += a * t2[e] + (t3 ? b * t3[e] : 0.0f);
            }
        }
}

/* sum wt (err + a d2 + b d3)^2 from the sums of the normal equations */
typedef struct {
    double ee, e2, e3, d22, d23, d33;
} fit_sums;

static double objective(const fit_sums *s, double a, double b) {
    return s->ee + 2.0 * (a * s->e2 + b * s->e3) + a * a * s->d22 + 2.0 * a * b * s->d23 + b * b * s->d33;
}

static double clamp01(double x) { return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x); }

void dfl_spline_weights_fit(const float *err, const float *d2, const float *d3, const float *wt, size_t n, double *a,
                            double *b) {
    fit_sums s = {0};
    for (size_t k = 0; k < n; ++k) {
        const double v = wt ? wt[k] : 1.0, e = err[k], x = d2[k], z = d3 ? d3[k] : 0.0;
        s.ee += v * e * e, s.e2 += v * e * x, s.e3 += v * e * z;
        s.d22 += v * x * x, s.d23 += v * x * z, s.d33 += v * z * z;
    }
    /* the minimum over the triangle a, b >= 0, a + b <= 1: inside (the normal
     * equations), or on an edge (one variable, clamped), or at a corner */
    double cand[5][2] = {{0, 0}};
    int nc = 1;
    const double det = s.d22 * s.d33 - s.d23 * s.d23;
    if (det > 1e-12 * (s.d22 * s.d33 + 1e-300)) {
        const double ua = (-s.e2 * s.d33 + s.e3 * s.d23) / det, ub = (-s.e3 * s.d22 + s.e2 * s.d23) / det;
        if (ua >= 0.0 && ub >= 0.0 && ua + ub <= 1.0) cand[nc][0] = ua, cand[nc][1] = ub, ++nc;
    }
    if (s.d22 > 0.0) cand[nc][0] = clamp01(-s.e2 / s.d22), cand[nc][1] = 0.0, ++nc; /* b = 0 */
    if (s.d33 > 0.0) cand[nc][0] = 0.0, cand[nc][1] = clamp01(-s.e3 / s.d33), ++nc; /* a = 0 */
    /* a + b = 1: b = t, a = 1 - t */
    const double qq = s.d22 - 2.0 * s.d23 + s.d33;
    if (qq > 0.0) {
        const double t = clamp01((s.d22 - s.d23 + s.e2 - s.e3) / qq);
        cand[nc][0] = 1.0 - t, cand[nc][1] = t, ++nc;
    }
    int best = 0;
    for (int k = 1; k < nc; ++k)
        if (objective(&s, cand[k][0], cand[k][1]) < objective(&s, cand[best][0], cand[best][1])) best = k;
    /* a step that is 0 everywhere takes no weight (any weight fits it equally) */
    *a = s.d22 > 0.0 ? cand[best][0] : 0.0;
    *b = s.d33 > 0.0 ? cand[best][1] : 0.0;
}
