"""Golden for the RepLKNet family (models/src/test/resources/golden/model_replknet.safetensors).

A PyTorch RepLKNet with the module layout and parameter names of the official
DingXiaoH/RepLKNet-pytorch replknet.py (stem.i, stages.s.blocks.b with RepLKBlock / ConvFFN,
transitions.s, norm, head; conv_bn pairs as .conv / .bn; the large-kernel branch as
large_kernel.lkb_origin and large_kernel.small_conv, or large_kernel.lkb_reparam once merged),
in tiny widths. Two cases:
  "tiny":    channels [8, 16, 24, 32], layers [1, 1, 1, 1], kernels [7, 7, 5, 3], small kernel 3,
             dw_ratio 1 (the 31B/31L design);
  "tiny_xl": channels [8, 16, 16, 24], layers [1, 1, 1, 1], kernels [7, 5, 5, 3], no small kernel,
             dw_ratio 1.5 (the XL design).
For each it saves the random weights ("<case>.w.<name>", BN affine parameters and running
statistics included), an input batch 2x3x48x48 (maps 12, 6, 3, 2: kernels larger than the map),
labels, the training-mode logits and cross-entropy loss, every parameter's gradient
("<case>.g.<name>"), the running statistics after that step ("<case>.w_after.<name>"), the
eval-mode logits, and, after the official structural re-parameterization (merge_kernel), the
re-parameterized state dict ("<case>.rep.<name>") and its eval logits. The weights are also
written by torch.save as model_replknet_<case>.pth for the .pth loader.

Run with /usr/bin/python3. `--counts` prints the parameter counts of the published variants;
`--bench` times one training step (forward, backward, AdamW) of the "tiny" case at batch 2 with
2 threads.
"""
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import randomize_bn_aware, record_train_step, save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")


def conv_bn(cin, cout, k, stride, pad, groups, relu=False):
    m = nn.Sequential()
    m.add_module("conv", nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False))
    m.add_module("bn", nn.BatchNorm2d(cout))
    if relu:
        m.add_module("nonlinear", nn.ReLU())
    return m


def bn_fold(conv, bn):
    """The kernel and bias of conv followed by bn in eval mode."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    return conv.weight * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


class LargeKernel(nn.Module):
    """ReparamLargeKernelConv: depth-wise k x k conv_bn plus a parallel small conv_bn."""

    def __init__(self, ch, k, small):
        super().__init__()
        self.k, self.small = k, small
        self.lkb_origin = conv_bn(ch, ch, k, 1, k // 2, ch)
        if small is not None:
            self.small_conv = conv_bn(ch, ch, small, 1, small // 2, ch)

    def forward(self, x):
        if hasattr(self, "lkb_reparam"):
            return self.lkb_reparam(x)
        y = self.lkb_origin(x)
        if hasattr(self, "small_conv"):
            y = y + self.small_conv(x)
        return y

    def merge(self):
        w, b = bn_fold(self.lkb_origin.conv, self.lkb_origin.bn)
        if hasattr(self, "small_conv"):
            ws, bs = bn_fold(self.small_conv.conv, self.small_conv.bn)
            p = (self.k - self.small) // 2
            w = w + F.pad(ws, [p, p, p, p])
            b = b + bs
        ch = w.shape[0]
        self.lkb_reparam = nn.Conv2d(ch, ch, self.k, 1, self.k // 2, groups=ch, bias=True)
        self.lkb_reparam.weight.data = w.detach()
        self.lkb_reparam.bias.data = b.detach()
        del self.lkb_origin
        if hasattr(self, "small_conv"):
            del self.small_conv


class RepLKBlock(nn.Module):
    def __init__(self, ch, dw, k, small):
        super().__init__()
        self.pw1 = conv_bn(ch, dw, 1, 1, 0, 1, relu=True)
        self.pw2 = conv_bn(dw, ch, 1, 1, 0, 1)
        self.large_kernel = LargeKernel(dw, k, small)
        self.lk_nonlinear = nn.ReLU()
        self.prelkb_bn = nn.BatchNorm2d(ch)

    def forward(self, x):
        return x + self.pw2(self.lk_nonlinear(self.large_kernel(self.pw1(self.prelkb_bn(x)))))


class ConvFFN(nn.Module):
    def __init__(self, ch, hidden):
        super().__init__()
        self.preffn_bn = nn.BatchNorm2d(ch)
        self.pw1 = conv_bn(ch, hidden, 1, 1, 0, 1)
        self.pw2 = conv_bn(hidden, ch, 1, 1, 0, 1)
        self.nonlinear = nn.GELU()

    def forward(self, x):
        return x + self.pw2(self.nonlinear(self.pw1(self.preffn_bn(x))))


class Stage(nn.Module):
    def __init__(self, ch, n, k, small, dw_ratio, ffn_ratio):
        super().__init__()
        blocks = []
        for _ in range(n):
            blocks.append(RepLKBlock(ch, int(ch * dw_ratio), k, small))
            blocks.append(ConvFFN(ch, int(ch * ffn_ratio)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class RepLKNet(nn.Module):
    def __init__(self, kernels, layers, channels, small, dw_ratio=1, ffn_ratio=4, num_classes=1000):
        super().__init__()
        c0 = channels[0]
        self.stem = nn.ModuleList([conv_bn(3, c0, 3, 2, 1, 1, True), conv_bn(c0, c0, 3, 1, 1, c0, True),
                                   conv_bn(c0, c0, 1, 1, 0, 1, True), conv_bn(c0, c0, 3, 2, 1, c0, True)])
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        for s in range(len(layers)):
            self.stages.append(Stage(channels[s], layers[s], kernels[s], small, dw_ratio, ffn_ratio))
            if s < len(layers) - 1:
                self.transitions.append(nn.Sequential(conv_bn(channels[s], channels[s + 1], 1, 1, 0, 1, True),
                                                      conv_bn(channels[s + 1], channels[s + 1], 3, 2, 1, channels[s + 1], True)))
        self.norm = nn.BatchNorm2d(channels[-1])
        self.head = nn.Linear(channels[-1], num_classes)

    def forward(self, x):
        for m in self.stem:
            x = m(x)
        for s, stage in enumerate(self.stages):
            x = stage(x)
            if s < len(self.transitions):
                x = self.transitions[s](x)
        return self.head(self.norm(x).mean((2, 3)))

    def structural_reparam(self):
        for m in self.modules():
            if isinstance(m, LargeKernel):
                m.merge()


def case(store, name, model, gen):
    randomize_bn_aware(model, gen, 2.0)
    x = torch.randn(2, 3, 48, 48, generator=gen)
    record_train_step(store, name, model, x, torch.tensor([3, 7]), os.path.join(OUT, f"model_replknet_{name}.pth"))
    with torch.no_grad():
        model.structural_reparam()
        for k, v in model.state_dict().items():
            store[f"{name}.rep.{k}"] = v.clone()
        store[f"{name}.rep_logits"] = model(x)


def tiny():
    return RepLKNet([7, 7, 5, 3], [1, 1, 1, 1], [8, 16, 24, 32], 3, num_classes=10)


def tiny_xl():
    return RepLKNet([7, 5, 5, 3], [1, 1, 1, 1], [8, 16, 16, 24], None, dw_ratio=1.5, num_classes=10)


VARIANTS = {
    "replknet_31b": ([31, 29, 27, 13], [2, 2, 18, 2], [128, 256, 512, 1024], 5, 1),
    "replknet_31l": ([31, 29, 27, 13], [2, 2, 18, 2], [192, 384, 768, 1536], 5, 1),
    "replknet_xl": ([27, 27, 27, 13], [2, 2, 18, 2], [256, 512, 1024, 2048], None, 1.5),
}


def counts():
    for name, (k, l, c, s, r) in VARIANTS.items():
        m = RepLKNet(k, l, c, s, dw_ratio=r)
        n = sum(p.numel() for p in m.parameters())
        m.structural_reparam()
        print(name, n, "deploy", sum(p.numel() for p in m.parameters()))
        del m


def bench():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(2, 3, 48, 48)
    labels = torch.tensor([3, 7])
    for _ in range(10):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        opt.step()
    steps, walls = 50, []
    cpu0 = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        opt.step()
        walls.append(time.perf_counter() - t0)
    cpu = (time.process_time() - cpu0) / steps
    walls.sort()
    print("torch tiny replknet train step (batch 2, 48x48, 2 threads): CPU %.1f ms per step, wall median %.1f ms (min %.1f)"
          % (1e3 * cpu, 1e3 * walls[steps // 2], 1e3 * walls[0]))


def main():
    if "--counts" in sys.argv:
        counts()
        return
    if "--bench" in sys.argv:
        bench()
        return
    gen = torch.Generator().manual_seed(2031)
    store = {}
    case(store, "tiny", tiny(), gen)
    case(store, "tiny_xl", tiny_xl(), gen)
    save(os.path.join(OUT, "model_replknet.safetensors"), store)


if __name__ == "__main__":
    main()
