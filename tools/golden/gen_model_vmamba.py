"""Golden for the VMamba family (models/src/test/resources/golden/model_vmamba.safetensors).

A PyTorch VSSM with the parameter names and module math of the official
MzeroMiko/VMamba classification/models/vmamba.py: patch_embed, layers.i.blocks.j (VSSBlock:
norm, op = SS2D, norm2, mlp.fc1/fc2), layers.i.downsample, classifier.norm/head. The v2
layout is channel-first (norm_layer "ln2d", forward_type "v05_noz": no z gate, SS2D
projections as 1x1 maps, patch embed v2, downsample v3); the v0 layout is channels-last
(norm_layer "ln", forward_type "v0": SiLU-gated z branch, no MLP, patch embed v1,
PatchMerging2D downsample). mamba_ssm is not installed, so the selective scan is written as
selective_scan_ref does it: a plain loop over the sequence, with the four cross-scan routes.

Cases (depths [1, 1, 1, 1], random weights, input 2x3x36x36 so that the stages see 9x9 (81
steps, more than one 64-step chunk of the Java scan), 5x5, 3x3 and 2x2 maps):
  s1: v2, dims 4, d_state 1, ssm_ratio 1.0 (the vmamba_tiny s1l8 recipe)
  s4: v2, dims 4, d_state 4, ssm_ratio 2.0 (the vmamba_small/base s2l15 recipe, larger state)
  v0: v0, dims 4, d_state 16, ssm_ratio 2.0, no MLP (the vanilla vssm_tiny recipe)
For each it saves the weights ("<case>.w.<name>"), input, labels, training-mode logits and
cross-entropy loss, and every parameter's gradient ("<case>.g.<name>"); the weights also go
through torch.save as model_vmamba_<case>.pth. It prints the parameter counts of the six
published configurations and vmamba_tiny's MACs at 224x224 (as MacCounter counts them), and
with --bench the CPU time of one training step (forward, backward, AdamW) of each tiny case
at 2 threads.
"""
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import record_train_step, save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")
K = 4


# ---------------------------------------------------------------- the fused 2-D selective scan

def cross_scan(x):
    """[B, D, H, W] -> [B, 4, D, L]: row-major, column-major, and both reversed."""
    rows = x.flatten(2)
    cols = x.transpose(2, 3).flatten(2)
    fwd = torch.stack([rows, cols], dim=1)
    return torch.cat([fwd, fwd.flip(-1)], dim=1)


def cross_merge(ys, h, w):
    """[B, 4, D, L] -> [B, D, H, W]: each route's outputs put back at their (h, w) and summed."""
    b, _, d, _ = ys.shape
    y = ys[:, 0:2] + ys[:, 2:4].flip(-1)
    return y[:, 0].reshape(b, d, h, w) + y[:, 1].reshape(b, d, w, h).transpose(2, 3)


def selective_scan_ref(u, delta, A, Bs, Cs, Ds, delta_bias):
    """mamba's selective_scan_ref over routes: u, delta [B, K, D, L]; A [K*D, N]; Bs, Cs [B, K, N, L]."""
    b, k, d, l = u.shape
    n = A.shape[1]
    dt = F.softplus(delta + delta_bias.view(1, k, d, 1))
    a = A.view(1, k, d, n)
    state = u.new_zeros(b, k, d, n)
    ys = []
    for i in range(l):
        state = torch.exp(dt[..., i, None] * a) * state + (dt[..., i] * u[..., i])[..., None] * Bs[:, :, None, :, i]
        ys.append((state * Cs[:, :, None, :, i]).sum(-1))
    return torch.stack(ys, dim=-1) + u * Ds.view(1, k, d, 1)


# ---------------------------------------------------------------- layers

class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of [B, C, H, W] (the official ln2d)."""

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


class Linear2d(nn.Linear):
    """A Linear applied at every position of [B, C, H, W] (weight [out, in], as the official Linear2d)."""

    def forward(self, x):
        return F.conv2d(x, self.weight[:, :, None, None], self.bias)


class Permute(nn.Module):
    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class Mlp(nn.Module):
    def __init__(self, dim, hidden, channel_first):
        super().__init__()
        lin = Linear2d if channel_first else nn.Linear
        self.fc1 = lin(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = lin(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SS2D(nn.Module):
    def __init__(self, d_model, d_state, ssm_ratio, dt_rank, d_conv, conv_bias, forward_type, channel_first):
        super().__init__()
        d_inner = int(ssm_ratio * d_model)
        r = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        self.r, self.n, self.channel_first = r, d_state, channel_first
        self.with_z = not forward_type.endswith("_noz")
        lin = Linear2d if channel_first else nn.Linear
        self.out_norm = LayerNorm2d(d_inner) if channel_first else nn.LayerNorm(d_inner)
        self.in_proj = lin(d_model, d_inner * (2 if self.with_z else 1), bias=False)
        self.act = nn.SiLU()
        self.conv2d = nn.Conv2d(d_inner, d_inner, d_conv, padding=(d_conv - 1) // 2, groups=d_inner, bias=conv_bias)
        self.x_proj_weight = nn.Parameter(torch.randn(K, r + 2 * d_state, d_inner))
        self.out_proj = lin(d_inner, d_model, bias=False)
        self.dt_projs_weight = nn.Parameter(torch.randn(K, d_inner, r))
        self.dt_projs_bias = nn.Parameter(torch.randn(K, d_inner))
        self.A_logs = nn.Parameter(torch.randn(K * d_inner, d_state))
        self.Ds = nn.Parameter(torch.ones(K * d_inner))

    def core(self, x):
        b, d, h, w = x.shape
        xs = cross_scan(x)
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, Bs, Cs = torch.split(x_dbl, [self.r, self.n, self.n], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        ys = selective_scan_ref(xs, dts, -torch.exp(self.A_logs), Bs, Cs, self.Ds, self.dt_projs_bias.view(-1))
        return cross_merge(ys, h, w)

    def forward(self, x):
        x = self.in_proj(x)
        if self.with_z:
            x, z = x.chunk(2, dim=1 if self.channel_first else -1)
            z = self.act(z)
        if not self.channel_first:
            x = x.permute(0, 3, 1, 2)
        x = self.act(self.conv2d(x))
        y = self.core(x)
        if not self.channel_first:
            y = y.permute(0, 2, 3, 1)
        y = self.out_norm(y)
        if self.with_z:
            y = y * z
        return self.out_proj(y)


class VSSBlock(nn.Module):
    def __init__(self, dim, cfg, norm):
        super().__init__()
        self.norm = norm(dim)
        self.op = SS2D(dim, cfg["d_state"], cfg["ssm_ratio"], "auto", 3, cfg["conv_bias"], cfg["forward_type"], cfg["channel_first"])
        self.mlp_branch = cfg["mlp_ratio"] > 0
        if self.mlp_branch:
            self.norm2 = norm(dim)
            self.mlp = Mlp(dim, int(dim * cfg["mlp_ratio"]), cfg["channel_first"])

    def forward(self, x):
        x = x + self.op(self.norm(x))
        if self.mlp_branch:
            x = x + self.mlp(self.norm2(x))
        return x


class PatchMerging2D(nn.Module):
    """Channels-last 2x2 merge: pad odd sides, concat the four phases, LayerNorm, Linear 4C -> 2C."""

    def __init__(self, dim, out_dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        h, w = x.shape[1:3]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))


class VSSM(nn.Module):
    def __init__(self, dims, depths, d_state, ssm_ratio, mlp_ratio, v0, num_classes=1000, in_chans=3):
        super().__init__()
        cf = not v0
        cfg = dict(d_state=d_state, ssm_ratio=ssm_ratio, mlp_ratio=mlp_ratio, channel_first=cf,
                   conv_bias=v0, forward_type="v0" if v0 else "v05_noz")
        norm = LayerNorm2d if cf else nn.LayerNorm
        dims = [dims * 2 ** i for i in range(4)]
        ident = nn.Identity
        if v0:  # patch embed v1: 4x4 stride-4 conv, then (channels-last) LayerNorm
            self.patch_embed = nn.Sequential(nn.Conv2d(in_chans, dims[0], 4, 4), Permute(0, 2, 3, 1), nn.LayerNorm(dims[0]))
        else:  # patch embed v2: two 3x3 stride-2 convs, norm + GELU between, norm after
            h = dims[0] // 2
            self.patch_embed = nn.Sequential(nn.Conv2d(in_chans, h, 3, 2, 1), ident(), norm(h), ident(), nn.GELU(),
                                             nn.Conv2d(h, dims[0], 3, 2, 1), ident(), norm(dims[0]))
        self.layers = nn.ModuleList()
        for i in range(4):
            if i == 3:
                down = ident()
            elif v0:
                down = PatchMerging2D(dims[i], dims[i + 1])
            else:  # downsample v3: 3x3 stride-2 conv + norm
                down = nn.Sequential(ident(), nn.Conv2d(dims[i], dims[i + 1], 3, 2, 1), ident(), norm(dims[i + 1]))
            layer = nn.Sequential()
            layer.add_module("blocks", nn.Sequential(*[VSSBlock(dims[i], cfg, norm) for _ in range(depths[i])]))
            layer.add_module("downsample", down)
            self.layers.append(layer)
        self.classifier = nn.Sequential()
        self.classifier.add_module("norm", norm(dims[-1]))
        self.classifier.add_module("permute", ident() if cf else Permute(0, 3, 1, 2))
        self.classifier.add_module("avgpool", nn.AdaptiveAvgPool2d(1))
        self.classifier.add_module("flatten", nn.Flatten(1))
        self.classifier.add_module("head", nn.Linear(dims[-1], num_classes))

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.classifier(x)


PUBLISHED = [
    # name, official config, dims, depths, d_state, ssm_ratio, mlp_ratio, v0
    ("vmamba_tiny", "vssm1_tiny_0230s (s1l8)", 96, [2, 2, 8, 2], 1, 1.0, 4.0, False),
    ("vmamba_small", "vssm1_small_0229 (s2l15)", 96, [2, 2, 15, 2], 1, 2.0, 4.0, False),
    ("vmamba_base", "vssm1_base_0229 (s2l15)", 128, [2, 2, 15, 2], 1, 2.0, 4.0, False),
    ("vmamba_tiny_v0", "vssm_tiny (v0)", 96, [2, 2, 9, 2], 16, 2.0, 0.0, True),
    ("vmamba_small_v0", "vssm_small (v0)", 96, [2, 2, 27, 2], 16, 2.0, 0.0, True),
    ("vmamba_base_v0", "vssm_base (v0)", 128, [2, 2, 27, 2], 16, 2.0, 0.0, True),
]

CASES = {
    "s1": dict(dims=4, depths=[1, 1, 1, 1], d_state=1, ssm_ratio=1.0, mlp_ratio=4.0, v0=False),
    "s4": dict(dims=4, depths=[1, 1, 1, 1], d_state=4, ssm_ratio=2.0, mlp_ratio=4.0, v0=False),
    "v0": dict(dims=4, depths=[1, 1, 1, 1], d_state=16, ssm_ratio=2.0, mlp_ratio=0.0, v0=True),
}


def randomize(model, gen):
    """Weights at scales where every path matters: norms near 1, A_logs as log(1..N) plus noise."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "A_logs":
                n = t.shape[1]
                t.copy_(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).expand_as(t) + 0.3 * torch.randn(t.shape, generator=gen))
            elif leaf == "Ds":
                t.copy_(1 + 0.5 * torch.randn(t.shape, generator=gen))
            elif leaf == "dt_projs_bias":
                t.copy_(torch.rand(t.shape, generator=gen) * 2 - 3)
            elif leaf == "dt_projs_weight":
                t.copy_((torch.rand(t.shape, generator=gen) * 2 - 1) * t.shape[2] ** -0.5)
            elif leaf == "x_proj_weight":
                t.copy_(torch.randn(t.shape, generator=gen) * t.shape[2] ** -0.5)
            elif leaf == "weight" and t.dim() == 1:
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.75)
            elif leaf == "bias":
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * math.sqrt(1.0 / fan_in))


def case(store, name, gen):
    model = VSSM(num_classes=10, **CASES[name])
    randomize(model, gen)
    x = torch.randn(2, 3, 36, 36, generator=gen)
    record_train_step(store, name, model, x, torch.tensor([3, 7]), os.path.join(OUT, f"model_vmamba_{name}.pth"), eval_logits=False)


def bench():
    """CPU time (process, all threads) of one training step of each tiny case: mean of 10 after 2 warm-ups."""
    torch.set_num_threads(2)
    for name, c in CASES.items():
        model = VSSM(num_classes=10, **c)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
        x = torch.randn(2, 3, 36, 36)
        labels = torch.tensor([3, 7])
        for i in range(12):
            if i == 2:
                c0, w0 = time.process_time(), time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(model(x), labels).backward()
            opt.step()
        cpu, wall = (time.process_time() - c0) / 10, (time.perf_counter() - w0) / 10
        print(f"torch {name}: train step cpu {cpu * 1000:.1f} ms (wall {wall * 1000:.1f} ms), batch 2, 36x36, 2 threads")


def count_macs(model, size):
    """MACs of one image as dev.lumen.models.MacCounter counts them: convs, linears, the two
    SS2D projections, and the scan's 9 B L K D N + B K D L (norms and element-wise ops: 0)."""
    total = [0]

    def conv(m, inp, out):
        total[0] += out.numel() * m.weight[0].numel()

    def linear(m, inp, out):
        total[0] += out.numel() * m.in_features

    def ss2d(m, inp, out):
        b, d, h, w = m.scan_input_shape
        l, c = h * w, m.r + 2 * m.n
        total[0] += b * K * c * l * d + b * K * d * l * m.r + 9 * b * l * K * d * m.n + b * K * d * l

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            mod.register_forward_hook(conv)
        elif isinstance(mod, nn.Linear):
            mod.register_forward_hook(linear)
        elif isinstance(mod, SS2D):
            mod.register_forward_hook(ss2d)
            core = mod.core

            def recording(x, mod=mod, core=core):
                mod.scan_input_shape = x.shape
                return core(x)
            mod.core = recording
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, 3, size, size))
    return total[0]


def main():
    if "--bench" in sys.argv:
        bench()
        return
    gen = torch.Generator().manual_seed(2024)
    store = {}
    for name in CASES:
        case(store, name, gen)
    save(os.path.join(OUT, "model_vmamba.safetensors"), store, {"torch": torch.__version__})
    for name, official, dims, depths, n, ratio, mlp, v0 in PUBLISHED:
        m = VSSM(dims, depths, n, ratio, mlp, v0)
        print(name, official, sum(p.numel() for p in m.parameters()))
    # the 224x224 MACs are slow to get through the Python scan loop: only for the smallest one
    print("vmamba_tiny MACs at 224:", count_macs(VSSM(96, [2, 2, 8, 2], 1, 1.0, 4.0, False), 224))


if __name__ == "__main__":
    main()
