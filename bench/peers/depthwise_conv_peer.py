"""PyTorch peer of DepthwiseConvBench: F.conv2d with groups = C (RepLKNet-31B stage 1, B1 C128
56x56, kernel 31 and 7, "same" padding, bias) on the CPU. Prints the best time of several runs
in ms, for the forward and for forward plus the input, weight and bias gradients."""
import sys

import torch
import torch.nn.functional as F

from peer_timing import best_ms

BENCH = "DepthwiseConvBench"  # the JMH class this peer mirrors

B, C, H, W = 1, 128, 56, 56


def run(reps=10):
    """Benchmark key (JMH 'Class.method param=value') -> best wall milliseconds."""
    torch.manual_seed(0)
    res = {}
    for k in (31, 7):
        x = torch.randn(B, C, H, W, requires_grad=True)
        w = (torch.randn(C, 1, k, k) / k).requires_grad_()
        b = (0.1 * torch.randn(C)).requires_grad_()
        gout = torch.randn(B, C, H, W)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, b, 1, k // 2, 1, C)

        def fwd_bwd():
            torch.autograd.grad(F.conv2d(x, w, b, 1, k // 2, 1, C), [x, w, b], gout)

        res[f"DepthwiseConvBench.forward kernel={k}"] = best_ms(fwd, reps)
        res[f"DepthwiseConvBench.forwardBackward kernel={k}"] = best_ms(fwd_bwd, reps)
    return res


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for name, ms in run().items():
        print(f"{name}\t{ms:.2f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
