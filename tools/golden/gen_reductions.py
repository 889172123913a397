"""Goldens for reductions over dims and selections along a dim (dev.lumen.ops.Reductions)."""
import torch
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}
x = torch.randn(3, 5, 4, 7)
wide = torch.randn(3, 1100)    # long innermost rows: vector blocks, float partials flushed to double
tall = torch.randn(300, 19)   # reduce the outer dim: rows accumulate into a row of outputs
xt = torch.randn(7, 6, 5)      # the Java side permutes in0 to [5, 6, 7] (non-contiguous)


def perm(t):
    return t.permute(2, 1, 0)


for name, fn in {
    "sum_d1": lambda t: t.sum(1),
    "sum_d02_keep": lambda t: t.sum((0, 2), keepdim=True),
    "sum_all": lambda t: t.sum(),
    "sum_neg": lambda t: t.sum(-1),
    "sum_d023": lambda t: t.sum((0, 2, 3)),
    "mean_d13": lambda t: t.mean((1, 3)),
    "mean_all": lambda t: t.mean(),
    "var_d1": lambda t: t.var(1),
    "var_d23_pop_keep": lambda t: t.var((2, 3), unbiased=False, keepdim=True),
    "std_d0": lambda t: t.std(0),
    "std_all": lambda t: t.std(),
    "logsumexp_d3": lambda t: torch.logsumexp(t, 3),
    "logsumexp_d02_keep": lambda t: torch.logsumexp(t, (0, 2), keepdim=True),
}.items():
    run_case(s, name, fn, [x])

run_case(s, "sum_wide", lambda t: t.sum(-1), [wide])
run_case(s, "mean_wide_all", lambda t: t.mean(), [wide])
run_case(s, "logsumexp_wide", lambda t: torch.logsumexp(t * 30, -1), [wide])
run_case(s, "sum_tall", lambda t: t.sum(0), [tall])
run_case(s, "var_tall", lambda t: t.var(0), [tall + 100])  # large mean: the two-pass variance keeps precision
run_case(s, "logsumexp_tall", lambda t: torch.logsumexp(t * 30, 0), [tall])
run_case(s, "sum_perm", lambda t: perm(t).sum((0, 2)), [xt])
run_case(s, "std_perm_keep", lambda t: perm(t).std(1, keepdim=True), [xt])

# Ties (values rounded to halves): amax/amin share the gradient evenly.
ties = (torch.randn(4, 6, 5) * 2).round() / 2
run_case(s, "amax_d1", lambda t: t.amax(1), [ties])
run_case(s, "amin_d02_keep", lambda t: t.amin((0, 2), keepdim=True), [ties])
run_case(s, "amax_all", lambda t: t.amax((0, 1, 2)), [ties])

# Distinct values: max/min/topk indices are unambiguous.
d = torch.randperm(4 * 6 * 5).float().reshape(4, 6, 5) / 7 - 10
for name, dim, keep, largest in [("max_d1", 1, False, True), ("max_d2_keep", 2, True, True), ("min_d0", 0, False, False), ("min_neg_keep", -1, True, False)]:
    fn = (lambda t, dim=dim, keep=keep: torch.max(t, dim, keepdim=keep).values) if largest else \
         (lambda t, dim=dim, keep=keep: torch.min(t, dim, keepdim=keep).values)
    run_case(s, name, fn, [d])
    s[name + ".idx"] = (torch.max(d, dim, keepdim=keep) if largest else torch.min(d, dim, keepdim=keep)).indices
s["argmax_d1.out"] = d.argmax(1)
s["argmin_d2_keep.out"] = d.argmin(2, keepdim=True)
s["argmax_all.out"] = d.argmax()
for name, k, dim, largest in [("topk_last", 3, -1, True), ("topk_d1_small", 4, 1, False), ("topk_d0", 2, 0, True)]:
    run_case(s, name, lambda t, k=k, dim=dim, largest=largest: torch.topk(t, k, dim, largest).values, [d])
    s[name + ".idx"] = torch.topk(d, k, dim, largest).indices
s["in"] = d
save(engine_golden("reductions"), s, {"torch": torch.__version__})
