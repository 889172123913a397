"""Golden for the VOLO family (models/src/test/resources/golden/model_volo.safetensors).

A PyTorch VOLO written from the module math of the official sail-sg/volo models/volo.py, with
its parameter names (patch_embed.conv.0..7 + proj, network.0 outlookers, network.1 downsample,
network.2.. transformers, pos_embed, cls_token, post_network class-attention blocks, norm,
head, aux_head). Outlook attention is computed the unfold / matmul / fold way of the official
module, so the Java side, which calls the fused op, is checked against that composition.

Tiny configuration: input 2x3x40x40 (the outlooker grid is 5x5: odd, so the ceil-mode pooling
and the partial windows of fold are exercised), stem hidden 8, patch 8, layers [2, 1, 1, 1],
dims [16, 32, 32, 32], heads [2, 2, 2, 2], mlp ratios 3, two class-attention blocks, 10 classes.
Saved: random weights ("w.<name>"), the input, class labels and per-token labels, the
training-mode class logits and token logits (return_dense), the loss
CE(cls, labels) + 0.5 * CE(aux, token labels), every parameter's gradient ("g.<name>"), the
running statistics after the step, the eval-mode output x_cls + 0.5 * max_tokens(x_aux); and a
MixToken case with a fixed box (tokens [1:2) x [0:2)): its logits, token logits (with the box
reversed as the official code does), loss and gradients ("mix.g.<name>").
The weights are also written by torch.save as model_volo.pth. It prints the parameter counts
of volo_d1 .. volo_d5 at 224. With --bench it times one AdamW training step of the tiny model
(the PyTorch peer of VoloBench in the models tests).
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class OutlookAttention(nn.Module):
    def __init__(self, dim, heads, k=3, pad=1, stride=2):
        super().__init__()
        self.heads, self.k, self.pad, self.stride = heads, k, pad, stride
        self.scale = (dim // heads) ** -0.5
        self.v = nn.Linear(dim, dim, bias=False)
        self.attn = nn.Linear(dim, k ** 4 * heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, hh, ww, c = x.shape
        k, nh = self.k, self.heads
        h, w = math.ceil(hh / self.stride), math.ceil(ww / self.stride)
        v = F.unfold(self.v(x).permute(0, 3, 1, 2), k, padding=self.pad, stride=self.stride)
        v = v.reshape(b, nh, c // nh, k * k, h * w).permute(0, 1, 4, 3, 2)  # B, heads, anchors, k*k, C/heads
        a = F.avg_pool2d(x.permute(0, 3, 1, 2), self.stride, self.stride, ceil_mode=True).permute(0, 2, 3, 1)
        a = self.attn(a).reshape(b, h * w, nh, k * k, k * k).permute(0, 2, 1, 3, 4)
        a = (a * self.scale).softmax(-1)
        y = (a @ v).permute(0, 1, 4, 3, 2).reshape(b, c * k * k, h * w)
        y = F.fold(y, (hh, ww), k, padding=self.pad, stride=self.stride)
        return self.proj(y.permute(0, 2, 3, 1))


class Outlooker(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = OutlookAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, hh, ww, c = x.shape
        qkv = self.qkv(x).reshape(b, hh * ww, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = (qkv[0] @ qkv[1].transpose(-2, -1) * self.scale).softmax(-1)
        return self.proj((a @ qkv[2]).transpose(1, 2).reshape(b, hh, ww, c))


class Transformer(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ClassAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.scale = self.hd ** -0.5
        self.kv = nn.Linear(dim, 2 * dim, bias=False)
        self.q = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        kv = self.kv(x).reshape(b, n, 2, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q = self.q(x[:, :1]).reshape(b, self.heads, 1, self.hd)
        a = ((q * self.scale) @ kv[0].transpose(-2, -1)).softmax(-1)
        return self.proj((a @ kv[1]).transpose(1, 2).reshape(b, 1, c))


class ClassBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ClassAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        cls = x[:, :1] + self.attn(self.norm1(x))
        cls = cls + self.mlp(self.norm2(cls))
        return torch.cat([cls, x[:, 1:]], 1)


class PatchEmbed(nn.Module):
    def __init__(self, cin, hidden, dim, patch=8, stem_stride=2):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 7, stem_stride, 3, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, 1, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, 1, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU())
        self.proj = nn.Conv2d(hidden, dim, patch // stem_stride, patch // stem_stride)

    def forward(self, x):
        return self.proj(self.conv(x))


class Downsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 2, 2)

    def forward(self, x):
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class VOLO(nn.Module):
    def __init__(self, layers, dims, heads, mlp_ratios, img=224, stem_hidden=64, classes=1000, patch=8):
        super().__init__()
        self.patch_embed = PatchEmbed(3, stem_hidden, dims[0], patch)
        g = img // patch // 2
        self.pos_embed = nn.Parameter(torch.zeros(1, g, g, dims[-1]))
        net = [nn.Sequential(*[Outlooker(dims[0], heads[0], mlp_ratios[0]) for _ in range(layers[0])]),
               Downsample(dims[0], dims[1])]
        for i in range(1, 4):
            net.append(nn.Sequential(*[Transformer(dims[i], heads[i], mlp_ratios[i]) for _ in range(layers[i])]))
        self.network = nn.ModuleList(net)
        self.post_network = nn.ModuleList([ClassBlock(dims[-1], heads[-1], mlp_ratios[-1]) for _ in range(2)])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims[-1]))
        self.aux_head = nn.Linear(dims[-1], classes)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], classes)

    def forward_dense(self, x, box=None):
        """(x_cls, x_aux) as the official forward in training; box: MixToken's (bbx1, bby1, bbx2, bby2) on the token grid."""
        x = self.patch_embed(x).permute(0, 2, 3, 1)
        if box is not None:
            s = 2
            x1, y1, x2, y2 = box
            ph, pw = x.shape[1] // s, x.shape[2] // s
            mixed = x.clone()
            mixed[:, s * x1:s * x2, s * y1:s * y2, :] = x.flip(0)[:, s * x1:s * x2, s * y1:s * y2, :]
            x = mixed
        for i, blk in enumerate(self.network):
            if i == 2:
                x = x + self.pos_embed
            x = blk(x)
        b, hh, ww, c = x.shape
        x = torch.cat([self.cls_token.expand(b, -1, -1), x.reshape(b, -1, c)], 1)
        for blk in self.post_network:
            x = blk(x)
        x = self.norm(x)
        x_cls, x_aux = self.head(x[:, 0]), self.aux_head(x[:, 1:])
        if box is not None:
            x_aux = x_aux.reshape(b, ph, pw, -1)
            back = x_aux.clone()
            back[:, x1:x2, y1:y2, :] = x_aux.flip(0)[:, x1:x2, y1:y2, :]
            x_aux = back.reshape(b, ph * pw, -1)
        return x_cls, x_aux

    def forward(self, x):
        x_cls, x_aux = self.forward_dense(x)
        return x_cls + 0.5 * x_aux.max(1)[0]


def randomize(model, gen):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var") or (name.endswith(".weight") and t.dim() == 1):
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.75)
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif name in ("pos_embed", "cls_token"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * math.sqrt(2.0 / fan_in))


def dense_loss(x_cls, x_aux, labels, token_labels):
    return F.cross_entropy(x_cls, labels) + 0.5 * F.cross_entropy(x_aux.reshape(-1, x_aux.shape[-1]), token_labels.reshape(-1))


def tiny():
    return VOLO([2, 1, 1, 1], [16, 32, 32, 32], [2, 2, 2, 2], [3, 3, 3, 3], img=40, stem_hidden=8, classes=10)


def main():
    gen = torch.Generator().manual_seed(2025)
    store = {}
    model = tiny()
    randomize(model, gen)
    for k, v in model.state_dict().items():
        store[f"w.{k}"] = v.clone()
    torch.save(model.state_dict(), os.path.join(OUT, "model_volo.pth"))
    x = torch.randn(2, 3, 40, 40, generator=gen)
    labels = torch.tensor([3, 7])
    token_labels = torch.randint(0, 10, (2, 4), generator=gen)
    store["x"], store["labels"], store["token_labels"] = x, labels, token_labels

    model.train()
    x_cls, x_aux = model.forward_dense(x)
    loss = dense_loss(x_cls, x_aux, labels, token_labels)
    loss.backward()
    store["logits"], store["aux"], store["loss"] = x_cls.detach(), x_aux.detach(), loss.detach()
    for k, p in model.named_parameters():
        store[f"g.{k}"] = p.grad.clone()
    for k, v in model.state_dict().items():
        if "running" in k or "num_batches" in k:
            store[f"w_after.{k}"] = v.clone()
    model.eval()
    with torch.no_grad():
        store["eval_logits"] = model(x)

    # MixToken with a fixed box, from the weights as they were (running stats included)
    model.load_state_dict({k[2:]: v for k, v in store.items() if k.startswith("w.")})
    model.zero_grad()
    model.train()
    x_cls, x_aux = model.forward_dense(x, (1, 0, 2, 2))
    loss = dense_loss(x_cls, x_aux, labels, token_labels)
    loss.backward()
    store["mix.logits"], store["mix.aux"], store["mix.loss"] = x_cls.detach(), x_aux.detach(), loss.detach()
    for k, p in model.named_parameters():
        store[f"mix.g.{k}"] = p.grad.clone()
    save(os.path.join(OUT, "model_volo.safetensors"), store)
    print("tiny params", sum(p.numel() for p in model.parameters()))

    for name, layers, dims, heads, ratios, hidden in [
            ("volo_d1", [4, 4, 8, 2], [192, 384, 384, 384], [6, 12, 12, 12], [3] * 4, 64),
            ("volo_d2", [6, 4, 10, 4], [256, 512, 512, 512], [8, 16, 16, 16], [3] * 4, 64),
            ("volo_d3", [8, 8, 16, 4], [256, 512, 512, 512], [8, 16, 16, 16], [3] * 4, 64),
            ("volo_d4", [8, 8, 16, 4], [384, 768, 768, 768], [12, 16, 16, 16], [3] * 4, 64),
            ("volo_d5", [12, 12, 20, 4], [384, 768, 768, 768], [12, 16, 16, 16], [4] * 4, 128)]:
        m = VOLO(layers, dims, heads, ratios, stem_hidden=hidden)
        print(name, sum(p.numel() for p in m.parameters()))
        del m


def bench(warmup=20, steps=50):
    """The PyTorch peer of VoloBench tiny: one AdamW step of the tiny model at 40x40, batch 2, 2 threads."""
    import time
    torch.set_num_threads(2)
    torch.manual_seed(1)
    model = tiny()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    labels = torch.tensor([0, 7])
    cpu = wall = 0.0
    for i in range(warmup + steps):
        x = torch.randn(2, 3, 40, 40)
        c, w = time.process_time(), time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        opt.step()
        if i >= warmup:
            cpu += time.process_time() - c
            wall += time.perf_counter() - w
    print("torch tiny img 40 batch 2: %.4f s CPU / step, %.4f s wall / step (mean of %d after %d warm-up)" % (cpu / steps, wall / steps, steps, warmup))


if __name__ == "__main__":
    import sys
    if "--bench" in sys.argv:
        bench()
    else:
        main()
