"""Writes engine/src/test/resources/golden/ema_warmup_timm.json: the EMA decay timm 1.0's
ModelEmaV3.get_decay gives for the first updates and at a few later steps, with and without
warmup, as timm's train.py calls it (update(model, step=num_updates), num_updates counted
after the optimizer step, so the first update has step 1).

get_decay is pure Python, so it is taken from timm's own source (the installed timm, or the
wheel in the offline index) and run on a stand-in for the module: no torch is needed.

    python3 tools/golden_timm/gen_ema_warmup.py
"""
import ast
import glob
import importlib.util
import json
import os
import zipfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "engine", "src", "test", "resources", "golden", "ema_warmup_timm.json")


def timm_model_ema_source():
    spec = importlib.util.find_spec("timm")
    if spec is not None:
        path = os.path.join(os.path.dirname(spec.origin), "utils", "model_ema.py")
        with open(path) as f:
            return f.read(), "installed timm " + os.path.dirname(spec.origin)
    wheels = sorted(glob.glob("/opt/pypi/files/timm-1.0*.whl"))
    if not wheels:
        raise SystemExit("gen_ema_warmup: neither an installed timm nor a timm 1.0 wheel in /opt/pypi/files")
    with zipfile.ZipFile(wheels[-1]) as z:
        return z.read("timm/utils/model_ema.py").decode(), os.path.basename(wheels[-1])


def get_decay_of_v3(source):
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelEmaV3")
    fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "get_decay")
    module = ast.Module(body=[fn], type_ignores=[])
    from typing import Optional
    scope = {"Optional": Optional}
    exec(compile(module, "timm/utils/model_ema.py", "exec"), scope)
    return scope["get_decay"]


class V3:
    """The attributes ModelEmaV3.__init__ sets, with its defaults."""

    def __init__(self, decay, use_warmup):
        self.decay = decay
        self.min_decay = 0.0
        self.update_after_step = 0
        self.use_warmup = use_warmup
        self.warmup_gamma = 1.0
        self.warmup_power = 2 / 3


def main():
    source, origin = timm_model_ema_source()
    get_decay = get_decay_of_v3(source)
    steps = list(range(1, 21)) + [50, 100, 1000, 3600, 10000, 100000, 1000000]
    cases = []
    for decay in (0.9998, 0.999):
        for warmup in (True, False):
            ema = V3(decay, warmup)
            cases.append({"decay": decay, "warmup": warmup, "steps": steps, "decays": [get_decay(ema, s) for s in steps]})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"source": origin, "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", OUT, "from", origin)


if __name__ == "__main__":
    main()
