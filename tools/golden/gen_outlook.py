"""Goldens for the outlook attention core (dev.lumen.ops.OutlookAttention).

The math is VOLO's OutlookAttention.forward between its linear layers: unfold v with the
window (k, p, s), softmax(scale * logits) over the last axis, a batched matmul, and fold back
to [H, W]. Stride 1 here is the fold formulation (as the original VOLO release and timm write
it for any stride).
"""
import math

import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)


def outlook(v, logits, k, p, s, scale):
    B, H, W, C = v.shape
    heads = logits.shape[3]
    h, w = math.ceil(H / s), math.ceil(W / s)
    vu = F.unfold(v.permute(0, 3, 1, 2), kernel_size=k, padding=p, stride=s)
    vu = vu.reshape(B, heads, C // heads, k * k, h * w).permute(0, 1, 4, 3, 2)
    attn = logits.reshape(B, h * w, heads, k * k, k * k).permute(0, 2, 1, 3, 4)
    attn = (attn * scale).softmax(dim=-1)
    x = (attn @ vu).permute(0, 1, 4, 3, 2).reshape(B, C * k * k, h * w)
    x = F.fold(x, output_size=(H, W), kernel_size=k, padding=p, stride=s)
    return x.permute(0, 2, 3, 1)


s = {}
for name, (B, H, W, C, heads, k, p, st) in {
    "s2_7x7": (2, 7, 7, 6, 2, 3, 1, 2),
    "s2_6x9": (1, 6, 9, 8, 4, 3, 1, 2),
    "s1_5x5": (2, 5, 5, 6, 3, 3, 1, 1),
    "s1_4x7": (1, 4, 7, 4, 1, 3, 1, 1),
}.items():
    h, w = math.ceil(H / st), math.ceil(W / st)
    v = torch.randn(B, H, W, C)
    logits = 2 * torch.randn(B, h, w, heads, k * k, k * k)
    scale = (C // heads) ** -0.5
    run_case(s, name, lambda a, b: outlook(a, b, k, p, st, scale), [v, logits])
    s[name + ".scale"] = torch.tensor([scale], dtype=torch.float64)
save(engine_golden("outlook"), s, {"torch": torch.__version__})
