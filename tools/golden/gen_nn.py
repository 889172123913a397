"""Goldens for the nn layers (dev.lumen.nn): forward, input and parameter gradients.

Each case stores the module's state dict before the forward ("<case>.state.<name>"), the
input, output, upstream gradient and input gradient (as run_case does), every parameter's
gradient ("<case>.pgrad.<name>") and the buffers after the forward ("<case>.after.<name>",
BatchNorm's running statistics). The Java test loads the state by name with a strict
loadStateDict, so these cases also check that parameter names follow PyTorch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from golden import save, engine_golden

torch.manual_seed(0)
s = {}


def module_case(name, m, x, train=True, seed=1234):
    m.train(train)
    m.zero_grad(set_to_none=True)
    for k, v in m.state_dict().items():
        s[f"{name}.state.{k}"] = v.detach().clone()
    x = x.detach().clone().requires_grad_(True)
    s[f"{name}.in0"] = x.detach().clone()
    out = m(x)
    s[f"{name}.out"] = out.detach().clone()
    gout = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    s[f"{name}.gout"] = gout
    out.backward(gout)
    s[f"{name}.grad0"] = x.grad.detach().clone()
    for k, p in m.named_parameters():
        s[f"{name}.pgrad.{k}"] = p.grad.detach().clone()
    for k, b in m.named_buffers():
        s[f"{name}.after.{k}"] = b.detach().clone()


def randomize(m):
    """Non-trivial affine parameters for norm layers (defaults are ones and zeros)."""
    with torch.no_grad():
        for k, p in m.named_parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if k.endswith("weight") else 0.0))
    return m


class Attention(nn.Module):
    """timm's vision_transformer.Attention (without the optional q/k norms)."""

    def __init__(self, dim, num_heads=8, qkv_bias=False, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class LayerNorm2d(nn.LayerNorm):
    """timm's LayerNorm2d: LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


module_case("linear", nn.Linear(5, 7), torch.randn(3, 4, 5))
module_case("linear_nobias", nn.Linear(6, 3, bias=False), torch.randn(4, 6))
module_case("conv2d", nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.randn(2, 4, 9, 7))
module_case("conv2d_grouped", nn.Conv2d(6, 4, 3, stride=1, padding=2, dilation=2, groups=2, bias=False),
            torch.randn(1, 6, 8, 9))
module_case("conv2d_depthwise", nn.Conv2d(4, 4, 5, padding=2, groups=4), torch.randn(2, 4, 6, 5))

bn = randomize(nn.BatchNorm2d(3, momentum=0.2, eps=1e-4))
with torch.no_grad():
    bn.running_mean.copy_(torch.randn(3) * 0.3)
    bn.running_var.copy_(torch.rand(3) + 0.5)
module_case("batchnorm2d_train", bn, torch.randn(4, 3, 5, 5) * 2 + 1, train=True)
bn.num_batches_tracked.fill_(7)
module_case("batchnorm2d_eval", bn, torch.randn(4, 3, 5, 5) * 2 + 1, train=False)

module_case("layernorm", randomize(nn.LayerNorm(7)), torch.randn(2, 3, 7) * 3 + 1)
module_case("layernorm2d", randomize(LayerNorm2d(5, eps=1e-6)), torch.randn(2, 5, 3, 4) * 2)
module_case("groupnorm", randomize(nn.GroupNorm(2, 6)), torch.randn(2, 6, 3, 5) + 0.5)

xa = torch.randn(3, 11) * 3
module_case("relu", nn.ReLU(), xa)
module_case("gelu", nn.GELU(), xa)
module_case("gelu_tanh", nn.GELU(approximate="tanh"), xa)
module_case("silu", nn.SiLU(), xa)
module_case("sigmoid", nn.Sigmoid(), xa)
module_case("tanh", nn.Tanh(), xa)
module_case("softplus", nn.Softplus(), torch.cat([xa, torch.tensor([[25.0, -30.0, 19.5] + [0.0] * 8])]))

module_case("maxpool2d", nn.MaxPool2d(3, stride=2, padding=1), torch.randn(2, 3, 9, 8))
module_case("maxpool2d_ceil", nn.MaxPool2d(2, stride=2, ceil_mode=True), torch.randn(1, 2, 7, 5))
module_case("avgpool2d", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), torch.randn(2, 3, 9, 8))
module_case("avgpool2d_pad", nn.AvgPool2d(2, stride=2, padding=1), torch.randn(1, 2, 7, 5))
module_case("adaptiveavgpool2d", nn.AdaptiveAvgPool2d((3, 2)), torch.randn(2, 3, 7, 5))
module_case("flatten", nn.Flatten(), torch.randn(2, 3, 2, 2))

module_case("attention", Attention(12, num_heads=3, qkv_bias=True), torch.randn(2, 5, 12))
module_case("attention_nobias", Attention(8, num_heads=2, qkv_bias=False), torch.randn(1, 7, 8))

seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), randomize(nn.BatchNorm2d(4)), nn.ReLU(),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
module_case("sequential", seq, torch.randn(2, 3, 6, 6))

save(engine_golden("nn"), s, {"torch": torch.__version__})
