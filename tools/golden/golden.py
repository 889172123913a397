"""Shared helpers for the golden generators: seeded inputs and a small safetensors writer.

Each gen_*.py script computes ops with PyTorch 1.13 (Debian's python3-torch) and saves
inputs, outputs and gradients. The Java tests read them with dev.lumen.testing.Golden.
"""
import json
import os
import struct

import torch

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
