"""PyTorch 1.13 peer of the fused selective 2-D scan (dev.lumen.ops.SelectiveScan), on the CPU.

The computation as users write it without the CUDA extension: cross-scan x into 4 routes,
mamba's selective_scan_ref recurrence as a Python loop over L with torch ops, cross-merge.
Same shapes as bench/src/main/java/dev/lumen/bench/SelectiveScanBench.java. Prints one line
per case: `peer selective_scan_2d <case> <forward|forward_backward> <milliseconds> ms`.
"""
import sys
import time

import torch
import torch.nn.functional as F


def selective_scan_2d(x, delta, A, Bs, Cs, Ds, bias):
    b, d, h, w = x.shape
    n = Bs.shape[2]
    fwd = torch.stack([x.flatten(2), x.transpose(2, 3).flatten(2)], dim=1)
    us = torch.cat([fwd, fwd.flip(-1)], dim=1)  # [B,4,D,L]
    k = us.shape[1]
    dt = F.softplus(delta + bias.view(1, k, d, 1))
    a = A.view(1, k, d, n)
    state = x.new_zeros(b, k, d, n)
    ys = []
    for l in range(h * w):
        state = torch.exp(dt[..., l, None] * a) * state + (dt[..., l] * us[..., l])[..., None] * Bs[:, :, None, :, l]
        ys.append((state * Cs[:, :, None, :, l]).sum(-1))
    ys = torch.stack(ys, dim=-1) + us * Ds.view(1, k, d, 1)
    y = ys[:, 0:2] + ys[:, 2:4].flip(-1)
    return y[:, 0].view(b, d, h, w) + y[:, 1].view(b, d, w, h).transpose(2, 3)


def inputs(b, d, h, w, n):
    g = torch.Generator().manual_seed(0)
    l = h * w
    return [torch.randn(b, d, h, w, generator=g), 0.5 * torch.randn(b, 4, d, l, generator=g),
            -torch.exp(0.5 * torch.randn(4 * d, n, generator=g)), torch.randn(b, 4, n, l, generator=g),
            torch.randn(b, 4, n, l, generator=g), torch.randn(4 * d, generator=g), torch.rand(4 * d, generator=g) - 2]


def best_ms(fn, reps):
    if reps > 1:
        fn()  # warm-up (a Python loop of torch ops has no JIT: one run is already steady)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def main():
    torch.set_num_threads(2)  # the machine's cores, as the Lumen CPU backend uses them
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    for (b, d, h, w, n) in [(1, 96, 56, 56, 1), (1, 96, 56, 56, 16)]:
        case = f"B{b}_D{d}_{h}x{w}_N{n}"
        xs = inputs(b, d, h, w, n)
        with torch.no_grad():
            print(f"peer selective_scan_2d {case} forward {best_ms(lambda: selective_scan_2d(*xs), reps):.1f} ms", flush=True)
        leaves = [t.clone().requires_grad_(True) for t in xs]

        def fwd_bwd():
            for t in leaves:
                t.grad = None
            selective_scan_2d(*leaves).sum().backward()

        print(f"peer selective_scan_2d {case} forward_backward {best_ms(fwd_bwd, reps):.1f} ms", flush=True)


if __name__ == "__main__":
    main()
