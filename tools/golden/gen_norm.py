"""Goldens for batch, layer and group normalization (dev.lumen.ops.Normalization)."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}


def bn_case(name, x, affine, training, running):
    c = x.shape[1]
    rm = torch.randn(c) * 0.5 if running else None
    rv = torch.rand(c) + 0.5 if running else None
    if running:
        s[name + ".rm"] = rm.clone()
        s[name + ".rv"] = rv.clone()
    inputs = [x, torch.randn(c), torch.randn(c)] if affine else [x]

    def fn(x, w=None, b=None):
        return F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.1, eps=1e-5)

    run_case(s, name, fn, inputs)
    if running:
        s[name + ".rm_after"] = rm.clone()
        s[name + ".rv_after"] = rv.clone()


# Odd sizes; a large common offset checks the one-pass shifted statistics.
bn_case("bn_train", torch.randn(4, 5, 3, 7) * 3 + 50, True, True, True)
bn_case("bn_eval", torch.randn(3, 4, 5, 5), True, False, True)
bn_case("bn_1d", torch.randn(6, 5), False, True, False)
bn_case("bn_long", torch.randn(2, 3, 24, 45), True, True, True)

run_case(s, "ln", lambda x, w, b: F.layer_norm(x, (37,), w, b, 1e-5), [torch.randn(2, 3, 37) + 4, torch.randn(37), torch.randn(37)])
run_case(s, "ln_wide", lambda x, w, b: F.layer_norm(x, (96,), w, b, 1e-6), [torch.randn(5, 96), torch.randn(96), torch.randn(96)])
run_case(s, "ln_plain", lambda x: F.layer_norm(x, (19,), None, None, 1e-5), [torch.randn(4, 19)])


def ln_cf(x, w, b):
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), w, b, 1e-6).permute(0, 3, 1, 2)


run_case(s, "ln_cf", ln_cf, [torch.randn(2, 19, 5, 3), torch.randn(19), torch.randn(19)])
run_case(s, "ln_cf_wide", ln_cf, [torch.randn(2, 8, 6, 7) + 2, torch.randn(8), torch.randn(8)])

run_case(s, "gn", lambda x, w, b: F.group_norm(x, 3, w, b, 1e-5), [torch.randn(2, 6, 5, 3) + 1, torch.randn(6), torch.randn(6)])
run_case(s, "gn_plain", lambda x: F.group_norm(x, 1, None, None, 1e-5), [torch.randn(3, 4, 7)])
run_case(s, "gn_long", lambda x, w, b: F.group_norm(x, 2, w, b, 1e-5), [torch.randn(2, 4, 16, 33), torch.randn(4), torch.randn(4)])

save(engine_golden("norm"), s, {"torch": torch.__version__})
