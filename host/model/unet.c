/* dfl-unet v1 (DESIGN.md §3): parameters, arena planning, forward and
 * backward, written once against the backend interface (backend.h).
 *
 * The graph is a list of layers in forward order: ResBlocks, Downsample,
 * Upsample, Attention. Encoder layers push their output on the skip list
 * (after the stem, every encoder ResBlock and Downsample, DDPM style);
 * decoder ResBlocks pop one skip and take concat[h, skip]. Backward walks
 * the list in reverse with two ping-pong gradient buffers plus scratch; the
 * gradient of a skip tensor is kept until the encoder layer that produced
 * it is reached and added to the chain gradient there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/model.h"
#include "shared/philox.h"

/* snprintf into a fixed buffer; a name that does not fit is a bug. */
#define NAMEF(buf, ...)                                                                  \
    do {                                                                                 \
        if (snprintf((buf), sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf)) DFL_PANIC("parameter name too long"); \
    } while (0)

typedef enum { LAYER_RES, LAYER_DOWN, LAYER_UP, LAYER_ATTN } layer_kind;

typedef struct {
    layer_kind kind;
    int h, w;       /* spatial size of the layer's input */
    int cin, cout;  /* channels in (after concat for decoder blocks) and out */
    int skip_push;  /* index of the skip this layer's output becomes, or -1 */
    int skip_pop;   /* decoder: index of the skip concatenated to the input, or -1 */
    int cin_main;   /* decoder: channels of h before the concat */
    /* parameter indices (-1 when absent) */
    int p[12];
    /* activations */
    const float *x; /* input the layer reads (xcat for decoder blocks) */
    float *xcat;
    float *g1, *hmid, *g2, *tproj, *mean1, *rstd1, *mean2, *rstd2; /* ResBlock; attention uses g1/mean1/rstd1 */
    float *qkv, *att, *probs;                                      /* attention */
    float *up;                                                     /* upsampled input */
    float *out;
} layer;

/* Parameter slots of a layer. */
enum { RP_N1G, RP_N1B, RP_C1W, RP_C1B, RP_TPW, RP_TPB, RP_N2G, RP_N2B, RP_C2W, RP_C2B, RP_SKW, RP_SKB };
enum { AP_NG, AP_NB, AP_QW, AP_QB, AP_PW, AP_PB };
enum { CP_W, CP_B }; /* Downsample / Upsample conv */

#define MAX_LAYERS 256
#define MAX_SKIPS 128

struct dfl_unet {
    dfl_backend *be;
    dfl_unet_config cfg;
    dfl_param_info *tensors;
    int ntensors, cap;
    size_t nparams;
    float *params, *grads;

    int p_t0w, p_t0b, p_t2w, p_t2b, p_stem_w, p_stem_b, p_hng, p_hnb, p_hcw, p_hcb;

    layer layers[MAX_LAYERS];
    int nlayers;
    int nskips;
    float *skip[MAX_SKIPS];
    float *dskip[MAX_SKIPS];
    size_t skip_numel[MAX_SKIPS];

    /* plan */
    int n, h, w, hp, wp;
    void *arena;
    size_t arena_floats, arena_cursor;
    int counting;
    double flops_fwd;
    size_t smax;     /* largest activation (elements), counted up to the gradient buffers */
    int smax_frozen; /* set once the gradient buffers are sized from smax */

    float *in_pad, *stem_out, *temb_in, *temb_h1, *temb_a1, *temb, *temb_silu;
    float *head_g, *head_mean, *head_rstd, *out_pad;
    void (*grads_ready)(void *user, size_t first);
    void *grads_ready_user;
    /* backward scratch */
    float *dcur, *dnext, *sA, *sB, *sC, *dst, *dtmp_t, *dtproj, *dtemb, *da1, *dh1, *dout_pad;
};

/* ------------------------------------------------------------------ */
/* parameters                                                          */

static int add_param(dfl_unet *m, const char *name, int rank, int d0, int d1, int d2, int d3) {
    if (m->ntensors == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->tensors = realloc(m->tensors, (size_t)m->cap * sizeof *m->tensors);
        if (!m->tensors) DFL_PANIC("out of memory");
    }
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

static layer *new_layer(dfl_unet *m, layer_kind kind) {
    if (m->nlayers == MAX_LAYERS) DFL_PANIC("network has too many layers");
    layer *l = &m->layers[m->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->skip_push = l->skip_pop = -1;
    for (int i = 0; i < 12; ++i) l->p[i] = -1;
    return l;
}

static void add_resblock(dfl_unet *m, const char *prefix, int cin, int cout, int cin_main) {
    int T = 4 * m->cfg.base;
    layer *l = new_layer(m, LAYER_RES);
    l->cin = cin;
    l->cout = cout;
    l->cin_main = cin_main;
    char name[96];
    NAMEF(name, "%s.norm1", prefix);
    add_norm(m, name, cin, &l->p[RP_N1G], &l->p[RP_N1B]);
    NAMEF(name, "%s.conv1", prefix);
    add_conv(m, name, cout, cin, 3, &l->p[RP_C1W], &l->p[RP_C1B]);
    NAMEF(name, "%s.temb_proj", prefix);
    add_linear(m, name, cout, T, &l->p[RP_TPW], &l->p[RP_TPB]);
    NAMEF(name, "%s.norm2", prefix);
    add_norm(m, name, cout, &l->p[RP_N2G], &l->p[RP_N2B]);
    NAMEF(name, "%s.conv2", prefix);
    add_conv(m, name, cout, cout, 3, &l->p[RP_C2W], &l->p[RP_C2B]);
    if (cin != cout) {
        NAMEF(name, "%s.skip", prefix);
        add_conv(m, name, cout, cin, 1, &l->p[RP_SKW], &l->p[RP_SKB]);
    }
}

/* Builds the parameter list and the layer list (shapes filled at plan
 * time). The order of tensors is the order of this walk. */
static void build_graph(dfl_unet *m) {
    const dfl_unet_config *c = &m->cfg;
    int b = c->base, T = 4 * b, L = c->levels;
    char name[96];
    add_linear(m, "temb.0", T, b, &m->p_t0w, &m->p_t0b);
    add_linear(m, "temb.2", T, T, &m->p_t2w, &m->p_t2b);
    add_conv(m, "stem", b, 2 * c->channels, 3, &m->p_stem_w, &m->p_stem_b);

    int skip_ch[MAX_SKIPS], nsk = 0;
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
            add_conv(m, name, ch, ch, 3, &d->p[CP_W], &d->p[CP_B]);
            d->skip_push = nsk;
            skip_ch[nsk++] = ch;
        }
    }
    add_resblock(m, "mid.res.0", ch, ch, ch);
    if (c->attention) {
        layer *a = new_layer(m, LAYER_ATTN);
        a->cin = a->cout = ch;
        add_norm(m, "mid.attn.norm", ch, &a->p[AP_NG], &a->p[AP_NB]);
        add_conv(m, "mid.attn.qkv", 3 * ch, ch, 1, &a->p[AP_QW], &a->p[AP_QB]);
        add_conv(m, "mid.attn.proj", ch, ch, 1, &a->p[AP_PW], &a->p[AP_PB]);
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
            add_conv(m, name, ch, ch, 3, &u->p[CP_W], &u->p[CP_B]);
        }
    }
    DFL_ASSERT(nsk == 0);
    add_norm(m, "head.norm", b, &m->p_hng, &m->p_hnb);
    add_conv(m, "head.conv", c->channels, b, 3, &m->p_hcw, &m->p_hcb);
}

dfl_status dfl_unet_create(dfl_backend *be, const dfl_unet_config *cfg, dfl_unet **out) {
    if (cfg->channels < 1) return dfl_fail(DFL_EUSAGE, "model: channels must be >= 1");
    if (cfg->base < DFL_GN_GROUPS || cfg->base % DFL_GN_GROUPS)
        return dfl_fail(DFL_EUSAGE, "model.base = %d must be a positive multiple of %d (GroupNorm groups)", cfg->base,
                        DFL_GN_GROUPS);
    if (cfg->levels < 1 || cfg->levels > DFL_UNET_MAX_LEVELS)
        return dfl_fail(DFL_EUSAGE, "model.mult must have 1 to %d levels", DFL_UNET_MAX_LEVELS);
    if (cfg->nres < 1) return dfl_fail(DFL_EUSAGE, "model.nres must be >= 1");
    for (int i = 0; i < cfg->levels; ++i)
        if (cfg->mult[i] < 1) return dfl_fail(DFL_EUSAGE, "model.mult entries must be >= 1");
    dfl_unet *m = dfl_xcalloc(1, sizeof *m);
    m->be = be;
    m->cfg = *cfg;
    build_graph(m);
    m->params = be->alloc(be, m->nparams * sizeof(float));
    m->grads = be->alloc(be, m->nparams * sizeof(float));
    be->fill(be, m->params, 0.0f, m->nparams);
    be->fill(be, m->grads, 0.0f, m->nparams);
    *out = m;
    return DFL_OK;
}

void dfl_unet_destroy(dfl_unet *m) {
    if (!m) return;
    if (m->arena) m->be->free(m->be, m->arena);
    m->be->free(m->be, m->params);
    m->be->free(m->be, m->grads);
    free(m->tensors);
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

/* First parameter tensor of a layer (its lowest flat offset). */
static int layer_first_param(const layer *l) {
    int first = -1;
    for (int i = 0; i < 12; ++i)
        if (l->p[i] >= 0 && (first < 0 || l->p[i] < first)) first = l->p[i];
    return first;
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

static float *take(dfl_unet *m, size_t count) {
    size_t aligned = (count + 15) & ~(size_t)15;
    float *p = m->counting ? NULL : (float *)m->arena + m->arena_cursor;
    m->arena_cursor += aligned;
    if (count > m->smax && m->counting && !m->smax_frozen) m->smax = count;
    return p;
}

static double conv_flops(int n, int ho, int wo, int cin, int cout, int k) {
    return 2.0 * n * ho * wo * (double)cin * cout * k * k;
}

/* One pass over the graph assigning buffers (or counting them). */
static void assign_buffers(dfl_unet *m) {
    const dfl_unet_config *c = &m->cfg;
    int n = m->n, b = c->base, T = 4 * b, C = c->channels;
    int h = m->hp, w = m->wp;
    m->arena_cursor = 0;
    m->flops_fwd = 0;
    m->smax_frozen = 0;
    size_t px = (size_t)n * h * w;

    m->in_pad = take(m, px * 2 * C);
    m->temb_in = take(m, (size_t)n * b);
    m->temb_h1 = take(m, (size_t)n * T);
    m->temb_a1 = take(m, (size_t)n * T);
    m->temb = take(m, (size_t)n * T);
    m->temb_silu = take(m, (size_t)n * T);
    m->flops_fwd += 2.0 * n * b * T + 2.0 * n * T * T;
    m->stem_out = take(m, px * b);
    m->flops_fwd += conv_flops(n, h, w, 2 * C, b, 3);
    m->nskips = 0;
    m->skip[m->nskips] = m->stem_out;
    m->skip_numel[m->nskips++] = px * b;

    float *cur = m->stem_out;
    int maxc = 0;
    for (int i = 0; i < m->nlayers; ++i) {
        layer *l = &m->layers[i];
        l->h = h;
        l->w = w;
        size_t p = (size_t)n * h * w;
        if (l->cin > maxc) maxc = l->cin;
        switch (l->kind) {
        case LAYER_RES:
            if (l->skip_pop >= 0) {
                l->xcat = take(m, p * l->cin);
                l->x = l->xcat;
            } else {
                l->x = cur;
            }
            l->g1 = take(m, p * l->cin);
            l->mean1 = take(m, (size_t)n * DFL_GN_GROUPS);
            l->rstd1 = take(m, (size_t)n * DFL_GN_GROUPS);
            l->hmid = take(m, p * l->cout);
            l->tproj = take(m, (size_t)n * l->cout);
            l->g2 = take(m, p * l->cout);
            l->mean2 = take(m, (size_t)n * DFL_GN_GROUPS);
            l->rstd2 = take(m, (size_t)n * DFL_GN_GROUPS);
            l->out = take(m, p * l->cout);
            m->flops_fwd += conv_flops(n, h, w, l->cin, l->cout, 3) + conv_flops(n, h, w, l->cout, l->cout, 3) +
                            2.0 * n * T * l->cout;
            if (l->cin != l->cout) m->flops_fwd += conv_flops(n, h, w, l->cin, l->cout, 1);
            break;
        case LAYER_DOWN:
            l->x = cur;
            h /= 2;
            w /= 2;
            l->out = take(m, (size_t)n * h * w * l->cout);
            m->flops_fwd += conv_flops(n, h, w, l->cin, l->cout, 3);
            break;
        case LAYER_UP:
            l->x = cur;
            h *= 2;
            w *= 2;
            l->up = take(m, (size_t)n * h * w * l->cin);
            l->out = take(m, (size_t)n * h * w * l->cout);
            m->flops_fwd += conv_flops(n, h, w, l->cin, l->cout, 3);
            break;
        case LAYER_ATTN: {
            int hw = h * w;
            l->x = cur;
            l->g1 = take(m, p * l->cin);
            l->mean1 = take(m, (size_t)n * DFL_GN_GROUPS);
            l->rstd1 = take(m, (size_t)n * DFL_GN_GROUPS);
            l->qkv = take(m, p * 3 * l->cin);
            l->att = take(m, p * l->cin);
            l->probs = take(m, (size_t)n * hw * hw);
            l->out = take(m, p * l->cout);
            m->flops_fwd += 2.0 * p * l->cin * 3 * l->cin + 2.0 * p * l->cin * l->cin + 4.0 * n * (double)hw * hw * l->cin;
            break;
        }
        }
        if (l->skip_push >= 0) {
            m->skip[l->skip_push] = l->out;
            m->skip_numel[l->skip_push] = (size_t)n * h * w * l->cout;
            if (l->skip_push + 1 > m->nskips) m->nskips = l->skip_push + 1;
        }
        cur = l->out;
    }
    DFL_ASSERT(h == m->hp && w == m->wp);
    m->head_g = take(m, px * b);
    m->head_mean = take(m, (size_t)n * DFL_GN_GROUPS);
    m->head_rstd = take(m, (size_t)n * DFL_GN_GROUPS);
    m->out_pad = take(m, px * C);
    m->flops_fwd += conv_flops(n, h, w, b, C, 3);

    /* backward: gradient buffers sized to the largest activation, which
     * covers concat inputs, upsampled maps and attention's qkv. */
    size_t big = m->smax;
    /* The buffers below are not activations: on tiny fields dtproj
     * (n*b*64) can exceed every activation, and letting it raise smax in
     * the counting pass would size these five buffers differently in the
     * two passes. */
    m->smax_frozen = 1;
    m->dcur = take(m, big);
    m->dnext = take(m, big);
    m->sA = take(m, big);
    m->sB = take(m, big);
    m->sC = take(m, big);
    for (int s = 0; s < m->nskips; ++s) m->dskip[s] = take(m, m->skip_numel[s]);
    m->dst = take(m, (size_t)n * T);
    m->dtmp_t = take(m, (size_t)n * T);
    m->dtproj = take(m, (size_t)n * (size_t)b * 64);
    m->dtemb = take(m, (size_t)n * T);
    m->da1 = take(m, (size_t)n * T);
    m->dh1 = take(m, (size_t)n * T);
    m->dout_pad = take(m, px * C);
    (void)maxc;
}

dfl_status dfl_unet_plan(dfl_unet *m, int n, int h, int w) {
    if (n < 1 || h < 1 || w < 1) return dfl_fail(DFL_EUSAGE, "model: bad batch/field size %d x %d x %d", n, h, w);
    int mult = 1 << (m->cfg.levels - 1);
    int hp = (h + mult - 1) / mult * mult, wp = (w + mult - 1) / mult * mult;
    if (m->arena && m->n == n && m->h == h && m->w == w) return DFL_OK;
    for (int i = 0; i < m->cfg.levels; ++i)
        if (m->cfg.mult[i] * m->cfg.base > 64 * m->cfg.base) return dfl_fail(DFL_EUSAGE, "model.mult too large");
    m->n = n;
    m->h = h;
    m->w = w;
    m->hp = hp;
    m->wp = wp;
    m->counting = 1;
    m->smax = 0;
    assign_buffers(m);
    size_t floats = m->arena_cursor;
    if (m->arena) m->be->free(m->be, m->arena);
    m->arena = m->be->alloc(m->be, floats * sizeof(float));
    m->arena_floats = floats;
    m->counting = 0;
    assign_buffers(m);
    DFL_ASSERT(m->arena_cursor == floats);
    return DFL_OK;
}

/* ------------------------------------------------------------------ */
/* forward                                                             */

#define P(i) (m->params + m->tensors[(i)].offset)
#define G(i) (m->grads + m->tensors[(i)].offset)
#define PB(i) ((i) >= 0 ? P(i) : NULL)
#define GB(i) ((i) >= 0 ? G(i) : NULL)

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
    int n = m->n, hw = l->h * l->w, T = 4 * m->cfg.base;
    size_t numel = (size_t)n * hw * l->cout;
    be->group_norm_forward(be, n, hw, l->cin, DFL_GN_GROUPS, DFL_GN_EPS, l->x, P(l->p[RP_N1G]), P(l->p[RP_N1B]), l->g1,
                           l->mean1, l->rstd1, 1);
    dfl_conv_desc d1 = conv_desc(m, l->h, l->w, l->cin, l->cout, 3, 1);
    be->conv2d_forward(be, &d1, l->g1, P(l->p[RP_C1W]), P(l->p[RP_C1B]), l->hmid);
    be->linear_forward(be, n, T, l->cout, m->temb_silu, P(l->p[RP_TPW]), P(l->p[RP_TPB]), l->tproj);
    be->add_channel_bias(be, n, hw, l->cout, l->hmid, l->tproj);
    be->group_norm_forward(be, n, hw, l->cout, DFL_GN_GROUPS, DFL_GN_EPS, l->hmid, P(l->p[RP_N2G]),
                           P(l->p[RP_N2B]), l->g2, l->mean2, l->rstd2, 1);
    dfl_conv_desc d2 = conv_desc(m, l->h, l->w, l->cout, l->cout, 3, 1);
    be->conv2d_forward(be, &d2, l->g2, P(l->p[RP_C2W]), P(l->p[RP_C2B]), l->out);
    if (l->p[RP_SKW] >= 0) {
        dfl_conv_desc ds = conv_desc(m, l->h, l->w, l->cin, l->cout, 1, 1);
        be->conv2d_forward(be, &ds, l->x, P(l->p[RP_SKW]), P(l->p[RP_SKB]), m->sA);
        be->add(be, numel, l->out, m->sA, l->out);
    } else {
        be->add(be, numel, l->out, l->x, l->out);
    }
}

static void attention_forward(dfl_unet *m, layer *l) {
    dfl_backend *be = m->be;
    int n = m->n, hw = l->h * l->w, c = l->cin;
    int rows = n * hw;
    be->group_norm_forward(be, n, hw, c, DFL_GN_GROUPS, DFL_GN_EPS, l->x, P(l->p[AP_NG]), P(l->p[AP_NB]), l->g1,
                           l->mean1, l->rstd1, 0);
    /* 1x1 convs on NHWC are linear maps over pixels; OIHW [o, i, 1, 1] is [o, i]. */
    be->linear_forward(be, rows, c, 3 * c, l->g1, P(l->p[AP_QW]), P(l->p[AP_QB]), l->qkv);
    be->attention_forward(be, n, hw, c, l->qkv, l->att, l->probs);
    be->linear_forward(be, rows, c, c, l->att, P(l->p[AP_PW]), P(l->p[AP_PB]), l->out);
    be->add(be, (size_t)rows * c, l->out, l->x, l->out);
}

void dfl_unet_forward(dfl_unet *m, const float *input, const float *t, float *output) {
    dfl_backend *be = m->be;
    const dfl_unet_config *c = &m->cfg;
    int n = m->n, b = c->base, T = 4 * b, C = c->channels;
    DFL_ASSERT(m->arena);
    /* time embedding: e = [cos, sin] -> Linear -> SiLU -> Linear; SiLU(temb) feeds every ResBlock */
    be->time_embedding(be, n, b, t, m->temb_in);
    be->linear_forward(be, n, b, T, m->temb_in, P(m->p_t0w), P(m->p_t0b), m->temb_h1);
    be->silu_forward(be, (size_t)n * T, m->temb_h1, m->temb_a1);
    be->linear_forward(be, n, T, T, m->temb_a1, P(m->p_t2w), P(m->p_t2b), m->temb);
    be->silu_forward(be, (size_t)n * T, m->temb, m->temb_silu);

    /* pad to a multiple of 2^(L-1) with zeros at the end (bottom rows, right columns) */
    be->pad_end(be, n, m->h, m->w, 2 * C, m->hp, m->wp, input, m->in_pad);
    dfl_conv_desc ds = conv_desc(m, m->hp, m->wp, 2 * C, b, 3, 1);
    be->conv2d_forward(be, &ds, m->in_pad, P(m->p_stem_w), P(m->p_stem_b), m->stem_out);

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
            be->conv2d_forward(be, &d, cur, P(l->p[CP_W]), P(l->p[CP_B]), l->out);
            break;
        }
        case LAYER_UP: {
            be->upsample_nearest2x_forward(be, n, l->h, l->w, l->cin, cur, l->up);
            dfl_conv_desc d = conv_desc(m, 2 * l->h, 2 * l->w, l->cin, l->cout, 3, 1);
            be->conv2d_forward(be, &d, l->up, P(l->p[CP_W]), P(l->p[CP_B]), l->out);
            break;
        }
        case LAYER_ATTN:
            attention_forward(m, l);
            break;
        }
        cur = l->out;
    }
    be->group_norm_forward(be, n, m->hp * m->wp, b, DFL_GN_GROUPS, DFL_GN_EPS, cur, P(m->p_hng), P(m->p_hnb),
                           m->head_g, m->head_mean, m->head_rstd, 1);
    dfl_conv_desc dh = conv_desc(m, m->hp, m->wp, b, C, 3, 1);
    be->conv2d_forward(be, &dh, m->head_g, P(m->p_hcw), P(m->p_hcb), m->out_pad);
    be->crop_end(be, n, m->hp, m->wp, C, m->h, m->w, m->out_pad, output);
}

/* ------------------------------------------------------------------ */
/* backward                                                            */

/* dout -> dx (both [n, h, w, *]); accumulates d SiLU(temb) into m->dst. */
static void resblock_backward(dfl_unet *m, layer *l, const float *dout, float *dx) {
    dfl_backend *be = m->be;
    int n = m->n, hw = l->h * l->w, T = 4 * m->cfg.base;
    dfl_conv_desc d2 = conv_desc(m, l->h, l->w, l->cout, l->cout, 3, 1);
    be->conv2d_backward_weights(be, &d2, l->g2, dout, G(l->p[RP_C2W]), G(l->p[RP_C2B]));
    be->conv2d_backward_data(be, &d2, dout, P(l->p[RP_C2W]), m->sA);
    be->group_norm_backward(be, n, hw, l->cout, DFL_GN_GROUPS, l->hmid, P(l->p[RP_N2G]), P(l->p[RP_N2B]), l->mean2,
                            l->rstd2, m->sA, m->sB, G(l->p[RP_N2G]), G(l->p[RP_N2B]), 1);
    /* time-embedding projection: h += Linear(SiLU(temb)) per channel */
    be->channel_bias_backward(be, n, hw, l->cout, m->sB, m->dtproj);
    be->linear_backward(be, n, T, l->cout, m->temb_silu, P(l->p[RP_TPW]), m->dtproj, m->dtmp_t, G(l->p[RP_TPW]),
                        G(l->p[RP_TPB]));
    be->add(be, (size_t)n * T, m->dst, m->dtmp_t, m->dst);
    dfl_conv_desc d1 = conv_desc(m, l->h, l->w, l->cin, l->cout, 3, 1);
    be->conv2d_backward_weights(be, &d1, l->g1, m->sB, G(l->p[RP_C1W]), G(l->p[RP_C1B]));
    be->conv2d_backward_data(be, &d1, m->sB, P(l->p[RP_C1W]), m->sA);
    be->group_norm_backward(be, n, hw, l->cin, DFL_GN_GROUPS, l->x, P(l->p[RP_N1G]), P(l->p[RP_N1B]), l->mean1,
                            l->rstd1, m->sA, dx, G(l->p[RP_N1G]), G(l->p[RP_N1B]), 1);
    size_t numel_in = (size_t)n * hw * l->cin;
    if (l->p[RP_SKW] >= 0) {
        dfl_conv_desc ds = conv_desc(m, l->h, l->w, l->cin, l->cout, 1, 1);
        be->conv2d_backward_weights(be, &ds, l->x, dout, G(l->p[RP_SKW]), G(l->p[RP_SKB]));
        be->conv2d_backward_data(be, &ds, dout, P(l->p[RP_SKW]), m->sA);
        be->add(be, numel_in, dx, m->sA, dx);
    } else {
        be->add(be, numel_in, dx, dout, dx);
    }
}

static void attention_backward(dfl_unet *m, layer *l, const float *dout, float *dx) {
    dfl_backend *be = m->be;
    int n = m->n, hw = l->h * l->w, c = l->cin, rows = n * hw;
    be->linear_backward(be, rows, c, c, l->att, P(l->p[AP_PW]), dout, m->sA, G(l->p[AP_PW]), G(l->p[AP_PB]));
    be->attention_backward(be, n, hw, c, l->qkv, l->probs, m->sA, m->sB);
    be->linear_backward(be, rows, c, 3 * c, l->g1, P(l->p[AP_QW]), m->sB, m->sA, G(l->p[AP_QW]), G(l->p[AP_QB]));
    be->group_norm_backward(be, n, hw, c, DFL_GN_GROUPS, l->x, P(l->p[AP_NG]), P(l->p[AP_NB]), l->mean1, l->rstd1,
                            m->sA, dx, G(l->p[AP_NG]), G(l->p[AP_NB]), 0);
    be->add(be, (size_t)rows * c, dx, dout, dx);
}

static void swap(float **a, float **b) {
    float *t = *a;
    *a = *b;
    *b = t;
}

void dfl_unet_backward(dfl_unet *m, const float *doutput, float *dinput) {
    dfl_backend *be = m->be;
    const dfl_unet_config *c = &m->cfg;
    int n = m->n, b = c->base, T = 4 * b, C = c->channels;
    float *dcur = m->dcur, *dnext = m->dnext;

    be->fill(be, m->dst, 0.0f, (size_t)n * T);
    /* head: crop's backward is a zero pad */
    be->pad_end(be, n, m->h, m->w, C, m->hp, m->wp, doutput, m->dout_pad);
    dfl_conv_desc dh = conv_desc(m, m->hp, m->wp, b, C, 3, 1);
    be->conv2d_backward_weights(be, &dh, m->head_g, m->dout_pad, G(m->p_hcw), G(m->p_hcb));
    be->conv2d_backward_data(be, &dh, m->dout_pad, P(m->p_hcw), m->sA);
    const float *last = m->layers[m->nlayers - 1].out;
    be->group_norm_backward(be, n, m->hp * m->wp, b, DFL_GN_GROUPS, last, P(m->p_hng), P(m->p_hnb), m->head_mean,
                            m->head_rstd, m->sA, dcur, G(m->p_hng), G(m->p_hnb), 1);
    notify_ready(m, m->p_hng);

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
                notify_ready(m, layer_first_param(l));
                continue; /* gradient of h is already in dcur */
            }
            break;
        case LAYER_DOWN: {
            dfl_conv_desc d = conv_desc(m, l->h, l->w, l->cin, l->cout, 3, 2);
            be->conv2d_backward_weights(be, &d, l->x, dcur, G(l->p[CP_W]), G(l->p[CP_B]));
            be->conv2d_backward_data(be, &d, dcur, P(l->p[CP_W]), dnext);
            break;
        }
        case LAYER_UP: {
            dfl_conv_desc d = conv_desc(m, 2 * l->h, 2 * l->w, l->cin, l->cout, 3, 1);
            be->conv2d_backward_weights(be, &d, l->up, dcur, G(l->p[CP_W]), G(l->p[CP_B]));
            be->conv2d_backward_data(be, &d, dcur, P(l->p[CP_W]), m->sA);
            be->upsample_nearest2x_backward(be, n, l->h, l->w, l->cin, m->sA, dnext);
            break;
        }
        case LAYER_ATTN:
            attention_backward(m, l, dcur, dnext);
            break;
        }
        swap(&dcur, &dnext);
        notify_ready(m, layer_first_param(l));
    }
    /* stem (its output is skip 0) */
    size_t px = (size_t)n * m->hp * m->wp;
    be->add(be, px * b, dcur, m->dskip[0], dcur);
    dfl_conv_desc ds = conv_desc(m, m->hp, m->wp, 2 * C, b, 3, 1);
    be->conv2d_backward_weights(be, &ds, m->in_pad, dcur, G(m->p_stem_w), G(m->p_stem_b));
    notify_ready(m, m->p_stem_w);
    if (dinput) {
        be->conv2d_backward_data(be, &ds, dcur, P(m->p_stem_w), dnext);
        be->crop_end(be, n, m->hp, m->wp, 2 * C, m->h, m->w, dnext, dinput);
    }
    /* time embedding */
    be->silu_backward(be, (size_t)n * T, m->temb, m->dst, m->dtemb);
    be->linear_backward(be, n, T, T, m->temb_a1, P(m->p_t2w), m->dtemb, m->da1, G(m->p_t2w), G(m->p_t2b));
    be->silu_backward(be, (size_t)n * T, m->temb_h1, m->da1, m->dh1);
    be->linear_backward(be, n, b, T, m->temb_in, P(m->p_t0w), m->dh1, NULL, G(m->p_t0w), G(m->p_t0b));
    notify_ready(m, -1);
}
