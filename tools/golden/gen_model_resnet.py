"""Golden for the ResNet / Res2Net family (models/src/test/resources/golden/model_resnet.safetensors).

A PyTorch ResNet / Res2Net with timm's layout and parameter names (conv1, bn1, layerS.B.conv1,
convs.i, bns.i, downsample.0/1, fc), in tiny widths: stem 8, base planes 4, layers [1, 2, 1, 1].
For each case ("resnet": bottleneck; "res2net": Res2Net 26w x 4s) it saves the random
weights ("<case>.w.<name>"), an input batch 2x3x36x36 (odd map sizes deeper in), labels, the
training-mode logits and cross-entropy loss, every parameter's gradient ("<case>.g.<name>"),
the running statistics after that step ("<case>.w_after.<name>") and the eval-mode logits.
The weights are also written by torch.save as model_<case>.pth for the .pth loader.
It also prints the parameter counts of the published configurations.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import randomize_bn_aware, record_train_step, save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")


def conv_bn(cin, cout, k, s, p):
    return nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout)


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1, self.bn1 = conv_bn(inplanes, planes, 1, 1, 0)
        self.conv2, self.bn2 = conv_bn(planes, planes, 3, stride, 1)
        self.conv3, self.bn3 = conv_bn(planes, out, 1, 1, 0)
        self.downsample = nn.Sequential(*conv_bn(inplanes, out, 1, stride, 0)) if stride != 1 or inplanes != out else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottle2neck(nn.Module):
    def __init__(self, inplanes, planes, stride, base_width, scale):
        super().__init__()
        out = planes * 4
        self.width = int(math.floor(planes * base_width / 64.0))
        self.scale = scale
        self.first = stride != 1 or inplanes != out
        self.conv1, self.bn1 = conv_bn(inplanes, self.width * scale, 1, 1, 0)
        n = max(1, scale - 1)
        self.convs = nn.ModuleList([nn.Conv2d(self.width, self.width, 3, stride, 1, bias=False) for _ in range(n)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(self.width) for _ in range(n)])
        self.pool = nn.AvgPool2d(3, stride, 1) if self.first else None
        self.conv3, self.bn3 = conv_bn(self.width * scale, out, 1, 1, 0)
        self.downsample = nn.Sequential(*conv_bn(inplanes, out, 1, stride, 0)) if self.first else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        parts = torch.split(y, self.width, 1)
        outs = []
        sp = None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            sp = parts[i] if i == 0 or self.first else sp + parts[i]
            sp = F.relu(bn(conv(sp)))
            outs.append(sp)
        if self.scale > 1:
            outs.append(self.pool(parts[-1]) if self.first else parts[-1])
        y = self.bn3(self.conv3(torch.cat(outs, 1)))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, layers, res2=False, stem=64, base=64, base_width=26, scale=4, num_classes=1000):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, stem, 7, 2, 3)
        inplanes = stem
        for s, n in enumerate(layers):
            planes = base << s
            blocks = []
            for b in range(n):
                stride = 2 if s > 0 and b == 0 else 1
                blocks.append(Bottle2neck(inplanes, planes, stride, base_width, scale) if res2 else Bottleneck(inplanes, planes, stride))
                inplanes = planes * 4
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for s in range(4):
            x = getattr(self, "layer%d" % (s + 1))(x)
        return self.fc(x.mean((2, 3)))


def case(store, name, model, gen):
    randomize_bn_aware(model, gen, 2.0)
    x = torch.randn(2, 3, 36, 36, generator=gen)
    record_train_step(store, name, model, x, torch.tensor([3, 7]), os.path.join(OUT, f"model_{name}.pth"))


def main():
    gen = torch.Generator().manual_seed(2024)
    store = {}
    case(store, "resnet", ResNet([1, 2, 1, 1], False, stem=8, base=4, num_classes=10), gen)
    case(store, "res2net", ResNet([1, 2, 1, 1], True, stem=8, base=4, base_width=26, scale=4, num_classes=10), gen)
    save(os.path.join(OUT, "model_resnet.safetensors"), store)
    for name, layers, res2, w, s in [("res2net50_26w_4s", [3, 4, 6, 3], True, 26, 4), ("res2net50_48w_2s", [3, 4, 6, 3], True, 48, 2),
                                     ("res2net50_14w_8s", [3, 4, 6, 3], True, 14, 8), ("res2net50_26w_6s", [3, 4, 6, 3], True, 26, 6),
                                     ("res2net50_26w_8s", [3, 4, 6, 3], True, 26, 8), ("res2net101_26w_4s", [3, 4, 23, 3], True, 26, 4),
                                     ("resnet50", [3, 4, 6, 3], False, 0, 0)]:
        m = ResNet(layers, res2, base_width=w, scale=s)
        print(name, sum(p.numel() for p in m.parameters()))


if __name__ == "__main__":
    main()
