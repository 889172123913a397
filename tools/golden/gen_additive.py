"""Goldens for the additive token mixer core (dev.lumen.ops.AdditiveAttention).

The math is CAS-ViT's AdditiveTokenMixer.forward after the qkv conv and before proj:
Phi(t) = ChannelOperation(SpatialOperation(t)) for q and k with separate parameters, then
dwc(Phi(q) + Phi(k)) * v. SpatialOperation: t * sigmoid(conv1x1_{C->1}(relu(BN(dwconv3x3(t)))));
ChannelOperation: x * sigmoid(conv1x1_{C->C}(avgpool(x))). BatchNorm in training uses batch
statistics and updates the running ones (momentum 0.1, eps 1e-5); the eval case uses running ones.
"""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
EPS, MOMENTUM = 1e-5, 0.1


def phi(t, dw_w, dw_b, gamma, beta, sp_w, ch_w, rm, rv, training):
    C = t.shape[1]
    u = F.conv2d(t, dw_w, dw_b, 1, 1, 1, C)
    a = F.relu(F.batch_norm(u, rm, rv, gamma, beta, training, MOMENTUM, EPS))
    x = t * torch.sigmoid(F.conv2d(a, sp_w))
    return x * torch.sigmoid(F.conv2d(F.adaptive_avg_pool2d(x, 1), ch_w))


def catm(q, k, v, *params, stats, training):
    pq, pk, (dwc_w, dwc_b) = params[0:6], params[6:12], params[12:14]
    s = phi(q, *pq, *stats[0], training) + phi(k, *pk, *stats[1], training)
    return F.conv2d(s, dwc_w, dwc_b, 1, 1, 1, q.shape[1]) * v


def gate_params(C):
    return [0.4 * torch.randn(C, 1, 3, 3), 0.1 * torch.randn(C), 1 + 0.2 * torch.randn(C), 0.2 * torch.randn(C),
            0.5 * torch.randn(1, C, 1, 1), 0.5 * torch.randn(C, C, 1, 1)]


s = {}
for name, (B, C, H, W, training) in {
    "train_7x7": (2, 5, 7, 7, True),
    "train_6x9": (3, 4, 6, 9, True),
    "train_1x8x8": (1, 3, 8, 8, True),
    "eval_5x5": (2, 4, 5, 5, False),
}.items():
    q, k, v = torch.randn(B, C, H, W), torch.randn(B, C, H, W), torch.randn(B, C, H, W)
    params = gate_params(C) + gate_params(C) + [0.4 * torch.randn(C, 1, 3, 3), 0.1 * torch.randn(C)]
    stats = [(0.1 * torch.randn(C), 1 + torch.rand(C)) for _ in range(2)]
    for i, (rm, rv) in enumerate(stats):
        s[f"{name}.running_mean{i}"], s[f"{name}.running_var{i}"] = rm.clone(), rv.clone()
    run_case(s, name, lambda *xs: catm(*xs, stats=stats, training=training), [q, k, v] + params)
    for i, (rm, rv) in enumerate(stats):  # after the forward: updated in training, unchanged in eval
        s[f"{name}.running_mean{i}.after"], s[f"{name}.running_var{i}.after"] = rm.clone(), rv.clone()
save(engine_golden("additive_attention"), s, {"torch": torch.__version__})
