"""Goldens for the fused selective 2-D scan (dev.lumen.ops.SelectiveScan), VMamba's SS2D core.

Written the way VMamba's pure-PyTorch path does it: cross-scan x into 4 routes (row-major,
column-major, and both flipped), run the selective scan of mamba's selective_scan_ref as a
Python loop over L, and cross-merge the routes back. Autograd of this loop gives the gradients.
"""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden


def cross_scan(x):
    b, d, h, w = x.shape
    fwd = torch.stack([x.flatten(2), x.transpose(2, 3).flatten(2)], dim=1)  # [B,2,D,L]
    return torch.cat([fwd, fwd.flip(-1)], dim=1)  # [B,4,D,L]


def cross_merge(ys, h, w):
    b, k, d, l = ys.shape
    y = ys[:, 0:2] + ys[:, 2:4].flip(-1)
    return y[:, 0].view(b, d, h, w) + y[:, 1].view(b, d, w, h).transpose(2, 3)


def selective_scan_2d(x, delta, A, Bs, Cs, Ds, bias):
    b, d, h, w = x.shape
    n = Bs.shape[2]
    us = cross_scan(x)  # [B,4,D,L]
    k = us.shape[1]
    dt = F.softplus(delta + bias.view(1, k, d, 1))  # [B,4,D,L]
    a = A.view(1, k, d, n)
    state = x.new_zeros(b, k, d, n)
    ys = []
    for l in range(h * w):
        decay = torch.exp(dt[..., l, None] * a)
        state = decay * state + (dt[..., l] * us[..., l])[..., None] * Bs[:, :, None, :, l]
        ys.append((state * Cs[:, :, None, :, l]).sum(-1))
    ys = torch.stack(ys, dim=-1) + us * Ds.view(1, k, d, 1)
    return cross_merge(ys, h, w)


def inputs(b, d, h, w, n, gen):
    l = h * w
    return [torch.randn(b, d, h, w, generator=gen),
            0.5 * torch.randn(b, 4, d, l, generator=gen),
            -torch.exp(0.5 * torch.randn(4 * d, n, generator=gen)),
            torch.randn(b, 4, n, l, generator=gen),
            torch.randn(b, 4, n, l, generator=gen),
            torch.randn(4 * d, generator=gen),
            torch.rand(4 * d, generator=gen) - 2.0]


gen = torch.Generator().manual_seed(0)
s = {}
run_case(s, "s2x3x3x4n2", selective_scan_2d, inputs(2, 3, 3, 4, 2, gen))
run_case(s, "s1x2x5x5n1", selective_scan_2d, inputs(1, 2, 5, 5, 1, gen))
run_case(s, "s1x17x4x7n16", selective_scan_2d, inputs(1, 17, 4, 7, 16, gen))
save(engine_golden("selective_scan"), s, {"torch": torch.__version__})
