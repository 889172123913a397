"""PyTorch peer of BatchNormReluBench: what PyTorch's eager mode runs for a training
BatchNorm2d followed by ReLU(inplace=True) on ResNet-50's stage shapes at batch 8 (F32, CPU):
forward, native_batch_norm then relu_; backward, threshold_backward (ReLU's) then
native_batch_norm_backward for the input, weight and bias gradients. Prints the best time of
several runs in ms."""
import sys

import torch

from peer_timing import best_ms

BENCH = "BatchNormReluBench"  # the JMH class this peer mirrors

N = 8
SHAPES = ("64x56", "128x28", "256x14", "512x7")


def run(reps=20):
    """Benchmark key (JMH 'Class.method param=value') -> best wall milliseconds."""
    torch.manual_seed(0)
    aten = torch.ops.aten
    res = {}
    with torch.no_grad():
        for shape in SHAPES:
            c, hw = (int(v) for v in shape.split("x"))
            x = torch.randn(N, c, hw, hw)
            gout = torch.randn(N, c, hw, hw)
            w, b = torch.randn(c), torch.randn(c)
            out, mean, invstd = aten.native_batch_norm(x, w, b, None, None, True, 0.1, 1e-5)
            out.relu_()

            def fwd():
                y = aten.native_batch_norm(x, w, b, None, None, True, 0.1, 1e-5)[0]
                y.relu_()

            def bwd():
                g = aten.threshold_backward(gout, out, 0)
                aten.native_batch_norm_backward(g, x, w, None, None, mean, invstd, True, 1e-5, [True, True, True])

            res[f"BatchNormReluBench.fusedForward shape={shape}"] = best_ms(fwd, reps)
            res[f"BatchNormReluBench.fusedBackward shape={shape}"] = best_ms(bwd, reps)
    return res


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for name, ms in run().items():
        print(f"{name}\t{ms:.3f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
