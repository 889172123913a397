"""Goldens for element-wise arithmetic, math, comparisons and selection (dev.lumen.ops.Elementwise)."""
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

# Odd sizes and a transposed (non-contiguous) operand: the Java side transposes in0 too.
c = torch.randn(7, 13)
d = torch.randn(13, 7)
run_case(s, "mul_t", lambda x, y: x.t() * y, [c, d])
run_case(s, "add_row", torch.add, [torch.randn(5, 1, 33), torch.randn(6, 33)])
run_case(s, "scalar_ops", lambda x: ((x + 1.5) * 3 - 2) / 4, [a])
run_case(s, "rsub", lambda x: 2 - x, [a])

pos = torch.rand(6, 11) + 0.1
run_case(s, "exp", torch.exp, [torch.randn(6, 11) * 3])
run_case(s, "log", torch.log, [pos])
run_case(s, "sqrt", torch.sqrt, [pos])
run_case(s, "rsqrt", torch.rsqrt, [pos])
run_case(s, "abs", torch.abs, [torch.randn(6, 11)])
run_case(s, "square", torch.square, [torch.randn(6, 11)])
run_case(s, "reciprocal", torch.reciprocal, [pos])
run_case(s, "neg", torch.neg, [torch.randn(6, 11)])
run_case(s, "exp_t", lambda x: torch.exp(x.t()), [torch.randn(11, 6)])
run_case(s, "pow_scalar", lambda x: torch.pow(x, 2.7), [pos])
run_case(s, "pow_square", lambda x: torch.pow(x, 2.0), [torch.randn(6, 11)])
run_case(s, "pow_cube", lambda x: torch.pow(x, 3.0), [torch.randn(6, 11)])
run_case(s, "pow_tensor", torch.pow, [pos, torch.randn(11) * 2])

x = torch.randn(6, 11)
x[0, :3] = torch.tensor([-0.5, 0.5, 0.25])  # exactly on the bounds: gradient 1 there
run_case(s, "clamp", lambda t: torch.clamp(t, -0.5, 0.5), [x])
run_case(s, "clamp_min", lambda t: torch.clamp(t, min=0.25), [x])
run_case(s, "clamp_max", lambda t: torch.clamp(t, max=-0.5), [x])

m1 = torch.randn(6, 11)
m2 = torch.randn(11)
m1[0, :5] = m2[:5]  # ties split the gradient
run_case(s, "maximum", torch.maximum, [m1, m2])
run_case(s, "minimum", torch.minimum, [m1, m2])

cond = torch.rand(6, 1, 11) > 0.5
run_case(s, "where", torch.where, [cond, torch.randn(4, 11), torch.randn(6, 1, 1)])
mask = torch.rand(4, 1, 9) > 0.6
run_case(s, "masked_fill", lambda t, mk: t.masked_fill(mk, -3.5), [torch.randn(4, 5, 9), mask])

p = torch.randn(5, 7).round()
q = torch.randn(7).round()
for name, fn in [("eq", torch.eq), ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le), ("gt", torch.gt), ("ge", torch.ge)]:
    run_case(s, name, fn, [p, q])
    run_case(s, name + "_scalar", lambda t, f=fn: f(t, 0.0), [p])
save(engine_golden("elementwise"), s, {"torch": torch.__version__})
