"""PyTorch peer of the fused selective 2-D scan (dev.lumen.ops.SelectiveScan), on the CPU.

The computation as a competent user writes it without the CUDA extension: cross-scan x into 4
routes, mamba's selective_scan_ref recurrence as the chunk-parallel scan of chunked_scan.py
(closed form within chunks of 64 steps, no Python loop over L), cross-merge.
Same shapes as bench/src/main/java/dev/lumen/bench/SelectiveScanBench.java. Prints one line
per benchmark key with the best wall time in ms.
"""
import sys

import torch

from chunked_scan import chunked_selective_scan
from peer_timing import best_ms

BENCH = "SelectiveScanBench"  # the JMH class this peer mirrors


def selective_scan_2d(x, delta, A, Bs, Cs, Ds, bias):
    b, d, h, w = x.shape
    fwd = torch.stack([x.flatten(2), x.transpose(2, 3).flatten(2)], dim=1)
    us = torch.cat([fwd, fwd.flip(-1)], dim=1)  # [B,4,D,L]
    ys = chunked_selective_scan(us, delta, A, Bs, Cs, Ds, bias)
    y = ys[:, 0:2] + ys[:, 2:4].flip(-1)
    return y[:, 0].view(b, d, h, w) + y[:, 1].view(b, d, w, h).transpose(2, 3)


def inputs(b, d, h, w, n):
    g = torch.Generator().manual_seed(0)
    l = h * w
    return [torch.randn(b, d, h, w, generator=g), 0.5 * torch.randn(b, 4, d, l, generator=g),
            -torch.exp(0.5 * torch.randn(4 * d, n, generator=g)), torch.randn(b, 4, n, l, generator=g),
            torch.randn(b, 4, n, l, generator=g), torch.randn(4 * d, generator=g), torch.rand(4 * d, generator=g) - 2]


def run(reps=1):
    """Benchmark key (JMH 'Class.method param=value') -> best wall milliseconds."""
    res = {}
    for (b, d, h, w, n) in [(1, 96, 56, 56, 1), (1, 96, 56, 56, 16)]:
        xs = inputs(b, d, h, w, n)
        with torch.no_grad():
            res[f"SelectiveScanBench.forward n={n}"] = best_ms(lambda: selective_scan_2d(*xs), reps)
        leaves = [t.clone().requires_grad_(True) for t in xs]

        def fwd_bwd():
            for t in leaves:
                t.grad = None
            selective_scan_2d(*leaves).sum().backward()

        res[f"SelectiveScanBench.forwardBackward n={n}"] = best_ms(fwd_bwd, reps)
    return res


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for name, ms in run().items():
        print(f"{name}\t{ms:.2f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
