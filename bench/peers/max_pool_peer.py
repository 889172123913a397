"""PyTorch peer of MaxPoolBench: F.max_pool2d 3x3, stride 2, padding 1 on resnet50's stem
activation at batch 8 (8x64x112x112 F32) on the CPU. Prints the best time of several runs in
ms, for the forward and for forward plus the input gradient."""
import sys

import torch
import torch.nn.functional as F

from peer_timing import best_ms

BENCH = "MaxPoolBench"  # the JMH class this peer mirrors


def run(reps=10):
    """Benchmark key (JMH 'Class.method') -> best wall milliseconds."""
    torch.manual_seed(0)
    x = torch.randn(8, 64, 112, 112, requires_grad=True)
    gout = torch.randn(8, 64, 56, 56)

    def fwd():
        with torch.no_grad():
            F.max_pool2d(x, 3, 2, 1)

    def fwd_bwd():
        torch.autograd.grad(F.max_pool2d(x, 3, 2, 1), [x], gout)

    return {"MaxPoolBench.forward": best_ms(fwd, reps), "MaxPoolBench.forwardBackward": best_ms(fwd_bwd, reps)}


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for name, ms in run().items():
        print(f"{name}\t{ms:.2f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
