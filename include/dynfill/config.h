/* Experiment configuration: INI file (libinih) with sections [data]
 * [model] [method] [train] [infer] [dist] (docs/design.md, "Command line"). Unknown sections
 * or keys and malformed values are errors naming the file and line;
 * `--set section.key=value` overrides any key after the file is read.
 * dfl_config_to_text writes every key back in INI form (stored in
 * checkpoints so a run can be reproduced and resumed). */
#ifndef DYNFILL_CONFIG_H
#define DYNFILL_CONFIG_H

#include "dynfill/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DFL_MAX_LEVELS 8
#define DFL_PATH_MAX   1024

typedef struct dfl_config_s {
    /* [data] */
    char data_path[DFL_PATH_MAX];
    double val_fraction;  /* held-out fraction of samples (incomplete, query-only loss) */
    int patch;            /* training crop size (0 = whole field) */
    int augment_shift;    /* random circular shifts along periodic axes (dfl_loader_config) */
    int augment_symmetry; /* random flips/rotations the dataset's `symmetry` attribute declares */
    /* auto|mean|none: the model works on anomalies from the training data's per-pixel mean field
     * (docs/design.md, "Climatology"); auto = per channel, where it explains a tenth of the within-sample variance held out */
    char climatology[8];
    /* auto|none: on data whose observations sit at the same few cells in every sample, a tenth of the observed
     * cells is kept out of training and the held-out calibration hides those (docs/design.md, "Withheld cells") */
    char withhold_cells[8];

    /* [model] dfl-unet v1, docs/design.md, "The network: dfl-unet v1" */
    int base;
    int mult[DFL_MAX_LEVELS];
    int levels; /* number of entries in mult */
    int nres;
    int attention;
    char periodic[8]; /* none|x|y|xy|auto (auto: from the dataset's attribute) */
    char input_fill
        [16]; /* none|pyramid|spline: the stem also sees a fill of the context (docs/design.md, "Input fill") */
    /* auto|joint|shared: shared = one one-channel network for every data channel, auto = chosen by `train` from
     * the data (docs/design.md, "Shared channels") */
    char channels[8];

    /* [method] docs/design.md, "The method" */
    char strategy[16]; /* auto (resolved by train from the masks)|pixel|block|empirical|missdiff|ambient */
    double context_ratio, query_ratio;
    char query[16];     /* independent|complement|observed ("" = strategy default) */
    int grid_h, grid_w; /* block grid, "3x3" */
    int hide;
    double delta;
    int lat_weight;      /* method.lat_weight: cos(latitude) row weights in the loss (needs the data's lat) */
    char t_sampling[16]; /* uniform|low_share|log_uniform|low_share_log: training-time distribution (uniform [ref]) */
    double t_low_share;  /* low_share, low_share_log: share of samples trained at t = t_eps */

    /* [train] */
    long steps;
    double time_budget; /* seconds of training (0 = off: train.steps); written as 20m, 6h, 90s */
    int batch;
    int micro_batch; /* samples per forward/backward pass; 0 = the whole batch (a divisor of batch) */
    double lr;
    long warmup;
    char schedule[16]; /* constant|cosine */
    double weight_decay;
    double clip; /* global gradient-norm clip, 0 = off */
    double ema;
    unsigned long long seed;
    long ckpt_every;
    long log_every;
    long val_every;
    char backend[8];   /* cpu|cuda|auto */
    char precision[8]; /* auto|fp32|tf32|bf16 */
    int threads;       /* CPU threads, 0 = OpenMP default */

    /* [infer] */
    int infer_K;
    int infer_steps;
    char infer_update[8]; /* ddim|x0 */
    double infer_t_eps;
    char infer_context[8]; /* auto|trained|pixel: the contexts train calibrates, which impute then draws */

    /* [dist] */
    char dist_comm[8]; /* auto|mpi|nccl|none */
    double dist_bucket_mb;
} dfl_config;

/* Defaults: the [ref] values of docs/design.md, "The method" and a small CPU-sized network. */
void dfl_config_defaults(dfl_config *cfg);
/* Read `path` (NULL: defaults only), then apply `nset` overrides of the
 * form "section.key=value". */
dfl_status dfl_config_load(const char *path, int nset, char *const *sets, dfl_config *cfg);
/* Parse INI text (from a checkpoint); `origin` names it in messages. */
dfl_status dfl_config_parse_text(const char *text, const char *origin, dfl_config *cfg);
/* Apply one "section.key=value" override. */
dfl_status dfl_config_set(dfl_config *cfg, const char *assignment);
/* Every key as INI text (malloc'ed). */
char *dfl_config_to_text(const dfl_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
