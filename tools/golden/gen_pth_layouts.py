"""Training checkpoints in the layouts the seeds' own projects write, for the loader tests
(models/src/test/resources/golden/pth_layout_*.pth, with the expected tensors in
pth_layouts.safetensors as model.<name> and ema.<name>):

pth_layout_timm.pth: timm's train.py (CheckpointSaver): epoch, arch, state_dict, optimizer,
    args (an argparse.Namespace), state_dict_ema, version, metric.
pth_layout_replknet.pth: RepLKNet's save_model (DeiT/BEiT utils): model, optimizer, epoch,
    scaler, args (a Namespace), model_ema.
pth_layout_vmamba.pth: VMamba's save_checkpoint: model, optimizer, lr_scheduler, max_accuracy,
    scaler, epoch, config (a yacs CfgNode; yacs is not installed here, so a class of the same
    module, name and pickled form stands in: a dict subclass whose __dict__ holds yacs's flags,
    a set among them).
"""
import argparse
import collections
import os
import sys
import types

import torch

from golden import save

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "src", "test", "resources", "golden")


def yacs_cfgnode_class():
    """yacs.config.CfgNode as it pickles: a dict subclass with yacs's attributes in __dict__."""
    module = types.ModuleType("yacs.config")

    class CfgNode(dict):
        def __init__(self, init_dict=None):
            super().__init__(init_dict or {})
            self.__dict__["__immutable__"] = False
            self.__dict__["__deprecated_keys__"] = set()
            self.__dict__["__renamed_keys__"] = {}
            self.__dict__["__new_allowed__"] = False

    CfgNode.__module__ = "yacs.config"
    CfgNode.__qualname__ = "CfgNode"
    module.CfgNode = CfgNode
    sys.modules.setdefault("yacs", types.ModuleType("yacs"))
    sys.modules["yacs.config"] = module
    return CfgNode


def state(seed):
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(4, 3, 3, 3, generator=g)
    sd["bn.running_mean"] = torch.randn(4, generator=g)
    sd["bn.num_batches_tracked"] = torch.tensor(7 + seed)
    sd["fc.weight"] = torch.randn(5, 4, generator=g)
    sd["fc.bias"] = torch.randn(5, generator=g)
    return sd


def main():
    model, ema = state(1), state(2)
    optimizer = {"state": {0: {"momentum_buffer": torch.zeros(4, 3, 3, 3)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    args = argparse.Namespace(model="resnet50", lr=0.1, aa="rand-m9-mstd0.5-inc1", reprob=0.25, scale=[0.08, 1.0],
                              ratio=(0.75, 1.3333333333333333), model_ema=True, data_dir=None)

    torch.save({"epoch": 3, "arch": "resnet50", "state_dict": model, "optimizer": optimizer, "args": args,
                "state_dict_ema": ema, "version": 2, "metric": 71.2}, os.path.join(OUT, "pth_layout_timm.pth"))
    torch.save({"model": model, "optimizer": optimizer, "epoch": 1, "scaler": {"scale": 65536.0, "_growth_tracker": 0},
                "args": args, "model_ema": ema}, os.path.join(OUT, "pth_layout_replknet.pth"))

    CfgNode = yacs_cfgnode_class()
    config = CfgNode({"MODEL": CfgNode({"TYPE": "vssm", "NAME": "vssm1_tiny_0230s", "NUM_CLASSES": 1000}),
                      "TRAIN": CfgNode({"EPOCHS": 300, "BASE_LR": 5e-4, "CLIP_GRAD": 5.0})})
    torch.save({"model": model, "optimizer": optimizer, "lr_scheduler": {"last_epoch": 5}, "max_accuracy": 80.1,
                "scaler": {"scale": 65536.0}, "epoch": 5, "config": config}, os.path.join(OUT, "pth_layout_vmamba.pth"))

    expected = collections.OrderedDict()
    for k, v in model.items():
        expected["model." + k] = v
    for k, v in ema.items():
        expected["ema." + k] = v
    save(os.path.join(OUT, "pth_layouts.safetensors"), expected)


if __name__ == "__main__":
    main()
