/* `dynfill forward --ckpt C.h5 --in X.h5 --out Y.h5`: the raw network on
 * /input [N, 2C, H, W] and /t [N], writing /output [N, C, H, W] (NCHW, as
 * PyTorch mirrors of the network expect). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "core/memory.h"
#include "dynfill/checkpoint.h"
#include "io/h5_util.h"

static const char k_usage[] =
    "usage: dynfill forward --ckpt CKPT.h5 --in X.h5 --out Y.h5 [--ema] [--batch B] [--backend cpu|cuda|auto]\n"
    "Runs dfl-unet on /input float32 [N, 2C, H, W] and /t float32 [N]; writes /output [N, C, H, W].\n"
    "  --ema      use the EMA weights instead of the raw parameters\n"
    "  --batch B  samples per forward pass (default 8)\n";

enum { OPT_CKPT = 256, OPT_IN, OPT_OUT, OPT_EMA, OPT_BATCH, OPT_BACKEND };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"ckpt", required_argument, NULL, OPT_CKPT},
    {"in", required_argument, NULL, OPT_IN},
    {"out", required_argument, NULL, OPT_OUT},
    {"ema", no_argument, NULL, OPT_EMA},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static dfl_status run_forward(const char *ckpt, const char *in, const char *out, int use_ema, int batch,
                              const char *backend) {
    dfl_backend *be = dfl_backend_create(backend, DFL_PRECISION_FP32);
    if (!be) return DFL_EUSAGE;
    dfl_config cfg;
    dfl_ckpt_meta meta;
    dfl_unet *m = NULL;
    dfl_status s = dfl_checkpoint_build_model(ckpt, be, use_ema, &cfg, &meta, &m);
    if (s != DFL_OK) {
        dfl_backend_destroy(be);
        return s;
    }
    int C = dfl_unet_get_config(m)->channels; /* the network's (1 under model.channels = shared) */
    hid_t f = -1;
    float *x = NULL, *t = NULL, *y = NULL;
    int rank;
    unsigned long long dims[8], tdims[8];
    if ((s = dfl_h5_open_read(in, &f)) != DFL_OK) goto done;
    if ((s = dfl_h5_dataset_shape(f, in, "/input", &rank, dims)) != DFL_OK) goto done;
    if (rank != 4 || dims[1] != (unsigned long long)(2 * C)) {
        s = dfl_fail(DFL_EUSAGE, "%s: /input must be [N, %d, H, W] for this %d-channel model", in, 2 * C, C);
        goto done;
    }
    int trank;
    if ((s = dfl_h5_dataset_shape(f, in, "/t", &trank, tdims)) != DFL_OK) goto done;
    if (trank != 1 || tdims[0] != dims[0]) {
        s = dfl_fail(DFL_EUSAGE, "%s: /t must be [N] with N = %llu", in, dims[0]);
        goto done;
    }
    size_t N = dims[0], H = dims[2], W = dims[3];
    size_t in_per = 2 * C * H * W, out_per = C * H * W;
    {
        /* refuse before allocating what does not fit (docs/scaling.md, "Memory") */
        size_t B = (size_t)batch < N ? (size_t)batch : N;
        dfl_unet_plan_size ps;
        if ((s = dfl_unet_plan_measure(m, (int)B, (int)H, (int)W, 0, &ps)) != DFL_OK) goto done;
        /* backend: parameters, plan, d_x, d_xh, d_t, d_y, d_yc; host: the whole file's x, t, y */
        size_t dev =
            dfl_unet_num_params(m) * sizeof(float) + ps.arena_bytes + (B * 2 * (in_per + out_per) + B) * sizeof(float);
        size_t host = (N * (in_per + out_per) + N) * sizeof(float);
        size_t big = ps.largest_bytes > B * in_per * sizeof(float) ? ps.largest_bytes : B * in_per * sizeof(float);
        /* on a device (CUDA) its own buffers with the CUDA estimate; on host memory everything */
        size_t need = be->memory_info ? dfl_backend_plan_need(be, dev, big) : dev + host;
        const char *src = NULL;
        size_t avail = dfl_backend_memory_available(be, &src);
        if ((s = dfl_memory_check(need, avail, src, "forward", "--batch (or pass fewer samples in --in)")) != DFL_OK)
            goto done;
    }
    x = dfl_xmalloc(N * in_per * sizeof(float));
    t = dfl_xmalloc(N * sizeof(float));
    y = dfl_xmalloc(N * out_per * sizeof(float));
    if ((s = dfl_h5_read_float(f, in, "/input", x, N * in_per)) != DFL_OK) goto done;
    if ((s = dfl_h5_read_float(f, in, "/t", t, N)) != DFL_OK) goto done;
    size_t B = N && (size_t)batch > N ? N : (size_t)batch; /* at most N, as the check above counted */
    float *d_x = be->alloc(be, B * in_per * sizeof(float)), *d_xh = be->alloc(be, B * in_per * sizeof(float));
    float *d_t = be->alloc(be, B * sizeof(float));
    float *d_y = be->alloc(be, B * out_per * sizeof(float)), *d_yc = be->alloc(be, B * out_per * sizeof(float));
    for (size_t i0 = 0; i0 < N && s == DFL_OK; i0 += B) {
        int nb = (int)(N - i0 < B ? N - i0 : B);
        if ((s = dfl_unet_plan_inference(m, nb, (int)H, (int)W)) != DFL_OK) break;
        be->upload(be, d_x, x + i0 * in_per, (size_t)nb * in_per * sizeof(float));
        be->upload(be, d_t, t + i0, (size_t)nb * sizeof(float));
        be->nchw_to_nhwc(be, nb, 2 * C, (int)H, (int)W, d_x, d_xh);
        dfl_unet_forward(m, d_xh, d_t, d_y);
        be->nhwc_to_nchw(be, nb, C, (int)H, (int)W, d_y, d_yc);
        be->download(be, y + i0 * out_per, d_yc, (size_t)nb * out_per * sizeof(float));
    }
    be->free(be, d_x);
    be->free(be, d_xh);
    be->free(be, d_t);
    be->free(be, d_y);
    be->free(be, d_yc);
    if (s == DFL_OK) {
        hid_t o;
        if ((s = dfl_h5_create(out, &o)) == DFL_OK) {
            unsigned long long od[4] = {N, (unsigned long long)C, H, W};
            s = dfl_h5_write_float(o, "/output", 4, od, y);
            dfl_status c = h5CheckWrite(o, H5Fclose(o));
            if (s == DFL_OK) s = c;
        }
    }
done:
    if (f >= 0) H5Fclose(f);
    free(x);
    free(t);
    free(y);
    dfl_unet_destroy(m);
    dfl_ckpt_meta_free(&meta);
    dfl_backend_destroy(be);
    return s;
}

int dfl_cmd_forward(int argc, char **argv) {
    const char *ckpt = NULL, *in = NULL, *out = NULL, *backend = "cpu", *name;
    int use_ema = 0, c;
    long batch = 8;
    dfl_status ps = DFL_OK;
    dfl_opt_begin();
    while (ps == DFL_OK && (c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': fputs(k_usage, stdout); return 0;
        case OPT_CKPT: ckpt = optarg; break;
        case OPT_IN: in = optarg; break;
        case OPT_OUT: out = optarg; break;
        case OPT_BACKEND: backend = optarg; break;
        case OPT_BATCH: ps = dfl_cli_parse_int(name, optarg, 1, 1 << 20, &batch); break;
        case OPT_EMA: use_ema = 1; break;
        default: ps = DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    if (ps == DFL_OK) ps = dfl_opt_positionals(argc, argv, 0);
    if (ps != DFL_OK) return dfl_cli_exit("forward", ps);
    if (!ckpt || !in || !out) {
        fputs(k_usage, stderr);
        return dfl_cli_exit("forward", dfl_fail(DFL_EUSAGE, "--ckpt, --in and --out are required"));
    }
    return dfl_cli_exit("forward", run_forward(ckpt, in, out, use_ema, (int)batch, backend));
}
