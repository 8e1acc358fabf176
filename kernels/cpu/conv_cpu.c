/* 2D convolution forward, backward-data and backward-weights on oneDNN 2.6
 * (docs/design.md, "Backend interface" and "The network: dfl-unet v1"), for NHWC activations and OIHW weights.
 *
 * One cache entry per (shape, direction, bias): the convolution primitive,
 * the reorders between the caller's layouts (NHWC activations, OIHW
 * weights) and the layouts the primitive prefers (weights always `any`;
 * activations `any` or NHWC by the context's layout policy), and memory
 * objects whose data handles are set per call. Intermediate tensors and the
 * user-managed scratchpad live in the context's growable workspace, so a
 * call allocates nothing once its shape has been seen.
 *
 * Circular padding (k = 3 along an axis flagged periodic): the input is
 * copied with a one-pixel wrapped halo along the periodic axes, and the
 * primitive runs on that copy with padding 0 along those axes and 1 (zeros)
 * along the others. The output size is unchanged for stride 1 and 2:
 * (h + 2 - 3) / s + 1 either way, and output row o reads haloed rows
 * o s .. o s + 2, i.e. input rows o s - 1 .. o s + 1 wrapped. Backward-data
 * computes the gradient of the haloed input and folds the halo back: the
 * gradient of haloed row 0 (a copy of row h-1) adds into row h-1, that of
 * haloed row h+1 (a copy of row 0) into row 0; likewise for columns.
 * Where the primitive's input needs a reorder anyway (bf16 operands, the
 * blocked layout), the halo is written straight into the primitive's
 * layout instead of a separate NHWC copy (halo_in_prim_init). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_backend_internal.h"

/* One tensor argument of a primitive: its caller-side layout, the layout the
 * primitive uses, and the reorder between them (NULL when they agree). */
typedef struct {
    dnnl_memory_desc_t user_md, prim_md;
    dnnl_memory_t user_mem, prim_mem;
    dnnl_primitive_t reorder;
    dnnl_memory_t reorder_scratch_mem; /* NULL when the reorder needs none */
    size_t prim_bytes;
    int ws_slot;
    /* Circular padding written straight into the primitive's layout (see
     * halo_in_prim_init): the reorder of the unhaloed input into the
     * interior of prim_mem, then the halo copied inside prim_mem. */
    dnnl_primitive_t halo_reorder; /* NULL: the haloed NHWC copy is made first */
    dnnl_memory_t halo_user_mem, halo_interior_mem, halo_scratch_mem;
    size_t halo_planes, halo_plane_stride, halo_row_stride, halo_col_stride, halo_vec, halo_esize;
} conv_operand;

typedef struct dfl_cpu_conv_entry {
    dfl_conv_desc d;
    int dir, has_bias;
    dfl_cpu_conv_layout layout;
    dnnl_primitive_t prim;
    char impl[64];
    conv_operand act_in;  /* fwd, bwd-weights: src;  bwd-data: diff_dst */
    conv_operand act_out; /* fwd: dst;  bwd-data: diff_src;  bwd-weights: diff_dst (an input) */
    conv_operand weights; /* fwd, bwd-data: weights;  bwd-weights: diff_weights (an output) */
    dnnl_memory_t bias_mem;
    dnnl_memory_t scratch_mem; /* NULL when the primitive needs none */
    size_t scratch_bytes;      /* max over the primitive and its reorders */
    struct dfl_cpu_conv_entry *next;
} conv_entry;

typedef struct {
    int hh, wh; /* haloed input size */
    int py, px; /* halo width along y, x (0 or 1) */
    int pad_y, pad_x;
    int oh, ow;
} conv_geometry;

static conv_geometry geometry_of(const dfl_conv_desc *d) {
    conv_geometry g;
    g.py = (d->k == 3 && d->periodic_y) ? 1 : 0;
    g.px = (d->k == 3 && d->periodic_x) ? 1 : 0;
    g.hh = d->h + 2 * g.py;
    g.wh = d->w + 2 * g.px;
    g.pad_y = g.py ? 0 : d->k / 2;
    g.pad_x = g.px ? 0 : d->k / 2;
    g.oh = dfl_conv_out_h(d);
    g.ow = dfl_conv_out_w(d);
    return g;
}

static void check_desc(const dfl_conv_desc *d) {
    if (d->n < 1 || d->h < 1 || d->w < 1 || d->cin < 1 || d->cout < 1 || (d->k != 1 && d->k != 3) ||
        (d->stride != 1 && d->stride != 2))
        DFL_PANIC("conv2d: unsupported shape n=%d h=%d w=%d cin=%d cout=%d k=%d stride=%d", d->n, d->h, d->w, d->cin,
                  d->cout, d->k, d->stride);
}

static void md_init_typed(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_data_type_t type,
                          dnnl_format_tag_t tag) {
    dnnlCheck(dnnl_memory_desc_init_by_tag(md, ndims, dims, type, tag));
}

static void md_init(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    md_init_typed(md, ndims, dims, dnnl_f32, tag);
}

static dnnl_memory_t memory_none(dfl_cpu_ctx *ctx, const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    dnnlCheck(dnnl_memory_create(&m, md, ctx->engine, DNNL_MEMORY_NONE));
    return m;
}

static size_t scratchpad_size(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

/* A reorder primitive from `from_md` to `to_md`; *scratch_mem gets its
 * user-managed scratchpad (NULL when it needs none), sized into
 * *scratch_bytes. */
static dnnl_primitive_t reorder_create(dfl_cpu_ctx *ctx, const dnnl_memory_desc_t *from_md,
                                       const dnnl_memory_desc_t *to_md, dnnl_memory_t *scratch_mem,
                                       size_t *scratch_bytes) {
    dnnl_primitive_desc_t rpd;
    dnnlCheck(dnnl_reorder_primitive_desc_create(&rpd, from_md, ctx->engine, to_md, ctx->engine, ctx->attr));
    const size_t rs = scratchpad_size(rpd);
    *scratch_mem = NULL;
    if (rs > 0) {
        *scratch_mem = memory_none(ctx, dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0));
        if (rs > *scratch_bytes) *scratch_bytes = rs;
    }
    dnnl_primitive_t reorder;
    dnnlCheck(dnnl_primitive_create(&reorder, rpd));
    dnnlCheck(dnnl_primitive_desc_destroy(rpd));
    return reorder;
}

/* Runs a reorder of reorder_create, its scratchpad in the workspace. */
static void reorder_run(dfl_cpu_ctx *ctx, dnnl_primitive_t reorder, dnnl_memory_t scratch_mem, dnnl_memory_t from,
                        dnnl_memory_t to) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, NULL}};
    int nargs = 2;
    if (scratch_mem) {
        dnnlCheck(dnnl_memory_set_data_handle(scratch_mem, ctx->ws[DFL_CPU_WS_SCRATCHPAD].ptr));
        args[2].memory = scratch_mem;
        nargs = 3;
    }
    dnnlCheck(dnnl_primitive_execute(reorder, ctx->stream, nargs, args));
}

/* Sets up an operand whose primitive-side layout is `prim_md`; `to_prim`
 * says which way data moves (input: user -> prim; output: prim -> user). */
static void operand_init(dfl_cpu_ctx *ctx, conv_operand *op, const dnnl_memory_desc_t *user_md,
                         const dnnl_memory_desc_t *prim_md, int to_prim, int ws_slot, size_t *scratch_bytes) {
    memset(op, 0, sizeof *op);
    op->user_md = *user_md;
    op->prim_md = *prim_md;
    op->ws_slot = ws_slot;
    op->prim_bytes = dnnl_memory_desc_get_size(prim_md);
    op->prim_mem = memory_none(ctx, prim_md);
    if (dnnl_memory_desc_equal(user_md, prim_md)) return;
    op->user_mem = memory_none(ctx, user_md);
    op->reorder = to_prim ? reorder_create(ctx, user_md, prim_md, &op->reorder_scratch_mem, scratch_bytes)
                          : reorder_create(ctx, prim_md, user_md, &op->reorder_scratch_mem, scratch_bytes);
}

static void operand_destroy(conv_operand *op) {
    if (op->reorder) dnnlCheck(dnnl_primitive_destroy(op->reorder));
    if (op->user_mem) dnnlCheck(dnnl_memory_destroy(op->user_mem));
    if (op->prim_mem) dnnlCheck(dnnl_memory_destroy(op->prim_mem));
    if (op->reorder_scratch_mem) dnnlCheck(dnnl_memory_destroy(op->reorder_scratch_mem));
    if (op->halo_reorder) dnnlCheck(dnnl_primitive_destroy(op->halo_reorder));
    if (op->halo_user_mem) dnnlCheck(dnnl_memory_destroy(op->halo_user_mem));
    if (op->halo_interior_mem) dnnlCheck(dnnl_memory_destroy(op->halo_interior_mem));
    if (op->halo_scratch_mem) dnnlCheck(dnnl_memory_destroy(op->halo_scratch_mem));
}

/* Makes an input operand ready: its prim_mem holds the data in the
 * primitive's layout (reordered into the workspace when needed). */
static void operand_bind_input(dfl_cpu_ctx *ctx, conv_operand *op, const void *user_ptr) {
    if (!op->reorder) {
        dnnlCheck(dnnl_memory_set_data_handle(op->prim_mem, (void *)user_ptr));
        return;
    }
    void *buf = dfl_cpu_buffer_reserve(&ctx->ws[op->ws_slot], op->prim_bytes);
    dnnlCheck(dnnl_memory_set_data_handle(op->user_mem, (void *)user_ptr));
    dnnlCheck(dnnl_memory_set_data_handle(op->prim_mem, buf));
    reorder_run(ctx, op->reorder, op->reorder_scratch_mem, op->user_mem, op->prim_mem);
}

/* Points an output operand's prim_mem at the user buffer, or at the
 * workspace when a reorder back is needed (operand_finish_output). */
static void operand_bind_output(dfl_cpu_ctx *ctx, conv_operand *op, void *user_ptr) {
    if (!op->reorder) {
        dnnlCheck(dnnl_memory_set_data_handle(op->prim_mem, user_ptr));
        return;
    }
    void *buf = dfl_cpu_buffer_reserve(&ctx->ws[op->ws_slot], op->prim_bytes);
    dnnlCheck(dnnl_memory_set_data_handle(op->user_mem, user_ptr));
    dnnlCheck(dnnl_memory_set_data_handle(op->prim_mem, buf));
}

static void operand_finish_output(dfl_cpu_ctx *ctx, conv_operand *op) {
    if (op->reorder) reorder_run(ctx, op->reorder, op->reorder_scratch_mem, op->prim_mem, op->user_mem);
}

/* Circular padding in the primitive's layout. When the haloed input would
 * be reordered anyway (bf16 operands, or the blocked layout), the halo is
 * not built as a separate NHWC copy: the unhaloed input is reordered into
 * the interior of the primitive's haloed buffer (a oneDNN submemory view at
 * offset (py, px)), and the halo rows and columns are then copied inside
 * that buffer. This saves one full pass over the activation; the values
 * are the same bits as reordering the NHWC haloed copy (the same
 * conversion, applied to the same elements). Only for layouts whose pixel
 * is one contiguous vector of elements per plane: channels innermost
 * (NHWC) or one channel block innermost (nChw8c, nChw16c) without padded
 * channels; other layouts keep the NHWC copy. */
static void halo_in_prim_init(dfl_cpu_ctx *ctx, conv_operand *op, const dfl_conv_desc *d, size_t *scratch_bytes) {
    const conv_geometry g = geometry_of(d);
    const dnnl_memory_desc_t *md = &op->prim_md;
    if (!op->reorder || !(g.px || g.py) || md->format_kind != dnnl_blocked || md->offset0 != 0 ||
        md->padded_dims[1] != md->dims[1])
        return;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    size_t vec, planes;
    if (b->inner_nblks == 0 && b->strides[1] == 1) {
        vec = (size_t)d->cin;
        planes = (size_t)d->n;
    } else if (b->inner_nblks == 1 && b->inner_idxs[0] == 1 && d->cin % b->inner_blks[0] == 0 &&
               b->strides[0] == b->strides[1] * (d->cin / b->inner_blks[0])) {
        /* planes (sample, channel block) evenly strided */
        vec = (size_t)b->inner_blks[0];
        planes = (size_t)d->n * (size_t)(d->cin / b->inner_blks[0]);
    } else {
        return;
    }
    if ((size_t)b->strides[3] != vec || b->strides[2] != b->strides[3] * g.wh) return;

    dnnl_dims_t dims = {d->n, d->cin, d->h, d->w}, offsets = {0, 0, g.py, g.px};
    dnnl_memory_desc_t user_md, interior_md;
    md_init(&user_md, 4, dims, dnnl_nhwc);
    dnnlCheck(dnnl_memory_desc_init_submemory(&interior_md, md, dims, offsets));
    op->halo_reorder = reorder_create(ctx, &user_md, &interior_md, &op->halo_scratch_mem, scratch_bytes);
    op->halo_user_mem = memory_none(ctx, &user_md);
    op->halo_interior_mem = memory_none(ctx, &interior_md);
    op->halo_planes = planes;
    op->halo_vec = vec;
    op->halo_esize = dnnl_data_type_size(md->data_type);
    op->halo_col_stride = (size_t)b->strides[3];
    op->halo_row_stride = (size_t)b->strides[2];
    op->halo_plane_stride = b->inner_nblks == 0 ? (size_t)b->strides[0] : (size_t)b->strides[1];
}

/* Binds an input operand set up by halo_in_prim_init: x [n, h, w, c]
 * reordered into the interior of the haloed buffer, then the halo rows
 * (haloed row 0 = row h, row hh - 1 = row 1) and, over every haloed row,
 * the halo columns (column 0 = column w, column wh - 1 = column 1). */
static void operand_bind_input_haloed(dfl_cpu_ctx *ctx, conv_operand *op, const dfl_conv_desc *d, const float *x) {
    const conv_geometry g = geometry_of(d);
    char *buf = dfl_cpu_buffer_reserve(&ctx->ws[op->ws_slot], op->prim_bytes);
    dnnlCheck(dnnl_memory_set_data_handle(op->prim_mem, buf));
    dnnlCheck(dnnl_memory_set_data_handle(op->halo_interior_mem, buf));
    dnnlCheck(dnnl_memory_set_data_handle(op->halo_user_mem, (void *)x));
    reorder_run(ctx, op->halo_reorder, op->halo_scratch_mem, op->halo_user_mem, op->halo_interior_mem);
    dnnlCheck(dnnl_stream_wait(ctx->stream));

    const size_t es = op->halo_esize, pix = op->halo_vec * es;
    const size_t row_bytes = op->halo_row_stride * es, col_bytes = op->halo_col_stride * es;
    const long planes = (long)op->halo_planes;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; ++p) {
        char *plane = buf + (size_t)p * op->halo_plane_stride * es;
        if (g.py) {
            memcpy(plane, plane + (size_t)d->h * row_bytes, row_bytes);
            memcpy(plane + (size_t)(g.hh - 1) * row_bytes, plane + row_bytes, row_bytes);
        }
        if (g.px) {
            for (int yh = 0; yh < g.hh; ++yh) {
                char *row = plane + (size_t)yh * row_bytes;
                memcpy(row, row + (size_t)d->w * col_bytes, pix);
                memcpy(row + (size_t)(g.wh - 1) * col_bytes, row + col_bytes, pix);
            }
        }
    }
}

/* Op descriptor of one direction; activations in `act_tag` (nhwc or any).
 * With bf16 the primitive's inputs are bfloat16 (forward: src, weights;
 * backward-data: diff_dst, weights; backward-weights: src, diff_dst) and
 * its outputs fp32; the operand reorders round the caller's fp32 tensors. */
static void conv_op_desc(const dfl_conv_desc *d, int dir, int has_bias, int bf16, dnnl_format_tag_t act_tag,
                         dnnl_convolution_desc_t *cd) {
    conv_geometry g = geometry_of(d);
    dnnl_dims_t src_dims = {d->n, d->cin, g.hh, g.wh};
    dnnl_dims_t dst_dims = {d->n, d->cout, g.oh, g.ow};
    dnnl_dims_t w_dims = {d->cout, d->cin, d->k, d->k};
    dnnl_dims_t b_dims = {d->cout};
    dnnl_dims_t strides = {d->stride, d->stride};
    dnnl_dims_t pad = {g.pad_y, g.pad_x};
    dnnl_memory_desc_t src_md, dst_md, w_md, b_md;
    const dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
    md_init_typed(&src_md, 4, src_dims, dir == DFL_CPU_CONV_BWD_DATA ? dnnl_f32 : in, act_tag);
    md_init_typed(&dst_md, 4, dst_dims, dir == DFL_CPU_CONV_FWD ? dnnl_f32 : in, act_tag);
    md_init_typed(&w_md, 4, w_dims, dir == DFL_CPU_CONV_BWD_WEIGHTS ? dnnl_f32 : in, dnnl_format_tag_any);
    md_init(&b_md, 1, b_dims, dnnl_x);
    /* Symmetric padding: oneDNN checks (hh - k + 2 pad) / s + 1 == oh with
     * floor division, which holds for every size and stride here. */
    switch (dir) {
    case DFL_CPU_CONV_FWD:
        dnnlCheck(dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, &src_md, &w_md,
                                                     has_bias ? &b_md : NULL, &dst_md, strides, pad, pad));
        break;
    case DFL_CPU_CONV_BWD_DATA:
        dnnlCheck(dnnl_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, &src_md, &w_md, &dst_md,
                                                           strides, pad, pad));
        break;
    default:
        dnnlCheck(dnnl_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, &src_md, &w_md,
                                                              has_bias ? &b_md : NULL, &dst_md, strides, pad, pad));
        break;
    }
}

/* The layout rule, from bench_ops --unet (docs/cpu-backend.md).
 * AVX-512 (Xeon with AMX): oneDNN's NHWC kernels beat its blocked ones in
 * every direction of every dfl-unet shape, by 1.1-1.7x counting the
 * reorders the blocked layout needs, and beat the direct AVX2
 * backward-weights kernel; so NHWC throughout, without the direct kernel.
 * AVX2 (EPYC): the blocked kernels beat the NHWC kernels on 3x3
 * convolutions by 1.1-2x even counting the reorders, most in
 * backward-weights; for 1x1 convolutions the reorders cost as much as the
 * convolution, so NHWC wins; with fewer than 8 channels on the side that
 * gets padded to a block (the stem's input, the head's output) NHWC wins
 * where that side is the primitive's input. */
static dfl_cpu_conv_layout conv_auto_layout(const dfl_conv_desc *d, int dir) {
    if (dfl_cpu_isa_avx512()) return DFL_CPU_CONV_NHWC;
    if (d->k == 1) return DFL_CPU_CONV_NHWC;
    if (dir == DFL_CPU_CONV_FWD && d->cin < 8) return DFL_CPU_CONV_NHWC;
    if (dir == DFL_CPU_CONV_BWD_DATA && d->cout < 8) return DFL_CPU_CONV_NHWC;
    return DFL_CPU_CONV_BLOCKED;
}

static conv_entry *entry_create(dfl_cpu_ctx *ctx, const dfl_conv_desc *d, int dir, int has_bias) {
    conv_entry *e = dfl_xcalloc(1, sizeof *e);
    e->d = *d;
    e->dir = dir;
    e->has_bias = has_bias;
    e->layout = ctx->conv_layout[dir] == DFL_CPU_CONV_AUTO ? conv_auto_layout(d, dir)
                : ctx->conv_layout[dir] == DFL_CPU_CONV_DIRECT || ctx->conv_layout[dir] == DFL_CPU_CONV_TRANSPOSED
                    ? DFL_CPU_CONV_NHWC
                    : ctx->conv_layout[dir];
    const dnnl_format_tag_t act_tag = e->layout == DFL_CPU_CONV_BLOCKED ? dnnl_format_tag_any : dnnl_nhwc;

    dnnl_convolution_desc_t cd;
    /* bf16 in every direction. With NHWC activations (the AVX-512 rule,
     * and bf16 needs AVX-512) oneDNN 2.6's AMX backward-weights runs 3-4x
     * faster than its fp32 one; with the blocked layout it is 5x slower
     * (ONEDNN_VERBOSE, config a of benchmarks/peers, AMX Xeon). */
    const int bf16 = ctx->conv_bf16;
    conv_op_desc(d, dir, has_bias, bf16, act_tag, &cd);
    dnnl_primitive_desc_t hint = NULL, pd;
    if (dir != DFL_CPU_CONV_FWD) {
        dnnl_convolution_desc_t fd;
        conv_op_desc(d, DFL_CPU_CONV_FWD, has_bias, bf16, act_tag, &fd);
        dnnlCheck(dnnl_primitive_desc_create(&hint, &fd, ctx->attr, ctx->engine, NULL));
    }
    dnnlCheck(dnnl_primitive_desc_create(&pd, &cd, ctx->attr, ctx->engine, hint));
    const char *impl = NULL;
    dnnlCheck(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(e->impl, sizeof e->impl, "%s", impl ? impl : "?");

    conv_geometry g = geometry_of(d);
    dnnl_dims_t src_dims = {d->n, d->cin, g.hh, g.wh};
    dnnl_dims_t dst_dims = {d->n, d->cout, g.oh, g.ow};
    dnnl_dims_t w_dims = {d->cout, d->cin, d->k, d->k};
    dnnl_dims_t b_dims = {d->cout};
    dnnl_memory_desc_t src_user, dst_user, w_user, b_md;
    md_init(&src_user, 4, src_dims, dnnl_nhwc);
    md_init(&dst_user, 4, dst_dims, dnnl_nhwc);
    md_init(&w_user, 4, w_dims, dnnl_oihw);
    md_init(&b_md, 1, b_dims, dnnl_x);

    e->scratch_bytes = scratchpad_size(pd);
    switch (dir) {
    case DFL_CPU_CONV_FWD:
        operand_init(ctx, &e->act_in, &src_user, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), 1,
                     DFL_CPU_WS_SRC, &e->scratch_bytes);
        operand_init(ctx, &e->weights, &w_user, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), 1,
                     DFL_CPU_WS_WEIGHTS, &e->scratch_bytes);
        operand_init(ctx, &e->act_out, &dst_user, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), 0,
                     DFL_CPU_WS_DST, &e->scratch_bytes);
        break;
    case DFL_CPU_CONV_BWD_DATA:
        operand_init(ctx, &e->act_in, &dst_user, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), 1,
                     DFL_CPU_WS_SRC, &e->scratch_bytes);
        operand_init(ctx, &e->weights, &w_user, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), 1,
                     DFL_CPU_WS_WEIGHTS, &e->scratch_bytes);
        operand_init(ctx, &e->act_out, &src_user, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0), 0,
                     DFL_CPU_WS_DST, &e->scratch_bytes);
        break;
    default:
        operand_init(ctx, &e->act_in, &src_user, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), 1,
                     DFL_CPU_WS_SRC, &e->scratch_bytes);
        operand_init(ctx, &e->act_out, &dst_user, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), 1,
                     DFL_CPU_WS_DST, &e->scratch_bytes);
        operand_init(ctx, &e->weights, &w_user, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0), 0,
                     DFL_CPU_WS_WEIGHTS, &e->scratch_bytes);
        break;
    }
    if (dir != DFL_CPU_CONV_BWD_DATA) halo_in_prim_init(ctx, &e->act_in, d, &e->scratch_bytes);
    if (has_bias) e->bias_mem = memory_none(ctx, &b_md);
    if (scratchpad_size(pd) > 0)
        e->scratch_mem = memory_none(ctx, dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
    dnnlCheck(dnnl_primitive_create(&e->prim, pd));
    dnnlCheck(dnnl_primitive_desc_destroy(pd));
    if (hint) dnnlCheck(dnnl_primitive_desc_destroy(hint));
    return e;
}

static void entry_destroy(conv_entry *e) {
    dnnlCheck(dnnl_primitive_destroy(e->prim));
    operand_destroy(&e->act_in);
    operand_destroy(&e->act_out);
    operand_destroy(&e->weights);
    if (e->bias_mem) dnnlCheck(dnnl_memory_destroy(e->bias_mem));
    if (e->scratch_mem) dnnlCheck(dnnl_memory_destroy(e->scratch_mem));
    free(e);
}

void dfl_cpu_conv_cache_destroy(dfl_cpu_ctx *ctx) {
    conv_entry *e = ctx->conv_cache;
    while (e) {
        conv_entry *next = e->next;
        entry_destroy(e);
        e = next;
    }
    ctx->conv_cache = NULL;
}

static int desc_equal(const dfl_conv_desc *a, const dfl_conv_desc *b) {
    return a->n == b->n && a->h == b->h && a->w == b->w && a->cin == b->cin && a->cout == b->cout && a->k == b->k &&
           a->stride == b->stride && a->periodic_x == b->periodic_x && a->periodic_y == b->periodic_y;
}

static conv_entry *entry_get(dfl_cpu_ctx *ctx, const dfl_conv_desc *d, int dir, int has_bias) {
    check_desc(d);
    conv_entry **link = &ctx->conv_cache;
    for (conv_entry *e = ctx->conv_cache; e; link = &e->next, e = e->next) {
        if (e->dir == dir && e->has_bias == has_bias && desc_equal(&e->d, d)) {
            if (e != ctx->conv_cache) { /* move to front: a step revisits shapes in order */
                *link = e->next;
                e->next = ctx->conv_cache;
                ctx->conv_cache = e;
            }
            return e;
        }
    }
    conv_entry *e = entry_create(ctx, d, dir, has_bias);
    e->next = ctx->conv_cache;
    ctx->conv_cache = e;
    return e;
}

/* Executes the convolution primitive with the operands bound. */
static void run_primitive(dfl_cpu_ctx *ctx, conv_entry *e, void *scratch, const float *bias_or_dbias) {
    dnnl_exec_arg_t args[6];
    int n = 0;
    switch (e->dir) {
    case DFL_CPU_CONV_FWD:
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, e->act_in.prim_mem};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, e->weights.prim_mem};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, e->act_out.prim_mem};
        if (e->has_bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->bias_mem};
        break;
    case DFL_CPU_CONV_BWD_DATA:
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, e->act_in.prim_mem};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, e->weights.prim_mem};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, e->act_out.prim_mem};
        break;
    default:
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, e->act_in.prim_mem};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, e->act_out.prim_mem};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, e->weights.prim_mem};
        if (e->has_bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, e->bias_mem};
        break;
    }
    if (e->has_bias) dnnlCheck(dnnl_memory_set_data_handle(e->bias_mem, (void *)bias_or_dbias));
    if (e->scratch_mem) {
        dnnlCheck(dnnl_memory_set_data_handle(e->scratch_mem, scratch));
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch_mem};
    }
    dnnlCheck(dnnl_primitive_execute(e->prim, ctx->stream, n, args));
}

/* Haloed copy of x [n, h, w, c] into xh [n, h + 2py, w + 2px, c]: the
 * halo rows/columns hold the wrapped opposite edge. */
static void build_halo(const dfl_conv_desc *d, const conv_geometry *g, const float *x, float *xh) {
    const int h = d->h, w = d->w, c = d->cin;
    const size_t row = (size_t)w * c, hrow = (size_t)g->wh * c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < d->n; ++i) {
        for (int yh = 0; yh < g->hh; ++yh) {
            const int y = g->py ? (yh - 1 + h) % h : yh;
            const float *src = x + ((size_t)i * h + y) * row;
            float *dst = xh + ((size_t)i * g->hh + yh) * hrow;
            memcpy(dst + (size_t)g->px * c, src, row * sizeof(float));
            if (g->px) {
                memcpy(dst, src + (size_t)(w - 1) * c, (size_t)c * sizeof(float));
                memcpy(dst + (size_t)(w + 1) * c, src, (size_t)c * sizeof(float));
            }
        }
    }
}

/* dst[x] (+)= the haloed row src folded along x (wrapped columns added). */
static void fold_row(const float *src, float *dst, int w, int c, int px, int accumulate) {
    const size_t row = (size_t)w * c;
    const float *in = src + (size_t)px * c;
    if (accumulate) {
#pragma omp simd
        for (size_t j = 0; j < row; ++j) dst[j] += in[j];
    } else {
        memcpy(dst, in, row * sizeof(float));
    }
    if (px) {
        float *last = dst + (size_t)(w - 1) * c;
        const float *left = src, *right = src + (size_t)(w + 1) * c;
        for (int ch = 0; ch < c; ++ch) last[ch] += left[ch];
        for (int ch = 0; ch < c; ++ch) dst[ch] += right[ch];
    }
}

/* dx [n, h, w, c] = the gradient of the haloed input folded back. */
static void fold_halo(const dfl_conv_desc *d, const conv_geometry *g, const float *dxh, float *dx) {
    const int h = d->h, w = d->w, c = d->cin;
    const size_t row = (size_t)w * c, hrow = (size_t)g->wh * c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < d->n; ++i) {
        for (int y = 0; y < h; ++y) {
            const float *base = dxh + (size_t)i * g->hh * hrow;
            float *dst = dx + ((size_t)i * h + y) * row;
            fold_row(base + (size_t)(y + g->py) * hrow, dst, w, c, g->px, 0);
            if (g->py && y == h - 1) fold_row(base, dst, w, c, g->px, 1);
            if (g->py && y == 0) fold_row(base + (size_t)(g->hh - 1) * hrow, dst, w, c, g->px, 1);
        }
    }
}

/* x, or its haloed NHWC copy (in the workspace) when an axis is periodic. */
static const float *haloed_copy(dfl_backend *be, const dfl_conv_desc *d, const float *x) {
    const conv_geometry g = geometry_of(d);
    if (!g.px && !g.py) return x;
    float *xh = dfl_cpu_ws(be, DFL_CPU_WS_HALO, (size_t)d->n * g.hh * g.wh * d->cin * sizeof(float));
    build_halo(d, &g, x, xh);
    return xh;
}

/* Binds the activation input of a forward or backward-weights entry:
 * haloed in the primitive's layout directly where halo_in_prim_init set
 * that up, else through the haloed NHWC copy. */
static void bind_haloed_input(dfl_backend *be, conv_entry *e, const float *x) {
    dfl_cpu_ctx *ctx = dfl_cpu_ctx_of(be);
    if (e->act_in.halo_reorder)
        operand_bind_input_haloed(ctx, &e->act_in, &e->d, x);
    else
        operand_bind_input(ctx, &e->act_in, haloed_copy(be, &e->d, x));
}

static void cpu_conv2d_forward(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *w, const float *b,
                               float *y) {
    dfl_cpu_ctx *ctx = dfl_cpu_ctx_of(be);
    conv_entry *e = entry_get(ctx, d, DFL_CPU_CONV_FWD, b != NULL);
    void *scratch = dfl_cpu_ws(be, DFL_CPU_WS_SCRATCHPAD, e->scratch_bytes);
    bind_haloed_input(be, e, x);
    operand_bind_input(ctx, &e->weights, w);
    operand_bind_output(ctx, &e->act_out, y);
    run_primitive(ctx, e, scratch, b);
    operand_finish_output(ctx, &e->act_out);
    dnnlCheck(dnnl_stream_wait(ctx->stream));
}

/* Backward-data of a stride-1 3x3 convolution as a forward convolution.
 * With y[p] = sum_k W[co, ci, k] x[p + k - 1] (k = (ky, kx), zero or
 * circular padding of 1), the adjoint is
 *   dx[q, ci] = sum_{k, co} W[co, ci, k] dy[q - k + 1]
 *             = sum_{k', co} Wt[ci, co, k'] dy[q + k' - 1],  Wt[ci, co, k'] = W[co, ci, 2 - k'],
 * a forward convolution of dy (cout -> cin channels, the same padding) with
 * the spatially flipped, transposed weights. oneDNN 2.6's forward kernels
 * on AVX-512 (brgconv) run these shapes 10-25 % faster than its
 * backward-data kernels (bench_ops --unet, docs/cpu-backend.md); AUTO takes
 * this path there, except with fewer than 8 output channels (the head: a
 * forward convolution from 1-7 channels is the slower one). The weights are flipped into the op-local workspace on
 * every call (cout cin 9 floats: nothing next to the convolution). */
static int use_transposed_bwd_data(const dfl_cpu_ctx *ctx, const dfl_conv_desc *d) {
    check_desc(d);
    const dfl_cpu_conv_layout l = ctx->conv_layout[DFL_CPU_CONV_BWD_DATA];
    return (l == DFL_CPU_CONV_TRANSPOSED || (l == DFL_CPU_CONV_AUTO && dfl_cpu_isa_avx512() && d->cout >= 8)) &&
           d->stride == 1 && d->k == 3;
}

static dfl_conv_desc transposed_desc(const dfl_conv_desc *d) {
    dfl_conv_desc t = *d;
    t.cin = d->cout;
    t.cout = d->cin;
    return t;
}

static void cpu_conv2d_backward_data(dfl_backend *be, const dfl_conv_desc *d, const float *dy, const float *w,
                                     float *dx) {
    dfl_cpu_ctx *ctx = dfl_cpu_ctx_of(be);
    if (use_transposed_bwd_data(ctx, d)) {
        const int co_n = d->cout, ci_n = d->cin;
        float *wt = dfl_cpu_ws(be, DFL_CPU_WS_TMP, (size_t)co_n * ci_n * 9 * sizeof(float));
#pragma omp parallel for schedule(static)
        for (int ci = 0; ci < ci_n; ++ci)
            for (int co = 0; co < co_n; ++co)
                for (int k = 0; k < 9; ++k)
                    wt[((size_t)ci * co_n + co) * 9 + k] = w[((size_t)co * ci_n + ci) * 9 + 8 - k];
        const dfl_conv_desc t = transposed_desc(d);
        be->conv2d_forward(be, &t, dy, wt, NULL, dx);
        return;
    }
    conv_entry *e = entry_get(ctx, d, DFL_CPU_CONV_BWD_DATA, 0);
    conv_geometry g = geometry_of(d);
    const int haloed = g.px || g.py;
    float *dsrc = dx;
    if (haloed) dsrc = dfl_cpu_ws(be, DFL_CPU_WS_HALO, (size_t)d->n * g.hh * g.wh * d->cin * sizeof(float));
    void *scratch = dfl_cpu_ws(be, DFL_CPU_WS_SCRATCHPAD, e->scratch_bytes);
    operand_bind_input(ctx, &e->act_in, dy);
    operand_bind_input(ctx, &e->weights, w);
    operand_bind_output(ctx, &e->act_out, dsrc);
    run_primitive(ctx, e, scratch, NULL);
    operand_finish_output(ctx, &e->act_out);
    dnnlCheck(dnnl_stream_wait(ctx->stream));
    if (haloed) fold_halo(d, &g, dsrc, dx);
}

/* The direct kernel replaces oneDNN for backward-weights under the AUTO
 * policy on AVX2 CPUs where it supports the shape (forcing a layout
 * selects oneDNN). */
static int use_direct_bwd_weights(const dfl_cpu_ctx *ctx, const dfl_conv_desc *d) {
    check_desc(d);
    const dfl_cpu_conv_layout l = ctx->conv_layout[DFL_CPU_CONV_BWD_WEIGHTS];
    return (l == DFL_CPU_CONV_DIRECT || (l == DFL_CPU_CONV_AUTO && !dfl_cpu_isa_avx512())) &&
           dfl_cpu_conv_bwd_weights_direct_supported(d);
}

static void cpu_conv2d_backward_weights(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *dy,
                                        float *dw, float *db) {
    dfl_cpu_ctx *ctx = dfl_cpu_ctx_of(be);
    if (use_direct_bwd_weights(ctx, d)) {
        conv_geometry g = geometry_of(d);
        dfl_cpu_conv_bwd_weights_direct(be, d, haloed_copy(be, d, x), g.hh, g.wh, g.pad_y, g.pad_x, dy, dw, db);
        return;
    }
    conv_entry *e = entry_get(ctx, d, DFL_CPU_CONV_BWD_WEIGHTS, db != NULL);
    void *scratch = dfl_cpu_ws(be, DFL_CPU_WS_SCRATCHPAD, e->scratch_bytes);
    bind_haloed_input(be, e, x);
    operand_bind_input(ctx, &e->act_out, dy);
    operand_bind_output(ctx, &e->weights, dw);
    run_primitive(ctx, e, scratch, db);
    operand_finish_output(ctx, &e->weights);
    dnnlCheck(dnnl_stream_wait(ctx->stream));
}

void dfl_cpu_set_conv_layout(dfl_backend *be, int direction, dfl_cpu_conv_layout layout) {
    dfl_cpu_ctx *ctx = dfl_cpu_ctx_of(be);
    if (direction < 0 || direction >= DFL_CPU_CONV_NDIR) DFL_PANIC("conv layout: bad direction %d", direction);
    if (layout == DFL_CPU_CONV_DIRECT && direction != DFL_CPU_CONV_BWD_WEIGHTS)
        DFL_PANIC("conv layout: the direct kernel exists for backward-weights only");
    if (layout == DFL_CPU_CONV_TRANSPOSED && direction != DFL_CPU_CONV_BWD_DATA)
        DFL_PANIC("conv layout: the transposed forward exists for backward-data only");
    ctx->conv_layout[direction] = layout;
    dfl_cpu_conv_cache_destroy(ctx);
}

const char *dfl_cpu_conv_impl_name(dfl_backend *be, const dfl_conv_desc *d, int direction) {
    if (direction < 0 || direction >= DFL_CPU_CONV_NDIR) DFL_PANIC("conv impl: bad direction %d", direction);
    if (direction == DFL_CPU_CONV_BWD_WEIGHTS && use_direct_bwd_weights(dfl_cpu_ctx_of(be), d)) return "direct:avx2";
    if (direction == DFL_CPU_CONV_BWD_DATA && use_transposed_bwd_data(dfl_cpu_ctx_of(be), d)) {
        const dfl_conv_desc t = transposed_desc(d);
        conv_entry *e = entry_get(dfl_cpu_ctx_of(be), &t, DFL_CPU_CONV_FWD, 0);
        static _Thread_local char name[sizeof e->impl + 16];
        snprintf(name, sizeof name, "transposed-fwd:%s", e->impl);
        return name;
    }
    conv_entry *e = entry_get(dfl_cpu_ctx_of(be), d, direction, 1);
    return e->impl;
}

void dfl_cpu_register_conv_ops(dfl_backend *be) {
    be->conv2d_forward = cpu_conv2d_forward;
    be->conv2d_backward_data = cpu_conv2d_backward_data;
    be->conv2d_backward_weights = cpu_conv2d_backward_weights;
}
