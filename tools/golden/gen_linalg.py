"""Goldens for matrix products (dev.lumen.ops.LinearAlgebra): matmul, bmm, linear."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}
r = torch.randn
# Plain products on odd sizes; the transposed cases store the base and multiply its transpose.
run_case(s, "mm_1x1x1", torch.matmul, [r(1, 1), r(1, 1)])
run_case(s, "mm_7x13x5", torch.matmul, [r(7, 13), r(13, 5)])
run_case(s, "mm_65x33x129", torch.matmul, [r(65, 33), r(33, 129)])
run_case(s, "mm_tt", lambda a, b: a.t() @ b.t(), [r(13, 7), r(5, 13)])
run_case(s, "mm_tn", lambda a, b: a.t() @ b, [r(33, 65), r(33, 19)])
run_case(s, "mm_longk", torch.matmul, [r(2, 2000), r(2000, 2)])
# torch.matmul's 1-D and broadcasting rules.
run_case(s, "dot", torch.matmul, [r(9), r(9)])
run_case(s, "vecmat", torch.matmul, [r(6), r(6, 4)])
run_case(s, "matvec", torch.matmul, [r(4, 6), r(6)])
run_case(s, "batchvec", torch.matmul, [r(2, 3, 6), r(6)])
run_case(s, "vecbatch", torch.matmul, [r(6), r(2, 6, 3)])
run_case(s, "batch_mat", torch.matmul, [r(2, 3, 4), r(4, 5)])
run_case(s, "mat_batch", torch.matmul, [r(3, 4), r(2, 4, 5)])
run_case(s, "broadcast", torch.matmul, [r(2, 1, 4, 3), r(3, 3, 5)])
run_case(s, "batch_t", lambda a, b: a @ b.transpose(-1, -2), [r(3, 5, 8), r(3, 7, 8)])
run_case(s, "bmm", torch.bmm, [r(3, 4, 5), r(3, 5, 6)])
run_case(s, "linear_bias", F.linear, [r(2, 3, 8), r(6, 8), r(6)])
run_case(s, "linear_nobias", F.linear, [r(5, 8), r(6, 8)])
run_case(s, "linear_noncontig", lambda x, w, b: F.linear(x.transpose(0, 1), w, b), [r(4, 3, 10), r(7, 10), r(7)])
save(engine_golden("linalg"), s, {"torch": torch.__version__})
