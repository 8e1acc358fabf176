/* Per-element math of single-head attention (docs/design.md, "The network: dfl-unet v1"), shared by the
 * CPU and CUDA backends:
 *   S = Q K^T / sqrt(c),  P = softmax_rows(S),
 *   softmax forward: e_j = exp(s_j - max_k s_k), p_j = e_j * (1 / sum_k e_k)
 *     (the sum in double, its reciprocal rounded once to float),
 *   softmax backward: dS_j = P_j (dP_j - sum_k dP_k P_k)
 *     (the dot product in double, rounded once to float).
 * The exp of the forward is the backend's (dfl_cpu_expf / CUDA expf). */
#ifndef DYNFILL_SHARED_ATTENTION_H
#define DYNFILL_SHARED_ATTENTION_H

#include <math.h>

#include "dfl_hd.h"

/* 1 / sqrt(c), the scale of Q K^T (and of dQ, dK). */
DFL_HD float dfl_attention_scale(int c) { return (float)(1.0 / sqrt((double)c)); }

/* The factor that normalises a row of exponentials summing to sum. */
DFL_HD float dfl_softmax_inv_sum(double sum) { return (float)(1.0 / sum); }

/* One term of the backward's row dot product sum_k dP_k P_k. */
DFL_HD double dfl_softmax_bwd_dot_term(float dp, float p) { return (double)dp * (double)p; }

/* dS_j from P_j, dP_j and the row's dot = (float)sum_k dP_k P_k. */
DFL_HD float dfl_softmax_bwd(float p, float dp, float dot) { return p * (dp - dot); }

#endif
