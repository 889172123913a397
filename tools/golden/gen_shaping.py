"""Goldens for cat, stack, split, chunk, pad, flip, roll (dev.lumen.ops.Shaping)."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}

run_case(s, "cat", lambda a, b, c: torch.cat([a, b, c], dim=-2),
         [torch.randn(2, 3, 4), torch.randn(2, 1, 4), torch.randn(2, 5, 4)])
run_case(s, "cat0", lambda a, b: torch.cat([a, b], dim=0), [torch.randn(3, 5), torch.randn(2, 5)])
run_case(s, "stack", lambda a, b, c: torch.stack([a, b, c], dim=-1), [torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)])
run_case(s, "stack0", lambda a, b: torch.stack([a, b], dim=0), [torch.randn(2, 3), torch.randn(2, 3)])

x = torch.randn(7, 5)
for k in range(3):
    run_case(s, f"split{k}", lambda t, k=k: torch.split(t, 3, 0)[k], [x])
y = torch.randn(3, 7)
for k in range(3):
    run_case(s, f"splits{k}", lambda t, k=k: torch.split(t, [2, 4, 1], -1)[k], [y])
s["chunk.sizes_10_4"] = torch.tensor([t.shape[1] for t in torch.chunk(torch.zeros(2, 10), 4, 1)])
s["chunk.sizes_6_4"] = torch.tensor([t.shape[1] for t in torch.chunk(torch.zeros(2, 6), 4, 1)])
s["chunk.sizes_5_5"] = torch.tensor([t.shape[1] for t in torch.chunk(torch.zeros(2, 5), 5, 1)])

run_case(s, "pad", lambda t: F.pad(t, (1, 2, 0, 3), value=0.5), [torch.randn(2, 3, 4, 5)])
run_case(s, "pad_crop", lambda t: F.pad(t, (-1, 2, 1, -2)), [torch.randn(2, 3, 4, 5)])
run_case(s, "pad3", lambda t: F.pad(t, (1, 1, 2, 0, 1, 1), value=-1.0), [torch.randn(2, 3, 3)])

run_case(s, "flip", lambda t: torch.flip(t, (0, 2)), [torch.randn(3, 4, 5)])
run_case(s, "flip_last", lambda t: torch.flip(t, (-1,)), [torch.randn(3, 4, 5)])

run_case(s, "roll", lambda t: torch.roll(t, (1, -2), (0, 1)), [torch.randn(4, 5)])
run_case(s, "roll_flat", lambda t: torch.roll(t, 3), [torch.randn(3, 4)])
run_case(s, "roll_big", lambda t: torch.roll(t, 7, -2), [torch.randn(2, 4, 3)])

save(engine_golden("shaping"), s, {"torch": torch.__version__})
