/* The strategy and query-mode ids of the method (docs/design.md, "The
 * method") and their resolved per-element form, dfl_mask_rule, that the
 * backends' fused ops read. Plain C types: kernels/shared/mask_strategy.h
 * holds the per-element functions over them. */
#ifndef DYNFILL_MASK_RULE_H
#define DYNFILL_MASK_RULE_H

/* Strategy ids (config `method.strategy`). Values are stable. */
typedef enum {
    DFL_STRATEGY_PIXEL = 0,
    DFL_STRATEGY_BLOCK = 1,
    DFL_STRATEGY_EMPIRICAL = 2,
    DFL_STRATEGY_MISSDIFF = 3,
    DFL_STRATEGY_AMBIENT = 4
} dfl_strategy;
#define DFL_STRATEGY_COUNT 5

/* Query modes (config `method.query`). AUTO = the strategy's default:
 * pixel -> independent, block and empirical -> complement, missdiff and
 * ambient -> observed. */
typedef enum {
    DFL_QUERY_AUTO = 0,
    DFL_QUERY_INDEPENDENT = 1,
    DFL_QUERY_COMPLEMENT = 2,
    DFL_QUERY_OBSERVED = 3
} dfl_query_mode;

/* The resolved, kernel-side form of the strategy parameters. */
typedef struct dfl_mask_rule {
    int strategy;   /* dfl_strategy */
    int query;      /* dfl_query_mode, never AUTO */
    float ctx_keep; /* pixel: rho_c; ambient: 1 - delta; unused otherwise */
    float qry_keep; /* independent query: rho_q */
    int grid_h, grid_w;
} dfl_mask_rule;

#endif
