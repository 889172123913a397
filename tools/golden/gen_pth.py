"""Checkpoints written by torch.save for the .pth reader tests (models/src/test/resources/golden).

pth_state.pth: {'state_dict': OrderedDict('module.<name>': tensor), 'epoch': 3}, as a
DataParallel training script saves it, with f32/f16/bf16/i64/i32/bool tensors, a transposed
(non-contiguous) tensor saved as is and a sliced view at a storage offset sharing its storage.
pth_state.safetensors: the same tensors (contiguous, unprefixed) for comparison.
pth_module.pth: a bare nn.Module state dict (it carries _metadata, set through BUILD).
pth_evil_system.pth / pth_evil_eval.pth: pickles whose __reduce__ calls os.system / builtins.eval
(protocol 2 GLOBAL and protocol 4 STACK_GLOBAL). They are only written, never loaded here.
"""
import builtins
import collections
import os

import torch

from golden import save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")


class System:
    def __reduce__(self):
        return (os.system, ("touch /tmp/lumen-pickle-pwned",))


class Eval:
    def __reduce__(self):
        return (builtins.eval, ("open('/tmp/lumen-pickle-pwned', 'w')",))


def main():
    torch.manual_seed(0)
    base = torch.randn(4, 6)
    shared = torch.arange(30, dtype=torch.float32).reshape(5, 6)
    tensors = collections.OrderedDict()
    tensors["conv.weight"] = torch.randn(3, 2, 3, 3)
    tensors["half"] = torch.randn(5).half()
    tensors["bf16"] = torch.randn(2, 3).bfloat16()
    tensors["index"] = torch.tensor([[1, -2, 3], [2**40, 5, -6]], dtype=torch.int64)
    tensors["int32"] = torch.tensor([7, -8, 9], dtype=torch.int32)
    tensors["mask"] = torch.tensor([True, False, True, True])
    tensors["transposed"] = base.t()              # stride (1, 6): saved non-contiguous
    tensors["window"] = shared[1:4, 2:5]           # offset 8, stride (6, 1), shares storage with "shared"
    tensors["shared"] = shared
    tensors["scalar"] = torch.tensor(2.5)
    assert not tensors["transposed"].is_contiguous() and tensors["window"].storage_offset() == 8

    wrapped = {"state_dict": collections.OrderedDict(("module." + k, v) for k, v in tensors.items()), "epoch": 3,
               "arch": "tiny"}
    torch.save(wrapped, os.path.join(OUT, "pth_state.pth"))
    save(os.path.join(OUT, "pth_state.safetensors"), tensors)

    torch.manual_seed(1)
    m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    m[1].running_mean.uniform_(-1, 1)
    sd = m.state_dict()
    assert hasattr(sd, "_metadata")
    torch.save(sd, os.path.join(OUT, "pth_module.pth"))
    save(os.path.join(OUT, "pth_module.safetensors"), sd)

    torch.save({"state_dict": tensors, "payload": System()}, os.path.join(OUT, "pth_evil_system.pth"))
    torch.save({"payload": Eval()}, os.path.join(OUT, "pth_evil_eval.pth"), pickle_protocol=4)


if __name__ == "__main__":
    main()
