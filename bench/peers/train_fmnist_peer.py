#!/usr/bin/env python3
"""PyTorch peer of `make train`: the same model (resnet_micro: ResNet with one bottleneck per
stage, stem 16, base width 8, 7x7 stride-1 stem without max-pool, timm names and init) and the
same recipe (AdamW 3e-3, wd 0.05 without decay on norms/biases, warmup half an epoch from 1e-4
then cosine per update to 1e-5, label smoothing 0.1, flip, batch 128, 7 epochs) on Fashion-MNIST
with 2 threads. --crop 3 and --ema add the pad-and-crop and weight EMA of the longer recipe.
Prints per-epoch wall and process CPU seconds and the test top-1.

usage: python3 bench/peers/train_fmnist_peer.py [--epochs N] [--max-steps N] [--crop PX] [--ema]
"""
import argparse, copy, gzip, math, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from model_benchmark_peer import keep_freed_memory

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=7)
ap.add_argument("--crop", type=int, default=0, help="pad-and-crop padding (0: none)")
ap.add_argument("--ema", action="store_true", help="weight EMA 0.998")
ap.add_argument("--warmup", type=float, default=0.5, help="warmup epochs")
ap.add_argument("--max-steps", type=int, default=0, help="stop each epoch after N updates (timing only)")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--dir", default="/usr/share/datasets/fashion-mnist")
args = ap.parse_args()
keep_freed_memory()  # glibc keeps freed memory, as for every peer here
torch.set_num_threads(args.threads)
torch.manual_seed(42)


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


xtr = torch.from_numpy(idx(f"{args.dir}/train-images-idx3-ubyte.gz").copy()).float().div(255).unsqueeze(1)
ytr = torch.from_numpy(idx(f"{args.dir}/train-labels-idx1-ubyte.gz").astype(np.int64))
xte = torch.from_numpy(idx(f"{args.dir}/t10k-images-idx3-ubyte.gz").copy()).float().div(255).unsqueeze(1)
yte = torch.from_numpy(idx(f"{args.dir}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
MEAN, STD = 0.2860, 0.3530
xtr, xte = (xtr - MEAN) / STD, (xte - MEAN) / STD


class Bottleneck(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1, self.bn1 = nn.Conv2d(inp, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        s = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + s)


class ResNetMicro(nn.Module):
    def __init__(self, stem=16, base=8, classes=10):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, stem, 7, 1, 3, bias=False), nn.BatchNorm2d(stem)
        inp, layers = stem, []
        for s in range(4):
            layers.append(nn.Sequential(Bottleneck(inp, base << s, 1 if s == 0 else 2)))
            inp = (base << s) * 4
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(inp, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


model = ResNetMicro()
decay = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.endswith(".bias")]
no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and not n.endswith(".bias"))]
opt = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": 0.05}], lr=3e-3)
ema = copy.deepcopy(model).eval()
bs, upe = 128, len(xtr) // 128
total, warm = args.epochs * upe, int(args.warmup * upe)


def lr_at(t):
    if t < warm:
        return 1e-4 + t * (3e-3 - 1e-4) / warm
    return 1e-5 + 0.5 * (3e-3 - 1e-5) * (1 + math.cos(math.pi * t / total))


def augment(x, g):
    n = x.shape[0]
    p = args.crop
    out = x.clone()
    if p > 0:
        xp = F.pad(x, (p, p, p, p))
        oy, ox = torch.randint(0, 2 * p + 1, (n,), generator=g), torch.randint(0, 2 * p + 1, (n,), generator=g)
        out = torch.stack([xp[i, :, oy[i]:oy[i] + 28, ox[i]:ox[i] + 28] for i in range(n)])
    flip = torch.rand(n, generator=g) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def evaluate(m):
    m.eval()
    hit = 0
    with torch.no_grad():
        for i in range(0, len(xte), 256):
            hit += (m(xte[i:i + 256]).argmax(1) == yte[i:i + 256]).sum().item()
    return 100.0 * hit / len(xte)


g = torch.Generator().manual_seed(42)
step = 0
for epoch in range(args.epochs):
    model.train()
    perm = torch.randperm(len(xtr), generator=g)
    t0, c0 = time.time(), time.process_time()
    n = 0
    for b in range(upe):
        if args.max_steps and b >= args.max_steps:
            break
        idxs = perm[b * bs:(b + 1) * bs]
        x, y = augment(xtr[idxs], g), ytr[idxs]
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, v in (zip(ema.state_dict().values(), model.state_dict().values()) if args.ema else ()):
                if e.dtype.is_floating_point:
                    e.mul_(0.998).add_(v, alpha=0.002)
                else:
                    e.copy_(v)
        step += 1
        n += len(idxs)
    wall, cpu = time.time() - t0, time.process_time() - c0
    scale = upe / max(1, min(upe, args.max_steps or upe))
    print(f"epoch {epoch + 1}: {n} images, {wall:.1f} s wall, {cpu:.1f} s CPU"
          + (f" (x{scale:.1f} for a full epoch: {wall * scale:.1f} s wall, {cpu * scale:.1f} s CPU)" if scale > 1 else "")
          + (f", test top-1 {evaluate(model):.2f}%" + (f", EMA {evaluate(ema):.2f}%" if args.ema else "") if not args.max_steps else ""), flush=True)
