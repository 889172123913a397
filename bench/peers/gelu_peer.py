"""PyTorch peer of GeluCpuBench: F.gelu (approximate 'none' and 'tanh') on rcvit_xs stage 1's
activation [8, 48, 56, 56] on the CPU, the forward into a preallocated output and the derivative
times an incoming gradient (torch's gelu_backward kernel, which autograd calls). Prints the best
time of several runs in ms."""
import sys

import torch
import torch.nn.functional as F

from peer_timing import best_ms

BENCH = "GeluCpuBench"  # the JMH class this peer mirrors

B, C, H, W = 8, 48, 56, 56


def run(reps=20):
    """Benchmark key (JMH 'Class.method param=value') -> best wall milliseconds."""
    torch.manual_seed(0)
    x = torch.randn(B, C, H, W)
    g = torch.randn(B, C, H, W)
    out = torch.empty_like(x)
    res = {}
    for name, approximate in (("GELU", "none"), ("GELU_TANH", "tanh")):
        res[f"GeluCpuBench.unaryForward unary={name}"] = best_ms(
            lambda: torch._C._nn.gelu(x, approximate=approximate, out=out), reps)
        res[f"GeluCpuBench.unaryDerivative unary={name}"] = best_ms(
            lambda: torch.ops.aten.gelu_backward.grad_input(g, x, approximate=approximate, grad_input=out), reps)
    return res


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for name, ms in run().items():
        print(f"{name}\t{ms:.2f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
