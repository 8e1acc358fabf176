"""PyTorch mirror of dfl-unet v1 (docs/design.md, "The network: dfl-unet v1")
and of the dynfill training step (docs/design.md, "The method": pixel
strategy, VP schedule, query-masked MSE, AdamW with global-norm clipping,
warm-up EMA).

Parameter names and shapes are exactly those of dynfill checkpoints
(/params/<name>), so `load_dynfill_checkpoint` copies a dynfill model into
this module tensor for tensor. Layout is NCHW (PyTorch's), dynfill runs
NHWC internally; the math is the same:

- time embedding: s = 1000 t, f_i = exp(-ln(10000) i / h), i < h = base/2,
  e = [cos(s f), sin(s f)] (computed in float64, as dynfill does) ->
  Linear(base, 4 base) -> SiLU -> Linear(4 base, 4 base) = temb; every
  ResBlock projects SiLU(temb).
- every 3x3 conv pads 1: circularly along a periodic axis (the stride-2
  Downsample too), with zeros along the other axis;
- the input is zero-padded at the end (bottom rows, right columns) to a
  multiple of 2^(L-1) and the output cropped back to [0:H, 0:W];
- GroupNorm 8 groups, eps 1e-5; attention: GN (no SiLU), 1x1 qkv with rows
  q, k, v, single head, softmax_j(q_i . k_j / sqrt(c)), 1x1 proj, residual.

Runs on Debian's python3-torch 1.13 and on PyTorch 2.x from PyPI (CPU and GPU).
"""

import configparser
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GN_GROUPS = 8
GN_EPS = 1e-5

# VP schedule (docs/design.md, "The method") [ref]
BETA_MIN = 0.1
BETA_MAX = 20.0
T_EPS = 1e-3


class Conv3x3(nn.Conv2d):
    """3x3 conv, stride 1 or 2, pad 1: circular along periodic axes, zeros
    along the others. Parameters are the plain Conv2d `weight` [O, I, 3, 3]
    and `bias` [O]. Without periodic axes the conv pads natively (no copy)."""

    def __init__(self, cin, cout, stride=1, periodic_x=False, periodic_y=False):
        zero_pad = (0 if periodic_y else 1, 0 if periodic_x else 1)
        super().__init__(cin, cout, 3, stride=stride, padding=zero_pad)
        self.periodic_x = periodic_x
        self.periodic_y = periodic_y

    def forward(self, x):
        if self.periodic_x:
            x = torch.cat([x[..., -1:], x, x[..., :1]], dim=-1)
        if self.periodic_y:
            x = torch.cat([x[..., -1:, :], x, x[..., :1, :]], dim=-2)
        return super().forward(x)


class GroupNorm(nn.GroupNorm):
    """GroupNorm(8, c, eps 1e-5), computed in the parameters' precision: under
    bf16 autocast the input is cast up (what CUDA autocast does for
    group_norm anyway; CPU autocast in PyTorch 1.13 would fail on the mix)."""

    def forward(self, x):
        if x.dtype != self.weight.dtype:
            x = x.to(self.weight.dtype)
        return super().forward(x)


def _norm(c):
    return GroupNorm(GN_GROUPS, c, eps=GN_EPS, affine=True)


class ResBlock(nn.Module):
    """h = conv1(SiLU(GN(x))) + temb_proj(SiLU(temb)); h = conv2(SiLU(GN(h)));
    out = h + (skip(x) if cin != cout else x)."""

    def __init__(self, cin, cout, tdim, px, py):
        super().__init__()
        self.norm1 = _norm(cin)
        self.conv1 = Conv3x3(cin, cout, 1, px, py)
        self.temb_proj = nn.Linear(tdim, cout)
        self.norm2 = _norm(cout)
        self.conv2 = Conv3x3(cout, cout, 1, px, py)
        if cin != cout:
            self.skip = nn.Conv2d(cin, cout, 1)
        else:
            self.skip = None

    def forward(self, x, temb_silu):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(temb_silu)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = _norm(c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(n, 3, c, h * w)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # [n, c, hw]
        logits = torch.bmm(q.transpose(1, 2), k) * (1.0 / math.sqrt(c))  # [n, hw_i, hw_j]
        probs = torch.softmax(logits, dim=-1)
        att = torch.bmm(v, probs.transpose(1, 2))  # [n, c, hw_i] = sum_j p_ij v_j
        return x + self.proj(att.reshape(n, c, h, w))


class Upsample(nn.Module):
    def __init__(self, c, px, py):
        super().__init__()
        self.conv = Conv3x3(c, c, 1, px, py)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownLevel(nn.Module):
    def __init__(self, res, downsample):
        super().__init__()
        self.res = nn.ModuleList(res)
        if downsample is not None:
            self.downsample = downsample
        else:
            self.downsample = None


class UpLevel(nn.Module):
    def __init__(self, res, upsample):
        super().__init__()
        self.res = nn.ModuleList(res)
        if upsample is not None:
            self.upsample = upsample
        else:
            self.upsample = None


class Mid(nn.Module):
    def __init__(self, c, tdim, attention, px, py):
        super().__init__()
        self.res = nn.ModuleList([ResBlock(c, c, tdim, px, py), ResBlock(c, c, tdim, px, py)])
        self.attn = Attention(c) if attention else None


class Head(nn.Module):
    def __init__(self, cin, cout, px, py):
        super().__init__()
        self.norm = _norm(cin)
        self.conv = Conv3x3(cin, cout, 1, px, py)


class DflUNet(nn.Module):
    """dfl-unet v1. forward(x [N, 2C, H, W], t [N]) -> x0_hat [N, C, H, W]."""

    def __init__(self, channels=1, base=32, mult=(1, 2, 2), nres=2, attention=False, periodic="none"):
        super().__init__()
        if base % GN_GROUPS:
            raise ValueError("base must be a multiple of %d" % GN_GROUPS)
        periodic = periodic or "none"
        px, py = "x" in periodic, "y" in periodic
        self.channels, self.base, self.mult, self.nres = channels, base, tuple(mult), nres
        self.attention, self.periodic = bool(attention), periodic
        self.levels = L = len(mult)
        b, T = base, 4 * base
        self.temb = nn.Sequential(nn.Linear(b, T), nn.SiLU(), nn.Linear(T, T))
        self.stem = Conv3x3(2 * channels, b, 1, px, py)
        skip_ch = [b]
        ch = b
        down = []
        for lv in range(L):
            cl = b * mult[lv]
            res = []
            for _ in range(nres):
                res.append(ResBlock(ch, cl, T, px, py))
                ch = cl
                skip_ch.append(ch)
            ds = None
            if lv < L - 1:
                ds = Conv3x3(ch, ch, 2, px, py)
                skip_ch.append(ch)
            down.append(DownLevel(res, ds))
        self.down = nn.ModuleList(down)
        self.mid = Mid(ch, T, attention, px, py)
        up = [None] * L
        for lv in reversed(range(L)):
            cl = b * mult[lv]
            res = []
            for _ in range(nres + 1):
                res.append(ResBlock(ch + skip_ch.pop(), cl, T, px, py))
                ch = cl
            up[lv] = UpLevel(res, Upsample(ch, px, py) if lv > 0 else None)
        assert not skip_ch
        self.up = nn.ModuleList(up)  # indexed by the encoder level it mirrors
        self.head = Head(b, channels, px, py)

    def time_features(self, t, dtype=torch.float32):
        h = self.base // 2
        s = 1000.0 * t.to(torch.float64)
        i = torch.arange(h, dtype=torch.float64, device=t.device)
        f = torch.exp(-math.log(10000.0) * i / h)
        arg = s[:, None] * f[None, :]
        return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1).to(dtype)

    def forward(self, x, t):
        n, c2, H, W = x.shape
        if c2 != 2 * self.channels:
            raise ValueError("input has %d channels, the model takes %d" % (c2, 2 * self.channels))
        m = 1 << (self.levels - 1)
        hp, wp = (H + m - 1) // m * m, (W + m - 1) // m * m
        if hp != H or wp != W:
            x = F.pad(x, (0, wp - W, 0, hp - H))
        temb_silu = F.silu(self.temb(self.time_features(t, self.stem.weight.dtype)))
        h = self.stem(x)
        skips = [h]
        for lvl in self.down:
            for rb in lvl.res:
                h = rb(h, temb_silu)
                skips.append(h)
            if lvl.downsample is not None:
                h = lvl.downsample(h)
                skips.append(h)
        h = self.mid.res[0](h, temb_silu)
        if self.mid.attn is not None:
            h = self.mid.attn(h)
        h = self.mid.res[1](h, temb_silu)
        for lv in reversed(range(self.levels)):
            lvl = self.up[lv]
            for rb in lvl.res:
                h = rb(torch.cat([h, skips.pop()], dim=1), temb_silu)
            if lvl.upsample is not None:
                h = lvl.upsample(h)
        h = self.head.conv(F.silu(self.head.norm(h)))
        return h[:, :, :H, :W]


def read_dynfill_config(text):
    """[model] base, mult, nres, attention from a checkpoint's INI text."""
    cp = configparser.ConfigParser()
    cp.read_string(text)
    mdl = cp["model"]
    return dict(
        base=int(mdl.get("base", "32")),
        mult=tuple(int(v) for v in mdl.get("mult", "1,2,2").split(",")),
        nres=int(mdl.get("nres", "2")),
        attention=mdl.get("attention", "0").strip().lower() in ("1", "true", "yes", "on"),
    )


def network_channels(text, data_channels):
    """The network's channels: the data's, or 1 under [model] channels = shared
    (one one-channel network for every data channel, docs/design.md)."""
    cp = configparser.ConfigParser()
    cp.read_string(text)
    shared = cp["model"].get("channels", "joint").strip() == "shared"
    return 1 if shared else data_channels


def _attr_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if hasattr(v, "tolist") and not isinstance(v, str):
        v = v.tolist()
        if isinstance(v, list):
            v = v[0]
        if isinstance(v, bytes):
            v = v.decode()
    return str(v)


def load_dynfill_checkpoint(path, use_ema=False, device="cpu"):
    """Builds a DflUNet from a dynfill checkpoint and copies /params (or
    /ema) into it. Every tensor of the module must be in the file with the
    same shape, and every tensor in the file must be used."""
    import h5py

    with h5py.File(path, "r") as f:
        text = _attr_str(f.attrs["config"])
        cfg = read_dynfill_config(text)
        channels = network_channels(text, int(f.attrs["channels"]))
        periodic = _attr_str(f.attrs["periodic"]) if "periodic" in f.attrs else "none"
        model = DflUNet(channels=channels, periodic=periodic, **cfg)
        group = f["ema" if use_ema else "params"]
        names = []
        group.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        state = model.state_dict()
        missing = sorted(set(state) - set(names))
        extra = sorted(set(names) - set(state))
        if missing or extra:
            raise ValueError("%s: tensors missing %s, unexpected %s" % (path, missing[:5], extra[:5]))
        new_state = {}
        for name, ref in state.items():
            arr = torch.from_numpy(group[name][...])
            if tuple(arr.shape) != tuple(ref.shape):
                raise ValueError("%s: %s has shape %s, the model expects %s" % (path, name, tuple(arr.shape), tuple(ref.shape)))
            new_state[name] = arr
        model.load_state_dict(new_state)
    return model.to(device)


# ---------------------------------------------------------------------------
# training step of docs/design.md, "The method" (pixel strategy)


def vp_alpha_sigma(t):
    log_alpha = -0.25 * t * t * (BETA_MAX - BETA_MIN) - 0.5 * t * BETA_MIN
    return torch.exp(log_alpha), torch.sqrt(-torch.expm1(2.0 * log_alpha))


class Trainer:
    """One training step = method (noise, pixel context/query masks), forward,
    query-masked MSE, backward, global-norm clipping, AdamW, EMA with
    warm-up decay min(ema, (1+n)/(10+n)). Hyper-parameters default to
    dynfill's (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0, clip 1)."""

    def __init__(self, model, lr=1e-3, weight_decay=0.0, clip=1.0, ema=0.999, context_ratio=0.8,
                 query_ratio=0.7, amp_dtype=None, fused=False, query="complement", t_sampling="low_share_log",
                 t_low_share=0.9):
        self.model = model
        self.params = [p for p in model.parameters()]
        kw = dict(lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
        self.fused = False
        if fused:  # PyTorch's fastest AdamW (CUDA; CPU since 2.4); older builds take the default
            try:
                self.opt = torch.optim.AdamW(self.params, fused=True, **kw)
                self.fused = True
            except (TypeError, RuntimeError):
                self.opt = torch.optim.AdamW(self.params, **kw)
        else:
            self.opt = torch.optim.AdamW(self.params, **kw)
        self.ema_params = [p.detach().clone() for p in self.params]
        self.ema_target, self.clip = ema, clip
        self.rc, self.rq = context_ratio, query_ratio
        self.query, self.t_sampling, self.t_low_share = query, t_sampling, t_low_share
        self.amp_dtype = amp_dtype
        self.step_count = 0

    def method_inputs(self, x_obs, mask):
        """x_obs [N, C, H, W], mask [N, 1|C, H, W] bool -> network input,
        t, query mask (docs/design.md, "The method"; strategy pixel with dynfill's default query
        complement and times at t_eps for a share t_low_share, log-uniform otherwise, or the paper's
        independent query and uniform times)."""
        n, c = x_obs.shape[:2]
        dev = x_obs.device
        u = torch.rand(n, device=dev)
        t = T_EPS ** (1.0 - u) if self.t_sampling in ("log_uniform", "low_share_log") else T_EPS + (1.0 - T_EPS) * u
        if self.t_sampling in ("low_share", "low_share_log"):
            t = torch.where(torch.rand(n, device=dev) < self.t_low_share, torch.full_like(t, T_EPS), t)
        alpha, sigma = vp_alpha_sigma(t)
        eps = torch.randn_like(x_obs)
        x_t = torch.where(mask, alpha[:, None, None, None] * x_obs + sigma[:, None, None, None] * eps,
                          torch.zeros((), device=dev))
        ctx = mask & (torch.rand(mask.shape, device=dev) < self.rc)
        if self.query == "complement":
            qry = mask & ~ctx
        else:
            qry = mask & (torch.rand(mask.shape, device=dev) < self.rq)
        ctx_c = ctx.expand(n, c, *mask.shape[2:]).to(x_obs.dtype)
        qry_c = qry.expand(n, c, *mask.shape[2:]).to(x_obs.dtype)
        inp = torch.cat([ctx_c * x_t, ctx_c], dim=1)
        return inp, t, qry_c

    def step(self, x_obs, mask):
        inp, t, qry = self.method_inputs(x_obs, mask)
        if self.amp_dtype is not None:
            with torch.autocast(device_type=x_obs.device.type, dtype=self.amp_dtype):
                pred = self.model(inp, t)
        else:
            pred = self.model(inp, t)
        err = pred.float() - x_obs
        loss = (qry * err * err).sum() / qry.sum().clamp(min=1.0)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.opt.step()
        decay = min(self.ema_target, (1.0 + self.step_count) / (10.0 + self.step_count))
        with torch.no_grad():
            torch._foreach_mul_(self.ema_params, decay)
            torch._foreach_add_(self.ema_params, self.params, alpha=1.0 - decay)
        self.step_count += 1
        return loss.detach()


def forward_flops_per_sample(model, h, w):
    """Analytic forward FLOPs of one sample, counted like dynfill's
    dfl_unet_forward_flops_per_sample (convs, temb projections, attention)."""
    m = 1 << (model.levels - 1)
    hp, wp = (h + m - 1) // m * m, (w + m - 1) // m * m
    b, T, C = model.base, 4 * model.base, model.channels
    fl = 2.0 * b * T + 2.0 * T * T + 2.0 * hp * wp * 2 * C * b * 9

    def res(rb, hh, ww):
        cin, cout = rb.conv1.in_channels, rb.conv1.out_channels
        f = 2.0 * hh * ww * (cin * cout * 9 + cout * cout * 9) + 2.0 * T * cout
        if rb.skip is not None:
            f += 2.0 * hh * ww * cin * cout
        return f

    hh, ww = hp, wp
    for lvl in model.down:
        for rb in lvl.res:
            fl += res(rb, hh, ww)
        if lvl.downsample is not None:
            hh, ww = hh // 2, ww // 2
            c = lvl.downsample.in_channels
            fl += 2.0 * hh * ww * c * c * 9
    fl += res(model.mid.res[0], hh, ww) + res(model.mid.res[1], hh, ww)
    if model.mid.attn is not None:
        c, p = model.mid.attn.proj.in_channels, hh * ww
        fl += 2.0 * p * c * 3 * c + 2.0 * p * c * c + 4.0 * p * p * c
    for lv in reversed(range(model.levels)):
        lvl = model.up[lv]
        for rb in lvl.res:
            fl += res(rb, hh, ww)
        if lvl.upsample is not None:
            hh, ww = hh * 2, ww * 2
            c = lvl.upsample.conv.in_channels
            fl += 2.0 * hh * ww * c * c * 9
    fl += 2.0 * hp * wp * b * C * 9
    return fl
