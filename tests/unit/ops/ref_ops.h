/* Naive double-precision reference implementations of the backend ops
 * (docs/design.md, "Testing": "every CPU op against a naive loop"). Plain loops, same
 * layouts as include/dynfill/backend.h (NHWC activations, OIHW weights);
 * every backward here is itself checked against central finite
 * differences in test_ops_ref_gradients.c. */
#ifndef DYNFILL_TEST_REF_OPS_H
#define DYNFILL_TEST_REF_OPS_H

#include <stddef.h>

#include "dynfill/backend.h"

void ref_conv2d_forward(const dfl_conv_desc *d, const double *x, const double *w, const double *b, double *y);
void ref_conv2d_backward_data(const dfl_conv_desc *d, const double *dy, const double *w, double *dx);
void ref_conv2d_backward_weights(const dfl_conv_desc *d, const double *x, const double *dy, double *dw, double *db);

/* mean, rstd [n*groups] may be NULL. */
void ref_group_norm_forward(int n, int hw, int c, int groups, double eps, const double *x, const double *gamma,
                            const double *beta, double *y, double *mean, double *rstd, int apply_silu);
void ref_group_norm_backward(int n, int hw, int c, int groups, double eps, const double *x, const double *gamma,
                             const double *beta, const double *dy, double *dx, double *dgamma, double *dbeta,
                             int apply_silu);

double ref_silu(double x);
double ref_silu_grad(double x);

void ref_linear_forward(int rows, int in, int out, const double *x, const double *w, const double *b, double *y);
void ref_linear_backward(int rows, int in, int out, const double *x, const double *w, const double *dy, double *dx,
                         double *dw, double *db);

void ref_attention_forward(int n, int hw, int c, const double *qkv, double *out, double *probs);
void ref_attention_backward(int n, int hw, int c, const double *qkv, const double *dout, double *dqkv);

void ref_upsample_forward(int n, int h, int w, int c, const double *x, double *y);
void ref_upsample_backward(int n, int h, int w, int c, const double *dy, double *dx);

void ref_add_channel_bias(int n, int hw, int c, double *y, const double *bias);
void ref_channel_bias_backward(int n, int hw, int c, const double *dy, double *dbias);

void ref_time_embedding(int n, int dim, const double *t, double *out);

#endif
