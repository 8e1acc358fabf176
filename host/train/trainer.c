/* The training step (include/dynfill/train.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/train.h"
#include "shared/schedule.h"

struct dfl_trainer {
    dfl_backend *be;
    dfl_unet *model;
    dfl_comm *comm;
    dfl_optimizer *opt;
    dfl_method_params method;
    uint64_t seed;
    int batch, c, h, w, mask_c;
    dfl_context_plan plan;
    /* backend buffers */
    void *d_plan;
    size_t d_plan_bytes;
    float *d_obs, *d_input, *d_pred, *d_grad, *d_swap;
    uint8_t *d_mask, *d_query;
    int32_t *d_qcount;
    int32_t *h_qcount;
    /* overlap of the gradient sum with backward: [ready, launched) is final but not yet begun */
    size_t ready, launched, bucket_elems;
};

/* Gradient-ready hook: begin the sum of the final range once it holds a bucket. */
static void on_grads_ready(void *user, size_t first) {
    dfl_trainer *tr = user;
    tr->ready = first;
    if (tr->launched - tr->ready >= tr->bucket_elems || first == 0) {
        float *g = dfl_unet_grads(tr->model);
        tr->comm->allreduce_sum_begin(tr->comm, tr->be, g + tr->ready, tr->launched - tr->ready);
        tr->launched = tr->ready;
    }
}

dfl_status dfl_trainer_create(dfl_backend *be, dfl_unet *model, dfl_comm *comm, const dfl_config *cfg,
                              const dfl_method_params *method, int batch, int c, int h, int w, int mask_c,
                              dfl_trainer **out) {
    DFL_TRY(dfl_method_params_validate(method, h, w));
    DFL_TRY(dfl_unet_plan(model, batch, h, w));
    dfl_trainer *tr = dfl_xcalloc(1, sizeof *tr);
    tr->be = be;
    tr->model = model;
    tr->comm = comm;
    tr->method = *method;
    tr->seed = cfg->seed;
    tr->batch = batch;
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
    tr->d_input = be->alloc(be, px * 2 * c * sizeof(float));
    tr->d_pred = be->alloc(be, px * c * sizeof(float));
    tr->d_grad = be->alloc(be, px * c * sizeof(float));
    tr->d_swap = be->alloc(be, dfl_unet_num_params(model) * sizeof(float));
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

void dfl_trainer_destroy(dfl_trainer *tr) {
    if (!tr) return;
    dfl_unet_set_grads_ready(tr->model, NULL, NULL);
    dfl_backend *be = tr->be;
    dfl_optimizer_destroy(tr->opt);
    dfl_context_plan_free(&tr->plan);
    if (tr->d_plan) be->free(be, tr->d_plan);
    be->free(be, tr->d_obs);
    be->free(be, tr->d_mask);
    be->free(be, tr->d_input);
    be->free(be, tr->d_pred);
    be->free(be, tr->d_grad);
    be->free(be, tr->d_swap);
    be->free(be, tr->d_query);
    be->free(be, tr->d_qcount);
    free(tr->h_qcount);
    free(tr);
}

dfl_optimizer *dfl_trainer_optimizer(dfl_trainer *tr) { return tr->opt; }

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
    be->upload(be, tr->d_obs, obs, px * tr->c * sizeof(float));
    be->upload(be, tr->d_mask, mask, px * tr->mask_c);
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

/* qmse over the n samples in the trainer's buffers (grad NULL: loss only). */
static double query_mse(dfl_trainer *tr, int n, double denom, float *grad, double *sum_sq, double *count) {
    dfl_qmse_args q;
    memset(&q, 0, sizeof q);
    q.n = n;
    q.c = tr->c;
    q.h = tr->h;
    q.w = tr->w;
    q.pred = tr->d_pred;
    q.x_obs = tr->d_obs;
    q.query = tr->d_query;
    q.denom = denom;
    q.grad = grad;
    q.sum_sq = sum_sq;
    q.count = count;
    return tr->be->qmse(tr->be, &q);
}

dfl_status dfl_trainer_step(dfl_trainer *tr, const float *obs, const uint8_t *mask, long step, dfl_step_stats *st) {
    dfl_backend *be = tr->be;
    int n = tr->batch;
    double count;
    DFL_TRY(prepare_inputs(tr, obs, mask, n, step, (uint32_t)(tr->comm->rank * n), &count));
    /* the loss of the global batch is normalised by its query count */
    double global_count = count;
    tr->comm->allreduce_sum_host(tr->comm, &global_count, 1);
    dfl_unet_forward(tr->model, tr->d_input, plan_t(tr), tr->d_pred);
    double loss = query_mse(tr, n, global_count > 0 ? global_count : 1.0, tr->d_grad, NULL, NULL);
    double loss_sum = loss;
    tr->comm->allreduce_sum_host(tr->comm, &loss_sum, 1);
    if (!isfinite(loss_sum))
        return dfl_fail(DFL_EINTERNAL, "non-finite loss (%g) at step %ld: training stopped (lower train.lr or check the data)",
                        loss_sum, step);
    if (tr->bucket_elems) {
        /* overlapped: buckets are begun by the gradient-ready hook during backward */
        tr->launched = tr->ready = dfl_unet_num_params(tr->model);
        dfl_unet_backward(tr->model, tr->d_grad, NULL);
        tr->comm->allreduce_sum_end(tr->comm, be);
    } else {
        dfl_unet_backward(tr->model, tr->d_grad, NULL);
        tr->comm->allreduce_sum(tr->comm, be, dfl_unet_grads(tr->model), dfl_unet_num_params(tr->model));
    }
    double gn = dfl_optimizer_step(tr->opt, dfl_unet_params(tr->model), dfl_unet_grads(tr->model));
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
    if (n != tr->batch) DFL_TRY(dfl_unet_plan(tr->model, n, tr->h, tr->w));
    double cnt;
    dfl_status s = prepare_inputs(tr, obs, mask, n, key_step, 0, &cnt);
    if (s == DFL_OK) {
        if (use_ema) {
            be->copy(be, tr->d_swap, dfl_unet_params(tr->model), np * sizeof(float));
            be->copy(be, dfl_unet_params(tr->model), tr->opt->ema, np * sizeof(float));
        }
        dfl_unet_forward(tr->model, tr->d_input, plan_t(tr), tr->d_pred);
        if (use_ema) be->copy(be, dfl_unet_params(tr->model), tr->d_swap, np * sizeof(float));
        query_mse(tr, n, 0, NULL, sum_sq, count);
    }
    if (n != tr->batch) {
        dfl_status s2 = dfl_unet_plan(tr->model, tr->batch, tr->h, tr->w);
        if (s == DFL_OK) s = s2;
    }
    return s;
}
