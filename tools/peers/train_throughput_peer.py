"""PyTorch peer of Lumen's training-throughput benchmark (bench/src/main/java/dev/lumen/bench/TrainThroughput.java).

Trains each model on one synthetic batch (batch 64, 224x224, 1000 classes by default) on the
GPU and prints images/s in the same table as the Java side: warm-up steps, then timed steps
with torch.cuda.synchronize() before the clock starts and after it stops.

Written as a PyTorch user would train: torch.autocast(device_type="cuda", dtype=torch.bfloat16)
around forward and loss (no GradScaler for bf16, whose range is fp32's; one for --amp f16),
fused AdamW, zero_grad(set_to_none=True), no host sync inside the loop, cudnn.benchmark on,
optional channels_last (--channels-last) and torch.compile (--compile).

Models: resnet50, vit_small_patch16_224 and volo_d1 (timm's volo_d1_224) come from timm. CAS-ViT,
VMamba and RepLKNet are not in timm: they come from the PyTorch modules the Lumen models are
checked against (tools/golden/gen_model_*.py, official parameter layouts). VMamba's selective
scan runs mamba_ssm's CUDA kernel when mamba_ssm is installed (as the official VMamba does) and
otherwise a chunk-parallel scan in torch ops (below), never a per-step loop. Where timm is not
installed, the first three also come from tools/golden; the "impl" column says which ran.

Usage: python3 tools/peers/train_throughput_peer.py [--models a,b] [--batch 64] [--img 224]
       [--amp bf16|f16|off] [--warmup 10] [--steps 30] [--channels-last] [--compile]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

MODELS = ["resnet50", "vit_small_patch16_224", "volo_d1", "rcvit_xs", "vmamba_tiny", "replknet_31b"]
TIMM_NAMES = {"resnet50": "resnet50", "vit_small_patch16_224": "vit_small_patch16_224", "volo_d1": "volo_d1_224"}
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")


def chunked_selective_scan(u, delta, A, Bs, Cs, Ds, delta_bias, chunk=64):
    """VMamba's 4-route selective scan (selective_scan_ref's math) without a loop over steps.

    u, delta [B, K, D, L]; A [K*D, N]; Bs, Cs [B, K, N, L]; Ds, delta_bias [K*D]. Within each
    chunk of 64 steps the linear recurrence s_t = exp(dt_t A) s_{t-1} + dt_t u_t B_t is solved
    in closed form with cumulative sums (s_t = e^{c_t} (s_in + sum_{j<=t} e^{-c_j} x_j), c the
    cumulative log-decay, in float64 so e^{-c} cannot overflow within a chunk); only the chunk
    boundary states are carried sequentially (L/64 small steps).
    """
    b, k, d, l = u.shape
    n = A.shape[1]
    pad = (-l) % chunk
    c = (l + pad) // chunk
    dt = F.softplus(delta.float() + delta_bias.float().view(1, k, d, 1))
    uf, bf, cf = u.float(), Bs.float(), Cs.float()
    if pad:
        dt, uf, bf, cf = (F.pad(t, (0, pad)) for t in (dt, uf, bf, cf))
    dt6 = dt.view(b, k, d, c, chunk, 1)
    cum = (dt6 * A.float().view(1, k, d, 1, 1, n)).double().cumsum(4)          # [B, K, D, C, T, N]
    b6 = bf.view(b, k, 1, n, c, chunk).permute(0, 1, 2, 4, 5, 3)               # [B, K, 1, C, T, N]
    x = (dt6 * uf.view(b, k, d, c, chunk, 1) * b6).double()
    grow = torch.exp(cum)
    local = grow * torch.cumsum(x / grow, 4)                                    # the state from a zero start
    carried, s = [], u.new_zeros(b, k, d, n, dtype=torch.float64)
    for i in range(c):
        carried.append(s)
        s = grow[:, :, :, i, -1] * s + local[:, :, :, i, -1]
    states = (local + grow * torch.stack(carried, 3).unsqueeze(4)).float()
    c6 = cf.view(b, k, 1, n, c, chunk).permute(0, 1, 2, 4, 5, 3)
    y = (states * c6).sum(-1).reshape(b, k, d, c * chunk)[..., :l]
    return y + u.float() * Ds.float().view(1, k, d, 1)


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


def golden_module(name):
    if GOLDEN not in sys.path:
        sys.path.insert(0, GOLDEN)
    return __import__(name)


def build(name, img):
    """The model and which implementation it is."""
    if name in TIMM_NAMES:
        try:
            import timm
            kwargs = {} if name == "resnet50" else {"img_size": img}
            return timm.create_model(TIMM_NAMES[name], num_classes=1000, **kwargs), "timm " + timm.__version__
        except ImportError:
            pass
        if name == "resnet50":
            return golden_module("gen_model_resnet").ResNet([3, 4, 6, 3]), "tools/golden (no timm)"
        if name == "vit_small_patch16_224":
            return golden_module("gen_model_vit").ViT(img, 16, 384, 12, 6), "tools/golden (no timm)"
        return golden_module("gen_model_volo").VOLO([4, 4, 8, 2], [192, 384, 384, 384], [6, 12, 12, 12], [3, 3, 3, 3], img=img), \
            "tools/golden (no timm)"
    if name == "rcvit_xs":
        m = golden_module("gen_model_casvit")
        return m.RCViT(*m.VARIANTS["rcvit_xs"]), "tools/golden"
    if name == "replknet_31b":
        m = golden_module("gen_model_replknet")
        kernels, layers, channels, small, dw_ratio = m.VARIANTS["replknet_31b"]
        return m.RepLKNet(kernels, layers, channels, small, dw_ratio=dw_ratio), "tools/golden"
    if name == "vmamba_tiny":
        m = golden_module("gen_model_vmamba")
        fused = mamba_ssm_scan()
        m.selective_scan_ref = fused or chunked_selective_scan
        cfg = next(p for p in m.PUBLISHED if p[0] == "vmamba_tiny")
        _, _, dims, depths, d_state, ssm_ratio, mlp_ratio, v0 = cfg
        model = m.VSSM(dims, depths, d_state, ssm_ratio, mlp_ratio, v0)
        return model, "tools/golden + " + ("mamba_ssm scan" if fused else "chunked torch scan")
    raise SystemExit(f"unknown model {name} (known: {', '.join(MODELS)})")


def measure(name, args, device):
    model, impl = build(name, args.img)
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
