"""PyTorch peer of AdditiveAttentionBench: CAS-ViT's AdditiveTokenMixer between qkv and proj,
written with torch ops as the module does (SpatialOperation, ChannelOperation, dwc, * v), on the
CPU, training mode, the same problem (B4, C48, 56x56). Prints the best time of several runs in
ms, forward and forward plus every gradient."""
import sys

import torch
import torch.nn.functional as F

from peer_timing import best_ms

BENCH = "AdditiveAttentionBench"  # the JMH class this peer mirrors

B, C, H, W = 4, 48, 56, 56
EPS, MOMENTUM = 1e-5, 0.1


def phi(t, dw_w, dw_b, gamma, beta, sp_w, ch_w, rm, rv):
    u = F.conv2d(t, dw_w, dw_b, 1, 1, 1, C)
    a = F.relu(F.batch_norm(u, rm, rv, gamma, beta, True, MOMENTUM, EPS))
    x = t * torch.sigmoid(F.conv2d(a, sp_w))
    return x * torch.sigmoid(F.conv2d(F.adaptive_avg_pool2d(x, 1), ch_w))


def gate():
    return [(0.3 * torch.randn(C, 1, 3, 3)).requires_grad_(), torch.zeros(C, requires_grad=True),
            torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True),
            (0.2 * torch.randn(1, C, 1, 1)).requires_grad_(), (0.2 * torch.randn(C, C, 1, 1)).requires_grad_()]




def run(reps=10):
    """Benchmark key (JMH 'Class.method param=value') -> best wall milliseconds."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, C, H, W, requires_grad=True) for _ in range(3))
    gq, gk = gate(), gate()
    dwc_w, dwc_b = (0.3 * torch.randn(C, 1, 3, 3)).requires_grad_(), torch.zeros(C, requires_grad=True)
    stats = [(torch.zeros(C), torch.ones(C)) for _ in range(2)]
    gout = torch.randn(B, C, H, W)
    params = [q, k, v] + gq + gk + [dwc_w, dwc_b]

    def catm():
        s = phi(q, *gq, *stats[0]) + phi(k, *gk, *stats[1])
        return F.conv2d(s, dwc_w, dwc_b, 1, 1, 1, C) * v

    def fwd():
        with torch.no_grad():
            catm()

    def fwd_bwd():
        torch.autograd.grad(catm(), params, gout)

    return {"AdditiveAttentionBench.forward": best_ms(fwd, reps), "AdditiveAttentionBench.forwardBackward": best_ms(fwd_bwd, reps)}


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for name, ms in run().items():
        print(f"{name}\t{ms:.2f} ms\t(torch {torch.__version__}, {torch.get_num_threads()} threads)")
