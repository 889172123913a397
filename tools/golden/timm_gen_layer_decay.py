"""Golden for `lumen train --layer-decay`: timm 1.0's param_groups_layer_decay on its own
vit_tiny_patch16_224, resnet50 and volo_d1_224 (weight decay 0.05, layer decay 0.75, the
model's no_weight_decay() list), written as JSON {model: {param name: [layer id, lr_scale,
weight_decay]}} for dev.lumen.models.GroupMatcherTest. Lumen's models use timm's parameter
names, so the test feeds these names to Lumen's matchers.

Runs under a python with PyTorch 2.x, torchvision and timm 1.0 (see timm_gen_optim.py):
    python3 tools/golden/timm_gen_layer_decay.py
torchvision's fake-kernel registrations are skipped: they need torchvision's compiled ops,
which a CPU-only torch of another build may lack, and timm's optimizer code never calls them.
"""
import json
import os
import sys
import types

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import torch  # noqa: E402

_register_fake = torch.library.register_fake


def _skip_torchvision(op, *args, **kwargs):
    if isinstance(op, str) and op.startswith("torchvision::"):
        return args[0] if args and callable(args[0]) else (lambda f: f)
    return _register_fake(op, *args, **kwargs)


torch.library.register_fake = _skip_torchvision
import timm  # noqa: E402
from timm.models._manipulate import group_parameters  # noqa: E402
from timm.optim._param_groups import param_groups_layer_decay  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "models", "src", "test", "resources", "golden", "layer_decay.json")

out = {}
for name in ("vit_tiny_patch16_224", "resnet50", "volo_d1_224"):
    model = timm.create_model(name, pretrained=False, num_classes=10)
    layers = group_parameters(model, model.group_matcher(coarse=False), reverse=True)
    groups = param_groups_layer_decay(model, weight_decay=0.05, layer_decay=0.75,
                                      no_weight_decay_list=getattr(model, "no_weight_decay", lambda: set())())
    by_param = {}
    for g in groups:
        for p in g["params"]:
            by_param[id(p)] = (g["lr_scale"], g["weight_decay"])
    out[name] = {n: [layers.get(n, max(layers.values())), *by_param[id(p)]] for n, p in model.named_parameters()}
with open(OUT, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print("wrote", OUT, {k: len(v) for k, v in out.items()})
