"""Shared helpers for the golden generators: seeded inputs and a small safetensors writer.

Each gen_*.py script computes ops with PyTorch 1.13 (Debian's python3-torch) and saves
inputs, outputs and gradients. The Java tests read them with dev.lumen.testing.Golden.
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENGINE_GOLDEN = os.path.join(ROOT, "engine", "src", "test", "resources", "golden")

_DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int32: "I32", torch.int64: "I64", torch.bool: "BOOL",
}


def save(path, tensors, metadata=None):
    """Writes a dict name -> tensor as safetensors (little-endian, 8-byte padded header)."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def engine_golden(name):
    return os.path.join(ENGINE_GOLDEN, name + ".safetensors")


class Case:
    """Collects one op's tensors under a prefix: '<case>.in0', '<case>.out', '<case>.grad0' ..."""

    def __init__(self, store, name):
        self.store = store
        self.name = name

    def put(self, key, t):
        self.store[self.name + "." + key] = t.detach().clone()


def run_case(store, name, fn, inputs, grad_out_seed=1234, **kw):
    """Runs fn(*inputs) and saves inputs, output, a random upstream gradient and input gradients.

    Inputs that are floating point require grad. The upstream gradient is seeded so the
    Java side reads it from the file rather than regenerating it.
    """
    leaves = []
    for i, x in enumerate(inputs):
        x = x.detach().clone()
        if x.is_floating_point():
            x.requires_grad_(True)
        leaves.append(x)
        store[f"{name}.in{i}"] = x.detach().clone()
    out = fn(*leaves, **kw)
    store[f"{name}.out"] = out.detach().clone()
    if out.is_floating_point() and any(x.requires_grad for x in leaves):
        g = torch.Generator().manual_seed(grad_out_seed)
        gout = torch.randn(out.shape, generator=g, dtype=out.dtype)
        store[f"{name}.gout"] = gout
        grads = torch.autograd.grad(out, [x for x in leaves if x.requires_grad], gout, allow_unused=True)
        it = iter(grads)
        for i, x in enumerate(leaves):
            if x.requires_grad:
                gi = next(it)
                if gi is not None:
                    store[f"{name}.grad{i}"] = gi.detach().clone()
    return out


def randomize_bn_aware(model, gen, gain):
    """Weights at scales where every path matters: norm weights and running variances in
    [0.75, 1.25), biases and running means ~ N(0, 0.1), other weights ~ N(0, gain / fan_in)."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var") or (name.endswith(".weight") and t.dim() == 1):
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.75)
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * math.sqrt(gain / fan_in))


def record_train_step(store, name, model, x, labels, pth, loss_of=None, eval_logits=True):
    """What a model test compares, under name.*: the weights (also written to pth by torch.save),
    x, labels, the train-mode logits and loss, every gradient, the BatchNorm buffers after the
    step, and (eval_logits) the eval-mode logits. loss_of(output, labels) -> (logits, loss,
    {key: extra output}) serves models with more than one output; the default is cross-entropy."""
    for k, v in model.state_dict().items():
        store[f"{name}.w.{k}"] = v.clone()
    torch.save(model.state_dict(), pth)
    model.train()
    out = model(x)
    logits, loss, extra = loss_of(out, labels) if loss_of else (out, F.cross_entropy(out, labels), {})
    loss.backward()
    store[f"{name}.x"] = x
    store[f"{name}.labels"] = labels
    store[f"{name}.logits"] = logits.detach()
    for k, v in extra.items():
        store[f"{name}.{k}"] = v.detach()
    store[f"{name}.loss"] = loss.detach()
    for k, p in model.named_parameters():
        store[f"{name}.g.{k}"] = p.grad.clone()
    for k, v in model.state_dict().items():
        if "running" in k or "num_batches" in k:
            store[f"{name}.w_after.{k}"] = v.clone()
    if eval_logits:
        model.eval()
        with torch.no_grad():
            store[f"{name}.eval_logits"] = model(x)
