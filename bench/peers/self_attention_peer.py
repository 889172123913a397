"""PyTorch peer of SelfAttentionBench: scaled_dot_product_attention's CPU kernel (the flash-attention
one timm's Attention reaches through F.scaled_dot_product_attention) on q, k and v viewed out of a
packed qkv [8, N, 3C] as timm permutes them, at vit_small's (197 tokens, 6 heads of 64) and volo_d1's
(196 tokens, 12 heads of 32) shapes. The forward returns the output and the log-sum-exp the backward
needs (what training runs, and what inference runs too: the
same kernel under no_grad); the backward is its gradient kernel for q, k and v. Prints the best time
of several runs in ms."""
import sys

import torch

from peer_timing import best_ms

BENCH = "SelfAttentionBench"  # the JMH class this peer mirrors

BATCH = 8


def run(reps=20):
    """Benchmark key (JMH 'Class.method param=value') -> best wall milliseconds."""
    torch.manual_seed(0)
    fwd = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    bwd = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward
    res = {}
    for n, heads, d in ((197, 6, 64), (196, 12, 32)):
        qkv = torch.randn(BATCH, n, 3 * heads * d).reshape(BATCH, n, 3, heads, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        g = torch.randn(BATCH, heads, n, d)
        out, lse = fwd(q, k, v)
        key = f"kernels=fused,shape={n}x{heads}x{d}"
        res[f"SelfAttentionBench.forward {key}"] = best_ms(lambda: fwd(q, k, v), reps)
        with torch.no_grad():
            res[f"SelfAttentionBench.inference {key}"] = best_ms(lambda: fwd(q, k, v), reps)
        res[f"SelfAttentionBench.backward {key}"] = best_ms(lambda: bwd(g, q, k, v, out, lse, 0.0, False), reps)
    return res


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for name, ms in run().items():
        print(f"{name}\t{ms:.2f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
