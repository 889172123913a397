"""Golden for the ViT family (models/src/test/resources/golden/model_vit.safetensors).

A PyTorch Vision Transformer with timm's VisionTransformer layout and parameter names
(patch_embed.proj, cls_token, pos_embed, blocks.N.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/mlp.fc2,
norm, pre_logits.fc, head), LayerNorm eps 1e-6, exact GELU, in two tiny configurations:
  "vit":     img 16, patch 4 (4x4 grid), dim 32, depth 2, heads 4, 10 classes
  "vit_rep": img 18, patch 4 (4x4 grid, 2 pixels floored away), dim 24, depth 3, heads 3,
             representation layer 16 (pre_logits.fc + tanh), 7 classes
For each it saves the random weights ("<case>.w.<name>"), an input batch, labels, the
training-mode logits and cross-entropy loss and every parameter's gradient ("<case>.g.<name>");
the weights also go through torch.save as model_<case>.pth for the .pth loader.

Position-embedding resampling (timm's resample_abs_pos_embed: class token kept, the grid resized
bicubic, align_corners False, antialias True by default): "pe.*" cases resize random embeddings
up, down and to non-square grids with and without antialias, and "vit28" / "vit8" run the "vit"
weights with pos_embed resampled (antialias) for 28x28 (7x7 grid) and 8x8 (2x2 grid) inputs.
It also prints the parameter counts of the published configurations.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import record_train_step, save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_chans, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch, patch)


class PreLogits(nn.Module):
    def __init__(self, dim, rep):
        super().__init__()
        self.fc = nn.Linear(dim, rep)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


class ViT(nn.Module):
    def __init__(self, img, patch, dim, depth, heads, num_classes=1000, rep=0, in_chans=3):
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, dim, patch)
        grid = img // patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pre_logits = PreLogits(dim, rep) if rep else nn.Identity()
        self.head = nn.Linear(rep or dim, num_classes)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(self.pre_logits(x[:, 0]))


def resample(posemb, new_size, num_prefix=1, antialias=True):
    """timm's resample_abs_pos_embed for a square old grid."""
    old = int(math.sqrt(posemb.shape[1] - num_prefix))
    prefix, grid = posemb[:, :num_prefix], posemb[:, num_prefix:]
    grid = grid.reshape(1, old, old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_size, mode="bicubic", align_corners=False, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_size[0] * new_size[1], -1)
    return torch.cat([prefix, grid], 1)


def randomize(model, gen):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith(".bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif t.dim() == 1:  # LayerNorm weights
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.75)
            elif name in ("cls_token", "pos_embed"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * math.sqrt(2.0 / fan_in))


def case(store, name, model, img, labels, gen):
    randomize(model, gen)
    x = torch.randn(len(labels), model.patch_embed.proj.in_channels, img, img, generator=gen)
    record_train_step(store, name, model, x, torch.tensor(labels), os.path.join(OUT, f"model_{name}.pth"), eval_logits=False)


def resized_case(store, name, src, img, gen):
    """The "vit" weights in a model built for img x img, pos_embed resampled as timm loads it."""
    m = ViT(img, 4, 32, 2, 4, num_classes=10)
    state = dict(src.state_dict())
    state["pos_embed"] = resample(state["pos_embed"], (img // 4, img // 4))
    m.load_state_dict(state)
    x = torch.randn(2, 3, img, img, generator=gen)
    store[f"{name}.pos_embed"] = state["pos_embed"].detach().clone()
    store[f"{name}.x"] = x
    with torch.no_grad():
        store[f"{name}.logits"] = m(x)


def main():
    gen = torch.Generator().manual_seed(2024)
    store = {}
    vit = ViT(16, 4, 32, 2, 4, num_classes=10)
    case(store, "vit", vit, 16, [3, 7], gen)
    case(store, "vit_rep", ViT(18, 4, 24, 3, 3, num_classes=7, rep=16), 18, [6, 0, 2], gen)
    resized_case(store, "vit28", vit, 28, gen)
    resized_case(store, "vit8", vit, 8, gen)
    for name, tokens, c, size, aa in [("pe_down_aa", 4 * 4, 32, (2, 2), True), ("pe_up_aa", 4 * 4, 32, (7, 7), True),
                                      ("pe_down", 4 * 4, 32, (2, 2), False), ("pe_up", 4 * 4, 32, (7, 7), False),
                                      ("pe14_2x2_aa", 14 * 14, 8, (2, 2), True), ("pe14_3x5_aa", 14 * 14, 8, (3, 5), True),
                                      ("pe14_3x5", 14 * 14, 8, (3, 5), False), ("pe14_24x24_aa", 14 * 14, 8, (24, 24), True)]:
        pe = torch.randn(1, 1 + tokens, c, generator=gen)
        store[f"{name}.in"] = pe
        store[f"{name}.out"] = resample(pe, size, antialias=aa)
    save(os.path.join(OUT, "model_vit.safetensors"), store)
    for name, patch, dim, depth, heads in [("vit_tiny_patch16_224", 16, 192, 12, 3), ("vit_small_patch16_224", 16, 384, 12, 6),
                                           ("vit_base_patch16_224", 16, 768, 12, 12), ("vit_large_patch16_224", 16, 1024, 24, 16),
                                           ("vit_base_patch32_224", 32, 768, 12, 12), ("vit_large_patch32_224", 32, 1024, 24, 16),
                                           ("vit_huge_patch14_224", 14, 1280, 32, 16)]:
        m = ViT(224, patch, dim, depth, heads)
        print(name, sum(p.numel() for p in m.parameters()))
        del m


if __name__ == "__main__":
    main()
