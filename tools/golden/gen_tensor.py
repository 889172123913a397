"""Goldens for views and layout ops (dev.lumen.ops.Views) and for f16/bf16 conversion."""
import struct

import torch
from golden import run_case, save, engine_golden

torch.manual_seed(1)
s = {}
x = torch.randn(2, 3, 4, 5)
run_case(s, "reshape", lambda t: (t.reshape(6, 20) * torch.arange(20.0)).reshape(2, 3, 4, 5), [x])
run_case(s, "permute", lambda t: t.permute(2, 0, 3, 1).contiguous(), [x])
run_case(s, "transpose_reshape", lambda t: t.transpose(1, 3).reshape(2, 5, 12), [x])
run_case(s, "narrow", lambda t: t.narrow(2, 1, 2), [x])
run_case(s, "slice_step", lambda t: t[:, :, 1::2, ::3], [x])
run_case(s, "select", lambda t: t.select(1, -1), [x])
run_case(s, "expand", lambda t: t.expand(3, 2, 4, 5) * 1.5, [torch.randn(2, 1, 5)])
run_case(s, "squeeze_unsqueeze", lambda t: t.unsqueeze(0).unsqueeze(-1).squeeze(2), [torch.randn(3, 1, 4)])
run_case(s, "flatten", lambda t: t.flatten(1, 2), [x])

# Conversion: values chosen to hit ties, subnormals, overflow and NaN.
vals = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 1e-8, 6.1e-5, 5.96e-8, 2.98e-8, 1e20, -1e20,
        float("inf"), float("-inf"), float("nan"), 1.0009765625, 1.00048828125, 1.000732421875,
        1.00390625, 1.001953125, 3.0e38, 1.1754942e-38, 9.0e-41]
r = torch.randn(2000) * torch.exp(torch.randn(2000) * 8)
f = torch.cat([torch.tensor(vals, dtype=torch.float32), r.float()])
# Exact ties for bf16: the 17th bit set and nothing below.
bits = torch.randint(0, 2 ** 15, (500,), dtype=torch.int32) << 16 | (1 << 15)
ties = torch.tensor(struct.unpack("500f", struct.pack("500i", *bits.tolist())), dtype=torch.float32)
f = torch.cat([f, ties])
s["convert.f32"] = f
s["convert.f16"] = f.half()
s["convert.bf16"] = f.bfloat16()
save(engine_golden("tensor"), s, {"torch": torch.__version__})
