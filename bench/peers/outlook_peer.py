"""PyTorch peer of OutlookBench: VOLO's outlook attention core (unfold, softmax, matmul, fold)
on the CPU, the same problem (B4, 28x28, C192, 6 heads, k3 p1, s2 and s1). Prints the best
time of several runs, in ms, for the forward and for forward plus backward."""
import math
import sys

import torch
import torch.nn.functional as F

from peer_timing import best_ms

BENCH = "OutlookBench"  # the JMH class this peer mirrors

B, H, W, C, HEADS, K, P = 4, 28, 28, 192, 6, 3, 1


def outlook(v, logits, s, scale):
    h, w = math.ceil(H / s), math.ceil(W / s)
    vu = F.unfold(v.permute(0, 3, 1, 2), kernel_size=K, padding=P, stride=s)
    vu = vu.reshape(B, HEADS, C // HEADS, K * K, h * w).permute(0, 1, 4, 3, 2)
    attn = logits.reshape(B, h * w, HEADS, K * K, K * K).permute(0, 2, 1, 3, 4)
    attn = (attn * scale).softmax(dim=-1)
    x = (attn @ vu).permute(0, 1, 4, 3, 2).reshape(B, C * K * K, h * w)
    return F.fold(x, output_size=(H, W), kernel_size=K, padding=P, stride=s).permute(0, 2, 3, 1)




def run(reps=10):
    """Benchmark key (JMH 'Class.method param=value') -> best wall milliseconds."""
    torch.manual_seed(0)
    res = {}
    for s in (2, 1):
        h, w = math.ceil(H / s), math.ceil(W / s)
        v = torch.randn(B, H, W, C, requires_grad=True)
        logits = torch.randn(B, h, w, HEADS, K * K, K * K, requires_grad=True)
        gout = torch.randn(B, H, W, C)
        scale = (C // HEADS) ** -0.5

        def fwd():
            with torch.no_grad():
                outlook(v, logits, s, scale)

        def fwd_bwd():
            torch.autograd.grad(outlook(v, logits, s, scale), [v, logits], gout)

        res[f"OutlookBench.forward stride={s}"] = best_ms(fwd, reps)
        res[f"OutlookBench.forwardBackward stride={s}"] = best_ms(fwd_bwd, reps)
    return res


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for k, ms in run().items():
        print(f"{k}\t{ms:.2f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
