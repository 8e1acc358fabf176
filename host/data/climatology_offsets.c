/* The climatology's offsets in model units (include/dynfill/climatology.h):
 * taken off the observed entries of the model's inputs, put back on its
 * predictions; and the estimate's release, which the training layer calls. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/climatology.h"

void dfl_climatology_offsets(const float *mean_field, int c, size_t px, const double *mean, const double *std,
                             float *offset) {
    for (int ch = 0; ch < c; ++ch)
        for (size_t p = 0; p < px; ++p)
            offset[(size_t)ch * px + p] = (float)(((double)mean_field[(size_t)ch * px + p] - mean[ch]) / std[ch]);
}

void dfl_climatology_remove(const float *offset, const float *gain, int first_channel, int h, int w, int y0, int x0,
                            int ph, int pw, int n, int c, int mask_c, float *x, const uint8_t *mask) {
    const size_t field = (size_t)h * (size_t)w, crop = (size_t)ph * (size_t)pw;
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            const int oc = first_channel + ch;
            const float g = gain ? gain[oc] : 1.0f;
            const float *off = offset + (size_t)oc * field;
            float *xs = x + ((size_t)i * c + ch) * crop;
            const uint8_t *ms = mask + ((size_t)i * mask_c + (mask_c == 1 ? 0 : ch)) * crop;
            for (int y = 0; y < ph; ++y)
                for (int xx = 0; xx < pw; ++xx) {
                    const size_t q = (size_t)y * pw + xx;
                    if (ms[q]) xs[q] = xs[q] * g - off[(size_t)(y0 + y) * w + (x0 + xx)];
                }
        }
}

void dfl_climatology_restore(const float *offset, int n, int c, size_t px, float *x) {
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            float *xs = x + ((size_t)i * c + ch) * px;
            const float *off = offset + (size_t)ch * px;
            for (size_t p = 0; p < px; ++p) xs[p] += off[p];
        }
}

void dfl_climatology_free(dfl_climatology *cl) {
    free(cl->mean_field);
    free(cl->anomaly_std);
    free(cl->explained);
    free(cl->smooth_width);
    free(cl->gain);
    free(cl->used);
    memset(cl, 0, sizeof *cl);
}
