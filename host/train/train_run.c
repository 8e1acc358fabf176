/* The training run behind `dynfill train` (train/train_run.h): config, data, model,
 * the step loop with progress and metrics, validation on held-out
 * incomplete samples, checkpoints every N steps and at the end, resume,
 * and a checkpoint on SIGTERM / SIGINT / SIGUSR1 before a clean exit. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/cpu_share.h"
#include "core/json_util.h"
#include "core/memory.h"
#include "core/progress.h"
#include "core/stop_signal.h"
#include "dynfill/checkpoint.h"
#include "dynfill/climatology.h"
#include "dynfill/data.h"
#include "dynfill/train.h"
#include "run_dir.h"
#include "train_channels_auto.h"
#include "train_coverage_check.h"
#include "train_memory.h"
#include "train_run.h"
#include "train_strategy_auto.h"
#include "train_withheld_cells.h"

static void on_stop_signal(int sig) { dfl_stop_signal_set(sig); }

static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

static dfl_status make_dir(const char *dir) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return dfl_fail(DFL_EUSAGE, "%s: cannot create run directory", dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return dfl_fail(DFL_EUSAGE, "%s: not a directory", dir);
    return DFL_OK;
}

typedef struct {
    dfl_train_run_opts args;
    dfl_config cfg;
    dfl_method_params method;
    dfl_dataset *ds;
    const dfl_dataset_info *info;
    dfl_backend *be;
    dfl_comm *comm;
    dfl_unet *model;
    dfl_trainer *tr;
    dfl_loader *loader, *val_loader;
    char ckpt_path[4096], metrics_path[4096];
    FILE *metrics;
    int lock_fd;     /* RUN_DIR/.lock held by rank 0, else -1 */
    long step;       /* optimiser steps done */
    long saved_step; /* step of the checkpoint in ckpt_path, -1 if none */
    int field_h, field_w;
    int periodic_x, periodic_y; /* whole-field axes, what the checkpoint records for imputation */
    /* training time (train.time_budget): seconds_base from the checkpoint plus this process's elapsed time */
    double seconds_base, t0, fake_step_s; /* fake_step_s > 0: DFL_FAKE_SECONDS_PER_STEP, each step counts that */
    long run_steps;
    dfl_ckpt_calib calib;          /* the spread's calibration and spline correction, all NULL before calibration */
    dfl_cpu_share_watch cpu_share; /* the others' load on this rank's CPUs (check_cpu_share) */
    /* data.climatology (setup_climatology): the mean field (data units, [C, H, W]) or NULL, the model's
     * std per channel (the anomalies' where a channel uses the field), and the loader's offsets and gains */
    float *clim_field, *clim_offset, *clim_gain;
    double *model_std;
    dfl_withheld_cells withheld; /* data.withhold_cells (setup_withheld): plane NULL when none */
} train_run;

/* Training seconds so far on this rank's clock (the fake one under
 * DFL_FAKE_SECONDS_PER_STEP); see agreed_seconds for the value all ranks use. */
static double train_seconds(const train_run *r) {
    if (r->fake_step_s > 0) return r->seconds_base + (double)r->run_steps * r->fake_step_s;
    return r->seconds_base + (dfl_clock_seconds() - r->t0);
}

/* Rank 0's training seconds, broadcast so every rank follows the same
 * schedule and stops at the same step. */
static double agreed_seconds(train_run *r) {
    double t = r->comm->rank == 0 ? train_seconds(r) : 0.0;
    if (r->comm->world > 1) r->comm->broadcast_host(r->comm, &t, sizeof t, 0);
    return t;
}

static dfl_status save_checkpoint(train_run *r) {
    if (r->comm->rank != 0) return DFL_OK;
    dfl_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.step = r->step;
    meta.seed = r->cfg.seed;
    dfl_loader_cursor cur = dfl_loader_get_cursor(r->loader);
    meta.data_epoch = cur.epoch;
    meta.data_position = cur.position;
    meta.world_size = r->comm->world;
    meta.config_text = dfl_config_to_text(&r->cfg);
    dfl_ckpt_meta_set_norm(&meta, r->info->c, r->info->mean, r->model_std);
    dfl_ckpt_meta_set_climatology(&meta, r->clim_field, r->info->h, r->info->w);
    dfl_ckpt_meta_set_withheld(&meta, r->withheld.plane, r->info->h, r->info->w);
    meta.train_seconds = train_seconds(r);
    dfl_ckpt_calib_copy(&meta.calib, &r->calib, r->info->c);
    meta.periodic_x = r->periodic_x; /* the whole field's axes: imputation pads them periodically */
    meta.periodic_y = r->periodic_y;
    dfl_status s = dfl_checkpoint_save(r->ckpt_path, r->model, dfl_trainer_optimizer(r->tr), &meta);
    dfl_ckpt_meta_free(&meta);
    if (s == DFL_OK) {
        r->saved_step = r->step;
        return DFL_OK;
    }
    /* e.g. a full disk: the run stops; the last good checkpoint is untouched */
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dfl_last_error());
    dfl_clear_error();
    if (r->saved_step >= 0)
        return dfl_fail(
            s, "%s; stopped at step %ld without its checkpoint; %s of step %ld is intact (continue with --resume)", msg,
            r->step, r->ckpt_path, r->saved_step);
    return dfl_fail(s, "%s; stopped at step %ld with no checkpoint written", msg, r->step);
}

/* Writes one record to RUN_DIR/metrics.jsonl (rank 0) and deletes it. A
 * failed write is reported once and ends the log; training goes on. */
static void metrics_line(train_run *r, cJSON *record) {
    if (r->metrics && dfl_json_write_line(r->metrics, record) != 0) {
        dfl_warn("%s: cannot write metrics (%s); no further lines are logged", r->metrics_path, strerror(errno));
        fclose(r->metrics);
        r->metrics = NULL;
    }
    cJSON_Delete(record);
}

/* Query-masked loss of the EMA weights on the held-out split (the same
 * samples, crops and draws every time, so values compare across steps). */
static dfl_status validate(train_run *r, double *val_loss) {
    *val_loss = NAN;
    if (!r->val_loader) return DFL_OK;
    DFL_TRY(dfl_loader_set_cursor(r->val_loader, (dfl_loader_cursor){0, 0}));
    int64_t n_val = dfl_loader_split_size(r->val_loader);
    int batches = (int)((n_val + r->cfg.batch - 1) / r->cfg.batch);
    if (batches > 8) batches = 8;
    double sum = 0, count = 0;
    for (int b = 0; b < batches; ++b) {
        dfl_batch batch;
        DFL_TRY(dfl_loader_next(r->val_loader, &batch));
        double s = 0, c = 0;
        dfl_trainer_set_crop_rows(r->tr, batch.crop_y, batch.b);
        DFL_TRY(dfl_trainer_eval(r->tr, batch.obs, batch.mask, batch.b, 0x7FFFFF00L + b, 1, &s, &c));
        sum += s;
        count += c;
    }
    *val_loss = count > 0 ? sum / count : NAN;
    return DFL_OK;
}

/* data.withhold_cells (train/train_withheld_cells.h): the cells training
 * keeps out and the calibration hides. A resumed run keeps its
 * checkpoint's (or none); a new one chooses them from the masks (every
 * rank the same: the same file and seed). */
static dfl_status setup_withheld(train_run *r, const dfl_ckpt_meta *resumed) {
    const int h = r->info->h, w = r->info->w;
    memset(&r->withheld, 0, sizeof r->withheld);
    if (r->args.resume) {
        if (!resumed->withheld_cells) return DFL_OK;
        if (resumed->withheld_h != h || resumed->withheld_w != w)
            return dfl_fail(DFL_EUSAGE, "%s: the checkpoint's withheld cells are %dx%d and %s has %dx%d fields",
                            r->ckpt_path, resumed->withheld_h, resumed->withheld_w, r->cfg.data_path, h, w);
        r->withheld.plane = dfl_xmalloc((size_t)h * w);
        memcpy(r->withheld.plane, resumed->withheld_cells, (size_t)h * w);
        for (size_t p = 0; p < (size_t)h * w; ++p) r->withheld.withheld += r->withheld.plane[p] != 0;
        return DFL_OK;
    }
    DFL_TRY(dfl_train_withheld_cells(r->ds, r->cfg.withhold_cells, r->cfg.seed, &r->withheld));
    if (r->withheld.plane && r->comm->rank == 0)
        dfl_info("train: data.withhold_cells = %s: %lld of the %lld cells that some sample observes are kept out of "
                 "training, for the calibration to hide (%.1f%% of the %lld cells are observed in none of the %lld "
                 "samples read)",
                 r->cfg.withhold_cells, (long long)r->withheld.withheld, (long long)r->withheld.observed_cells,
                 100.0 * r->withheld.never_share, (long long)r->withheld.cells, (long long)r->withheld.samples);
    return DFL_OK;
}

/* data.climatology (include/dynfill/climatology.h): the mean field the model's units are anomalies of.
 * A resumed run keeps its checkpoint's (or none); a new one has rank 0 estimate it from the training
 * split and send it to the others. Sets model_std and, when a channel uses the field, the loader's
 * offsets and gains. */
static dfl_status setup_climatology(train_run *r, const dfl_ckpt_meta *resumed) {
    const int c = r->info->c, h = r->info->h, w = r->info->w;
    const size_t px = (size_t)h * (size_t)w;
    r->model_std = dfl_xmalloc((size_t)c * sizeof(double));
    memcpy(r->model_std, r->info->std, (size_t)c * sizeof(double));
    if (r->args.resume) {
        if (!resumed->climatology) return DFL_OK;
        if (resumed->clim_h != h || resumed->clim_w != w)
            return dfl_fail(DFL_EUSAGE, "%s: the checkpoint's climatology is %dx%d and %s has %dx%d fields",
                            r->ckpt_path, resumed->clim_h, resumed->clim_w, r->cfg.data_path, h, w);
        r->clim_field = dfl_xmalloc((size_t)c * px * sizeof(float));
        memcpy(r->clim_field, resumed->climatology, (size_t)c * px * sizeof(float));
        memcpy(r->model_std, resumed->data_std, (size_t)c * sizeof(double));
    } else if (strcmp(r->cfg.climatology, "none") && r->args.climatology) {
        int any = 0;
        if (r->comm->rank == 0) {
            int64_t start, count;
            DFL_TRY(dfl_dataset_split_range(r->ds, r->cfg.val_fraction, DFL_SPLIT_TRAIN, &start, &count));
            const double t0 = dfl_clock_seconds();
            dfl_climatology cl;
            DFL_TRY(r->args.climatology(r->ds, start, count, r->withheld.plane, r->cfg.climatology, &cl));
            int used = 0;
            for (int ch = 0; ch < c; ++ch) used += cl.used[ch];
            dfl_info("train: data.climatology = %s: anomalies from the mean field of %lld training samples in %d of "
                     "%d channel(s) (%.1f s)",
                     r->cfg.climatology, (long long)cl.samples, used, c, dfl_clock_seconds() - t0);
            for (int ch = 0; ch < c && ch < 8; ++ch) {
                char needs[64] = "";
                if (!cl.used[ch])
                    snprintf(needs, sizeof needs, " (data.climatology = auto needs %g)", DFL_CLIMATOLOGY_MIN_EXPLAINED);
                dfl_info("train:   channel %s: %s; the field explains %.3f of the within-sample variance held out "
                         "(smoothed %.1f px, gain %.2f)%s",
                         r->info->channels[ch], cl.used[ch] ? "anomalies" : "values", cl.explained[ch],
                         cl.smooth_width[ch], cl.gain[ch], needs);
            }
            for (int ch = 0; ch < c && ch < 8; ++ch)
                if (cl.used[ch])
                    dfl_info("train:   channel %s: std %.4g about its channel mean, %.4g about the mean field",
                             r->info->channels[ch], r->info->std[ch], cl.anomaly_std[ch]);
            any = cl.any_used;
            if (any) {
                r->clim_field = cl.mean_field;
                cl.mean_field = NULL;
                memcpy(r->model_std, cl.anomaly_std, (size_t)c * sizeof(double));
            }
            dfl_climatology_free(&cl);
        }
        if (r->comm->world > 1) {
            r->comm->broadcast_host(r->comm, &any, sizeof any, 0);
            if (any) {
                if (!r->clim_field) r->clim_field = dfl_xmalloc((size_t)c * px * sizeof(float));
                r->comm->broadcast_host(r->comm, r->clim_field, (size_t)c * px * sizeof(float), 0);
                r->comm->broadcast_host(r->comm, r->model_std, (size_t)c * sizeof(double), 0);
            }
        }
    }
    if (!r->clim_field) return DFL_OK;
    r->clim_offset = dfl_xmalloc((size_t)c * px * sizeof(float));
    r->clim_gain = dfl_xmalloc((size_t)c * sizeof(float));
    /* the loader's values are (x - mean) / std of the dataset; the model's (x - field) / model_std */
    dfl_climatology_offsets(r->clim_field, c, px, r->info->mean, r->model_std, r->clim_offset);
    for (int ch = 0; ch < c; ++ch) r->clim_gain[ch] = (float)(r->info->std[ch] / r->model_std[ch]);
    return DFL_OK;
}

/* CPU backend, at a log line: the other processes' load on this rank's
 * CPUs since the last measure, 2 s or more ago, goes into the record
 * ("other_cpu_load", in CPUs), and the watch warns once when the run has
 * more threads than the cores that load leaves: on 2 cores next to one busy
 * process a small run took 5.8-6.8 s with 2 threads and 1.3-1.7 s with 1
 * (docs/cpu-backend.md, "Threads on a shared machine"). */
static void check_cpu_share(train_run *r, cJSON *rec) {
    if (strcmp(r->be->name, "cpu") != 0) return;
    char who[32] = "train";
    if (r->comm->world > 1) snprintf(who, sizeof who, "train (rank %d)", r->comm->rank);
    const double others = dfl_cpu_share_watch_check(&r->cpu_share, 2.0, omp_get_max_threads(), who, "train.threads");
    if (others >= 0) dfl_json_add_number(rec, "other_cpu_load", others, 3);
}

static const char *periodic_name(int x, int y) { return x && y ? "xy" : x ? "x" : y ? "y" : "none"; }

static dfl_status setup(train_run *r) {
    const dfl_train_run_opts *a = &r->args;
    if (a->resume && a->force) return dfl_fail(DFL_EUSAGE, "--resume and --force exclude each other");
    if (!a->dry_run) DFL_TRY(make_dir(a->out_dir));
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s/ckpt.h5", a->out_dir);
    snprintf(r->metrics_path, sizeof r->metrics_path, "%s/metrics.jsonl", a->out_dir);
    dfl_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    if (a->resume) {
        if (access(r->ckpt_path, F_OK) != 0) {
            DFL_TRY(dfl_run_dir_probe(a->out_dir)); /* a run in progress that has not saved yet */
            return dfl_fail(DFL_EUSAGE, "%s: no checkpoint to resume from", r->ckpt_path);
        }
        DFL_TRY(dfl_checkpoint_read_meta(r->ckpt_path, &meta));
        dfl_config_defaults(&r->cfg);
        dfl_status s = dfl_config_parse_text(meta.config_text, r->ckpt_path, &r->cfg);
        /* checkpoints from before model.channels was stored trained a joint network */
        if (s == DFL_OK && !strcmp(r->cfg.channels, "auto")) snprintf(r->cfg.channels, sizeof r->cfg.channels, "joint");
        char stored_climatology[sizeof r->cfg.climatology], stored_withhold[sizeof r->cfg.withhold_cells];
        memcpy(stored_climatology, r->cfg.climatology, sizeof stored_climatology);
        memcpy(stored_withhold, r->cfg.withhold_cells, sizeof stored_withhold);
        for (int i = 0; s == DFL_OK && i < a->nsets; ++i) s = dfl_config_set(&r->cfg, a->sets[i]);
        /* the model's units are anomalies of the checkpoint's field (or values), and the cells it never read are
         * the checkpoint's: a resumed run cannot change either */
        if (s == DFL_OK && strcmp(stored_climatology, r->cfg.climatology))
            s = dfl_fail(DFL_EUSAGE,
                         "--set data.climatology=%s: %s was trained with data.climatology = %s, and a resumed run "
                         "keeps its units (start a new run to change it)",
                         r->cfg.climatology, r->ckpt_path, stored_climatology);
        if (s == DFL_OK && strcmp(stored_withhold, r->cfg.withhold_cells))
            s = dfl_fail(DFL_EUSAGE,
                         "--set data.withhold_cells=%s: %s was trained with data.withhold_cells = %s, and a resumed "
                         "run keeps the cells it withheld (start a new run to change it)",
                         r->cfg.withhold_cells, r->ckpt_path, stored_withhold);
        if (s != DFL_OK) {
            dfl_ckpt_meta_free(&meta);
            return s;
        }
        if (a->config_path)
            dfl_warn("--resume: using the configuration stored in %s, not %s", r->ckpt_path, a->config_path);
    } else {
        DFL_TRY(dfl_config_load(a->config_path, a->nsets, a->sets, &r->cfg));
    }
    if (a->data_path) snprintf(r->cfg.data_path, sizeof r->cfg.data_path, "%s", a->data_path);
    if (a->minutes > 0) r->cfg.time_budget = a->minutes * 60.0;
    const char *fake = getenv("DFL_FAKE_SECONDS_PER_STEP");
    if (fake && fake[0]) {
        char *end = NULL;
        r->fake_step_s = strtod(fake, &end);
        if (end == fake || *end || !(r->fake_step_s > 0) || !isfinite(r->fake_step_s)) {
            dfl_ckpt_meta_free(&meta);
            return dfl_fail(DFL_EUSAGE, "DFL_FAKE_SECONDS_PER_STEP = '%s' must be a positive number of seconds", fake);
        }
    }
    if (!r->cfg.data_path[0]) {
        dfl_ckpt_meta_free(&meta);
        return dfl_fail(DFL_EUSAGE, "no dataset: set data.path in the config or pass --data");
    }
    /* the run directory is claimed before anything is loaded (rank 0 writes) */
    /* dist.comm = auto: on several ranks, NCCL on the device with the CUDA backend, MPI with the CPU */
    const int on_gpu = !strcmp(r->cfg.backend, "cuda") || (!strcmp(r->cfg.backend, "auto") && dfl_cuda_available());
    const char *comm_kind = !strcmp(r->cfg.dist_comm, "auto") && on_gpu ? "auto-device" : r->cfg.dist_comm;
    r->comm = dfl_comm_create(comm_kind, r->cfg.dist_bucket_mb);
    if (!r->comm) {
        dfl_ckpt_meta_free(&meta);
        return DFL_EUSAGE;
    }
    dfl_status s = DFL_OK;
    if (r->comm->rank == 0 && !a->dry_run) {
        s = dfl_run_dir_lock(a->out_dir, &r->lock_fd);
        if (s == DFL_OK && !a->resume) s = dfl_run_dir_fresh(a->out_dir, r->ckpt_path, a->force);
    }
    if (s == DFL_OK) s = dfl_dataset_open_lazy(r->cfg.data_path, &r->ds); /* samples checked as they are read */
    if (s == DFL_OK) dfl_train_resolve_strategy(r->ds, &r->cfg, r->comm->rank == 0);
    if (s == DFL_OK) dfl_train_resolve_channels(r->ds, &r->cfg, r->comm->rank == 0);
    if (s == DFL_OK) s = dfl_method_params_from_config(&r->cfg, &r->method);
    if (s == DFL_OK) {
        char unused[128];
        dfl_method_params_unused(&r->method, unused, sizeof unused);
        if (unused[0])
            dfl_warn("[method] %s: set but not used by strategy '%s'", unused,
                     dfl_method_strategy_name(r->method.strategy));
    }
    if (s != DFL_OK) {
        dfl_ckpt_meta_free(&meta);
        return s;
    }
    r->info = dfl_dataset_get_info(r->ds);
    r->field_h = r->cfg.patch ? r->cfg.patch : r->info->h;
    r->field_w = r->cfg.patch ? r->cfg.patch : r->info->w;
    if (r->cfg.patch && (r->cfg.patch > r->info->h || r->cfg.patch > r->info->w)) {
        dfl_ckpt_meta_free(&meta);
        return dfl_fail(DFL_EUSAGE, "data.patch = %d is larger than the %dx%d fields of %s", r->cfg.patch, r->info->h,
                        r->info->w, r->cfg.data_path);
    }
    if (a->resume && meta.channels != r->info->c) {
        dfl_ckpt_meta_free(&meta);
        return dfl_fail(DFL_EUSAGE, "%s: checkpoint has %d channels, dataset %s has %d", r->ckpt_path, meta.channels,
                        r->cfg.data_path, r->info->c);
    }
    if ((s = dfl_method_params_validate(&r->method, r->field_h, r->field_w)) != DFL_OK) {
        dfl_ckpt_meta_free(&meta);
        return s;
    }

    dfl_precision prec;
    if (dfl_precision_parse("train.precision", r->cfg.precision, &prec) != DFL_OK) {
        dfl_ckpt_meta_free(&meta);
        return DFL_EUSAGE;
    }
    if (!strcmp(r->cfg.backend, "cuda") || (!strcmp(r->cfg.backend, "auto") && dfl_cuda_available()))
        r->be = dfl_backend_cuda_create(dfl_comm_cuda_device(r->comm), prec); /* one GPU per rank */
    else if (!strcmp(r->cfg.backend, "cpu") || !strcmp(r->cfg.backend, "auto"))
        r->be = dfl_backend_cpu_create_at(r->cfg.threads, prec, "train.precision"); /* threads 0: OpenMP default */
    else
        r->be = dfl_backend_create(r->cfg.backend, prec); /* reports the unknown name */
    if (!r->be) {
        dfl_ckpt_meta_free(&meta);
        return DFL_EUSAGE;
    }
    dfl_unet_config uc;
    dfl_unet_config_from(&r->cfg, r->info->c, r->info->periodic_x, r->info->periodic_y, &uc);
    if (a->resume) {
        uc.periodic_x = meta.periodic_x;
        uc.periodic_y = meta.periodic_y;
    }
    /* crops never wrap: the training network drops the axes a crop cuts */
    r->periodic_x = uc.periodic_x;
    r->periodic_y = uc.periodic_y;
    dfl_train_crop_periodic(r->field_h, r->field_w, r->info->h, r->info->w, &uc.periodic_x, &uc.periodic_y);
    s = dfl_unet_create(r->be, &uc, &r->model);
    /* model.channels = shared: the network and the trainer see one-channel fields, the loader folds the
     * channels into the batch */
    const int shared = dfl_config_shares_channels(&r->cfg);
    const int net_c = shared ? 1 : r->info->c, net_mask_c = shared ? 1 : r->info->mask_c;
    /* the memory plan, checked before the trainer allocates it (--dry-run prints it and stops) */
    dfl_train_memory mem;
    if (s == DFL_OK)
        s = dfl_trainer_memory(r->model, &r->cfg, r->cfg.batch, net_c, r->field_h, r->field_w, net_mask_c, 2, &mem);
    if (s == DFL_OK && a->dry_run && r->comm->rank == 0) {
        printf("train: %s, %d channels%s, %dx%d fields, training on %dx%d, backend %s\n", r->cfg.data_path, r->info->c,
               shared ? " (model.channels = shared)" : "", r->info->h, r->info->w, r->field_h, r->field_w, r->be->name);
        dfl_train_memory_print(stdout, &mem, r->cfg.batch, r->field_h, r->field_w);
        if (strcmp(r->cfg.climatology, "none") && !a->resume) {
            char cb[32];
            const size_t entries = (size_t)r->info->c * (size_t)r->info->h * (size_t)r->info->w;
            printf("  climatology estimate  %s host, rank 0, before training (data.climatology = %s)\n",
                   dfl_memory_format(entries * DFL_CLIMATOLOGY_ESTIMATE_BYTES_PER_ENTRY, cb, sizeof cb),
                   r->cfg.climatology);
        }
        const char *src;
        size_t avail = dfl_backend_memory_available(r->be, &src);
        char b[32];
        if (avail)
            printf("  available             %s (%s)\n", dfl_memory_format(avail, b, sizeof b), src);
        else
            printf("  available             not checked (backend %s)\n", r->be->name);
        fflush(stdout);
    }
    if (s == DFL_OK)
        s = dfl_train_memory_check(&mem, r->be, "train", "train.micro_batch, train.batch, data.patch or model.base");
    if (s == DFL_OK && a->dry_run) {
        dfl_ckpt_meta_free(&meta);
        return DFL_OK;
    }
    if (s == DFL_OK) {
        dfl_unet_init_params(r->model, r->cfg.seed);
        s = dfl_trainer_create(r->be, r->model, r->comm, &r->cfg, &r->method, r->cfg.batch, net_c, r->field_h,
                               r->field_w, net_mask_c, &r->tr);
    }
    if (s == DFL_OK && r->cfg.lat_weight) {
        if (!r->info->lat)
            s = dfl_fail(DFL_EUSAGE, "method.lat_weight = true needs latitudes, and %s has no 'lat' attribute",
                         r->cfg.data_path);
        else
            s = dfl_trainer_set_latitudes(r->tr, r->info->lat, r->info->h);
    }
    if (s == DFL_OK) s = setup_withheld(r, &meta);
    if (s == DFL_OK) s = setup_climatology(r, &meta);
    dfl_loader_config lc;
    dfl_loader_config_default(&lc);
    lc.withheld = r->withheld.plane;
    lc.clim_offset = r->clim_offset;
    lc.clim_gain = r->clim_gain;
    lc.batch = r->cfg.batch;
    lc.patch = r->cfg.patch;
    lc.rank = r->comm->rank;
    lc.world = r->comm->world;
    lc.val_fraction = r->cfg.val_fraction;
    lc.split = DFL_SPLIT_TRAIN;
    lc.seed = r->cfg.seed;
    lc.augment_shift = r->cfg.augment_shift;
    lc.augment_symmetry = r->cfg.augment_symmetry;
    lc.fold_channels = shared;
    if (s == DFL_OK && r->cfg.lat_weight && (lc.augment_symmetry || (lc.augment_shift && r->info->periodic_y)) &&
        (r->info->sym.flip_y || r->info->sym.rot90 || r->info->sym.rot180 || r->info->sym.shift_y ||
         (!r->info->has_symmetry && r->info->periodic_y)))
        s = dfl_fail(DFL_EUSAGE, "method.lat_weight: the augmentation of %s moves rows (turn data.augment_* off)",
                     r->cfg.data_path);
    if (s == DFL_OK) s = dfl_loader_create(r->ds, &lc, &r->loader);
    if (s == DFL_OK && r->cfg.val_fraction > 0 && r->comm->rank == 0) {
        lc.augment_shift = lc.augment_symmetry = 0; /* validation sees the samples as they are */
        lc.withheld = NULL;
        lc.split = DFL_SPLIT_VAL;
        lc.shuffle = 0;
        lc.prefetch = 0;
        lc.rank = 0;
        lc.world = 1;
        s = dfl_loader_create(r->ds, &lc, &r->val_loader);
    }
    if (s == DFL_OK && a->resume) {
        s = dfl_checkpoint_load(r->ckpt_path, r->model, dfl_trainer_optimizer(r->tr), 0);
        if (s == DFL_OK) s = dfl_loader_set_cursor(r->loader, (dfl_loader_cursor){meta.data_epoch, meta.data_position});
        r->step = meta.step;
        r->saved_step = meta.step;
        r->seconds_base = meta.train_seconds;
        if (s == DFL_OK && meta.world_size != r->comm->world && r->comm->rank == 0)
            dfl_info("resuming a %d-rank run on %d ranks: the data stream continues from the saved cursor",
                     meta.world_size, r->comm->world);
    }
    dfl_ckpt_meta_free(&meta);
    if (s != DFL_OK) return s;

    if (r->comm->rank == 0) {
        r->metrics = fopen(r->metrics_path, a->resume ? "a" : "w");
        if (!r->metrics) return dfl_fail(DFL_EUSAGE, "%s: cannot write metrics", r->metrics_path);
        char cfg_path[4200];
        snprintf(cfg_path, sizeof cfg_path, "%s/config.ini", a->out_dir);
        FILE *f = fopen(cfg_path, "w");
        if (f) {
            char *text = dfl_config_to_text(&r->cfg);
            fputs(text, f);
            free(text);
            fclose(f);
        }
        char desc[160];
        dfl_method_params_describe(&r->method, desc, sizeof desc);
        dfl_info("train: %s (%lld samples, %d channels, %dx%d), training on %dx%d, strategy %s", r->cfg.data_path,
                 (long long)r->info->n, r->info->c, r->info->h, r->info->w, r->field_h, r->field_w, desc);
        if (dfl_config_shares_channels(&r->cfg) && r->info->c > 1)
            dfl_info("train: model.channels = shared: one one-channel network for the %d channels, each channel of "
                     "a sample a field of its own (%lld per epoch)",
                     r->info->c, (long long)dfl_loader_split_size(r->loader));
        if (r->cfg.augment_shift || r->cfg.augment_symmetry)
            dfl_info("train: augmentation%s%s (dataset symmetry '%s', periodic %s)",
                     r->cfg.augment_shift ? " shift" : "", r->cfg.augment_symmetry ? " symmetry" : "",
                     r->info->has_symmetry ? r->info->symmetry : "(none declared)", r->info->periodic);
        char length[96];
        if (r->cfg.time_budget > 0)
            snprintf(length, sizeof length, "a time budget of %.6gs (%.6gs spent)", r->cfg.time_budget,
                     r->seconds_base);
        else
            snprintf(length, sizeof length, "%ld steps", r->cfg.steps);
        char why[192] = "", note[160];
        if (prec == DFL_PRECISION_AUTO)
            snprintf(why, sizeof why, " by train.precision = auto%s%s", strcmp(r->be->name, "cpu") ? "" : " on ",
                     strcmp(r->be->name, "cpu") ? "" : dfl_cpu_auto_precision_note(note, sizeof note));
        dfl_info("train: %zu parameters, backend %s (%s%s), %d rank(s) x batch %d (gradients: %s), %s%s",
                 dfl_unet_num_params(r->model), r->be->name, dfl_precision_name(r->be->precision), why, r->comm->world,
                 r->cfg.batch, r->comm->name, length, a->resume ? " (resumed)" : "");
        if (r->cfg.micro_batch > 0 && r->cfg.micro_batch < r->cfg.batch)
            dfl_info("train: micro-batches of %d, %d passes per step", r->cfg.micro_batch,
                     r->cfg.batch / r->cfg.micro_batch);
        const dfl_unet_config *mc = dfl_unet_get_config(r->model);
        if (mc->periodic_x != r->periodic_x || mc->periodic_y != r->periodic_y)
            dfl_info("train: %dx%d crops do not wrap: periodic %s while training, %s for imputation", r->field_h,
                     r->field_w, periodic_name(mc->periodic_x, mc->periodic_y),
                     periodic_name(r->periodic_x, r->periodic_y));
        dfl_train_coverage_check(r->ds, &r->method, r->withheld.plane != NULL, r->cfg.seed);
    }
    return DFL_OK;
}

/* Held-out calibration of the ensemble spread (rank 0, after the final
 * checkpoint): the factors go into the checkpoint, which is saved again. */
static dfl_status calibrate(train_run *r) {
    if (r->comm->rank != 0 || !r->args.calibrate) return DFL_OK;
    if (r->cfg.val_fraction <= 0) {
        dfl_info("train: data.val_fraction = 0, so the ensemble spread is not calibrated (impute uses scale 1)");
        return DFL_OK;
    }
    int64_t start, count, span;
    DFL_TRY(dfl_dataset_split_range(r->ds, r->cfg.val_fraction, DFL_SPLIT_VAL, &start, &count));
    /* at most as many samples as validation reads (8 batches, at least 64): a bounded cost on any split */
    const int64_t cap = 8 * (int64_t)r->cfg.batch > 64 ? 8 * (int64_t)r->cfg.batch : 64;
    if (count > cap) count = cap;
    span = count;
    if (r->withheld.plane) {
        /* data.withhold_cells: training read those cells in no sample, so every sample is held out there;
         * spread over the whole file, the calibration sees more hours than the last few (ERA5 stations:
         * spline weights 0.60-0.66 in three runs, against 0.22-0.93 from the 30 held-out hours) */
        start = 0;
        span = r->info->n;
        count = span < cap ? span : cap;
        dfl_info("train: calibration on %lld samples spread over the whole file: the withheld cells are unseen "
                 "in every one of them",
                 (long long)count);
    }
    dfl_ckpt_calib cal;
    dfl_ckpt_calib_alloc(&cal, r->info->c, 1, 1);
    dfl_status s = r->args.calibrate(r->ckpt_path, r->be, r->ds, start, count, span, r->cfg.infer_K, r->cfg.seed, &cal);
    if (s != DFL_OK) dfl_ckpt_calib_free(&cal);
    if (s == DFL_EINTERRUPTED) { /* the trained model is in the checkpoint; --resume calibrates it */
        dfl_clear_error();
        fprintf(stderr,
                "dynfill train: stopped by signal during the spread calibration; %s holds the trained model, "
                "uncalibrated (continue with --resume, which calibrates it)\n",
                r->ckpt_path);
        return s;
    }
    if (s != DFL_OK) return s;
    dfl_ckpt_calib_free(&r->calib);
    r->calib = cal;
    return save_checkpoint(r);
}

/* One metrics record of the steps since the last: their mean loss, the last step's lr and gradient
 * norm, samples per second since *t_log (then set to now). */
static void log_steps(train_run *r, const dfl_step_stats *st, double mean_loss, double samples, double *t_log) {
    double t = dfl_clock_seconds();
    cJSON *rec = dfl_json_object();
    dfl_json_add_int(rec, "step", r->step);
    dfl_json_add_number(rec, "loss", mean_loss, 6);
    dfl_json_add_number(rec, "lr", st->lr, 6);
    dfl_json_add_number(rec, "grad_norm", st->grad_norm, 6);
    dfl_json_add_number(rec, "samples_per_s", samples / (t - *t_log), 4);
    if (r->cfg.time_budget > 0) dfl_json_add_number(rec, "train_seconds", train_seconds(r), 6);
    check_cpu_share(r, rec);
    metrics_line(r, rec);
    *t_log = t;
}

/* The validation loss now (*vl), as a metrics record. */
static dfl_status log_validation(train_run *r, double *vl) {
    DFL_TRY(validate(r, vl));
    cJSON *rec = dfl_json_object();
    dfl_json_add_int(rec, "step", r->step);
    dfl_json_add_number(rec, "val_loss", *vl, 6);
    metrics_line(r, rec);
    return DFL_OK;
}

static dfl_status loop(train_run *r) {
    int rank0 = r->comm->rank == 0;
    int timed = r->cfg.time_budget > 0; /* the schedule and the stop follow the clock, not train.steps */
    double budget = r->cfg.time_budget;
    long total = timed ? LONG_MAX : r->cfg.steps;
    dfl_progress *pg = NULL;
    if (rank0 && !r->args.quiet)
        pg = timed ? dfl_progress_begin("train", (int64_t)ceil(budget), "s")
                   : dfl_progress_begin("train", total, "steps");
    r->t0 = dfl_clock_seconds();
    r->run_steps = 0;
    dfl_cpu_share_watch_start(&r->cpu_share);
    double elapsed = agreed_seconds(r);
    dfl_progress_start_at(pg, timed ? (int64_t)elapsed : r->step); /* a resumed run's time or steps */
    double t_log = dfl_clock_seconds(), loss_acc = 0;
    long acc_n = 0, steps_since_log = 0;
    dfl_status s = DFL_OK;
    int global_batch = r->cfg.batch * r->comm->world;
    int finished = 0;    /* the step count or the time budget is reached */
    dfl_step_stats last; /* the last step's, for a record after the loop */
    memset(&last, 0, sizeof last);
    long validated = -1; /* the step last validated */
    dfl_optimizer *opt = dfl_trainer_optimizer(r->tr);
    for (;;) {
        if (timed) {
            elapsed = agreed_seconds(r);
            if (elapsed >= budget) {
                finished = 1;
                break;
            }
            opt->progress = elapsed / budget;
        } else if (r->step >= total) {
            finished = 1;
            break;
        }
        /* preemption: any rank's signal stops every rank at the same step */
        double stop = dfl_stop_signal() ? 1.0 : 0.0;
        r->comm->allreduce_sum_host(r->comm, &stop, 1);
        if (stop > 0) break;
        dfl_batch batch;
        if ((s = dfl_loader_next(r->loader, &batch)) != DFL_OK) break;
        dfl_step_stats st;
        dfl_trainer_set_crop_rows(r->tr, batch.crop_y, batch.b);
        if ((s = dfl_trainer_step(r->tr, batch.obs, batch.mask, r->step, &st)) != DFL_OK) break;
        r->step++;
        r->run_steps++;
        loss_acc += st.loss;
        acc_n++;
        steps_since_log++;
        if (pg) {
            dfl_progress_note(pg, "step %ld loss %.4g", r->step, st.loss);
            dfl_progress_update(pg, timed ? (int64_t)train_seconds(r) : r->step);
        }
        last = st;
        if (r->step % r->cfg.log_every == 0 || r->step == total) {
            log_steps(r, &st, loss_acc / acc_n, steps_since_log * global_batch, &t_log);
            loss_acc = 0;
            acc_n = 0;
            steps_since_log = 0;
        }
        if (r->val_loader && r->cfg.val_every > 0 && (r->step % r->cfg.val_every == 0 || r->step == total)) {
            double vl;
            if ((s = log_validation(r, &vl)) != DFL_OK) break;
            validated = r->step;
            if (pg) dfl_progress_note(pg, "loss %.4g val %.4g", st.loss, vl);
        }
        if (r->cfg.ckpt_every > 0 && r->step % r->cfg.ckpt_every == 0 && r->step < total)
            if ((s = save_checkpoint(r)) != DFL_OK) break;
    }
    /* A time budget ends at a step no one knew in advance (the step count's
     * last step is logged and validated in the loop): its record and its
     * validation, where log_every / val_every did not fall on it, so that a
     * run shorter than them still leaves its losses. */
    if (s == DFL_OK && finished && timed && steps_since_log > 0)
        log_steps(r, &last, loss_acc / acc_n, steps_since_log * global_batch, &t_log);
    if (s == DFL_OK && finished && timed && r->val_loader && r->cfg.val_every > 0 && validated != r->step &&
        r->run_steps > 0) {
        double vl;
        s = log_validation(r, &vl);
    }
    dfl_progress_end(pg);
    if (s != DFL_OK) return s;
    DFL_TRY(save_checkpoint(r));
    if (!finished) {
        if (rank0)
            fprintf(stderr,
                    "dynfill train: stopped by signal at step %ld; checkpoint written to %s (continue with --resume)\n",
                    r->step, r->ckpt_path);
        return DFL_OK;
    }
    const dfl_status calibrated = calibrate(r);
    if (calibrated == DFL_EINTERRUPTED) return DFL_OK;
    DFL_TRY(calibrated);
    if (rank0 && timed)
        dfl_info("train: done, time budget of %.6gs spent at step %ld; checkpoint %s", budget, r->step, r->ckpt_path);
    else if (rank0)
        dfl_info("train: done, %ld steps; checkpoint %s", r->step, r->ckpt_path);
    return DFL_OK;
}

static void teardown(train_run *r) {
    if (r->metrics) fclose(r->metrics);
    dfl_loader_destroy(r->loader);
    dfl_loader_destroy(r->val_loader);
    dfl_trainer_destroy(r->tr);
    dfl_unet_destroy(r->model);
    dfl_backend_destroy(r->be);
    dfl_comm_destroy(r->comm);
    dfl_dataset_close(r->ds);
    dfl_run_dir_unlock(r->lock_fd);
    dfl_ckpt_calib_free(&r->calib);
    dfl_withheld_cells_free(&r->withheld);
    free(r->clim_field);
    free(r->clim_offset);
    free(r->clim_gain);
    free(r->model_std);
}

dfl_status dfl_train_run(const dfl_train_run_opts *opts) {
    train_run r;
    memset(&r, 0, sizeof r);
    r.args = *opts;
    r.lock_fd = -1;
    r.saved_step = -1;
    if (r.args.quiet) dfl_set_quiet(1);
    install_signal_handlers();
    dfl_status s = setup(&r);
    if (s == DFL_OK && !r.args.dry_run) s = loop(&r);
    /* an error on one rank of several must stop them all, not leave the
     * others waiting in the next collective */
    if (s != DFL_OK && r.comm && r.comm->world > 1) {
        fprintf(stderr, "dynfill train: %s\n", dfl_last_error());
        r.comm->abort(r.comm, s == DFL_EUSAGE ? 2 : (s == DFL_EINTERRUPTED ? 0 : 1));
    }
    teardown(&r);
    return s;
}
