"""Goldens for convolution, unfold and fold (dev.lumen.ops.Convolution)."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
r = torch.randn

s = {}
run_case(s, "conv_basic", lambda x, w, b: F.conv2d(x, w, b, padding=1), [r(2, 3, 7, 9), r(4, 3, 3, 3), r(4)])
run_case(s, "conv_stride2", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [r(2, 3, 9, 8), r(5, 3, 3, 3), r(5)])
run_case(s, "conv_dilation2", lambda x, w: F.conv2d(x, w, None, padding=2, dilation=2), [r(1, 2, 11, 10), r(3, 2, 3, 3)])
run_case(s, "conv_groups2", lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2), [r(2, 4, 8, 8), r(6, 2, 3, 3), r(6)])
run_case(s, "conv_1x1", lambda x, w, b: F.conv2d(x, w, b), [r(2, 5, 6, 7), r(4, 5, 1, 1), r(4)])
run_case(s, "conv_1x1_groups", lambda x, w: F.conv2d(x, w, None, groups=3), [r(2, 6, 5, 4), r(9, 2, 1, 1)])
run_case(s, "conv_1x1_stride2", lambda x, w: F.conv2d(x, w, None, stride=2), [r(2, 5, 6, 7), r(4, 5, 1, 1)])
run_case(s, "conv_asym", lambda x, w: F.conv2d(x, w, None, stride=(2, 1), padding=(0, 2), dilation=(1, 2)), [r(2, 3, 9, 11), r(4, 3, 3, 5)])
run_case(s, "conv_7x7_s2", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=3), [r(2, 3, 16, 15), r(8, 3, 7, 7), r(8)])
run_case(s, "conv_noncontig", lambda x, w, b: F.conv2d(x.permute(0, 3, 1, 2), w, b, padding=1), [r(2, 7, 9, 3), r(4, 3, 3, 3), r(4)])
run_case(s, "unfold", lambda x: F.unfold(x, (3, 2), dilation=(1, 2), padding=(1, 0), stride=(2, 1)), [r(2, 3, 7, 8)])
run_case(s, "unfold_basic", lambda x: F.unfold(x, 2), [r(1, 2, 4, 5)])
run_case(s, "fold", lambda x: F.fold(x, (6, 7), 2), [r(2, 12, 30)])
run_case(s, "fold_strided", lambda x: F.fold(x, (7, 8), (3, 2), dilation=(1, 2), padding=(1, 0), stride=(2, 1)), [r(2, 18, 4 * 6)])
save(engine_golden("conv"), s, {"torch": torch.__version__})

d = {}
run_case(d, "dw7_14", lambda x, w, b: F.conv2d(x, w, b, padding=3, groups=4), [r(2, 4, 14, 14), r(4, 1, 7, 7), r(4)])
run_case(d, "dw13_14", lambda x, w: F.conv2d(x, w, None, padding=6, groups=3), [r(1, 3, 14, 14), r(3, 1, 13, 13)])
run_case(d, "dw31_14", lambda x, w, b: F.conv2d(x, w, b, padding=15, groups=2), [r(1, 2, 14, 14), r(2, 1, 31, 31), r(2)])
run_case(d, "dw7_57", lambda x, w, b: F.conv2d(x, w, b, padding=3, groups=1), [r(1, 1, 57, 57), r(1, 1, 7, 7), r(1)])
run_case(d, "dw31_53", lambda x, w, b: F.conv2d(x, w, b, padding=15, groups=2), [r(1, 2, 53, 53), r(2, 1, 31, 31), r(2)])
run_case(d, "dw5_stride2", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=2, groups=3), [r(2, 3, 15, 15), r(3, 1, 5, 5), r(3)])
run_case(d, "dw3_dilation2", lambda x, w: F.conv2d(x, w, None, padding=2, dilation=2, groups=3), [r(1, 3, 16, 17), r(3, 1, 3, 3)])
run_case(d, "dw3_valid", lambda x, w: F.conv2d(x, w, None, groups=5), [r(2, 5, 9, 21), r(5, 1, 3, 3)])
run_case(d, "dw3_bigpad", lambda x, w: F.conv2d(x, w, None, padding=4, stride=(1, 2), groups=2), [r(1, 2, 6, 7), r(2, 1, 3, 3)])
save(engine_golden("conv_depthwise"), d, {"torch": torch.__version__})
