"""Goldens for the AutoAugment / RandAugment ops (dev.lumen.app.data.transform.AugmentKind).

Runs timm's own auto_augment.py on PIL: each op at fixed arguments on small seeded 8-bit RGB
and grey images, timm's level-to-argument values, its AutoAugment policies and what its --aa
parser builds. Needs Pillow and timm (the pyenv python3: pip install --no-deps timm pillow);
timm's auto_augment.py imports only PIL and numpy, so it is loaded by path without torch.
Writes src/test/resources/golden/augment.txt (plain text, read by AugmentGoldenTest). `make golden`
runs it with the pyenv python3 (TIMM_PY), the gen_*.py scripts with Debian's torch.
"""
import importlib.metadata
import importlib.util
import os
import random

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "src", "test", "resources", "golden", "augment.txt")

timm_dir = os.path.dirname(importlib.util.find_spec("timm").origin)
spec = importlib.util.spec_from_file_location("timm_auto_augment", os.path.join(timm_dir, "data", "auto_augment.py"))
aa = importlib.util.module_from_spec(spec)
spec.loader.exec_module(aa)

rs = np.random.RandomState(0)
# Random texture plus a gradient: equalize and autocontrast see a spread histogram, warps see edges.
h, w = 11, 13
grad = (np.arange(w)[None, :] * 9 + np.arange(h)[:, None] * 5)[:, :, None]
rgb = np.clip(rs.randint(0, 140, size=(h, w, 3)) + grad, 0, 255).astype(np.uint8)
grey = (rs.randint(30, 200, size=(8, 9))).astype(np.uint8)
IMAGES = {"rgb": Image.fromarray(rgb, "RGB"), "grey": Image.fromarray(grey, "L")}
FILL = {"rgb": (124, 116, 104), "grey": (124,)}
RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}

lines = [f"# timm {importlib.metadata.version('timm')}, Pillow {PIL.__version__}"]


def chw(img):
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[None]
    else:
        a = a.transpose(2, 0, 1)
    return a


def dump(tag, img):
    a = chw(img)
    return f"{tag} {a.shape[0]} {a.shape[1]} {a.shape[2]} " + " ".join(str(int(v)) for v in a.ravel())


for name, img in IMAGES.items():
    lines.append(dump(f"image {name}", img))

FNS = {
    "AutoContrast": (aa.auto_contrast, [None]), "Equalize": (aa.equalize, [None]), "Invert": (aa.invert, [None]),
    "Posterize": (aa.posterize, [0, 1, 3, 4, 7, 8]), "Solarize": (aa.solarize, [0, 77, 128, 256]),
    "SolarizeAdd": (aa.solarize_add, [0, 33, 110]), "Color": (aa.color, [0.0, 0.1, 0.46, 1.0, 1.72, 1.9]),
    "Contrast": (aa.contrast, [0.1, 0.46, 1.0, 1.72, 1.9]), "Brightness": (aa.brightness, [0.1, 0.46, 1.72, 1.9]),
    "Sharpness": (aa.sharpness, [0.1, 0.46, 1.72, 1.9]),
}
WARPS = {
    "Rotate": (aa.rotate, [-27.0, 13.5, 30.0]), "ShearX": (aa.shear_x, [-0.3, 0.15]), "ShearY": (aa.shear_y, [0.27, -0.09]),
    "TranslateX": (aa.translate_x_abs, [-4.0, 2.5]), "TranslateY": (aa.translate_y_abs, [3.0, -1.75]),
    "TranslateXRel": (aa.translate_x_rel, [0.45, -0.2]), "TranslateYRel": (aa.translate_y_rel, [-0.405, 0.3]),
}
for name, img in IMAGES.items():
    for op, (fn, args) in FNS.items():
        for a in args:
            out = fn(img) if a is None else fn(img, a)
            lines.append(dump(f"op {op} {0 if a is None else a} none {name}", out))
    for op, (fn, args) in WARPS.items():
        for a in args:
            for rname, r in RESAMPLE.items():
                out = fn(img, a, fillcolor=FILL[name] if name == "rgb" else FILL[name][0], resample=r)
                lines.append(dump(f"op {op} {a} {rname} {name}", out))

# Level-to-argument values without the random sign (random.random() <= 0.5 keeps the sign).
aa.random.random = lambda: 0.0
hp = {"translate_const": 100, "img_mean": (124, 116, 104)}
for op, fn in aa.LEVEL_TO_ARG.items():
    if op in ("Desaturate", "GaussianBlur", "GaussianBlurRand") or fn is None:
        continue
    for m in [0, 1, 3.7, 5, 9, 10]:
        lines.append(f"level {op} {m} {float(fn(m, hp)[0])!r}")

for pname in ("original", "originalr", "v0", "v0r"):
    for i, sub in enumerate(aa.auto_augment_policy(pname, dict(hp))):
        lines.append(f"policy {pname} {i} " + " ; ".join(f"{o.name} {o.prob} {o.magnitude}" for o in sub))

for s in ("rand-m9-mstd0.5-inc1", "rand-m7-n3-p0.7-mstd101-mmax12", "rand-n1-m10", "rand-m9-mstd0.5", "rand-m9-tweights-mstd0.5"):
    t = aa.rand_augment_transform(s, dict(hp))
    o = t.ops[0]
    w = "none" if t.choice_weights is None else ",".join(repr(float(v)) for v in t.choice_weights)
    lines.append(f"rand {s} {t.num_layers} {o.prob} {o.magnitude} {o.magnitude_std} {o.magnitude_max} "
                 + ",".join(op.name for op in t.ops) + " " + w)

# torchvision's ColorJitter on a PIL image, as timm applies it: ImageEnhance for brightness,
# contrast and saturation (the ops above), and the hue turned in PIL's 8-bit HSV.
def adjust_hue(img, hue_factor):
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    np_h += np.uint8(int(hue_factor * 255) % 256)  # wraps around the colour wheel
    return Image.merge("HSV", (Image.fromarray(np_h, "L"), s, v)).convert("RGB")


for hue in (-0.3, -0.05, 0.1, 0.45):
    lines.append(dump(f"hue {hue}", adjust_hue(IMAGES["rgb"], hue)))

# Resizes of a float image (PIL mode F, so no 8-bit rounding): --interpolation / --train-interpolation.
src = np.asarray(IMAGES["grey"], dtype=np.float32) / 255.0
lines.append("fimage " + f"{src.shape[0]} {src.shape[1]} " + " ".join(repr(float(v)) for v in src.ravel()))
for rname in ("nearest", "bilinear", "bicubic"):
    for oh, ow in ((5, 4), (13, 17), (8, 6)):
        out = np.asarray(Image.fromarray(src, "F").resize((ow, oh), RESAMPLE[rname]))
        lines.append(f"resize {rname} {oh} {ow} " + " ".join(repr(float(v)) for v in out.ravel()))

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print("wrote", OUT, len(lines), "lines")
