"""Goldens for pooling (dev.lumen.ops.Pooling): max, average, adaptive average."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
r = torch.randn
s = {}
run_case(s, "max_2x2", lambda x: F.max_pool2d(x, 2), [r(2, 3, 8, 9)])
run_case(s, "max_3s2p1", lambda x: F.max_pool2d(x, 3, 2, 1), [r(2, 3, 11, 10)])
run_case(s, "max_ceil", lambda x: F.max_pool2d(x, 3, 2, 0, ceil_mode=True), [r(1, 2, 10, 9)])
# ceil_mode where the last window would start in the right padding only: torch drops it.
run_case(s, "max_ceil_pad", lambda x: F.max_pool2d(x, 2, 2, 1, ceil_mode=True), [r(1, 2, 6, 7)])
run_case(s, "max_asym", lambda x: F.max_pool2d(x, (3, 2), (1, 2), (1, 0)), [r(2, 2, 7, 9)])
run_case(s, "max_noncontig", lambda x: F.max_pool2d(x.permute(0, 3, 1, 2), 2), [r(2, 6, 8, 3)])
run_case(s, "avg_2x2", lambda x: F.avg_pool2d(x, 2), [r(2, 3, 8, 9)])
run_case(s, "avg_3s2p1", lambda x: F.avg_pool2d(x, 3, 2, 1), [r(2, 3, 11, 10)])
run_case(s, "avg_3s2p1_nopad", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [r(2, 3, 11, 10)])
run_case(s, "avg_ceil", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [r(1, 2, 10, 9)])
run_case(s, "avg_ceil_nopad", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [r(1, 2, 10, 9)])
run_case(s, "avg_asym", lambda x: F.avg_pool2d(x, (2, 3), (2, 1), (1, 1)), [r(2, 2, 7, 9)])
run_case(s, "adaptive_7x5", lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [r(2, 3, 7, 5)])
run_case(s, "adaptive_up", lambda x: F.adaptive_avg_pool2d(x, (5, 6)), [r(1, 2, 3, 4)])
run_case(s, "adaptive_same", lambda x: F.adaptive_avg_pool2d(x, (4, 4)), [r(1, 2, 4, 4)])
run_case(s, "global", lambda x: F.adaptive_avg_pool2d(x, 1), [r(2, 5, 9, 11)])
save(engine_golden("pool"), s, {"torch": torch.__version__})
