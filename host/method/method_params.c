/* Strategy parameters of the method (docs/design.md, "The method", config [method]):
 * defaults, parsing, validation (include/dynfill/method_ops.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/config.h"
#include "dynfill/method.h"
#include "shared/mask_strategy.h"
#include "shared/schedule.h"

static const char *const k_strategy_names[DFL_STRATEGY_COUNT] = {"pixel", "block", "empirical", "missdiff", "ambient"};

void dfl_method_params_default(dfl_method_params *p) {
    memset(p, 0, sizeof *p);
    p->strategy = DFL_STRATEGY_PIXEL;
    p->query = DFL_QUERY_AUTO;
    p->context_ratio = 0.8f; /* the paper's 0.7 (docs/method.md, "Defaults") */
    p->query_ratio = 0.7f;
    p->grid_h = 3;
    p->grid_w = 3;
    p->hide = 2; /* the paper's 1 (docs/method.md, "Defaults") */
    p->delta = 0.1f;
    p->t_sampling = DFL_T_LOW_SHARE_LOG; /* the paper's uniform */
    p->t_low_share = 0.9f;
}

static const char *const k_t_sampling_names[DFL_T_SAMPLING_COUNT] = {"uniform", "low_share", "log_uniform",
                                                                     "low_share_log"};

const char *dfl_method_t_sampling_name(dfl_t_sampling s) {
    return (unsigned)s < DFL_T_SAMPLING_COUNT ? k_t_sampling_names[s] : "?";
}

dfl_status dfl_method_parse_t_sampling(const char *name, dfl_t_sampling *out) {
    for (int s = 0; s < DFL_T_SAMPLING_COUNT; ++s)
        if (!strcmp(name, k_t_sampling_names[s])) {
            *out = (dfl_t_sampling)s;
            return DFL_OK;
        }
    return dfl_fail(DFL_EUSAGE,
                    "method.t_sampling: unknown distribution '%s' (uniform|low_share|log_uniform|low_share_log)", name);
}

/* t = t_eps^(1 - u): log t uniform on [log t_eps, 0] */
static float log_uniform_time(float t_eps, float u) {
    float t = expf((1.0f - u) * logf(t_eps));
    return t < t_eps ? t_eps : t > 1.0f ? 1.0f : t;
}

float dfl_method_time(const dfl_method_params *p, float t_eps, float u, float v) {
    switch (p->t_sampling) {
    case DFL_T_LOW_SHARE:
        if (v < p->t_low_share) return t_eps;
        break;
    case DFL_T_LOW_SHARE_LOG: return v < p->t_low_share ? t_eps : log_uniform_time(t_eps, u);
    case DFL_T_LOG_UNIFORM: return log_uniform_time(t_eps, u);
    default: break;
    }
    return dfl_vp_time_from_uniform(u, t_eps);
}

const char *dfl_method_strategy_name(dfl_strategy s) {
    return (unsigned)s < DFL_STRATEGY_COUNT ? k_strategy_names[s] : "?";
}

const char *dfl_method_query_name(dfl_query_mode q) {
    switch (q) {
    case DFL_QUERY_AUTO: return "auto";
    case DFL_QUERY_INDEPENDENT: return "independent";
    case DFL_QUERY_COMPLEMENT: return "complement";
    case DFL_QUERY_OBSERVED: return "observed";
    }
    return "?";
}

dfl_status dfl_method_parse_strategy(const char *name, dfl_strategy *out) {
    for (int s = 0; s < DFL_STRATEGY_COUNT; ++s)
        if (!strcmp(name, k_strategy_names[s])) {
            *out = (dfl_strategy)s;
            return DFL_OK;
        }
    if (!strcmp(name, "auto")) { /* train and coverage choose from the masks first; with no masks read: pixel */
        *out = DFL_STRATEGY_PIXEL;
        return DFL_OK;
    }
    return dfl_fail(DFL_EUSAGE, "method.strategy: unknown strategy '%s' (auto|pixel|block|empirical|missdiff|ambient)",
                    name);
}

dfl_status dfl_method_parse_query(const char *name, dfl_query_mode *out) {
    if (!name[0] || !strcmp(name, "auto"))
        *out = DFL_QUERY_AUTO;
    else if (!strcmp(name, "independent"))
        *out = DFL_QUERY_INDEPENDENT;
    else if (!strcmp(name, "complement"))
        *out = DFL_QUERY_COMPLEMENT;
    else if (!strcmp(name, "observed"))
        *out = DFL_QUERY_OBSERVED;
    else
        return dfl_fail(DFL_EUSAGE, "method.query: unknown query mode '%s' (independent|complement|observed|auto)",
                        name);
    return DFL_OK;
}

static int parse_positive_int(const char *s, const char **end, int *out) {
    char *e = NULL;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || e == s || v < 1 || v > 1 << 20) return 0;
    *out = (int)v;
    *end = e;
    return 1;
}

dfl_status dfl_method_parse_grid(const char *text, int *grid_h, int *grid_w) {
    const char *e = NULL;
    int gh = 0, gw = 0;
    if (!parse_positive_int(text, &e, &gh)) goto bad;
    if (*e == 0) {
        gw = gh; /* "3" = 3x3 */
    } else {
        if (*e != 'x' && *e != 'X') goto bad;
        if (!parse_positive_int(e + 1, &e, &gw) || *e != 0) goto bad;
    }
    *grid_h = gh;
    *grid_w = gw;
    return DFL_OK;
bad:
    return dfl_fail(DFL_EUSAGE, "method.grid: '%s' is not a block grid like 3x3", text);
}

static dfl_status parse_float(const char *key, const char *value, float *out) {
    char *e = NULL;
    errno = 0;
    double v = strtod(value, &e);
    if (errno || e == value || *e) return dfl_fail(DFL_EUSAGE, "method.%s: '%s' is not a number", key, value);
    *out = (float)v;
    return DFL_OK;
}

dfl_status dfl_method_params_set(dfl_method_params *p, const char *key, const char *value) {
    if (!strcmp(key, "strategy")) return dfl_method_parse_strategy(value, &p->strategy);
    if (!strcmp(key, "query")) return dfl_method_parse_query(value, &p->query);
    if (!strcmp(key, "context_ratio")) return parse_float(key, value, &p->context_ratio);
    if (!strcmp(key, "query_ratio")) return parse_float(key, value, &p->query_ratio);
    if (!strcmp(key, "delta")) return parse_float(key, value, &p->delta);
    if (!strcmp(key, "grid")) return dfl_method_parse_grid(value, &p->grid_h, &p->grid_w);
    if (!strcmp(key, "t_sampling")) return dfl_method_parse_t_sampling(value, &p->t_sampling);
    if (!strcmp(key, "t_low_share")) return parse_float(key, value, &p->t_low_share);
    if (!strcmp(key, "hide")) {
        const char *e = NULL;
        int v = 0;
        if (!parse_positive_int(value, &e, &v) || *e)
            return dfl_fail(DFL_EUSAGE, "method.hide: '%s' is not a positive integer", value);
        p->hide = v;
        return DFL_OK;
    }
    return dfl_fail(DFL_EUSAGE,
                    "method.%s: unknown key (strategy, context_ratio, query_ratio, query, grid, hide, delta, "
                    "t_sampling, t_low_share)",
                    key);
}

dfl_status dfl_method_params_from_config(const struct dfl_config_s *cfg, dfl_method_params *out) {
    dfl_method_params p;
    dfl_method_params_default(&p);
    DFL_TRY(dfl_method_parse_strategy(cfg->strategy, &p.strategy));
    DFL_TRY(dfl_method_parse_query(cfg->query, &p.query));
    p.context_ratio = (float)cfg->context_ratio;
    p.query_ratio = (float)cfg->query_ratio;
    p.grid_h = cfg->grid_h;
    p.grid_w = cfg->grid_w;
    p.hide = cfg->hide;
    p.delta = (float)cfg->delta;
    DFL_TRY(dfl_method_parse_t_sampling(cfg->t_sampling, &p.t_sampling));
    p.t_low_share = (float)cfg->t_low_share;
    DFL_TRY(dfl_method_params_validate(&p, 0, 0));
    *out = p;
    return DFL_OK;
}

void dfl_method_params_unused(const dfl_method_params *p, char *buf, size_t size) {
    dfl_method_params d;
    dfl_method_params_default(&d);
    const int pixel = p->strategy == DFL_STRATEGY_PIXEL, block = p->strategy == DFL_STRATEGY_BLOCK;
    const int ambient = p->strategy == DFL_STRATEGY_AMBIENT;
    const struct {
        const char *key;
        int unused;
    } keys[] = {
        {"context_ratio", !pixel && p->context_ratio != d.context_ratio},
        /* query_ratio is read by the independent query only */
        {"query_ratio", (!pixel || dfl_query_resolve(p->strategy, p->query) != DFL_QUERY_INDEPENDENT) &&
                            p->query_ratio != d.query_ratio},
        {"grid", !block && (p->grid_h != d.grid_h || p->grid_w != d.grid_w)},
        {"hide", !block && p->hide != d.hide},
        {"delta", !ambient && p->delta != d.delta},
        {"t_low_share",
         p->t_sampling != DFL_T_LOW_SHARE && p->t_sampling != DFL_T_LOW_SHARE_LOG && p->t_low_share != d.t_low_share},
    };
    size_t len = 0;
    if (size) buf[0] = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
        if (!keys[i].unused || len >= size) continue;
        int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", keys[i].key);
        len += n > 0 ? (size_t)n : 0;
    }
}

dfl_status dfl_method_params_validate(const dfl_method_params *p, int h, int w) {
    if ((unsigned)p->strategy >= DFL_STRATEGY_COUNT)
        return dfl_fail(DFL_EUSAGE, "method.strategy: invalid strategy id %d", (int)p->strategy);
    if ((unsigned)p->query > DFL_QUERY_OBSERVED)
        return dfl_fail(DFL_EUSAGE, "method.query: invalid query mode id %d", (int)p->query);
    if (!(p->context_ratio > 0.0f && p->context_ratio <= 1.0f))
        return dfl_fail(DFL_EUSAGE, "method.context_ratio = %g: must be in (0, 1]", p->context_ratio);
    if (!(p->query_ratio > 0.0f && p->query_ratio <= 1.0f))
        return dfl_fail(DFL_EUSAGE, "method.query_ratio = %g: must be in (0, 1]", p->query_ratio);
    if (!(p->delta >= 0.0f && p->delta < 1.0f))
        return dfl_fail(DFL_EUSAGE, "method.delta = %g: must be in [0, 1)", p->delta);
    if ((unsigned)p->t_sampling >= DFL_T_SAMPLING_COUNT)
        return dfl_fail(DFL_EUSAGE, "method.t_sampling: invalid id %d", (int)p->t_sampling);
    if (!(p->t_low_share >= 0.0f && p->t_low_share <= 1.0f))
        return dfl_fail(DFL_EUSAGE, "method.t_low_share = %g: must be in [0, 1]", p->t_low_share);
    if (p->grid_h < 1 || p->grid_w < 1)
        return dfl_fail(DFL_EUSAGE, "method.grid = %dx%d: needs at least one block each way", p->grid_h, p->grid_w);
    if (p->strategy == DFL_STRATEGY_BLOCK) {
        if (p->hide < 1 || p->hide >= p->grid_h * p->grid_w)
            return dfl_fail(DFL_EUSAGE, "method.hide = %d: must be in [1, %d] for grid %dx%d", p->hide,
                            p->grid_h * p->grid_w - 1, p->grid_h, p->grid_w);
        if ((h > 0 && p->grid_h > h) || (w > 0 && p->grid_w > w))
            return dfl_fail(DFL_EUSAGE, "method.grid = %dx%d: more blocks than the %dx%d field has pixels", p->grid_h,
                            p->grid_w, h, w);
    }
    int q = dfl_query_resolve(p->strategy, p->query);
    int ok;
    switch (p->strategy) {
    case DFL_STRATEGY_PIXEL: ok = 1; break;
    case DFL_STRATEGY_BLOCK:
    case DFL_STRATEGY_EMPIRICAL: ok = q == DFL_QUERY_COMPLEMENT || q == DFL_QUERY_OBSERVED; break;
    default: ok = q == DFL_QUERY_OBSERVED; break;
    }
    if (!ok)
        return dfl_fail(DFL_EUSAGE, "method.query = %s is not defined for strategy %s (use %s)",
                        dfl_method_query_name(p->query), dfl_method_strategy_name(p->strategy),
                        p->strategy == DFL_STRATEGY_BLOCK || p->strategy == DFL_STRATEGY_EMPIRICAL
                            ? "complement or observed"
                            : "observed");
    return DFL_OK;
}

dfl_mask_rule dfl_method_rule(const dfl_method_params *p) {
    return dfl_mask_rule_make(p->strategy, p->query, p->context_ratio, p->query_ratio, p->delta, p->grid_h, p->grid_w);
}

static void describe_strategy(const dfl_method_params *p, char *buf, size_t len);

void dfl_method_params_describe(const dfl_method_params *p, char *buf, size_t len) {
    describe_strategy(p, buf, len);
    size_t n = strlen(buf);
    if ((p->t_sampling == DFL_T_LOW_SHARE || p->t_sampling == DFL_T_LOW_SHARE_LOG) && n < len)
        snprintf(buf + n, len - n, ", t %s %g", dfl_method_t_sampling_name(p->t_sampling), p->t_low_share);
    else if (p->t_sampling != DFL_T_UNIFORM && n < len)
        snprintf(buf + n, len - n, ", t %s", dfl_method_t_sampling_name(p->t_sampling));
}

static void describe_strategy(const dfl_method_params *p, char *buf, size_t len) {
    const char *q = dfl_method_query_name((dfl_query_mode)dfl_query_resolve(p->strategy, p->query));
    switch (p->strategy) {
    case DFL_STRATEGY_PIXEL:
        if (dfl_query_resolve(p->strategy, p->query) == DFL_QUERY_INDEPENDENT)
            snprintf(buf, len, "pixel (context_ratio %g, query independent, query_ratio %g)", p->context_ratio,
                     p->query_ratio);
        else
            snprintf(buf, len, "pixel (context_ratio %g, query %s)", p->context_ratio, q);
        break;
    case DFL_STRATEGY_BLOCK:
        snprintf(buf, len, "block (grid %dx%d, hide %d, query %s)", p->grid_h, p->grid_w, p->hide, q);
        break;
    case DFL_STRATEGY_EMPIRICAL: snprintf(buf, len, "empirical (query %s)", q); break;
    case DFL_STRATEGY_MISSDIFF: snprintf(buf, len, "missdiff (query %s)", q); break;
    case DFL_STRATEGY_AMBIENT: snprintf(buf, len, "ambient (delta %g, query %s)", p->delta, q); break;
    default: snprintf(buf, len, "?"); break;
    }
}
