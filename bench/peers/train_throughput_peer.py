"""PyTorch peer of Lumen's training-throughput benchmark (bench/src/main/java/dev/lumen/bench/TrainThroughput.java).

Trains each model on one synthetic batch (batch 64, 224x224, 1000 classes by default) on the
GPU and prints images/s in the same table as the Java side: warm-up steps, then timed steps
with torch.cuda.synchronize() before the clock starts and after it stops.

Written as a PyTorch user would train: torch.autocast(device_type="cuda", dtype=torch.bfloat16)
around forward and loss (no GradScaler for bf16, whose range is fp32's; one for --amp f16),
fused AdamW, zero_grad(set_to_none=True), no host sync inside the loop, cudnn.benchmark on,
optional channels_last (--channels-last) and torch.compile (--compile).

Models (peer_models.py): resnet50, vit_small_patch16_224 and volo_d1 (timm's volo_d1_224) come
from timm 1.0. CAS-ViT, VMamba and RepLKNet are not in timm: they come from the PyTorch modules the
Lumen models are checked against (tools/golden/gen_model_*.py, official parameter layouts).
VMamba's selective scan runs mamba_ssm's CUDA kernel when mamba_ssm is installed (as the official
VMamba does) and otherwise the chunk-parallel scan of chunked_scan.py, never a per-step loop; the
"impl" column says which ran.

Usage: python3 bench/peers/train_throughput_peer.py [--models a,b] [--batch 64] [--img 224]
       [--amp bf16|f16|off] [--warmup 10] [--steps 30] [--channels-last] [--compile]
"""
import argparse
import sys
import time

import torch
import torch.nn.functional as F

from peer_models import build

MODELS = ["resnet50", "vit_small_patch16_224", "volo_d1", "rcvit_xs", "vmamba_tiny", "replknet_31b"]


def mamba_ssm_scan():
    """mamba_ssm's fused CUDA selective scan over the routes folded into channels, or None."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None

    def scan(u, delta, A, Bs, Cs, Ds, delta_bias):
        b, k, d, l = u.shape
        y = selective_scan_fn(u.reshape(b, k * d, l), delta.reshape(b, k * d, l), A.float(), Bs.contiguous(), Cs.contiguous(),
                              Ds.float(), delta_bias=delta_bias.float(), delta_softplus=True)
        return y.view(b, k, d, l)
    return scan


def measure(name, args, device):
    model, impl = build(name, args.img, scan=mamba_ssm_scan())
    model = model.to(device).train()
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    step_model = torch.compile(model) if args.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05, fused=device.type == "cuda")
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(args.amp)
    scaler = torch.cuda.amp.GradScaler() if dtype == torch.float16 else None
    x = torch.randn(args.batch, 3, args.img, args.img, device=device).to(memory_format=fmt)
    y = torch.arange(args.batch, device=device) % 1000

    def step():
        with torch.autocast(device_type=device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = step_model(x)
            if isinstance(out, tuple):  # CAS-ViT's two heads in training: Lumen trains on their mean
                out = (out[0] + out[1]) / 2
            loss = F.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    del model, step_model, opt, x, y
    torch.cuda.empty_cache()
    return args.batch * args.steps / seconds, 1000 * seconds / args.steps, impl


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--img", type=int, default=224)
    p.add_argument("--amp", default="bf16", choices=["bf16", "f16", "off"])
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print(f"train_throughput_peer: torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        sys.exit(1)
    device = torch.device("cuda", 0)
    torch.backends.cudnn.benchmark = True
    print(f"pytorch {torch.__version__} training throughput on {torch.cuda.get_device_name(device)}: batch {args.batch}, "
          f"{args.img}x{args.img}, amp {args.amp}, synthetic data, {args.warmup} warm-up + {args.steps} timed steps"
          f"{', channels_last' if args.channels_last else ''}{', torch.compile' if args.compile else ''}")
    print(f"{'model':<24} {'images/s':>12} {'ms/step':>10}  impl")
    failed = 0
    for name in args.models.split(","):
        try:
            ips, ms, impl = measure(name, args, device)
            print(f"{name:<24} {ips:12.1f} {ms:10.1f}  {impl}", flush=True)
        except Exception as e:  # one model's failure (out of memory, a missing module) must not hide the others
            failed += 1
            print(f"{name:<24} {'failed':>12} {'-':>10}  {type(e).__name__}: {e}", flush=True)
            torch.cuda.empty_cache()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
