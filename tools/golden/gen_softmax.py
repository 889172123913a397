"""Goldens for softmax and log_softmax along any dim (dev.lumen.ops.Softmax)."""
import torch
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}
x = torch.randn(3, 5, 37) * 4
x[0, 0, :] += 80  # large logits: only the max shift keeps exp finite
for name, dim in [("last", -1), ("mid", 1), ("first", 0)]:
    run_case(s, "softmax_" + name, lambda t, dim=dim: torch.softmax(t, dim), [x])
    run_case(s, "log_softmax_" + name, lambda t, dim=dim: torch.log_softmax(t, dim), [x])
# Long rows (vector path with tails) and a transposed input: the Java side transposes in0.
run_case(s, "softmax_long", lambda t: torch.softmax(t, -1), [torch.randn(4, 1001) * 3])
run_case(s, "log_softmax_long", lambda t: torch.log_softmax(t, -1), [torch.randn(4, 1001) * 3])
run_case(s, "softmax_t", lambda t: torch.softmax(t.t(), -1), [torch.randn(19, 6)])
save(engine_golden("softmax"), s, {"torch": torch.__version__})
