/* Streaming training loader (include/dynfill/data.h, docs/design.md, "Distributed training"): a
 * rank's shard of a Philox-shuffled stream of samples (or of (sample,
 * channel) pairs with fold_channels), random crops, and a prefetch thread
 * that fills the next batch while the caller trains on the current one (two
 * buffers). Samples (or one channel of one) are read one at a time (pread
 * of a contiguous dataset, or an HDF5 hyperslab), so memory stays at two
 * batches whatever the file size. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "dynfill/climatology.h"
#include "shared/philox.h"

typedef struct {
    float *obs;
    uint8_t *mask;
    int64_t *index;
    int *channel;
    int *crop_y, *crop_x;
    int ready;
    dfl_status status;
    char error[1024];
} batch_slot;

typedef struct {
    int64_t epoch; /* -1: empty */
    int64_t *order;
} perm_cache;

struct dfl_loader {
    const dfl_dataset *ds;
    dfl_loader_config cfg;
    int64_t split_start, split_n; /* split_n: stream elements (samples, or samples x units) */
    int units;                    /* stream elements per sample: C with fold_channels, else 1 */
    int ph, pw;
    size_t per_obs, per_mask; /* one element's floats and mask bytes in a batch */
    batch_slot slots[2];
    perm_cache perms[2];
    int perm_evict; /* cache entry to replace next */
    void *scratch;
    /* augmentation (cfg.augment_shift / augment_symmetry): the allowed shift
     * steps per axis (0 = none), the declared flips and rotations, and a
     * sample's worth of scratch */
    int aug_step_y, aug_step_x, aug_flip_x, aug_flip_y, aug_rot;
    int aug_py, aug_px; /* the axis is periodic and the crop spans it: mirror about grid point 0 */
    float *aug_obs;
    uint8_t *aug_mask;
    uint64_t bytes_read;
    int64_t next_gpos; /* stream position of the next global batch */
    int pending_slot;  /* slot with an issued fill (-1 none) */
    int64_t pending_gpos;
    /* prefetch thread */
    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int has_request, stop;
    int req_slot;
    int64_t req_gpos;
};

void dfl_loader_config_default(dfl_loader_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 16;
    cfg->patch = 0;
    cfg->rank = 0;
    cfg->world = 1;
    cfg->val_fraction = 0.0;
    cfg->split = DFL_SPLIT_TRAIN;
    cfg->seed = 0;
    cfg->shuffle = 1;
    cfg->prefetch = 1;
}

/* Uniform integer in [0, m) from 64 Philox bits (multiply-shift). */
static uint64_t uniform_below(dfl_philox_u4 b, uint64_t m) {
    uint64_t r = ((uint64_t)b.v[1] << 32) | b.v[0];
    return (uint64_t)(((unsigned __int128)r * m) >> 64);
}

/* Epoch e's order of the split: Fisher-Yates driven by Philox keyed by
 * (seed, SHUFFLE, e); identity without shuffle. */
static const int64_t *epoch_order(dfl_loader *ld, int64_t epoch) {
    for (int k = 0; k < 2; ++k)
        if (ld->perms[k].epoch == epoch) return ld->perms[k].order;
    perm_cache *pc = &ld->perms[ld->perm_evict];
    ld->perm_evict ^= 1;
    const int64_t n = ld->split_n;
    if (!pc->order) pc->order = dfl_xmalloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; ++i) pc->order[i] = i;
    const uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_SHUFFLE, (uint32_t)epoch, 0);
    for (int64_t i = n - 1; i > 0; --i) {
        int64_t j = (int64_t)uniform_below(dfl_rng_bits(ld->cfg.seed, stream, (uint64_t)i), (uint64_t)i + 1);
        int64_t t = pc->order[i];
        pc->order[i] = pc->order[j];
        pc->order[j] = t;
    }
    pc->epoch = epoch;
    return pc->order;
}

/* Mirror index j of an axis of n entries: about grid point 0 on a periodic
 * axis, j -> (n - j) mod n (a periodic grid's points sit at j L / n, so
 * this is x -> -x), about the centre otherwise, j -> n - 1 - j. */
static inline int mirror(int j, int n, int periodic) { return periodic ? (n - j) % n : n - 1 - j; }

/* Source coordinates in the un-augmented sample of output entry (y, x):
 * out = roll(rot90^k(flip_y^fy(flip_x^fx(in))), (dy, dx)), np.rot90's
 * counter-clockwise sense (with mirror() for its reversals), np.roll's
 * out[i] = in[i - shift]. */
static inline void augment_source(int y, int x, int h, int w, int py, int px, int dy, int dx, int k, int fx, int fy,
                                  int *sy, int *sx) {
    int y1 = y - dy, x1 = x - dx;
    if (y1 < 0) y1 += h;
    if (x1 < 0) x1 += w;
    int y2, x2; /* rot90^k(a)[y1][x1] = a[y2][x2] (k odd: h == w) */
    switch (k) {
    case 1: y2 = x1, x2 = mirror(y1, w, px); break;
    case 2: y2 = mirror(y1, h, py), x2 = mirror(x1, w, px); break;
    case 3: y2 = mirror(x1, h, py), x2 = y1; break;
    default: y2 = y1, x2 = x1; break;
    }
    *sy = fy ? mirror(y2, h, py) : y2;
    *sx = fx ? mirror(x2, w, px) : x2;
}

/* Apply the augmentation drawn for stream position (epoch, pos) to one
 * element in place: obs [c, ph, pw], mask [mc, ph, pw]. */
static void augment_sample(dfl_loader *ld, int64_t epoch, int64_t pos, int c, int mc, float *obs, uint8_t *mask) {
    const int h = ld->ph, w = ld->pw;
    dfl_philox_u4 b =
        dfl_rng_bits(ld->cfg.seed, dfl_rng_stream(DFL_RNG_PURPOSE_AUGMENT, (uint32_t)epoch, 0), (uint64_t)pos);
    dfl_philox_u4 by = {{b.v[0], b.v[1], 0, 0}}, bx = {{b.v[2], b.v[3], 0, 0}};
    const int dy = ld->aug_step_y ? ld->aug_step_y * (int)uniform_below(by, (uint64_t)(h / ld->aug_step_y)) : 0;
    const int dx = ld->aug_step_x ? ld->aug_step_x * (int)uniform_below(bx, (uint64_t)(w / ld->aug_step_x)) : 0;
    const uint32_t g =
        dfl_rng_bits(ld->cfg.seed, dfl_rng_stream(DFL_RNG_PURPOSE_AUGMENT, (uint32_t)epoch, 1), (uint64_t)pos).v[0];
    const int fx = ld->aug_flip_x ? (int)(g & 1u) : 0, fy = ld->aug_flip_y ? (int)((g >> 1) & 1u) : 0;
    const int k = ld->aug_rot == 1 ? (int)((g >> 2) & 3u) : ld->aug_rot == 2 ? (int)((g >> 2) & 1u) * 2 : 0;
    if (!dy && !dx && !fx && !fy && !k) return;
    const size_t plane = (size_t)h * w;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            int sy, sx;
            augment_source(y, x, h, w, ld->aug_py, ld->aug_px, dy, dx, k, fx, fy, &sy, &sx);
            const size_t o = (size_t)y * w + x, si = (size_t)sy * w + sx;
            for (int ch = 0; ch < c; ++ch) ld->aug_obs[ch * plane + o] = obs[ch * plane + si];
            for (int ch = 0; ch < mc; ++ch) ld->aug_mask[ch * plane + o] = mask[ch * plane + si];
        }
    memcpy(obs, ld->aug_obs, sizeof(float) * plane * (size_t)c);
    memcpy(mask, ld->aug_mask, plane * (size_t)mc);
}

/* data.withhold_cells: the crop's cells that `withheld` ([H, W] of the
 * field, row length w) sets become unobserved in every mask plane. */
static void withhold_cells(const uint8_t *withheld, int w, int cy, int cx, int ph, int pw, int c, int mc, float *obs,
                           uint8_t *mask) {
    const size_t plane = (size_t)ph * pw;
    for (int y = 0; y < ph; ++y)
        for (int x = 0; x < pw; ++x) {
            if (!withheld[(size_t)(cy + y) * w + cx + x]) continue;
            const size_t o = (size_t)y * pw + x;
            for (int ch = 0; ch < mc; ++ch) mask[ch * plane + o] = 0;
            for (int ch = 0; ch < c; ++ch) obs[ch * plane + o] = 0.0f;
        }
}

/* Fill slot `s` with this rank's part of the global batch at `gpos`. */
static void fill_slot(dfl_loader *ld, batch_slot *s, int64_t gpos) {
    const dfl_dataset *ds = ld->ds;
    const int B = ld->cfg.batch;
    const int H = ds->info.h, W = ds->info.w;
    s->status = DFL_OK;
    s->error[0] = 0;
    for (int j = 0; j < B; ++j) {
        const int64_t p = gpos + (int64_t)ld->cfg.rank * B + j;
        const int64_t epoch = p / ld->split_n, pos = p % ld->split_n;
        int64_t local = pos;
        if (ld->cfg.shuffle) local = epoch_order(ld, epoch)[pos];
        const int64_t idx = ld->split_start + local / ld->units;
        const int ch = (int)(local % ld->units);
        int cy = 0, cx = 0;
        if (ld->ph < H || ld->pw < W) {
            dfl_philox_u4 b =
                dfl_rng_bits(ld->cfg.seed, dfl_rng_stream(DFL_RNG_PURPOSE_CROP, (uint32_t)epoch, 0), (uint64_t)pos);
            dfl_philox_u4 by = {{b.v[0], b.v[1], 0, 0}}, bx = {{b.v[2], b.v[3], 0, 0}};
            cy = (int)uniform_below(by, (uint64_t)(H - ld->ph + 1));
            cx = (int)uniform_below(bx, (uint64_t)(W - ld->pw + 1));
        }
        float *obs = s->obs + (size_t)j * ld->per_obs;
        uint8_t *mask = s->mask + (size_t)j * ld->per_mask;
        const int fold = ld->cfg.fold_channels;
        dfl_status st = fold
                            ? dfl_dataset_read_crop_channel(ds, idx, ch, cy, cx, ld->ph, ld->pw, obs, mask, ld->scratch)
                            : dfl_dataset_read_crop(ds, idx, cy, cx, ld->ph, ld->pw, obs, mask, ld->scratch);
        if (st != DFL_OK) {
            s->status = st;
            snprintf(s->error, sizeof s->error, "%s", dfl_last_error());
            dfl_clear_error();
            return;
        }
        if (ld->cfg.withheld)
            withhold_cells(ld->cfg.withheld, W, cy, cx, ld->ph, ld->pw, fold ? 1 : ds->info.c,
                           fold ? 1 : ds->info.mask_c, obs, mask);
        if (fold)
            dfl_dataset_normalise_channel(ds, ch, ld->ph, ld->pw, obs, mask);
        else
            dfl_dataset_normalise_masked(ds, 1, ld->ph, ld->pw, obs, mask);
        if (ld->cfg.clim_offset) /* anomalies, taken where the crop sits in the field */
            dfl_climatology_remove(ld->cfg.clim_offset, ld->cfg.clim_gain, fold ? ch : 0, H, W, cy, cx, ld->ph, ld->pw,
                                   1, fold ? 1 : ds->info.c, fold ? 1 : ds->info.mask_c, obs, mask);
        if (ld->aug_obs) augment_sample(ld, epoch, pos, fold ? 1 : ds->info.c, fold ? 1 : ds->info.mask_c, obs, mask);
        s->index[j] = idx;
        s->channel[j] = ch;
        s->crop_y[j] = cy;
        s->crop_x[j] = cx;
        __atomic_fetch_add(&ld->bytes_read, (uint64_t)(ld->per_obs * sizeof(float) + ld->per_mask), __ATOMIC_RELAXED);
    }
}

static void *prefetch_main(void *arg) {
    dfl_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->has_request && !ld->stop) pthread_cond_wait(&ld->cv, &ld->mu);
        if (ld->stop) break;
        int s = ld->req_slot;
        int64_t g = ld->req_gpos;
        ld->has_request = 0;
        pthread_mutex_unlock(&ld->mu);
        fill_slot(ld, &ld->slots[s], g);
        pthread_mutex_lock(&ld->mu);
        ld->slots[s].ready = 1;
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void issue(dfl_loader *ld, int s, int64_t gpos) {
    pthread_mutex_lock(&ld->mu);
    ld->slots[s].ready = 0;
    ld->req_slot = s;
    ld->req_gpos = gpos;
    ld->has_request = 1;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    ld->pending_slot = s;
    ld->pending_gpos = gpos;
}

static void wait_ready(dfl_loader *ld, int s) {
    pthread_mutex_lock(&ld->mu);
    while (!ld->slots[s].ready) pthread_cond_wait(&ld->cv, &ld->mu);
    pthread_mutex_unlock(&ld->mu);
}

dfl_status dfl_loader_create(const dfl_dataset *ds, const dfl_loader_config *cfg, dfl_loader **out) {
    *out = NULL;
    const dfl_dataset_info *in = &ds->info;
    if (cfg->batch < 1) return dfl_fail(DFL_EUSAGE, "train.batch must be >= 1 (got %d)", cfg->batch);
    if (cfg->world < 1 || cfg->rank < 0 || cfg->rank >= cfg->world)
        return dfl_fail(DFL_EUSAGE, "loader: rank %d is not in [0, world %d)", cfg->rank, cfg->world);
    if (cfg->patch < 0 || cfg->patch > in->h || cfg->patch > in->w)
        return dfl_fail(DFL_EUSAGE, "%s: data.patch %d does not fit the field %dx%d (use 0 for the whole field)",
                        in->path, cfg->patch, in->h, in->w);
    int64_t start, count;
    DFL_TRY(dfl_dataset_split_range(ds, cfg->val_fraction, cfg->split, &start, &count));
    dfl_loader *ld = dfl_xcalloc(1, sizeof *ld);
    ld->ds = ds;
    ld->cfg = *cfg;
    ld->units = cfg->fold_channels ? in->c : 1;
    ld->split_start = start;
    ld->split_n = count * ld->units;
    ld->ph = cfg->patch ? cfg->patch : in->h;
    ld->pw = cfg->patch ? cfg->patch : in->w;
    const size_t hw = (size_t)ld->ph * (size_t)ld->pw;
    ld->per_obs = (size_t)(cfg->fold_channels ? 1 : in->c) * hw;
    ld->per_mask = (size_t)(cfg->fold_channels ? 1 : in->mask_c) * hw;
    for (int k = 0; k < 2; ++k) {
        batch_slot *s = &ld->slots[k];
        s->obs = dfl_xmalloc(sizeof(float) * ld->per_obs * (size_t)cfg->batch);
        s->mask = dfl_xmalloc(ld->per_mask * (size_t)cfg->batch);
        s->index = dfl_xcalloc((size_t)cfg->batch, sizeof(int64_t));
        s->channel = dfl_xcalloc((size_t)cfg->batch, sizeof(int));
        s->crop_y = dfl_xcalloc((size_t)cfg->batch, sizeof(int));
        s->crop_x = dfl_xcalloc((size_t)cfg->batch, sizeof(int));
        ld->perms[k].epoch = -1;
    }
    ld->scratch = dfl_xmalloc(dfl_dataset_crop_scratch_bytes(ds, ld->ph));
    if (cfg->augment_shift) {
        /* only along periodic axes the crop spans whole (a crop's edges are not neighbours) */
        const dfl_symmetry *sym = &in->sym;
        if (in->periodic_y && ld->ph == in->h) ld->aug_step_y = in->has_symmetry ? sym->shift_y : 1;
        if (in->periodic_x && ld->pw == in->w) ld->aug_step_x = in->has_symmetry ? sym->shift_x : 1;
    }
    ld->aug_py = in->periodic_y && ld->ph == in->h;
    ld->aug_px = in->periodic_x && ld->pw == in->w;
    if (cfg->augment_symmetry) {
        ld->aug_flip_x = in->sym.flip_x;
        ld->aug_flip_y = in->sym.flip_y;
        ld->aug_rot = in->sym.rot90 && ld->ph == ld->pw ? 1 : in->sym.rot180 || in->sym.rot90 ? 2 : 0;
    }
    if (ld->aug_step_y || ld->aug_step_x || ld->aug_flip_x || ld->aug_flip_y || ld->aug_rot) {
        ld->aug_obs = dfl_xmalloc(sizeof(float) * ld->per_obs);
        ld->aug_mask = dfl_xmalloc(ld->per_mask);
    }
    ld->pending_slot = -1;
    /* HDF5 reads from a second thread need a thread-safe HDF5 build; the
     * direct pread path needs nothing. */
    ld->threaded = cfg->prefetch && (dfl_dataset_direct(ds) || ds->hdf5_threadsafe);
    if (ld->threaded) {
        pthread_mutex_init(&ld->mu, NULL);
        pthread_cond_init(&ld->cv, NULL);
        if (pthread_create(&ld->thread, NULL, prefetch_main, ld) != 0) DFL_PANIC("cannot start the prefetch thread");
    }
    *out = ld;
    return DFL_OK;
}

static void export_slot(const dfl_loader *ld, const batch_slot *s, dfl_batch *out) {
    out->b = ld->cfg.batch;
    out->c = ld->cfg.fold_channels ? 1 : ld->ds->info.c;
    out->h = ld->ph;
    out->w = ld->pw;
    out->mask_c = ld->cfg.fold_channels ? 1 : ld->ds->info.mask_c;
    out->obs = s->obs;
    out->mask = s->mask;
    out->index = s->index;
    out->channel = s->channel;
    out->crop_y = s->crop_y;
    out->crop_x = s->crop_x;
}

dfl_status dfl_loader_next(dfl_loader *ld, dfl_batch *out) {
    const int64_t G = (int64_t)ld->cfg.batch * ld->cfg.world;
    const int64_t g = ld->next_gpos;
    batch_slot *s;
    if (!ld->threaded) {
        s = &ld->slots[0];
        fill_slot(ld, s, g);
    } else {
        if (ld->pending_slot < 0 || ld->pending_gpos != g) {
            if (ld->pending_slot >= 0) wait_ready(ld, ld->pending_slot);
            issue(ld, 0, g);
        }
        int k = ld->pending_slot;
        wait_ready(ld, k);
        s = &ld->slots[k];
        /* The caller now holds slot k; the other one is free to fill. */
        issue(ld, k ^ 1, g + G);
    }
    if (s->status != DFL_OK) return dfl_fail(s->status, "%s", s->error);
    ld->next_gpos = g + G;
    export_slot(ld, s, out);
    return DFL_OK;
}

dfl_loader_cursor dfl_loader_get_cursor(const dfl_loader *ld) {
    dfl_loader_cursor c;
    c.epoch = ld->next_gpos / ld->split_n;
    c.position = ld->next_gpos % ld->split_n;
    return c;
}

dfl_status dfl_loader_set_cursor(dfl_loader *ld, dfl_loader_cursor cursor) {
    if (cursor.epoch < 0 || cursor.position < 0 || cursor.position >= ld->split_n)
        return dfl_fail(DFL_EUSAGE,
                        "%s: loader cursor (epoch %lld, position %lld) is invalid for a split of %lld samples",
                        ld->ds->info.path, (long long)cursor.epoch, (long long)cursor.position, (long long)ld->split_n);
    /* A fill in flight completes first; its result is simply not used
     * unless it happens to be the batch the new cursor asks for. */
    if (ld->threaded && ld->pending_slot >= 0) wait_ready(ld, ld->pending_slot);
    ld->next_gpos = cursor.epoch * ld->split_n + cursor.position;
    return DFL_OK;
}

int64_t dfl_loader_split_size(const dfl_loader *ld) { return ld->split_n; }

uint64_t dfl_loader_bytes_read(const dfl_loader *ld) { return __atomic_load_n(&ld->bytes_read, __ATOMIC_RELAXED); }

void dfl_loader_destroy(dfl_loader *ld) {
    if (!ld) return;
    if (ld->threaded) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->cv);
        pthread_mutex_unlock(&ld->mu);
        pthread_join(ld->thread, NULL);
        pthread_mutex_destroy(&ld->mu);
        pthread_cond_destroy(&ld->cv);
    }
    for (int k = 0; k < 2; ++k) {
        free(ld->slots[k].obs);
        free(ld->slots[k].mask);
        free(ld->slots[k].index);
        free(ld->slots[k].channel);
        free(ld->slots[k].crop_y);
        free(ld->slots[k].crop_x);
        free(ld->perms[k].order);
    }
    free(ld->scratch);
    free(ld->aug_obs);
    free(ld->aug_mask);
    free(ld);
}
