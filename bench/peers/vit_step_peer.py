"""PyTorch peer of VitTrainStepTiming (models tests): CPU time of one ViT training step
(forward, cross-entropy, backward, AdamW step, zero_grad) with torch.set_num_threads(2), for
the tiny golden configuration of tools/golden/gen_model_vit.py (img 16, patch 4, dim 32,
depth 2, heads 4, 10 classes) at batch 8, and for vit_tiny_patch16_224 at batch 8, 224x224.
Prints the mean process CPU time and wall time per step, in ms. OpenMP threads spin while
waiting, which counts as CPU time on a busy machine: run it with OMP_WAIT_POLICY=PASSIVE. Runs with
glibc keeping freed memory, as every peer here (model_benchmark_peer.keep_freed_memory)."""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "golden"))
from gen_model_vit import ViT  # noqa: E402
from model_benchmark_peer import keep_freed_memory  # noqa: E402


def step_times(model, batch, img, classes, warmup, reps):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(batch, 3, img, img)
    y = torch.randint(0, classes, (batch,))
    for i in range(warmup + reps):
        if i == warmup:
            c0, w0 = time.process_time(), time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return 1e3 * (time.process_time() - c0) / reps, 1e3 * (time.perf_counter() - w0) / reps


def main():
    keep_freed_memory()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    c, w = step_times(ViT(16, 4, 32, 2, 4, num_classes=10), 8, 16, 10, 10, 100)
    print(f"tiny vit (img 16, patch 4, dim 32, depth 2), batch 8: cpu {c:.2f} ms, wall {w:.2f} ms per step")
    c, w = step_times(ViT(224, 16, 192, 12, 3), 8, 224, 1000, 2, 5)
    print(f"vit_tiny_patch16_224, batch 8, 224x224: cpu {c:.1f} ms, wall {w:.1f} ms per step")


if __name__ == "__main__":
    main()
