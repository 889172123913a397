"""Golden for the CAS-ViT family (models/src/test/resources/golden/model_casvit.safetensors).

A PyTorch RCViT with the official parameter names (Tianfang-Zhang/CAS-ViT,
classification/model/rcvit.py): patch_embed.{0,1,3,4} (two 3x3 stride-2 convs with BN and
ReLU), network.{0,2,4,6} (stages of AdditiveBlock: local_perception.network.{0..4}, norm1,
attn.{qkv, oper_q/oper_k.{0.block.{0,1,3}, 1.block.1}, dwc, proj}, norm2, mlp.{fc1, fc2}),
network.{1,3,5} (Embedding: proj + norm), norm, head, dist_head. Tiny widths [8, 12, 16, 20],
depths [1, 1, 1, 1], MLP ratio 4, 10 classes.

Cases: "rgb" (3 channels, 2x3x36x36: odd maps 9, 5, 3, 2 deeper in) with the published stem;
"gray" (1 channel, 2x1x28x28) with the small-input stem (first stem conv at stride 1).
For each it saves the random weights ("<case>.w.<name>", BN statistics included), the input,
labels, the training-mode logits of both heads ("<case>.logits", "<case>.dist_logits"; the
official forward returns the pair in training), the loss (CE(head) + CE(dist_head)) / 2, every
parameter's gradient ("<case>.g.<name>"), the running statistics after the step
("<case>.w_after.<name>") and the eval-mode output (mean of the two heads). The weights are also
written by torch.save as model_casvit_<case>.pth for the .pth loader.

Also prints the parameter counts of rcvit_xs/s/m/t (distillation head included) and their conv
and linear MACs at 224x224 (both heads counted, as the model runs them), and, with
--bench, the CPU time of one training step (forward, backward, AdamW) of the tiny configuration
and of rcvit_xs on 128 28x28x1 images (small-input and published stem) and 8 224x224 images, at
torch.set_num_threads(2). On a shared, loaded machine run it with OMP_WAIT_POLICY=PASSIVE, or
OpenMP's spin-waiting counts as CPU time.
"""
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import randomize_bn_aware, record_train_step, save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")


def stem(cin, cout, first_stride):
    return nn.Sequential(nn.Conv2d(cin, cout // 2, 3, first_stride, 1), nn.BatchNorm2d(cout // 2), nn.ReLU(),
                         nn.Conv2d(cout // 2, cout, 3, 2, 1), nn.BatchNorm2d(cout), nn.ReLU())


class Embedding(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 3, 2, 1)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.norm(self.proj(x))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SpatialOperation(nn.Module):
    """x * sigmoid(conv1x1_{C->1}(relu(BN(dw3x3(x)))))"""

    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1, groups=dim), nn.BatchNorm2d(dim), nn.ReLU(),
                                   nn.Conv2d(dim, 1, 1, bias=False), nn.Sigmoid())

    def forward(self, x):
        return x * self.block(x)


class ChannelOperation(nn.Module):
    """x * sigmoid(conv1x1_{C->C}(mean over H, W of x))"""

    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, dim, 1, bias=False), nn.Sigmoid())

    def forward(self, x):
        return x * self.block(x)


class AdditiveTokenMixer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=False)
        self.oper_q = nn.Sequential(SpatialOperation(dim), ChannelOperation(dim))
        self.oper_k = nn.Sequential(SpatialOperation(dim), ChannelOperation(dim))
        self.dwc = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        self.proj = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, 1)
        return self.proj(self.dwc(self.oper_q(q) + self.oper_k(k)) * v)


class LocalIntegration(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.network = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.BatchNorm2d(dim), nn.Conv2d(dim, dim, 3, 1, 1, groups=dim),
                                     nn.GELU(), nn.Conv2d(dim, dim, 1))

    def forward(self, x):
        return self.network(x)


class AdditiveBlock(nn.Module):
    def __init__(self, dim, mlp_ratio):
        super().__init__()
        self.local_perception = LocalIntegration(dim)
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = AdditiveTokenMixer(dim)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.local_perception(x)
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class RCViT(nn.Module):
    def __init__(self, layers, dims, mlp_ratio=4, num_classes=1000, in_chans=3, first_stride=2, distillation=True):
        super().__init__()
        self.patch_embed = stem(in_chans, dims[0], first_stride)
        net = []
        for i, n in enumerate(layers):
            net.append(nn.Sequential(*[AdditiveBlock(dims[i], mlp_ratio) for _ in range(n)]))
            if i < len(layers) - 1:
                net.append(Embedding(dims[i], dims[i + 1]))
        self.network = nn.ModuleList(net)
        self.norm = nn.BatchNorm2d(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)
        self.dist = distillation
        if distillation:
            self.dist_head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        for m in self.network:
            x = m(x)
        x = self.norm(x).flatten(2).mean(-1)
        if not self.dist:
            return self.head(x)
        out = self.head(x), self.dist_head(x)
        return out if self.training else (out[0] + out[1]) / 2


VARIANTS = {
    "rcvit_xs": ([2, 2, 4, 2], [48, 56, 112, 220]),
    "rcvit_s": ([3, 3, 6, 3], [48, 64, 128, 256]),
    "rcvit_m": ([3, 3, 6, 3], [64, 96, 192, 384]),
    "rcvit_t": ([3, 3, 6, 3], [96, 128, 256, 512]),
}
TINY = ([1, 1, 1, 1], [8, 12, 16, 20])


def with_dist_head(out, labels):
    """RCViT trains both heads: the loss is the mean of their cross-entropies."""
    logits, dist = out
    return logits, (F.cross_entropy(logits, labels) + F.cross_entropy(dist, labels)) / 2, {"dist_logits": dist}


def case(store, name, model, x, gen):
    randomize_bn_aware(model, gen, 1.0)
    record_train_step(store, name, model, x, torch.tensor([3, 7]), os.path.join(OUT, f"model_casvit_{name}.pth"), with_dist_head)


def step_time(model, x, labels, reps):
    """(wall, process CPU) seconds per training step, the mean of reps steps after reps warm-up steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    model.train()
    for r in range(2 * reps):
        if r == reps:
            t0, c0 = time.perf_counter(), time.process_time()
        out = model(x)
        loss = sum(F.cross_entropy(o, labels) for o in out) / 2 if isinstance(out, tuple) else F.cross_entropy(out, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / reps, (time.process_time() - c0) / reps


def bench():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    runs = [("tiny rgb 2x3x36x36", RCViT(*TINY, num_classes=10), torch.randn(2, 3, 36, 36), torch.tensor([3, 7]), 20),
            ("rcvit_xs small stem 128x1x28x28", RCViT(*VARIANTS["rcvit_xs"], num_classes=10, in_chans=1, first_stride=1),
             torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,)), 1),
            ("rcvit_xs published stem 128x1x28x28", RCViT(*VARIANTS["rcvit_xs"], num_classes=10, in_chans=1),
             torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,)), 1),
            ("rcvit_xs 8x3x224x224", RCViT(*VARIANTS["rcvit_xs"]), torch.randn(8, 3, 224, 224), torch.randint(0, 1000, (8,)), 1)]
    for name, model, x, labels, reps in runs:
        wall, cpu = step_time(model, x, labels, reps)
        print("torch %s train step: wall %.1f ms, cpu %.1f ms" % (name, 1e3 * wall, 1e3 * cpu), flush=True)


def macs(model, x):
    """Conv and linear multiply-accumulates of one forward (fvcore's count), by forward hooks."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += out.numel() * m.weight[0].numel()
        else:
            total[0] += out.numel() * m.in_features

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    model.eval()
    with torch.no_grad():
        model(x)
    return total[0]


def main():
    if "--bench" in sys.argv:
        bench()
        return
    gen = torch.Generator().manual_seed(2024)
    store = {}
    case(store, "rgb", RCViT(*TINY, num_classes=10), torch.randn(2, 3, 36, 36, generator=gen), gen)
    case(store, "gray", RCViT(*TINY, num_classes=10, in_chans=1, first_stride=1), torch.randn(2, 1, 28, 28, generator=gen), gen)
    save(os.path.join(OUT, "model_casvit.safetensors"), store, {"torch": torch.__version__})
    for name, (layers, dims) in VARIANTS.items():
        m = RCViT(layers, dims)
        print(name, sum(p.numel() for p in m.parameters()), "without dist_head:",
              sum(p.numel() for k, p in m.named_parameters() if not k.startswith("dist_head")),
              "MACs at 224:", macs(m, torch.zeros(1, 3, 224, 224)))


if __name__ == "__main__":
    main()
