"""Goldens for element-wise arithmetic with broadcasting (dev.lumen.ops.Elementwise)."""
import torch
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}
a = torch.randn(3, 4, 5)
b = torch.randn(4, 1)
run_case(s, "add", torch.add, [a, b])
run_case(s, "sub", torch.sub, [a, b])
run_case(s, "mul", torch.mul, [a, b])
run_case(s, "div", torch.div, [a, b.abs() + 0.5])
run_case(s, "affine", lambda x: 2.5 * x - 0.75, [a])
save(engine_golden("elementwise"), s, {"torch": torch.__version__})
