"""Loads a file written by `lumen export` into the PyTorch model of the same name with
strict=True, and prints its logits on a fixed input, so the way back to PyTorch is checked
against PyTorch itself. Runs with Debian's torch 1.13 (/usr/bin/python3; no safetensors package
needed: the format is read here) and the golden generators' PyTorch models.

    /usr/bin/python3 tools/golden_timm/check_export.py resnet50 runs/x/resnet50.safetensors [classes]
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "golden"))
from gen_model_resnet import ResNet  # noqa: E402

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16}
MODELS = {"resnet50": lambda n: ResNet([3, 4, 6, 3], num_classes=n),
          "res2net50_26w_4s": lambda n: ResNet([3, 4, 6, 3], True, base_width=26, scale=4, num_classes=n)}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DTYPES[v["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[v["dtype"]])
        out[k] = t.reshape(v["shape"])
    return out, header.get("__metadata__", {})


def main():
    name, path = sys.argv[1], sys.argv[2]
    state, meta = read_safetensors(path)
    classes = state["fc.weight"].shape[0]
    model = MODELS[name](classes)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.linspace(-1, 1, 3 * 32 * 32).reshape(1, 3, 32, 32)
    with torch.no_grad():
        print(name, "loaded strict from", path, meta.get("lumen.source", ""), "logits", model(x)[0].tolist())


if __name__ == "__main__":
    main()
