/* Naive double-precision references of the backend ops (see ref_ops.h). */
#include "ref_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Input coordinate read by output coordinate o at kernel tap t along an
 * axis of size n, or -1 when it falls in the zero padding. Periodic axes
 * (k = 3 only) wrap around. */
static int tap_index(int o, int t, int stride, int k, int n, int periodic) {
    int i = o * stride + t - k / 2;
    if (periodic && k == 3) return ((i % n) + n) % n;
    return (i >= 0 && i < n) ? i : -1;
}

void ref_conv2d_forward(const dfl_conv_desc *d, const double *x, const double *w, const double *b, double *y) {
    const int oh = dfl_conv_out_h(d), ow = dfl_conv_out_w(d), k = d->k;
    for (int i = 0; i < d->n; ++i)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int co = 0; co < d->cout; ++co) {
                    double acc = b ? b[co] : 0.0;
                    for (int ky = 0; ky < k; ++ky) {
                        int iy = tap_index(oy, ky, d->stride, k, d->h, d->periodic_y);
                        if (iy < 0) continue;
                        for (int kx = 0; kx < k; ++kx) {
                            int ix = tap_index(ox, kx, d->stride, k, d->w, d->periodic_x);
                            if (ix < 0) continue;
                            for (int ci = 0; ci < d->cin; ++ci)
                                acc += w[((size_t)(co * d->cin + ci) * k + ky) * k + kx] *
                                       x[(((size_t)i * d->h + iy) * d->w + ix) * d->cin + ci];
                        }
                    }
                    y[(((size_t)i * oh + oy) * ow + ox) * d->cout + co] = acc;
                }
}

/* The adjoint of the forward: every product w * x scatters dy back. */
void ref_conv2d_backward_data(const dfl_conv_desc *d, const double *dy, const double *w, double *dx) {
    const int oh = dfl_conv_out_h(d), ow = dfl_conv_out_w(d), k = d->k;
    memset(dx, 0, (size_t)d->n * d->h * d->w * d->cin * sizeof(double));
    for (int i = 0; i < d->n; ++i)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int co = 0; co < d->cout; ++co) {
                    const double g = dy[(((size_t)i * oh + oy) * ow + ox) * d->cout + co];
                    for (int ky = 0; ky < k; ++ky) {
                        int iy = tap_index(oy, ky, d->stride, k, d->h, d->periodic_y);
                        if (iy < 0) continue;
                        for (int kx = 0; kx < k; ++kx) {
                            int ix = tap_index(ox, kx, d->stride, k, d->w, d->periodic_x);
                            if (ix < 0) continue;
                            for (int ci = 0; ci < d->cin; ++ci)
                                dx[(((size_t)i * d->h + iy) * d->w + ix) * d->cin + ci] +=
                                    g * w[((size_t)(co * d->cin + ci) * k + ky) * k + kx];
                        }
                    }
                }
}

void ref_conv2d_backward_weights(const dfl_conv_desc *d, const double *x, const double *dy, double *dw, double *db) {
    const int oh = dfl_conv_out_h(d), ow = dfl_conv_out_w(d), k = d->k;
    memset(dw, 0, (size_t)d->cout * d->cin * k * k * sizeof(double));
    if (db) memset(db, 0, (size_t)d->cout * sizeof(double));
    for (int i = 0; i < d->n; ++i)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int co = 0; co < d->cout; ++co) {
                    const double g = dy[(((size_t)i * oh + oy) * ow + ox) * d->cout + co];
                    if (db) db[co] += g;
                    for (int ky = 0; ky < k; ++ky) {
                        int iy = tap_index(oy, ky, d->stride, k, d->h, d->periodic_y);
                        if (iy < 0) continue;
                        for (int kx = 0; kx < k; ++kx) {
                            int ix = tap_index(ox, kx, d->stride, k, d->w, d->periodic_x);
                            if (ix < 0) continue;
                            for (int ci = 0; ci < d->cin; ++ci)
                                dw[((size_t)(co * d->cin + ci) * k + ky) * k + kx] +=
                                    g * x[(((size_t)i * d->h + iy) * d->w + ix) * d->cin + ci];
                        }
                    }
                }
}

double ref_silu(double x) { return x / (1.0 + exp(-x)); }

double ref_silu_grad(double x) {
    const double s = 1.0 / (1.0 + exp(-x));
    return s * (1.0 + x * (1.0 - s));
}

/* Two-pass statistics of group g of sample i. */
static void gn_stats(int hw, int c, int groups, double eps, const double *xi, int g, double *mean, double *rstd) {
    const int cg = c / groups;
    double s = 0.0;
    for (int p = 0; p < hw; ++p)
        for (int ch = g * cg; ch < (g + 1) * cg; ++ch) s += xi[(size_t)p * c + ch];
    const double m = s / ((double)hw * cg);
    double v = 0.0;
    for (int p = 0; p < hw; ++p)
        for (int ch = g * cg; ch < (g + 1) * cg; ++ch) {
            const double e = xi[(size_t)p * c + ch] - m;
            v += e * e;
        }
    v /= (double)hw * cg;
    *mean = m;
    *rstd = 1.0 / sqrt(v + eps);
}

void ref_group_norm_forward(int n, int hw, int c, int groups, double eps, const double *x, const double *gamma,
                            const double *beta, double *y, double *mean, double *rstd, int apply_silu) {
    const int cg = c / groups;
    for (int i = 0; i < n; ++i) {
        const double *xi = x + (size_t)i * hw * c;
        for (int g = 0; g < groups; ++g) {
            double m, r;
            gn_stats(hw, c, groups, eps, xi, g, &m, &r);
            if (mean) mean[i * groups + g] = m;
            if (rstd) rstd[i * groups + g] = r;
            for (int p = 0; p < hw; ++p)
                for (int ch = g * cg; ch < (g + 1) * cg; ++ch) {
                    const size_t j = ((size_t)i * hw + p) * c + ch;
                    const double a = (x[j] - m) * r * gamma[ch] + beta[ch];
                    y[j] = apply_silu ? ref_silu(a) : a;
                }
        }
    }
}

/* dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) per group, with
 * dxhat = da gamma and da = dy silu'(a) (or dy). */
void ref_group_norm_backward(int n, int hw, int c, int groups, double eps, const double *x, const double *gamma,
                             const double *beta, const double *dy, double *dx, double *dgamma, double *dbeta,
                             int apply_silu) {
    const int cg = c / groups;
    const double cnt = (double)hw * cg;
    for (int ch = 0; ch < c; ++ch) dgamma[ch] = dbeta[ch] = 0.0;
    for (int i = 0; i < n; ++i) {
        const double *xi = x + (size_t)i * hw * c;
        for (int g = 0; g < groups; ++g) {
            double m, r;
            gn_stats(hw, c, groups, eps, xi, g, &m, &r);
            double s1 = 0.0, s2 = 0.0;
            for (int p = 0; p < hw; ++p)
                for (int ch = g * cg; ch < (g + 1) * cg; ++ch) {
                    const size_t j = ((size_t)i * hw + p) * c + ch;
                    const double xh = (x[j] - m) * r;
                    const double da = apply_silu ? dy[j] * ref_silu_grad(xh * gamma[ch] + beta[ch]) : dy[j];
                    dgamma[ch] += da * xh;
                    dbeta[ch] += da;
                    s1 += da * gamma[ch];
                    s2 += da * gamma[ch] * xh;
                }
            for (int p = 0; p < hw; ++p)
                for (int ch = g * cg; ch < (g + 1) * cg; ++ch) {
                    const size_t j = ((size_t)i * hw + p) * c + ch;
                    const double xh = (x[j] - m) * r;
                    const double da = apply_silu ? dy[j] * ref_silu_grad(xh * gamma[ch] + beta[ch]) : dy[j];
                    dx[j] = r * (da * gamma[ch] - s1 / cnt - xh * s2 / cnt);
                }
        }
    }
}

void ref_linear_forward(int rows, int in, int out, const double *x, const double *w, const double *b, double *y) {
    for (int r = 0; r < rows; ++r)
        for (int o = 0; o < out; ++o) {
            double acc = b ? b[o] : 0.0;
            for (int j = 0; j < in; ++j) acc += x[(size_t)r * in + j] * w[(size_t)o * in + j];
            y[(size_t)r * out + o] = acc;
        }
}

void ref_linear_backward(int rows, int in, int out, const double *x, const double *w, const double *dy, double *dx,
                         double *dw, double *db) {
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < in; ++j) {
            double acc = 0.0;
            for (int o = 0; o < out; ++o) acc += dy[(size_t)r * out + o] * w[(size_t)o * in + j];
            dx[(size_t)r * in + j] = acc;
        }
    for (int o = 0; o < out; ++o) {
        for (int j = 0; j < in; ++j) {
            double acc = 0.0;
            for (int r = 0; r < rows; ++r) acc += dy[(size_t)r * out + o] * x[(size_t)r * in + j];
            dw[(size_t)o * in + j] = acc;
        }
        double acc = 0.0;
        for (int r = 0; r < rows; ++r) acc += dy[(size_t)r * out + o];
        db[o] = acc;
    }
}

void ref_attention_forward(int n, int hw, int c, const double *qkv, double *out, double *probs) {
    const double scale = 1.0 / sqrt((double)c);
    for (int i = 0; i < n; ++i) {
        const double *base = qkv + (size_t)i * hw * 3 * c;
        for (int a = 0; a < hw; ++a) {
            double *p = probs + ((size_t)i * hw + a) * hw;
            double mx = -INFINITY;
            for (int b = 0; b < hw; ++b) {
                double s = 0.0;
                for (int ch = 0; ch < c; ++ch) s += base[(size_t)a * 3 * c + ch] * base[(size_t)b * 3 * c + c + ch];
                p[b] = s * scale;
                if (p[b] > mx) mx = p[b];
            }
            double sum = 0.0;
            for (int b = 0; b < hw; ++b) sum += (p[b] = exp(p[b] - mx));
            for (int b = 0; b < hw; ++b) p[b] /= sum;
            for (int ch = 0; ch < c; ++ch) {
                double acc = 0.0;
                for (int b = 0; b < hw; ++b) acc += p[b] * base[(size_t)b * 3 * c + 2 * c + ch];
                out[((size_t)i * hw + a) * c + ch] = acc;
            }
        }
    }
}

void ref_attention_backward(int n, int hw, int c, const double *qkv, const double *dout, double *dqkv) {
    const double scale = 1.0 / sqrt((double)c);
    double *probs = malloc((size_t)n * hw * hw * sizeof(double));
    double *out = malloc((size_t)n * hw * c * sizeof(double));
    double *ds = malloc((size_t)hw * sizeof(double));
    ref_attention_forward(n, hw, c, qkv, out, probs);
    memset(dqkv, 0, (size_t)n * hw * 3 * c * sizeof(double));
    for (int i = 0; i < n; ++i) {
        const double *base = qkv + (size_t)i * hw * 3 * c;
        double *dbase = dqkv + (size_t)i * hw * 3 * c;
        for (int a = 0; a < hw; ++a) {
            const double *p = probs + ((size_t)i * hw + a) * hw;
            const double *go = dout + ((size_t)i * hw + a) * c;
            double dot = 0.0;
            for (int b = 0; b < hw; ++b) {
                double dp = 0.0;
                for (int ch = 0; ch < c; ++ch) {
                    dp += go[ch] * base[(size_t)b * 3 * c + 2 * c + ch];
                    dbase[(size_t)b * 3 * c + 2 * c + ch] += p[b] * go[ch];
                }
                ds[b] = dp;
                dot += dp * p[b];
            }
            for (int b = 0; b < hw; ++b) {
                const double g = p[b] * (ds[b] - dot) * scale;
                for (int ch = 0; ch < c; ++ch) {
                    dbase[(size_t)a * 3 * c + ch] += g * base[(size_t)b * 3 * c + c + ch];
                    dbase[(size_t)b * 3 * c + c + ch] += g * base[(size_t)a * 3 * c + ch];
                }
            }
        }
    }
    free(probs);
    free(out);
    free(ds);
}

void ref_upsample_forward(int n, int h, int w, int c, const double *x, double *y) {
    for (int i = 0; i < n; ++i)
        for (int yy = 0; yy < 2 * h; ++yy)
            for (int xx = 0; xx < 2 * w; ++xx)
                for (int ch = 0; ch < c; ++ch)
                    y[(((size_t)i * 2 * h + yy) * 2 * w + xx) * c + ch] =
                        x[(((size_t)i * h + yy / 2) * w + xx / 2) * c + ch];
}

void ref_upsample_backward(int n, int h, int w, int c, const double *dy, double *dx) {
    memset(dx, 0, (size_t)n * h * w * c * sizeof(double));
    for (int i = 0; i < n; ++i)
        for (int yy = 0; yy < 2 * h; ++yy)
            for (int xx = 0; xx < 2 * w; ++xx)
                for (int ch = 0; ch < c; ++ch)
                    dx[(((size_t)i * h + yy / 2) * w + xx / 2) * c + ch] +=
                        dy[(((size_t)i * 2 * h + yy) * 2 * w + xx) * c + ch];
}

void ref_add_channel_bias(int n, int hw, int c, double *y, const double *bias) {
    for (int i = 0; i < n; ++i)
        for (int p = 0; p < hw; ++p)
            for (int ch = 0; ch < c; ++ch) y[((size_t)i * hw + p) * c + ch] += bias[(size_t)i * c + ch];
}

void ref_channel_bias_backward(int n, int hw, int c, const double *dy, double *dbias) {
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            double acc = 0.0;
            for (int p = 0; p < hw; ++p) acc += dy[((size_t)i * hw + p) * c + ch];
            dbias[(size_t)i * c + ch] = acc;
        }
}

void ref_time_embedding(int n, int dim, const double *t, double *out) {
    const int h = dim / 2;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < h; ++j) {
            const double f = exp(-log(10000.0) * j / h);
            out[(size_t)i * dim + j] = cos(1000.0 * t[i] * f);
            out[(size_t)i * dim + h + j] = sin(1000.0 * t[i] * f);
        }
}
