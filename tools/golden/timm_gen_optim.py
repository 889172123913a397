"""Goldens for the optimizers that `lumen train --opt` names, from timm 1.0's own optimizer
factory choices (timm.optim._optim_factory): sgd (torch SGD, Nesterov), momentum (torch SGD),
adam, adamw, nadam, radam, rmsprop (torch's, with timm's alpha 0.9), rmsproptf, lamb, lars and
adabelief (timm's classes, with the defaults timm's registry gives them).

Runs under a python with PyTorch 2.x and timm 1.0 (not Debian's torch 1.13 of `make golden`):
    pip install --index-url file:///opt/pypi/simple --no-deps timm   (plus a torch 2.x wheel)
    python3 tools/golden/timm_gen_optim.py
timm's optimizer modules are loaded without timm/__init__, which needs torchvision.

Each case: two parameters in two groups as timm's param_groups_weight_decay makes them (a
[5, 7] weight with weight decay, a [13] bias without), 8 steps over seeded gradients whose
scale changes per step (so LAMB's global clip is both on and off and RAdam crosses its
rectification threshold), the parameters after each step and the final state tensors.
"""
import importlib
import os
import sys
import types

import torch
from golden import save, engine_golden

TIMM_DIR = os.path.dirname(importlib.util.find_spec("timm").origin)
for pkg in ("timm", "timm.optim"):
    m = types.ModuleType(pkg)
    m.__path__ = [TIMM_DIR if pkg == "timm" else os.path.join(TIMM_DIR, "optim")]
    sys.modules[pkg] = m
from timm.optim.lamb import Lamb  # noqa: E402
from timm.optim.lars import Lars  # noqa: E402
from timm.optim.adabelief import AdaBelief  # noqa: E402
from timm.optim.rmsprop_tf import RMSpropTF  # noqa: E402

STEPS = 8
SCALES = [1.0, 0.05, 2.0, 0.02, 1.0, 0.5, 3.0, 0.1]
WD = 0.05
s = {}


def case(name, make_opt):
    gen = torch.Generator().manual_seed(len(name) * 7919 + sum(map(ord, name)))
    params = [torch.randn(5, 7, generator=gen).requires_grad_(True), torch.randn(13, generator=gen).requires_grad_(True)]
    for i, p in enumerate(params):
        s[f"{name}.param{i}.init"] = p.detach().clone()
    opt = make_opt([{"params": [params[0]], "weight_decay": WD}, {"params": [params[1]], "weight_decay": 0.0}])
    for k in range(STEPS):
        for i, p in enumerate(params):
            g = torch.randn(p.shape, generator=gen) * SCALES[k]
            s[f"{name}.param{i}.grad{k}"] = g.clone()
            p.grad = g
        opt.step()
        for i, p in enumerate(params):
            s[f"{name}.param{i}.step{k}"] = p.detach().clone()
    for i, p in enumerate(params):
        for key, v in opt.state[p].items():
            if torch.is_tensor(v) and v.dim() > 0:
                s[f"{name}.param{i}.state.{key}"] = v.detach().clone()


# Hyper-parameters as `lumen train --opt NAME` passes them (timm's train.py: momentum 0.9, optimizer defaults otherwise).
case("sgd", lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, nesterov=True, foreach=False))
case("momentum", lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, nesterov=False, foreach=False))
case("adam", lambda g: torch.optim.Adam(g, lr=0.01, foreach=False))
case("adamw", lambda g: torch.optim.AdamW(g, lr=0.01, foreach=False))
case("adam_betas_eps", lambda g: torch.optim.AdamW(g, lr=0.01, betas=(0.8, 0.99), eps=1e-6, foreach=False))
case("nadam", lambda g: torch.optim.NAdam(g, lr=0.01, foreach=False))
case("radam", lambda g: torch.optim.RAdam(g, lr=0.01, betas=(0.9, 0.9), foreach=False))
case("rmsprop", lambda g: torch.optim.RMSprop(g, lr=0.01, alpha=0.9, momentum=0.9, foreach=False))
case("rmsproptf", lambda g: RMSpropTF(g, lr=0.01, alpha=0.9, momentum=0.9, eps=1e-3))
case("lamb", lambda g: Lamb(g, lr=0.01))
case("lars", lambda g: Lars(g, lr=0.5, momentum=0.9))
case("adabelief", lambda g: AdaBelief(g, lr=0.01, rectify=False))

# timm.utils.agc.adaptive_clip_grad (--clip-mode agc), loaded from its file: timm.utils imports the model zoo.
_spec = importlib.util.spec_from_file_location("timm_agc", os.path.join(TIMM_DIR, "utils", "agc.py"))
agc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(agc)
gen = torch.Generator().manual_seed(11)
for name, shape in (("conv", (4, 3, 3, 3)), ("bias", (6,))):
    p = torch.randn(*shape, generator=gen).requires_grad_(True)
    # Rows of very different gradient sizes, so that some units are clipped and others kept.
    g = torch.randn(*shape, generator=gen) * torch.tensor([0.01, 5.0, 0.1, 3.0, 0.02, 2.0][:shape[0]]).reshape(-1, *[1] * (len(shape) - 1))
    s[f"agc.{name}.param"] = p.detach().clone()
    s[f"agc.{name}.grad"] = g.clone()
    p.grad = g.clone()
    agc.adaptive_clip_grad([p], clip_factor=0.05, eps=1e-3)
    s[f"agc.{name}.clipped"] = p.grad.clone()

save(engine_golden("timm_optim"), s, {"source": "timm " + __import__("timm.version").version.__version__ + ", torch " + torch.__version__})
print("wrote", engine_golden("timm_optim"), len(s), "tensors")
