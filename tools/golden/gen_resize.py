"""Goldens for interpolate: nearest, bilinear, bicubic (dev.lumen.ops.Resize)."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}


def case(name, shape, size, mode, align):
    kw = {} if mode == "nearest" else {"align_corners": align}
    run_case(s, name, lambda x: F.interpolate(x, size=size, mode=mode, **kw), [torch.randn(*shape)])


case("nearest_up", (2, 3, 5, 7), (11, 9), "nearest", None)
case("nearest_down", (2, 3, 7, 5), (3, 4), "nearest", None)
case("nearest_double", (1, 2, 5, 7), (10, 14), "nearest", None)
case("nearest_odd", (1, 2, 14, 16), (16, 14), "nearest", None)
case("bilinear_up", (2, 3, 5, 7), (8, 10), "bilinear", False)
case("bilinear_down", (2, 3, 7, 5), (3, 4), "bilinear", False)
case("bilinear_align", (2, 3, 5, 7), (8, 10), "bilinear", True)
case("bilinear_align_one", (1, 2, 5, 7), (1, 3), "bilinear", True)
case("bicubic_up", (2, 3, 5, 7), (9, 11), "bicubic", False)
case("bicubic_align", (2, 3, 5, 7), (9, 11), "bicubic", True)
case("bicubic_down", (2, 3, 7, 5), (3, 4), "bicubic", False)
# A ViT position-embedding grid resized to a new resolution.
case("bicubic_posembed", (1, 8, 7, 7), (12, 12), "bicubic", False)

save(engine_golden("resize"), s, {"torch": torch.__version__})
