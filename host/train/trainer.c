/* The training step (include/dynfill/train.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/cuda_graph.h"
#include "dynfill/train.h"
#include "shared/schedule.h"

struct dfl_trainer {
    dfl_backend *be;
    dfl_unet *model;
    dfl_comm *comm;
    dfl_optimizer *opt;
    dfl_method_params method;
    uint64_t seed;
    int batch, micro, c, h, w, mask_c; /* micro: samples per forward/backward pass */
    dfl_context_plan plan;
    /* backend buffers */
    void *d_plan;
    size_t d_plan_bytes;
    float *d_obs, *d_input, *d_pred, *d_grad, *d_swap;
    float *d_acc; /* gradients of the micro-batches before the last (NULL without micro-batching) */
    uint8_t *d_mask, *d_query;
    int32_t *d_qcount;
    int32_t *h_qcount;
    /* overlap of the gradient sum with backward: [ready, launched) is final but not yet begun */
    size_t ready, launched, bucket_elems;
    int hook_armed; /* only the backward of the last micro-batch begins sums */
    /* latitude weighting (method.lat_weight): weight of each field row, the
     * crop row of each sample of the next batch, the [batch, h] weights */
    float *field_row_weight;
    int field_h;
    int *crop_y;
    float *h_row_weight, *d_row_weight;
    /* staged batch uploads (upload_batch): host -> pinned slot -> the alternate device copy */
    int staged, upload_slot, upload_cuda;
    void *pin[2][2]; /* [slot][obs, mask] */
    float *d_obs_alt;
    uint8_t *d_mask_alt;
};

/* ---- batch uploads ----
 * With the CUDA backend the batch is copied into one of two pinned host
 * slots, then uploaded by dfl_cuda_upload_async (copy stream, events) into
 * the device copy not used by the previous batch: d_obs / d_mask and
 * d_obs_alt / d_mask_alt swap at each upload, so the copy never overwrites
 * data a queued op of the previous step still reads (the copy waits for the
 * compute stream to pass the previous upload), and ops that follow wait for
 * the copy. The bytes are those of the synchronous path: results are
 * bit-identical. DFL_UPLOAD=sync forces plain synchronous be->upload;
 * DFL_UPLOAD=staged runs the double-buffered path on any backend (CPU:
 * malloc slots, be->upload), which is how the CPU tests check it. */
static int upload_staged(const dfl_backend *be) {
    const char *mode = getenv("DFL_UPLOAD");
    if (mode && !strcmp(mode, "sync")) return 0;
    return !strcmp(be->name, "cuda") || (mode && !strcmp(mode, "staged"));
}

static void upload_init(dfl_trainer *tr, size_t obs_bytes, size_t mask_bytes) {
    dfl_backend *be = tr->be;
    tr->upload_cuda = !strcmp(be->name, "cuda");
    tr->staged = upload_staged(be);
    if (!tr->staged) return;
    tr->d_obs_alt = be->alloc(be, obs_bytes);
    tr->d_mask_alt = be->alloc(be, mask_bytes);
    for (int k = 0; k < 2; ++k) {
        tr->pin[k][0] = tr->upload_cuda ? dfl_cuda_host_alloc(obs_bytes) : dfl_xmalloc(obs_bytes);
        tr->pin[k][1] = tr->upload_cuda ? dfl_cuda_host_alloc(mask_bytes) : dfl_xmalloc(mask_bytes);
    }
}

static void upload_free(dfl_trainer *tr) {
    if (!tr->staged) return;
    dfl_backend *be = tr->be;
    if (tr->upload_cuda) dfl_cuda_upload_wait(be);
    for (int k = 0; k < 2; ++k)
        for (int j = 0; j < 2; ++j) {
            if (tr->upload_cuda)
                dfl_cuda_host_free(tr->pin[k][j]);
            else
                free(tr->pin[k][j]);
        }
    be->free(be, tr->d_obs_alt);
    be->free(be, tr->d_mask_alt);
}

static void upload_one(dfl_trainer *tr, void *dst, const void *pinned, size_t bytes) {
    if (tr->upload_cuda)
        dfl_cuda_upload_async(tr->be, dst, pinned, bytes);
    else
        tr->be->upload(tr->be, dst, pinned, bytes);
}

static void upload_batch(dfl_trainer *tr, const float *obs, const uint8_t *mask, size_t obs_bytes, size_t mask_bytes) {
    dfl_backend *be = tr->be;
    if (!tr->staged) {
        be->upload(be, tr->d_obs, obs, obs_bytes);
        be->upload(be, tr->d_mask, mask, mask_bytes);
        return;
    }
    const int k = tr->upload_slot;
    tr->upload_slot ^= 1;
    if (tr->upload_cuda) dfl_cuda_upload_wait(be); /* slot k's previous copy has finished */
    memcpy(tr->pin[k][0], obs, obs_bytes);
    memcpy(tr->pin[k][1], mask, mask_bytes);
    float *o = tr->d_obs;
    tr->d_obs = tr->d_obs_alt;
    tr->d_obs_alt = o;
    uint8_t *m = tr->d_mask;
    tr->d_mask = tr->d_mask_alt;
    tr->d_mask_alt = m;
    upload_one(tr, tr->d_obs, tr->pin[k][0], obs_bytes);
    upload_one(tr, tr->d_mask, tr->pin[k][1], mask_bytes);
}

/* Gradient-ready hook: begin the sum of the final range once it holds a bucket
 * (after adding the earlier micro-batches' gradients to it). */
static void on_grads_ready(void *user, size_t first) {
    dfl_trainer *tr = user;
    if (!tr->hook_armed) return;
    tr->ready = first;
    if (tr->launched - tr->ready >= tr->bucket_elems || first == 0) {
        float *g = dfl_unet_grads(tr->model) + tr->ready;
        size_t n = tr->launched - tr->ready;
        if (tr->d_acc) tr->be->add(tr->be, n, g, tr->d_acc + tr->ready, g);
        tr->comm->allreduce_sum_begin(tr->comm, tr->be, g, n);
        tr->launched = tr->ready;
    }
}

dfl_status dfl_trainer_create(dfl_backend *be, dfl_unet *model, dfl_comm *comm, const dfl_config *cfg,
                              const dfl_method_params *method, int batch, int c, int h, int w, int mask_c,
                              dfl_trainer **out) {
    DFL_TRY(dfl_method_params_validate(method, h, w));
    int micro = cfg->micro_batch > 0 ? cfg->micro_batch : batch;
    if (batch % micro != 0)
        return dfl_fail(DFL_EUSAGE, "train.micro_batch = %d must divide train.batch = %d", cfg->micro_batch, batch);
    /* activations for one micro-batch (docs/design.md, "Configuration keys") */
    DFL_TRY(dfl_unet_plan(model, micro, h, w));
    dfl_trainer *tr = dfl_xcalloc(1, sizeof *tr);
    tr->be = be;
    tr->model = model;
    tr->comm = comm;
    tr->method = *method;
    tr->seed = cfg->seed;
    tr->batch = batch;
    tr->micro = micro;
    tr->c = c;
    tr->h = h;
    tr->w = w;
    tr->mask_c = mask_c;
    dfl_optim_config oc;
    dfl_optim_config_defaults(&oc);
    oc.lr = cfg->lr;
    oc.weight_decay = cfg->weight_decay;
    oc.clip = cfg->clip;
    oc.warmup = cfg->warmup;
    oc.total_steps = cfg->steps;
    oc.cosine = !strcmp(cfg->schedule, "cosine");
    oc.ema = cfg->ema;
    tr->opt = dfl_optimizer_create(be, dfl_unet_num_params(model), &oc, dfl_unet_params(model));
    dfl_context_plan_init(&tr->plan);
    size_t px = (size_t)batch * h * w;
    tr->d_obs = be->alloc(be, px * c * sizeof(float));
    tr->d_mask = be->alloc(be, px * mask_c);
    upload_init(tr, px * c * sizeof(float), px * mask_c);
    tr->d_input = be->alloc(be, px * 2 * c * sizeof(float));
    size_t micro_px = (size_t)micro * h * w;
    tr->d_pred = be->alloc(be, micro_px * c * sizeof(float));
    tr->d_grad = be->alloc(be, micro_px * c * sizeof(float));
    tr->d_swap = be->alloc(be, dfl_unet_num_params(model) * sizeof(float));
    if (micro < batch) tr->d_acc = be->alloc(be, dfl_unet_num_params(model) * sizeof(float));
    tr->d_query = be->alloc(be, px * c);
    tr->d_qcount = be->alloc(be, (size_t)batch * sizeof(int32_t));
    tr->h_qcount = dfl_xmalloc((size_t)batch * sizeof(int32_t));
    if (comm->world > 1 && comm->allreduce_sum_begin) {
        double mb = comm->bucket_mb > 0 ? comm->bucket_mb : cfg->dist_bucket_mb;
        tr->bucket_elems = (size_t)(mb * 1024 * 1024 / sizeof(float));
        if (tr->bucket_elems < 1) tr->bucket_elems = 1;
        dfl_unet_set_grads_ready(model, on_grads_ready, tr);
    }
    *out = tr;
    return DFL_OK;
}

dfl_status dfl_trainer_memory(dfl_unet *model, const dfl_config *cfg, int batch, int c, int h, int w, int mask_c,
                              int host_batches, dfl_train_memory *out) {
    memset(out, 0, sizeof *out);
    int micro = cfg->micro_batch > 0 ? cfg->micro_batch : batch;
    if (batch % micro != 0)
        return dfl_fail(DFL_EUSAGE, "train.micro_batch = %d must divide train.batch = %d", cfg->micro_batch, batch);
    dfl_unet_plan_size p1, p2, pm;
    DFL_TRY(dfl_unet_plan_measure(model, 1, h, w, 1, &p1));
    DFL_TRY(dfl_unet_plan_measure(model, 2, h, w, 1, &p2));
    DFL_TRY(dfl_unet_plan_measure(model, micro, h, w, 1, &pm));
    size_t np = dfl_unet_num_params(model), fl = sizeof(float);
    size_t px = (size_t)batch * h * w, micro_px = (size_t)micro * h * w;
    out->micro = micro;
    out->params_count = np;
    out->params = np * fl;
    out->grads = pm.grads_bytes;
    out->optimizer = 3 * np * fl;                          /* dfl_optimizer_create: m, v, ema */
    out->param_copies = np * fl * (micro < batch ? 2 : 1); /* d_swap, d_acc */
    out->act_per_sample = p2.arena_bytes - p1.arena_bytes;
    out->activations = pm.arena_bytes;
    out->workspace = pm.workspace_bytes;
    /* dfl_trainer_create: d_obs, d_mask, d_input, d_query, d_qcount; d_pred, d_grad per micro-batch */
    size_t bb =
        px * c * fl + px * mask_c + px * 2 * c * fl + px * c + (size_t)batch * sizeof(int32_t) + 2 * micro_px * c * fl;
    bb += (size_t)host_batches * (px * c * fl + px * mask_c);                    /* host copies of the batch */
    if (upload_staged(dfl_unet_backend(model))) bb += px * c * fl + px * mask_c; /* d_obs_alt, d_mask_alt */
    out->batch_buffers = bb;
    out->largest = pm.largest_bytes > px * 2 * c * fl ? pm.largest_bytes : px * 2 * c * fl;
    out->total = out->params + out->grads + out->optimizer + out->param_copies + out->activations + out->workspace + bb;
    out->total_bf16 = out->total + out->largest + ((size_t)1 << 30);
    return DFL_OK;
}

void dfl_trainer_destroy(dfl_trainer *tr) {
    if (!tr) return;
    dfl_unet_set_grads_ready(tr->model, NULL, NULL);
    dfl_backend *be = tr->be;
    dfl_optimizer_destroy(tr->opt);
    dfl_context_plan_free(&tr->plan);
    if (tr->d_plan) be->free(be, tr->d_plan);
    upload_free(tr);
    be->free(be, tr->d_obs);
    be->free(be, tr->d_mask);
    be->free(be, tr->d_input);
    be->free(be, tr->d_pred);
    be->free(be, tr->d_grad);
    be->free(be, tr->d_swap);
    if (tr->d_acc) be->free(be, tr->d_acc);
    be->free(be, tr->d_query);
    be->free(be, tr->d_qcount);
    free(tr->h_qcount);
    if (tr->d_row_weight) be->free(be, tr->d_row_weight);
    free(tr->h_row_weight);
    free(tr->field_row_weight);
    free(tr->crop_y);
    free(tr);
}

dfl_optimizer *dfl_trainer_optimizer(dfl_trainer *tr) { return tr->opt; }

void dfl_train_crop_periodic(int crop_h, int crop_w, int field_h, int field_w, int *periodic_x, int *periodic_y) {
    if (crop_w < field_w) *periodic_x = 0;
    if (crop_h < field_h) *periodic_y = 0;
}

/* Plan + upload + noise_context for n samples; returns the global query count. */
static dfl_status prepare_inputs(dfl_trainer *tr, const float *obs, const uint8_t *mask, int n, long step,
                                 uint32_t sample_offset, double *local_count) {
    dfl_backend *be = tr->be;
    size_t px = (size_t)n * tr->h * tr->w;
    dfl_plan_request rq;
    memset(&rq, 0, sizeof rq);
    rq.n = n;
    rq.k = 1;
    rq.c = tr->c;
    rq.h = tr->h;
    rq.w = tr->w;
    rq.mask_channels = tr->mask_c;
    rq.mask = mask;
    rq.t = 0.0f;
    rq.t_eps = DFL_T_EPS;
    rq.seed = tr->seed;
    rq.step = (uint32_t)step;
    rq.sample_offset = sample_offset;
    DFL_TRY(dfl_context_plan_make(&tr->plan, &tr->method, &rq));
    if (tr->plan.bytes > tr->d_plan_bytes) {
        if (tr->d_plan) be->free(be, tr->d_plan);
        tr->d_plan = be->alloc(be, tr->plan.capacity);
        tr->d_plan_bytes = tr->plan.capacity;
    }
    be->upload(be, tr->d_plan, tr->plan.data, tr->plan.bytes);
    upload_batch(tr, obs, mask, px * tr->c * sizeof(float), px * tr->mask_c);
    dfl_noise_context_args a;
    memset(&a, 0, sizeof a);
    a.n = n;
    a.c = tr->c;
    a.h = tr->h;
    a.w = tr->w;
    a.mask_channels = tr->mask_c;
    a.rule = dfl_method_rule(&tr->method);
    a.plan = tr->d_plan;
    a.x_obs = tr->d_obs;
    a.mask = tr->d_mask;
    a.partner_masks = tr->method.strategy == DFL_STRATEGY_EMPIRICAL ? tr->d_mask : NULL;
    a.net_input = tr->d_input;
    a.query = tr->d_query;
    a.query_count = tr->d_qcount;
    be->noise_context(be, &a);
    be->download(be, tr->h_qcount, tr->d_qcount, (size_t)n * sizeof(int32_t));
    double cnt = 0;
    for (int i = 0; i < n; ++i) cnt += tr->h_qcount[i];
    *local_count = cnt;
    return DFL_OK;
}

static const float *plan_t(dfl_trainer *tr) { return (const float *)((const char *)tr->d_plan + DFL_PLAN_T_OFFSET); }

/* Network forward on the planned number of samples from `off` of the prepared batch into d_pred. */
static void forward_at(dfl_trainer *tr, int off) {
    size_t px = (size_t)off * tr->h * tr->w;
    dfl_unet_forward(tr->model, tr->d_input + px * 2 * tr->c, plan_t(tr) + off, tr->d_pred);
}

/* qmse of d_pred against samples [off, off + n) (grad NULL: loss only). */
static double query_mse(dfl_trainer *tr, int off, int n, double denom, float *grad, double *sum_sq, double *count) {
    size_t px = (size_t)off * tr->h * tr->w;
    dfl_qmse_args q;
    memset(&q, 0, sizeof q);
    q.n = n;
    q.c = tr->c;
    q.h = tr->h;
    q.w = tr->w;
    q.pred = tr->d_pred;
    q.x_obs = tr->d_obs + px * tr->c;
    q.query = tr->d_query + px * tr->c;
    q.denom = denom;
    q.row_weight = tr->d_row_weight ? tr->d_row_weight + (size_t)off * tr->h : NULL;
    q.grad = grad;
    q.sum_sq = sum_sq;
    q.count = count;
    return tr->be->qmse(tr->be, &q);
}

/* The method (plan, noise, masks) runs on the whole batch, so every draw is
 * keyed exactly as without micro-batches; forward and backward run per
 * micro-batch and the gradients add up, so splitting changes only the
 * summation order. The gradient sum across ranks follows the last one. */
/* The [n, h] row weights of the batch's samples from their crop rows (a
 * crop of h rows starting at crop_y[i] of the field). */
static void upload_row_weights(dfl_trainer *tr, int n) {
    if (!tr->field_row_weight) return;
    for (int i = 0; i < n; ++i) {
        const int y0 = tr->crop_y ? tr->crop_y[i] : 0;
        DFL_ASSERT(y0 >= 0 && y0 + tr->h <= tr->field_h);
        memcpy(tr->h_row_weight + (size_t)i * tr->h, tr->field_row_weight + y0, sizeof(float) * (size_t)tr->h);
    }
    tr->be->upload(tr->be, tr->d_row_weight, tr->h_row_weight, sizeof(float) * (size_t)n * tr->h);
}

dfl_status dfl_trainer_set_latitudes(dfl_trainer *tr, const double *lat, int field_h) {
    if (field_h < tr->h) return dfl_fail(DFL_EINTERNAL, "latitudes of %d rows for %d-row fields", field_h, tr->h);
    double mean = 0;
    for (int y = 0; y < field_h; ++y) mean += fmax(0.0, cos(lat[y] * M_PI / 180.0));
    mean /= field_h;
    if (!(mean > 0)) return dfl_fail(DFL_EUSAGE, "method.lat_weight: every latitude is at a pole");
    free(tr->field_row_weight);
    tr->field_row_weight = dfl_xmalloc(sizeof(float) * (size_t)field_h);
    for (int y = 0; y < field_h; ++y) tr->field_row_weight[y] = (float)(fmax(0.0, cos(lat[y] * M_PI / 180.0)) / mean);
    tr->field_h = field_h;
    if (!tr->h_row_weight) {
        tr->h_row_weight = dfl_xmalloc(sizeof(float) * (size_t)tr->batch * tr->h);
        tr->crop_y = dfl_xcalloc((size_t)tr->batch, sizeof(int));
        tr->d_row_weight = tr->be->alloc(tr->be, sizeof(float) * (size_t)tr->batch * tr->h);
    }
    return DFL_OK;
}

void dfl_trainer_set_crop_rows(dfl_trainer *tr, const int *crop_y, int n) {
    if (!tr->crop_y) return;
    for (int i = 0; i < n && i < tr->batch; ++i) tr->crop_y[i] = crop_y ? crop_y[i] : 0;
}

dfl_status dfl_trainer_step(dfl_trainer *tr, const float *obs, const uint8_t *mask, long step, dfl_step_stats *st) {
    dfl_backend *be = tr->be;
    upload_row_weights(tr, tr->batch);
    int n = tr->batch, mb = tr->micro;
    size_t np = dfl_unet_num_params(tr->model);
    float *grads = dfl_unet_grads(tr->model);
    double count;
    DFL_TRY(prepare_inputs(tr, obs, mask, n, step, (uint32_t)(tr->comm->rank * n), &count));
    /* the loss of the global batch is normalised by its query count */
    double global_count = count;
    tr->comm->allreduce_sum_host(tr->comm, &global_count, 1);
    double denom = global_count > 0 ? global_count : 1.0;
    double loss = 0;
    int last = n - mb;
    for (int off = 0; off < last; off += mb) {
        forward_at(tr, off);
        loss += query_mse(tr, off, mb, denom, tr->d_grad, NULL, NULL);
        dfl_unet_backward(tr->model, tr->d_grad, NULL);
        if (off == 0)
            be->copy(be, tr->d_acc, grads, np * sizeof(float));
        else
            be->add(be, np, tr->d_acc, grads, tr->d_acc);
    }
    forward_at(tr, last);
    loss += query_mse(tr, last, mb, denom, tr->d_grad, NULL, NULL);
    double loss_sum = loss;
    tr->comm->allreduce_sum_host(tr->comm, &loss_sum, 1);
    if (!isfinite(loss_sum))
        return dfl_fail(DFL_EINTERNAL,
                        "non-finite loss (%g) at step %ld: training stopped (lower train.lr or check the data)",
                        loss_sum, step);
    if (tr->bucket_elems) {
        /* overlapped: buckets are begun by the gradient-ready hook during backward */
        tr->launched = tr->ready = np;
        tr->hook_armed = 1;
        dfl_unet_backward(tr->model, tr->d_grad, NULL);
        tr->hook_armed = 0;
        tr->comm->allreduce_sum_end(tr->comm, be);
    } else {
        dfl_unet_backward(tr->model, tr->d_grad, NULL);
        if (tr->d_acc) be->add(be, np, grads, tr->d_acc, grads);
        tr->comm->allreduce_sum(tr->comm, be, grads, np);
    }
    double gn = dfl_optimizer_step(tr->opt, dfl_unet_params(tr->model), grads);
    if (st) {
        st->loss = loss_sum;
        st->grad_norm = gn;
        st->lr = tr->opt->last_lr;
        st->query_count = global_count;
    }
    return DFL_OK;
}

dfl_status dfl_trainer_eval(dfl_trainer *tr, const float *obs, const uint8_t *mask, int n, long key_step, int use_ema,
                            double *sum_sq, double *count) {
    dfl_backend *be = tr->be;
    if (n > tr->batch) return dfl_fail(DFL_EINTERNAL, "eval batch %d larger than the trainer's %d", n, tr->batch);
    size_t np = dfl_unet_num_params(tr->model);
    double cnt;
    DFL_TRY(prepare_inputs(tr, obs, mask, n, key_step, 0, &cnt));
    upload_row_weights(tr, n);
    if (use_ema) {
        be->copy(be, tr->d_swap, dfl_unet_params(tr->model), np * sizeof(float));
        be->copy(be, dfl_unet_params(tr->model), tr->opt->ema, np * sizeof(float));
    }
    /* in passes of at most one micro-batch; a shorter last one re-plans */
    dfl_status s = DFL_OK;
    int planned = tr->micro;
    double ss = 0, qc = 0;
    for (int off = 0; off < n && s == DFL_OK; off += tr->micro) {
        int m = n - off < tr->micro ? n - off : tr->micro;
        if (m != planned && (s = dfl_unet_plan(tr->model, m, tr->h, tr->w)) == DFL_OK) planned = m;
        if (s != DFL_OK) break;
        forward_at(tr, off);
        double s1 = 0, c1 = 0;
        query_mse(tr, off, m, 0, NULL, &s1, &c1);
        ss += s1;
        qc += c1;
    }
    if (use_ema) be->copy(be, dfl_unet_params(tr->model), tr->d_swap, np * sizeof(float));
    if (planned != tr->micro) {
        dfl_status s2 = dfl_unet_plan(tr->model, tr->micro, tr->h, tr->w);
        if (s == DFL_OK) s = s2;
    }
    if (sum_sq) *sum_sq = ss;
    if (count) *count = qc;
    return s;
}
