/* dfl-unet v1 (docs/design.md, "The network: dfl-unet v1"): parameters,
 * arena planning, forward and backward, written once against the backend
 * interface (backend.h).
 *
 * The graph is a list of layers in forward order: ResBlocks, Downsample,
 * Upsample, Attention. Encoder layers push their output on the skip list
 * (after the stem, every encoder ResBlock and Downsample, DDPM style);
 * decoder ResBlocks pop one skip and take concat[h, skip]. Backward walks
 * the list in reverse with two ping-pong gradient buffers plus scratch; the
 * gradient of a skip tensor is kept until the encoder layer that produced
 * it is reached and added to the chain gradient there.
 *
 * Buffers (element counts; every arena buffer is rounded up to 16 floats).
 * n = batch, b = model.base, T = 4b, C = data channels, P = n*hp*wp (the
 * padded field), p = n*h*w at a layer's input size, c_in/c_out its
 * channels (c_in after the concat for decoder ResBlocks).
 *
 *   params, grads   nparams each, separate allocations; grads only once a
 *                   training plan was made (dfl_unet_plan)
 *   in_pad          P*2C        padded network input
 *   in_fill         P*3C        [in_pad | its fill] (model.input_fill; else
 *                               absent), fill_scratch the pyramid's levels
 *                               or the spline's planes
 *   temb_in         n*b         [cos, sin] time features
 *   temb_h1, temb_a1, temb, temb_silu      n*T each
 *   stem_out        P*b         (skip 0)
 *   ResBlock        xcat p*c_in (decoder only), g1 p*c_in, mean1, rstd1 n*8,
 *                   hmid p*c_out, tproj n*c_out, g2 p*c_out, mean2, rstd2 n*8,
 *                   out p*c_out; skip_tmp p*c_out when c_in != c_out (the
 *                   1x1 skip conv's output; training plan: sA)
 *   Downsample      out (p/4)*c
 *   Upsample        up 4p*c, out 4p*c
 *   Attention       g1 p*c, mean1, rstd1 n*8, qkv 3p*c, att p*c,
 *                   probs n*(h*w)^2, out p*c
 *   head_g          P*b, head_mean, head_rstd n*8
 *   out_pad         P*C
 *
 * Training plan: every buffer above has its own place (backward reads them
 * all), followed by the backward buffers
 *
 *   dcur, dnext, sA, sB   G each, G = the largest gradient they carry:
 *                         max(P*2C, P*b, and per layer p*c_in, p*c_out;
 *                         Upsample 4p*c; Attention 3p*c)
 *   dskip[s]        the size of skip s
 *   dst, dtmp_t, dtemb, da1, dh1           n*T each
 *   dtproj          n*c_max, c_max = b*max(mult) (the widest ResBlock)
 *   dout_pad        P*C
 *
 * Inference plan (dfl_unet_plan_inference): no gradients and no backward
 * buffers. in_pad, the time embedding, skip outputs (alive until popped)
 * and the head keep their own places; other layer outputs alternate
 * between two buffers of the largest such output; everything else a layer
 * allocates (xcat, g1, ..., probs, skip_tmp) is used only inside that
 * layer's forward and lies in one scratch region shared by all layers,
 * sized for the largest layer. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/model.h"
#include "shared/fill_spline.h"
#include "shared/input_fill.h"
#include "shared/philox.h"

/* snprintf into a fixed buffer; a name that does not fit is a bug. */
#define NAMEF(buf, ...)                                                                                                \
    do {                                                                                                               \
        if (snprintf((buf), sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf)) DFL_PANIC("parameter name too long");       \
    } while (0)

typedef enum { LAYER_RES, LAYER_DOWN, LAYER_UP, LAYER_ATTN } layer_kind;

/* Parameter tensors of each layer kind, as indices into m->tensors. */
typedef struct {
    int norm1_gamma, norm1_beta, conv1_w, conv1_b, temb_w, temb_b, norm2_gamma, norm2_beta, conv2_w, conv2_b;
    int skip_w, skip_b; /* 1x1 conv when c_in != c_out, else -1 */
} res_params;
typedef struct {
    int norm_gamma, norm_beta, qkv_w, qkv_b, proj_w, proj_b;
} attn_params;
typedef struct {
    int w, b; /* the 3x3 conv of a Downsample or Upsample */
} conv_params;
/* Tensors outside the layer list. */
typedef struct {
    int temb0_w, temb0_b, temb2_w, temb2_b; /* time-embedding MLP */
    int stem_w, stem_b;
    int head_norm_gamma, head_norm_beta, head_conv_w, head_conv_b;
} net_params;

typedef struct {
    layer_kind kind;
    int h, w;        /* spatial size of the layer's input */
    int cin, cout;   /* channels in (after concat for decoder blocks) and out */
    int skip_push;   /* index of the skip this layer's output becomes, or -1 */
    int skip_pop;    /* decoder: index of the skip concatenated to the input, or -1 */
    int cin_main;    /* decoder: channels of h before the concat */
    int first_param; /* the layer's first tensor (lowest flat offset) */
    union {
        res_params res;
        attn_params attn;
        conv_params conv;
    } p;
    /* activations (sizes in the comment at the top) */
    const float *x; /* input the layer reads (xcat for decoder blocks) */
    float *xcat;
    float *g1, *hmid, *g2, *tproj, *mean1, *rstd1, *mean2, *rstd2; /* ResBlock; attention uses g1/mean1/rstd1 */
    float *skip_tmp;                                               /* ResBlock with a 1x1 skip conv */
    float *qkv, *att, *probs;                                      /* attention */
    float *up;                                                     /* upsampled input */
    float *out;
} layer;

struct dfl_unet {
    dfl_backend *be;
    dfl_unet_config cfg;
    dfl_param_info *tensors;
    int ntensors;
    size_t cap;
    size_t nparams;
    float *params, *grads;
    net_params np;

    layer *layers;
    int nlayers, layers_cap;
    int nskips;
    float **skip, **dskip;
    size_t *skip_numel;

    /* plan */
    int n, h, w, hp, wp;
    int training; /* the plan holds what backward needs */
    void *arena;
    size_t arena_floats;
    double flops_fwd;
    /* planning walk (run twice: counting with NULL pointers, then assigning) */
    int counting;
    size_t cursor;                             /* main region */
    size_t scratch_cursor, scratch_max;        /* inference: shared per-layer scratch */
    size_t io_max;                             /* inference: largest output kept in the two alternating buffers */
    size_t io_base, scratch_base;              /* inference: where those regions start (from the counting pass) */
    size_t grad_max, tproj_max;                /* sizes of the backward buffers (G and n*c_max) */
    size_t buf_max;                            /* largest single arena buffer (floats) */
    size_t ws_in_max, ws_out_max, ws_halo_max; /* backend conv workspace estimate (floats; conv_cost) */

    float *in_pad, *in_fill, *fill_scratch, *stem_out, *temb_in, *temb_h1, *temb_a1, *temb, *temb_silu;
    float *head_g, *head_mean, *head_rstd, *out_pad;
    void (*grads_ready)(void *user, size_t first);
    void *grads_ready_user;
    /* backward */
    float *dcur, *dnext, *sA, *sB, *dst, *dtmp_t, *dtproj, *dtemb, *da1, *dh1, *dout_pad;
};

/* ------------------------------------------------------------------ */
/* parameters                                                          */

static int add_param(dfl_unet *m, const char *name, int rank, int d0, int d1, int d2, int d3) {
    m->tensors = dfl_xgrow(m->tensors, &m->cap, (size_t)m->ntensors + 1, sizeof *m->tensors);
    dfl_param_info *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    NAMEF(t->name, "%s", name);
    t->rank = rank;
    int d[4] = {d0, d1, d2, d3};
    t->count = 1;
    for (int i = 0; i < rank; ++i) {
        t->dims[i] = d[i];
        t->count *= (size_t)d[i];
    }
    t->offset = m->nparams;
    m->nparams += t->count;
    return m->ntensors++;
}

static void add_conv(dfl_unet *m, const char *prefix, int cout, int cin, int k, int *pw, int *pb) {
    char name[96];
    NAMEF(name, "%s.weight", prefix);
    *pw = add_param(m, name, 4, cout, cin, k, k);
    NAMEF(name, "%s.bias", prefix);
    *pb = add_param(m, name, 1, cout, 0, 0, 0);
}

static void add_linear(dfl_unet *m, const char *prefix, int out, int in, int *pw, int *pb) {
    char name[96];
    NAMEF(name, "%s.weight", prefix);
    *pw = add_param(m, name, 2, out, in, 0, 0);
    NAMEF(name, "%s.bias", prefix);
    *pb = add_param(m, name, 1, out, 0, 0, 0);
}

static void add_norm(dfl_unet *m, const char *prefix, int c, int *pg, int *pb) {
    char name[96];
    NAMEF(name, "%s.weight", prefix);
    *pg = add_param(m, name, 1, c, 0, 0, 0);
    NAMEF(name, "%s.bias", prefix);
    *pb = add_param(m, name, 1, c, 0, 0, 0);
}

/* A new layer; its parameters are the tensors added next. */
static layer *new_layer(dfl_unet *m, layer_kind kind) {
    DFL_ASSERT(m->nlayers < m->layers_cap);
    layer *l = &m->layers[m->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->skip_push = l->skip_pop = -1;
    l->first_param = m->ntensors;
    return l;
}

static void add_resblock(dfl_unet *m, const char *prefix, int cin, int cout, int cin_main) {
    int T = 4 * m->cfg.base;
    layer *l = new_layer(m, LAYER_RES);
    res_params *r = &l->p.res;
    l->cin = cin;
    l->cout = cout;
    l->cin_main = cin_main;
    char name[96];
    NAMEF(name, "%s.norm1", prefix);
    add_norm(m, name, cin, &r->norm1_gamma, &r->norm1_beta);
    NAMEF(name, "%s.conv1", prefix);
    add_conv(m, name, cout, cin, 3, &r->conv1_w, &r->conv1_b);
    NAMEF(name, "%s.temb_proj", prefix);
    add_linear(m, name, cout, T, &r->temb_w, &r->temb_b);
    NAMEF(name, "%s.norm2", prefix);
    add_norm(m, name, cout, &r->norm2_gamma, &r->norm2_beta);
    NAMEF(name, "%s.conv2", prefix);
    add_conv(m, name, cout, cout, 3, &r->conv2_w, &r->conv2_b);
    r->skip_w = r->skip_b = -1;
    if (cin != cout) {
        NAMEF(name, "%s.skip", prefix);
        add_conv(m, name, cout, cin, 1, &r->skip_w, &r->skip_b);
    }
}

/* Channels the stem convolution reads: values and mask, and the pyramid
 * fill of the values when model.input_fill is on. */
static int stem_channels(const dfl_unet_config *c) { return (c->input_fill ? 3 : 2) * c->channels; }

/* Builds the parameter list and the layer list (shapes filled at plan
 * time). The order of tensors is the order of this walk. */
static void build_graph(dfl_unet *m) {
    const dfl_unet_config *c = &m->cfg;
    int b = c->base, T = 4 * b, L = c->levels;
    net_params *np = &m->np;
    char name[96];
    /* layers: per level nres encoder blocks, nres + 1 decoder blocks, a
     * Downsample and an Upsample except at one end; the middle 2 or 3 */
    m->layers_cap = L * (2 * c->nres + 1) + 2 * (L - 1) + 2 + (c->attention ? 1 : 0);
    m->layers = dfl_xcalloc((size_t)m->layers_cap, sizeof *m->layers);
    /* skips: the stem, every encoder ResBlock and every Downsample */
    m->nskips = 1 + L * c->nres + (L - 1);
    m->skip = dfl_xcalloc((size_t)m->nskips, sizeof *m->skip);
    m->dskip = dfl_xcalloc((size_t)m->nskips, sizeof *m->dskip);
    m->skip_numel = dfl_xcalloc((size_t)m->nskips, sizeof *m->skip_numel);
    int *skip_ch = dfl_xmalloc((size_t)m->nskips * sizeof *skip_ch);

    add_linear(m, "temb.0", T, b, &np->temb0_w, &np->temb0_b);
    add_linear(m, "temb.2", T, T, &np->temb2_w, &np->temb2_b);
    add_conv(m, "stem", b, stem_channels(c), 3, &np->stem_w, &np->stem_b);

    int nsk = 0;
    skip_ch[nsk++] = b; /* after the stem */
    int ch = b;
    for (int lv = 0; lv < L; ++lv) {
        int cl = b * c->mult[lv];
        for (int i = 0; i < c->nres; ++i) {
            NAMEF(name, "down.%d.res.%d", lv, i);
            add_resblock(m, name, ch, cl, ch);
            ch = cl;
            m->layers[m->nlayers - 1].skip_push = nsk;
            skip_ch[nsk++] = ch;
        }
        if (lv < L - 1) {
            layer *d = new_layer(m, LAYER_DOWN);
            d->cin = d->cout = ch;
            NAMEF(name, "down.%d.downsample", lv);
            add_conv(m, name, ch, ch, 3, &d->p.conv.w, &d->p.conv.b);
            d->skip_push = nsk;
            skip_ch[nsk++] = ch;
        }
    }
    DFL_ASSERT(nsk == m->nskips);
    add_resblock(m, "mid.res.0", ch, ch, ch);
    if (c->attention) {
        layer *a = new_layer(m, LAYER_ATTN);
        attn_params *ap = &a->p.attn;
        a->cin = a->cout = ch;
        add_norm(m, "mid.attn.norm", ch, &ap->norm_gamma, &ap->norm_beta);
        add_conv(m, "mid.attn.qkv", 3 * ch, ch, 1, &ap->qkv_w, &ap->qkv_b);
        add_conv(m, "mid.attn.proj", ch, ch, 1, &ap->proj_w, &ap->proj_b);
    }
    add_resblock(m, "mid.res.1", ch, ch, ch);
    for (int lv = L - 1; lv >= 0; --lv) {
        int cl = b * c->mult[lv];
        for (int i = 0; i < c->nres + 1; ++i) {
            int sk = --nsk;
            NAMEF(name, "up.%d.res.%d", lv, i);
            add_resblock(m, name, ch + skip_ch[sk], cl, ch);
            m->layers[m->nlayers - 1].skip_pop = sk;
            ch = cl;
        }
        if (lv > 0) {
            layer *u = new_layer(m, LAYER_UP);
            u->cin = u->cout = ch;
            NAMEF(name, "up.%d.upsample.conv", lv);
            add_conv(m, name, ch, ch, 3, &u->p.conv.w, &u->p.conv.b);
        }
    }
    DFL_ASSERT(nsk == 0 && m->nlayers == m->layers_cap);
    add_norm(m, "head.norm", b, &np->head_norm_gamma, &np->head_norm_beta);
    add_conv(m, "head.conv", c->channels, b, 3, &np->head_conv_w, &np->head_conv_b);
    free(skip_ch);
}

/* Checks a configuration; the message names the model.* key. */
static dfl_status validate_config(const dfl_unet_config *cfg) {
    if (cfg->channels < 1 || cfg->channels > DFL_UNET_MAX_WIDTH)
        return dfl_fail(DFL_EUSAGE, "model: %d data channels; the network takes 1 to %d", cfg->channels,
                        DFL_UNET_MAX_WIDTH);
    if (cfg->base < DFL_GN_GROUPS || cfg->base % DFL_GN_GROUPS || cfg->base > DFL_UNET_MAX_WIDTH)
        return dfl_fail(DFL_EUSAGE, "model.base = %d must be a positive multiple of %d (GroupNorm groups), at most %d",
                        cfg->base, DFL_GN_GROUPS, DFL_UNET_MAX_WIDTH);
    if (cfg->levels < 1 || cfg->levels > DFL_UNET_MAX_LEVELS)
        return dfl_fail(DFL_EUSAGE, "model.mult has %d entries; it must have 1 to %d", cfg->levels,
                        DFL_UNET_MAX_LEVELS);
    for (int i = 0; i < cfg->levels; ++i) {
        if (cfg->mult[i] < 1)
            return dfl_fail(DFL_EUSAGE, "model.mult entry %d is %d; entries must be >= 1", i + 1, cfg->mult[i]);
        if ((long long)cfg->base * cfg->mult[i] > DFL_UNET_MAX_WIDTH)
            return dfl_fail(DFL_EUSAGE, "model.mult entry %d: base %d x %d channels exceeds %d", i + 1, cfg->base,
                            cfg->mult[i], DFL_UNET_MAX_WIDTH);
    }
    /* the layer and tensor counts are ints (at most 12 tensors per layer) */
    if (cfg->nres < 1 || cfg->nres > (INT_MAX / 12 - 64) / (2 * DFL_UNET_MAX_LEVELS + 4))
        return dfl_fail(DFL_EUSAGE, "model.nres = %d must be between 1 and %d", cfg->nres,
                        (INT_MAX / 12 - 64) / (2 * DFL_UNET_MAX_LEVELS + 4));
    if (cfg->input_fill != DFL_FILL_NONE && cfg->input_fill != DFL_FILL_PYRAMID && cfg->input_fill != DFL_FILL_SPLINE)
        return dfl_fail(DFL_EUSAGE, "model.input_fill = %d: must be none (0), pyramid (1) or spline (2)",
                        cfg->input_fill);
    if (cfg->attention != 0 && cfg->attention != 1)
        return dfl_fail(DFL_EUSAGE, "model.attention = %d must be 0 or 1", cfg->attention);
    if ((cfg->periodic_x != 0 && cfg->periodic_x != 1) || (cfg->periodic_y != 0 && cfg->periodic_y != 1))
        return dfl_fail(DFL_EUSAGE, "model.periodic: each axis flag must be 0 or 1");
    return DFL_OK;
}

dfl_status dfl_unet_create(dfl_backend *be, const dfl_unet_config *cfg, dfl_unet **out) {
    DFL_TRY(validate_config(cfg));
    dfl_unet *m = dfl_xcalloc(1, sizeof *m);
    m->be = be;
    m->cfg = *cfg;
    build_graph(m);
    m->params = be->alloc(be, m->nparams * sizeof(float));
    be->fill(be, m->params, 0.0f, m->nparams);
    *out = m;
    return DFL_OK;
}

void dfl_unet_destroy(dfl_unet *m) {
    if (!m) return;
    if (m->arena) m->be->free(m->be, m->arena);
    m->be->free(m->be, m->params);
    if (m->grads) m->be->free(m->be, m->grads);
    free(m->tensors);
    free(m->layers);
    free(m->skip);
    free(m->dskip);
    free(m->skip_numel);
    free(m);
}

const dfl_unet_config *dfl_unet_get_config(const dfl_unet *m) { return &m->cfg; }
dfl_backend *dfl_unet_backend(dfl_unet *m) { return m->be; }
int dfl_unet_num_tensors(const dfl_unet *m) { return m->ntensors; }
const dfl_param_info *dfl_unet_tensor(const dfl_unet *m, int i) { return &m->tensors[i]; }
size_t dfl_unet_num_params(const dfl_unet *m) { return m->nparams; }
float *dfl_unet_params(dfl_unet *m) { return m->params; }
float *dfl_unet_grads(dfl_unet *m) { return m->grads; }
void dfl_unet_set_grads_ready(dfl_unet *m, void (*fn)(void *user, size_t first), void *user) {
    m->grads_ready = fn;
    m->grads_ready_user = user;
}

/* Tell the hook that gradients from parameter tensor `first_tensor` on are final. */
static void notify_ready(dfl_unet *m, int first_tensor) {
    if (m->grads_ready) m->grads_ready(m->grads_ready_user, first_tensor >= 0 ? m->tensors[first_tensor].offset : 0);
}

double dfl_unet_forward_flops_per_sample(const dfl_unet *m) { return m->n ? m->flops_fwd / m->n : 0.0; }

int dfl_unet_find_tensor(const dfl_unet *m, const char *name) {
    for (int i = 0; i < m->ntensors; ++i)
        if (!strcmp(m->tensors[i].name, name)) return i;
    return -1;
}

void dfl_unet_init_params(dfl_unet *m, uint64_t seed) {
    float *host = dfl_xmalloc(m->nparams * sizeof(float));
    for (int i = 0; i < m->ntensors; ++i) {
        const dfl_param_info *t = &m->tensors[i];
        const char *suffix = strrchr(t->name, '.');
        int is_norm = strstr(t->name, "norm") != NULL;
        float *p = host + t->offset;
        if (is_norm) {
            float v = !strcmp(suffix, ".weight") ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->count; ++j) p[j] = v;
            continue;
        }
        /* fan_in of the weight this tensor belongs to: a bias shares its
         * layer's weight fan_in (the tensor just before it). */
        const dfl_param_info *wt = !strcmp(suffix, ".bias") ? &m->tensors[i - 1] : t;
        size_t fan_in = wt->count / (size_t)wt->dims[0];
        float bound = 1.0f / sqrtf((float)fan_in);
        uint64_t stream = dfl_rng_stream(0xA0, 0, (uint32_t)i);
        for (size_t j = 0; j < t->count; ++j) p[j] = bound * (2.0f * dfl_rng_uniform(seed, stream, j) - 1.0f);
    }
    m->be->upload(m->be, m->params, host, m->nparams * sizeof(float));
    free(host);
}

/* ------------------------------------------------------------------ */
/* planning                                                            */

static size_t align16(size_t count) { return (count + 15) & ~(size_t)15; }

static float *arena_at(dfl_unet *m, size_t offset) { return m->counting ? NULL : (float *)m->arena + offset; }

/* A buffer with its own place in the main region. */
static float *take(dfl_unet *m, size_t count) {
    float *p = arena_at(m, m->cursor);
    m->cursor += align16(count);
    if (align16(count) > m->buf_max) m->buf_max = align16(count);
    return p;
}

/* A buffer only the current layer's forward uses: its own place in a
 * training plan, the shared scratch region in an inference plan. */
static float *take_scratch(dfl_unet *m, size_t count) {
    if (m->training) return take(m, count);
    float *p = arena_at(m, m->scratch_base + m->scratch_cursor);
    m->scratch_cursor += align16(count);
    if (align16(count) > m->buf_max) m->buf_max = align16(count);
    if (m->scratch_cursor > m->scratch_max) m->scratch_max = m->scratch_cursor;
    return p;
}

/* A layer's output. Inference plans give an output that is not a skip one
 * of two alternating buffers: *io is the one holding the layer's input
 * (-1: neither), and becomes the one holding its output. */
static float *take_output(dfl_unet *m, const layer *l, size_t count, int *io) {
    if (m->training || l->skip_push >= 0) {
        *io = -1;
        return take(m, count);
    }
    *io = *io == 0 ? 1 : 0;
    if (count > m->io_max) m->io_max = count;
    if (align16(count) > m->buf_max) m->buf_max = align16(count);
    return arena_at(m, m->io_base + (size_t)*io * align16(m->io_max));
}

/* Records a gradient size the backward ping-pong and scratch buffers hold. */
static void grad_size(dfl_unet *m, size_t count) {
    if (count > m->grad_max) m->grad_max = count;
}

static double conv_flops(int n, int ho, int wo, int cin, int cout, int k) {
    return 2.0 * n * ho * wo * (double)cin * cout * k * k;
}

static size_t round16(int c) { return ((size_t)c + 15) / 16 * 16; }

/* Forward FLOPs of a k x k conv with output ho x wo from hi x wi, and what
 * it needs of the backend's workspace (estimate, floats): its input (with
 * a one-pixel halo) and output re-laid in 16-channel blocks (oneDNN's
 * nChw16c), and the haloed input copy of a periodic conv. */
static double conv_cost(dfl_unet *m, int n, int ho, int wo, int hi, int wi, int cin, int cout, int k) {
    if (k > 1) {
        size_t in = (size_t)n * (hi + 2) * (wi + 2) * round16(cin), out = (size_t)n * ho * wo * round16(cout);
        if (in > m->ws_in_max) m->ws_in_max = in;
        if (out > m->ws_out_max) m->ws_out_max = out;
        if ((m->cfg.periodic_x || m->cfg.periodic_y) && in > m->ws_halo_max) m->ws_halo_max = in;
    }
    return conv_flops(n, ho, wo, cin, cout, k);
}

/* One pass over the graph assigning buffers (or counting them); sizes and
 * layout in the comment at the top of the file. */
static void assign_buffers(dfl_unet *m) {
    const dfl_unet_config *c = &m->cfg;
    int n = m->n, b = c->base, T = 4 * b, C = c->channels;
    int h = m->hp, w = m->wp;
    m->cursor = 0;
    m->flops_fwd = 0;
    m->grad_max = m->tproj_max = 0;
    m->buf_max = 0;
    m->ws_in_max = m->ws_out_max = m->ws_halo_max = 0;
    size_t px = (size_t)n * h * w;

    m->in_pad = take(m, px * 2 * C);
    grad_size(m, px * 2 * C);
    const int S = stem_channels(c);
    if (c->input_fill) {
        m->in_fill = take(m, px * S);
        m->fill_scratch = take(m, c->input_fill == DFL_FILL_SPLINE ? dfl_spline_scratch_floats(n, h, w, C)
                                                                   : dfl_fill_scratch_floats(n, h, w, C));
        grad_size(m, px * S);
    }
    m->temb_in = take(m, (size_t)n * b);
    m->temb_h1 = take(m, (size_t)n * T);
    m->temb_a1 = take(m, (size_t)n * T);
    m->temb = take(m, (size_t)n * T);
    m->temb_silu = take(m, (size_t)n * T);
    m->flops_fwd += 2.0 * n * b * T + 2.0 * n * T * T;
    m->stem_out = take(m, px * b);
    grad_size(m, px * b);
    m->flops_fwd += conv_cost(m, n, h, w, h, w, S, b, 3);
    m->skip[0] = m->stem_out;
    m->skip_numel[0] = px * b;

    float *cur = m->stem_out;
    int io = -1; /* inference: which alternating buffer holds cur */
    for (int i = 0; i < m->nlayers; ++i) {
        layer *l = &m->layers[i];
        l->h = h;
        l->w = w;
        m->scratch_cursor = 0;
        size_t p = (size_t)n * h * w;
        switch (l->kind) {
        case LAYER_RES:
            if (l->skip_pop >= 0) {
                l->xcat = take_scratch(m, p * l->cin);
                l->x = l->xcat;
            } else {
                l->x = cur;
            }
            l->g1 = take_scratch(m, p * l->cin);
            l->mean1 = take_scratch(m, (size_t)n * DFL_GN_GROUPS);
            l->rstd1 = take_scratch(m, (size_t)n * DFL_GN_GROUPS);
            l->hmid = take_scratch(m, p * l->cout);
            l->tproj = take_scratch(m, (size_t)n * l->cout);
            l->g2 = take_scratch(m, p * l->cout);
            l->mean2 = take_scratch(m, (size_t)n * DFL_GN_GROUPS);
            l->rstd2 = take_scratch(m, (size_t)n * DFL_GN_GROUPS);
            /* training plans point skip_tmp at sA once that exists */
            l->skip_tmp = l->p.res.skip_w >= 0 && !m->training ? take_scratch(m, p * l->cout) : NULL;
            l->out = take_output(m, l, p * l->cout, &io);
            grad_size(m, p * l->cin);
            grad_size(m, p * l->cout);
            if ((size_t)n * l->cout > m->tproj_max) m->tproj_max = (size_t)n * l->cout;
            m->flops_fwd += conv_cost(m, n, h, w, h, w, l->cin, l->cout, 3) +
                            conv_cost(m, n, h, w, h, w, l->cout, l->cout, 3) + 2.0 * n * T * l->cout;
            if (l->cin != l->cout) m->flops_fwd += conv_cost(m, n, h, w, h, w, l->cin, l->cout, 1);
            break;
        case LAYER_DOWN:
            l->x = cur;
            grad_size(m, p * l->cin);
            h /= 2;
            w /= 2;
            l->out = take_output(m, l, (size_t)n * h * w * l->cout, &io);
            m->flops_fwd += conv_cost(m, n, h, w, 2 * h, 2 * w, l->cin, l->cout, 3);
            break;
        case LAYER_UP:
            l->x = cur;
            grad_size(m, p * l->cin);
            h *= 2;
            w *= 2;
            l->up = take_scratch(m, (size_t)n * h * w * l->cin);
            l->out = take_output(m, l, (size_t)n * h * w * l->cout, &io);
            grad_size(m, (size_t)n * h * w * l->cin);
            grad_size(m, (size_t)n * h * w * l->cout);
            m->flops_fwd += conv_cost(m, n, h, w, h, w, l->cin, l->cout, 3);
            break;
        case LAYER_ATTN: {
            int hw = h * w;
            l->x = cur;
            l->g1 = take_scratch(m, p * l->cin);
            l->mean1 = take_scratch(m, (size_t)n * DFL_GN_GROUPS);
            l->rstd1 = take_scratch(m, (size_t)n * DFL_GN_GROUPS);
            l->qkv = take_scratch(m, p * 3 * l->cin);
            l->att = take_scratch(m, p * l->cin);
            l->probs = take_scratch(m, (size_t)n * hw * hw);
            l->out = take_output(m, l, p * l->cout, &io);
            grad_size(m, p * 3 * l->cin);
            m->flops_fwd +=
                2.0 * p * l->cin * 3 * l->cin + 2.0 * p * l->cin * l->cin + 4.0 * n * (double)hw * hw * l->cin;
            break;
        }
        }
        if (l->skip_push >= 0) {
            m->skip[l->skip_push] = l->out;
            m->skip_numel[l->skip_push] = (size_t)n * h * w * l->cout;
        }
        cur = l->out;
    }
    DFL_ASSERT(h == m->hp && w == m->wp);
    m->head_g = take(m, px * b);
    m->head_mean = take(m, (size_t)n * DFL_GN_GROUPS);
    m->head_rstd = take(m, (size_t)n * DFL_GN_GROUPS);
    m->out_pad = take(m, px * C);
    m->flops_fwd += conv_cost(m, n, h, w, h, w, b, C, 3);

    if (!m->training) {
        /* the two alternating outputs, then the shared scratch */
        m->io_base = m->cursor;
        m->scratch_base = m->io_base + 2 * align16(m->io_max);
        m->cursor = m->scratch_base + align16(m->scratch_max);
        m->dcur = m->dnext = m->sA = m->sB = m->dst = m->dtmp_t = m->dtproj = NULL;
        m->dtemb = m->da1 = m->dh1 = m->dout_pad = NULL;
        for (int s = 0; s < m->nskips; ++s) m->dskip[s] = NULL;
        return;
    }
    m->dcur = take(m, m->grad_max);
    m->dnext = take(m, m->grad_max);
    m->sA = take(m, m->grad_max);
    m->sB = take(m, m->grad_max);
    for (int s = 0; s < m->nskips; ++s) m->dskip[s] = take(m, m->skip_numel[s]);
    m->dst = take(m, (size_t)n * T);
    m->dtmp_t = take(m, (size_t)n * T);
    m->dtproj = take(m, m->tproj_max);
    m->dtemb = take(m, (size_t)n * T);
    m->da1 = take(m, (size_t)n * T);
    m->dh1 = take(m, (size_t)n * T);
    m->dout_pad = take(m, px * C);
    for (int i = 0; i < m->nlayers; ++i)
        if (m->layers[i].kind == LAYER_RES && m->layers[i].p.res.skip_w >= 0) m->layers[i].skip_tmp = m->sA;
}

/* Padded plan size; DFL_EUSAGE for sizes the backends cannot index. */
static dfl_status plan_dims(const dfl_unet *m, int n, int h, int w, int *hp_out, int *wp_out) {
    if (n < 1 || h < 1 || w < 1) return dfl_fail(DFL_EUSAGE, "model: bad batch/field size %d x %d x %d", n, h, w);
    int mult = 1 << (m->cfg.levels - 1);
    long long hp = (h + (long long)mult - 1) / mult * mult, wp = (w + (long long)mult - 1) / mult * mult;
    /* rows of the per-pixel linear maps (n * hp * wp) are ints in the backends */
    if ((long long)n * hp * wp > INT_MAX)
        return dfl_fail(DFL_EUSAGE, "model: batch %d of %lld x %lld (padded) fields has more than %d pixels", n, hp, wp,
                        INT_MAX);
    *hp_out = (int)hp;
    *wp_out = (int)wp;
    return DFL_OK;
}

static void set_dims(dfl_unet *m, int n, int h, int w, int hp, int wp, int training) {
    m->n = n;
    m->h = h;
    m->w = w;
    m->hp = hp;
    m->wp = wp;
    m->training = training;
}

static dfl_status plan(dfl_unet *m, int n, int h, int w, int training) {
    int hp = 0, wp = 0;
    DFL_TRY(plan_dims(m, n, h, w, &hp, &wp));
    if (m->arena && m->n == n && m->h == h && m->w == w && m->training == training) return DFL_OK;
    set_dims(m, n, h, w, hp, wp, training);
    m->counting = 1;
    m->io_max = m->scratch_max = 0;
    assign_buffers(m);
    size_t floats = m->cursor;
    if (m->arena) m->be->free(m->be, m->arena);
    m->arena = m->be->alloc(m->be, floats * sizeof(float));
    m->arena_floats = floats;
    m->counting = 0;
    assign_buffers(m);
    DFL_ASSERT(m->cursor == floats);
    if (training && !m->grads) {
        m->grads = m->be->alloc(m->be, m->nparams * sizeof(float));
        m->be->fill(m->be, m->grads, 0.0f, m->nparams);
    }
    return DFL_OK;
}

dfl_status dfl_unet_plan_measure(dfl_unet *m, int n, int h, int w, int training, dfl_unet_plan_size *out) {
    int hp = 0, wp = 0;
    DFL_TRY(plan_dims(m, n, h, w, &hp, &wp));
    int on = m->n, oh = m->h, ow = m->w, ohp = m->hp, owp = m->wp, otr = m->training;
    double oflops = m->flops_fwd;
    /* the counting walk of plan(), without the allocation */
    set_dims(m, n, h, w, hp, wp, training);
    m->counting = 1;
    m->io_max = m->scratch_max = 0;
    assign_buffers(m);
    out->arena_bytes = m->cursor * sizeof(float);
    out->grads_bytes = training ? m->nparams * sizeof(float) : 0;
    out->largest_bytes = m->buf_max * sizeof(float);
    /* forward: input and output slots; training: backward-data swaps them, so each holds the larger */
    size_t io =
        training ? 2 * (m->ws_in_max > m->ws_out_max ? m->ws_in_max : m->ws_out_max) : m->ws_in_max + m->ws_out_max;
    out->workspace_bytes = (io + m->ws_halo_max) * sizeof(float);
    out->flops_fwd_per_sample = m->flops_fwd / n;
    /* restore the current plan's pointers */
    set_dims(m, on, oh, ow, ohp, owp, otr);
    if (m->arena) {
        m->io_max = m->scratch_max = 0;
        assign_buffers(m);
        m->counting = 0;
        assign_buffers(m);
    }
    m->counting = 0;
    m->flops_fwd = oflops;
    return DFL_OK;
}

dfl_status dfl_unet_plan(dfl_unet *m, int n, int h, int w) { return plan(m, n, h, w, 1); }
dfl_status dfl_unet_plan_inference(dfl_unet *m, int n, int h, int w) { return plan(m, n, h, w, 0); }

size_t dfl_unet_plan_bytes(const dfl_unet *m) {
    return (m->arena ? m->arena_floats * sizeof(float) : 0) + (m->grads ? m->nparams * sizeof(float) : 0);
}

/* ------------------------------------------------------------------ */
/* forward                                                             */

#define P(i) (m->params + m->tensors[(i)].offset)
#define G(i) (m->grads + m->tensors[(i)].offset)

static dfl_conv_desc conv_desc(const dfl_unet *m, int h, int w, int cin, int cout, int k, int stride) {
    dfl_conv_desc d;
    d.n = m->n;
    d.h = h;
    d.w = w;
    d.cin = cin;
    d.cout = cout;
    d.k = k;
    d.stride = stride;
    d.periodic_x = k == 3 && m->cfg.periodic_x;
    d.periodic_y = k == 3 && m->cfg.periodic_y;
    return d;
}

static void resblock_forward(dfl_unet *m, layer *l) {
    dfl_backend *be = m->be;
    const res_params *r = &l->p.res;
    int n = m->n, hw = l->h * l->w, T = 4 * m->cfg.base;
    size_t numel = (size_t)n * hw * l->cout;
    be->group_norm_forward(be, n, hw, l->cin, DFL_GN_GROUPS, DFL_GN_EPS, l->x, P(r->norm1_gamma), P(r->norm1_beta),
                           l->g1, l->mean1, l->rstd1, 1);
    dfl_conv_desc d1 = conv_desc(m, l->h, l->w, l->cin, l->cout, 3, 1);
    be->conv2d_forward(be, &d1, l->g1, P(r->conv1_w), P(r->conv1_b), l->hmid);
    be->linear_forward(be, n, T, l->cout, m->temb_silu, P(r->temb_w), P(r->temb_b), l->tproj);
    be->add_channel_bias(be, n, hw, l->cout, l->hmid, l->tproj);
    be->group_norm_forward(be, n, hw, l->cout, DFL_GN_GROUPS, DFL_GN_EPS, l->hmid, P(r->norm2_gamma), P(r->norm2_beta),
                           l->g2, l->mean2, l->rstd2, 1);
    dfl_conv_desc d2 = conv_desc(m, l->h, l->w, l->cout, l->cout, 3, 1);
    be->conv2d_forward(be, &d2, l->g2, P(r->conv2_w), P(r->conv2_b), l->out);
    if (r->skip_w >= 0) {
        dfl_conv_desc ds = conv_desc(m, l->h, l->w, l->cin, l->cout, 1, 1);
        be->conv2d_forward(be, &ds, l->x, P(r->skip_w), P(r->skip_b), l->skip_tmp);
        be->add(be, numel, l->out, l->skip_tmp, l->out);
    } else {
        be->add(be, numel, l->out, l->x, l->out);
    }
}

static void attention_forward(dfl_unet *m, layer *l) {
    dfl_backend *be = m->be;
    const attn_params *a = &l->p.attn;
    int n = m->n, hw = l->h * l->w, c = l->cin;
    int rows = n * hw;
    be->group_norm_forward(be, n, hw, c, DFL_GN_GROUPS, DFL_GN_EPS, l->x, P(a->norm_gamma), P(a->norm_beta), l->g1,
                           l->mean1, l->rstd1, 0);
    /* 1x1 convs on NHWC are linear maps over pixels; OIHW [o, i, 1, 1] is [o, i]. */
    be->linear_forward(be, rows, c, 3 * c, l->g1, P(a->qkv_w), P(a->qkv_b), l->qkv);
    be->attention_forward(be, n, hw, c, l->qkv, l->att, l->probs);
    be->linear_forward(be, rows, c, c, l->att, P(a->proj_w), P(a->proj_b), l->out);
    be->add(be, (size_t)rows * c, l->out, l->x, l->out);
}

/* What the stem convolution reads: the padded input, or it and its fill. */
static const float *stem_input(const dfl_unet *m) { return m->cfg.input_fill ? m->in_fill : m->in_pad; }

void dfl_unet_forward(dfl_unet *m, const float *input, const float *t, float *output) {
    dfl_backend *be = m->be;
    const dfl_unet_config *c = &m->cfg;
    const net_params *np = &m->np;
    int n = m->n, b = c->base, T = 4 * b, C = c->channels;
    DFL_ASSERT(m->arena);
    /* time embedding: e = [cos, sin] -> Linear -> SiLU -> Linear; SiLU(temb) feeds every ResBlock */
    be->time_embedding(be, n, b, t, m->temb_in);
    be->linear_forward(be, n, b, T, m->temb_in, P(np->temb0_w), P(np->temb0_b), m->temb_h1);
    be->silu_forward(be, (size_t)n * T, m->temb_h1, m->temb_a1);
    be->linear_forward(be, n, T, T, m->temb_a1, P(np->temb2_w), P(np->temb2_b), m->temb);
    be->silu_forward(be, (size_t)n * T, m->temb, m->temb_silu);

    /* pad to a multiple of 2^(L-1) with zeros at the end (bottom rows, right columns) */
    be->pad_end(be, n, m->h, m->w, 2 * C, m->hp, m->wp, input, m->in_pad);
    if (c->input_fill) be->input_fill(be, n, m->hp, m->wp, C, m->in_pad, m->in_fill, m->fill_scratch);
    if (c->input_fill == DFL_FILL_SPLINE)
        be->input_fill_spline(be, n, m->hp, m->wp, C, c->periodic_x, c->periodic_y, DFL_SPLINE_ITERS, m->in_fill,
                              m->fill_scratch);
    dfl_conv_desc ds = conv_desc(m, m->hp, m->wp, stem_channels(c), b, 3, 1);
    be->conv2d_forward(be, &ds, stem_input(m), P(np->stem_w), P(np->stem_b), m->stem_out);

    const float *cur = m->stem_out;
    for (int i = 0; i < m->nlayers; ++i) {
        layer *l = &m->layers[i];
        switch (l->kind) {
        case LAYER_RES:
            if (l->skip_pop >= 0)
                be->concat_channels_forward(be, (size_t)n * l->h * l->w, l->cin_main, l->cin - l->cin_main, cur,
                                            m->skip[l->skip_pop], l->xcat);
            else
                l->x = cur;
            resblock_forward(m, l);
            break;
        case LAYER_DOWN: {
            dfl_conv_desc d = conv_desc(m, l->h, l->w, l->cin, l->cout, 3, 2);
            be->conv2d_forward(be, &d, cur, P(l->p.conv.w), P(l->p.conv.b), l->out);
            break;
        }
        case LAYER_UP: {
            be->upsample_nearest2x_forward(be, n, l->h, l->w, l->cin, cur, l->up);
            dfl_conv_desc d = conv_desc(m, 2 * l->h, 2 * l->w, l->cin, l->cout, 3, 1);
            be->conv2d_forward(be, &d, l->up, P(l->p.conv.w), P(l->p.conv.b), l->out);
            break;
        }
        case LAYER_ATTN: attention_forward(m, l); break;
        }
        cur = l->out;
    }
    be->group_norm_forward(be, n, m->hp * m->wp, b, DFL_GN_GROUPS, DFL_GN_EPS, cur, P(np->head_norm_gamma),
                           P(np->head_norm_beta), m->head_g, m->head_mean, m->head_rstd, 1);
    dfl_conv_desc dh = conv_desc(m, m->hp, m->wp, b, C, 3, 1);
    be->conv2d_forward(be, &dh, m->head_g, P(np->head_conv_w), P(np->head_conv_b), m->out_pad);
    be->crop_end(be, n, m->hp, m->wp, C, m->h, m->w, m->out_pad, output);
}

/* ------------------------------------------------------------------ */
/* backward                                                            */

/* dout -> dx (both [n, h, w, *]); accumulates d SiLU(temb) into m->dst. */
static void resblock_backward(dfl_unet *m, layer *l, const float *dout, float *dx) {
    dfl_backend *be = m->be;
    const res_params *r = &l->p.res;
    int n = m->n, hw = l->h * l->w, T = 4 * m->cfg.base;
    dfl_conv_desc d2 = conv_desc(m, l->h, l->w, l->cout, l->cout, 3, 1);
    be->conv2d_backward_weights(be, &d2, l->g2, dout, G(r->conv2_w), G(r->conv2_b));
    be->conv2d_backward_data(be, &d2, dout, P(r->conv2_w), m->sA);
    be->group_norm_backward(be, n, hw, l->cout, DFL_GN_GROUPS, l->hmid, P(r->norm2_gamma), P(r->norm2_beta), l->mean2,
                            l->rstd2, m->sA, NULL, m->sB, G(r->norm2_gamma), G(r->norm2_beta), 1);
    /* time-embedding projection: h += Linear(SiLU(temb)) per channel */
    be->channel_bias_backward(be, n, hw, l->cout, m->sB, m->dtproj);
    be->linear_backward(be, n, T, l->cout, m->temb_silu, P(r->temb_w), m->dtproj, m->dtmp_t, G(r->temb_w),
                        G(r->temb_b));
    be->add(be, (size_t)n * T, m->dst, m->dtmp_t, m->dst);
    dfl_conv_desc d1 = conv_desc(m, l->h, l->w, l->cin, l->cout, 3, 1);
    be->conv2d_backward_weights(be, &d1, l->g1, m->sB, G(r->conv1_w), G(r->conv1_b));
    be->conv2d_backward_data(be, &d1, m->sB, P(r->conv1_w), m->sA);
    /* the skip branch's gradient (dout, or the 1x1 skip conv's backward-data
     * in sB, free again) is added to dx as GN1's backward writes it */
    const float *dskip = dout;
    if (r->skip_w >= 0) {
        dfl_conv_desc ds = conv_desc(m, l->h, l->w, l->cin, l->cout, 1, 1);
        be->conv2d_backward_weights(be, &ds, l->x, dout, G(r->skip_w), G(r->skip_b));
        be->conv2d_backward_data(be, &ds, dout, P(r->skip_w), m->sB);
        dskip = m->sB;
    }
    be->group_norm_backward(be, n, hw, l->cin, DFL_GN_GROUPS, l->x, P(r->norm1_gamma), P(r->norm1_beta), l->mean1,
                            l->rstd1, m->sA, dskip, dx, G(r->norm1_gamma), G(r->norm1_beta), 1);
}

static void attention_backward(dfl_unet *m, layer *l, const float *dout, float *dx) {
    dfl_backend *be = m->be;
    const attn_params *a = &l->p.attn;
    int n = m->n, hw = l->h * l->w, c = l->cin, rows = n * hw;
    be->linear_backward(be, rows, c, c, l->att, P(a->proj_w), dout, m->sA, G(a->proj_w), G(a->proj_b));
    be->attention_backward(be, n, hw, c, l->qkv, l->probs, m->sA, m->sB);
    be->linear_backward(be, rows, c, 3 * c, l->g1, P(a->qkv_w), m->sB, m->sA, G(a->qkv_w), G(a->qkv_b));
    be->group_norm_backward(be, n, hw, c, DFL_GN_GROUPS, l->x, P(a->norm_gamma), P(a->norm_beta), l->mean1, l->rstd1,
                            m->sA, dout, dx, G(a->norm_gamma), G(a->norm_beta), 0);
}

static void swap(float **a, float **b) {
    float *t = *a;
    *a = *b;
    *b = t;
}

void dfl_unet_backward(dfl_unet *m, const float *doutput, float *dinput) {
    dfl_backend *be = m->be;
    const dfl_unet_config *c = &m->cfg;
    const net_params *np = &m->np;
    int n = m->n, b = c->base, T = 4 * b, C = c->channels;
    if (!m->arena || !m->training) DFL_PANIC("dfl_unet_backward needs a training plan (dfl_unet_plan)");
    if (dinput && c->input_fill) DFL_PANIC("dfl_unet_backward: no input gradient with model.input_fill");
    float *dcur = m->dcur, *dnext = m->dnext;

    be->fill(be, m->dst, 0.0f, (size_t)n * T);
    /* head: crop's backward is a zero pad */
    be->pad_end(be, n, m->h, m->w, C, m->hp, m->wp, doutput, m->dout_pad);
    dfl_conv_desc dh = conv_desc(m, m->hp, m->wp, b, C, 3, 1);
    be->conv2d_backward_weights(be, &dh, m->head_g, m->dout_pad, G(np->head_conv_w), G(np->head_conv_b));
    be->conv2d_backward_data(be, &dh, m->dout_pad, P(np->head_conv_w), m->sA);
    const float *last = m->layers[m->nlayers - 1].out;
    be->group_norm_backward(be, n, m->hp * m->wp, b, DFL_GN_GROUPS, last, P(np->head_norm_gamma), P(np->head_norm_beta),
                            m->head_mean, m->head_rstd, m->sA, NULL, dcur, G(np->head_norm_gamma),
                            G(np->head_norm_beta), 1);
    notify_ready(m, np->head_norm_gamma);

    for (int i = m->nlayers - 1; i >= 0; --i) {
        layer *l = &m->layers[i];
        size_t p_out = (size_t)n * (l->kind == LAYER_DOWN ? (l->h / 2) * (l->w / 2)
                                                          : (l->kind == LAYER_UP ? 4 * l->h * l->w : l->h * l->w));
        /* this layer's output was also a skip: add the decoder's gradient */
        if (l->skip_push >= 0) be->add(be, p_out * l->cout, dcur, m->dskip[l->skip_push], dcur);
        switch (l->kind) {
        case LAYER_RES:
            resblock_backward(m, l, dcur, dnext);
            if (l->skip_pop >= 0) {
                /* split d concat[h, skip]: the h part continues, the skip part waits */
                be->concat_channels_backward(be, (size_t)n * l->h * l->w, l->cin_main, l->cin - l->cin_main, dnext,
                                             dcur, m->dskip[l->skip_pop]);
                notify_ready(m, l->first_param);
                continue; /* gradient of h is already in dcur */
            }
            break;
        case LAYER_DOWN: {
            dfl_conv_desc d = conv_desc(m, l->h, l->w, l->cin, l->cout, 3, 2);
            be->conv2d_backward_weights(be, &d, l->x, dcur, G(l->p.conv.w), G(l->p.conv.b));
            be->conv2d_backward_data(be, &d, dcur, P(l->p.conv.w), dnext);
            break;
        }
        case LAYER_UP: {
            dfl_conv_desc d = conv_desc(m, 2 * l->h, 2 * l->w, l->cin, l->cout, 3, 1);
            be->conv2d_backward_weights(be, &d, l->up, dcur, G(l->p.conv.w), G(l->p.conv.b));
            be->conv2d_backward_data(be, &d, dcur, P(l->p.conv.w), m->sA);
            be->upsample_nearest2x_backward(be, n, l->h, l->w, l->cin, m->sA, dnext);
            break;
        }
        case LAYER_ATTN: attention_backward(m, l, dcur, dnext); break;
        }
        swap(&dcur, &dnext);
        notify_ready(m, l->first_param);
    }
    /* stem (its output is skip 0) */
    size_t px = (size_t)n * m->hp * m->wp;
    be->add(be, px * b, dcur, m->dskip[0], dcur);
    dfl_conv_desc ds = conv_desc(m, m->hp, m->wp, stem_channels(c), b, 3, 1);
    be->conv2d_backward_weights(be, &ds, stem_input(m), dcur, G(np->stem_w), G(np->stem_b));
    notify_ready(m, np->stem_w);
    if (dinput) {
        be->conv2d_backward_data(be, &ds, dcur, P(np->stem_w), dnext);
        be->crop_end(be, n, m->hp, m->wp, 2 * C, m->h, m->w, dnext, dinput);
    }
    /* time embedding */
    be->silu_backward(be, (size_t)n * T, m->temb, m->dst, m->dtemb);
    be->linear_backward(be, n, T, T, m->temb_a1, P(np->temb2_w), m->dtemb, m->da1, G(np->temb2_w), G(np->temb2_b));
    be->silu_backward(be, (size_t)n * T, m->temb_h1, m->da1, m->dh1);
    be->linear_backward(be, n, b, T, m->temb_in, P(np->temb0_w), m->dh1, NULL, G(np->temb0_w), G(np->temb0_b));
    notify_ready(m, -1);
}
