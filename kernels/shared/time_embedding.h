/* Sinusoidal time embedding (docs/design.md, "The network: dfl-unet v1"), shared by the CPU and CUDA
 * backends: s = 1000 t, f_j = exp(-ln(10000) j / h), h = dim / 2,
 *   out[j] = cos(s f_j),  out[h + j] = sin(s f_j)   (cos block first).
 * Computed in double and rounded once, so the result is the correctly
 * rounded value up to the math library's last-bit accuracy: the argument
 * reaches 1000 rad, where a float argument would already be off by ~6e-5.
 * The op is tiny (n x dim), so double math costs nothing. */
#ifndef DYNFILL_SHARED_TIME_EMBEDDING_H
#define DYNFILL_SHARED_TIME_EMBEDDING_H

#include <math.h>

#include "dfl_hd.h"

/* f_j = exp(-ln(10000) j / h). */
DFL_HD double dfl_time_embedding_freq(int j, int h) { return exp(-log(10000.0) * (double)j / (double)h); }

/* Entries j (cos) and h + j (sin) of the embedding of time t, 0 <= j < h. */
DFL_HD void dfl_time_embedding_pair(float t, int j, int h, float *cos_out, float *sin_out) {
    const double s = 1000.0 * (double)t;
    const double f = dfl_time_embedding_freq(j, h);
    *cos_out = (float)cos(s * f);
    *sin_out = (float)sin(s * f);
}

#endif
