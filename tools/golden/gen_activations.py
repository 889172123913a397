"""Goldens for activation functions and their gradients (dev.lumen.ops.Activations)."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}
# Odd sizes (vector tails) and a wide range, with points on the kinks (0, +-3).
x = torch.randn(5, 7, 9) * 3
x[0, 0, :5] = torch.tensor([0.0, 3.0, -3.0, 25.0, -25.0])
cases = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "silu": F.silu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": F.softplus,
    "softplus_beta": lambda t: F.softplus(t, beta=2.0, threshold=5.0),
    "leaky_relu": F.leaky_relu,
    "leaky_relu_slope": lambda t: F.leaky_relu(t, 0.2),
    "hardsigmoid": F.hardsigmoid,
    "hardswish": F.hardswish,
}
for name, fn in cases.items():
    run_case(s, name, fn, [x])
# A transposed view: the Java side applies the op to in0.transpose(1, 2).
run_case(s, "gelu_t", lambda t: F.gelu(t.transpose(1, 2)), [torch.randn(3, 10, 6) * 2])
run_case(s, "silu_t", lambda t: F.silu(t.transpose(1, 2)), [torch.randn(3, 10, 6) * 2])
save(engine_golden("activations"), s, {"torch": torch.__version__})
