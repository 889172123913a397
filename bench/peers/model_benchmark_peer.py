#!/usr/bin/env python3
"""PyTorch side of `lumen benchmark`: the same models (peer_models.py), the same step, the same options,
the same CSV columns and the same --serve protocol, so bench/peers/interleave.py can run both in turns.

A training step is zero_grad, forward and cross-entropy (under torch.autocast with --amp), backward
and AdamW (lr 1e-3, weight decay 0.05), then one host read of the loss, as Lumen's step ends;
inference is the eval-mode forward under torch.no_grad(), as in timm's benchmark.py. glibc is told to
keep freed memory (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_; the script restarts itself with
them when they are unset): without them every step page-faults its freed tensors back in, which
measures glibc, not PyTorch. Threads: torch.set_num_threads(--threads).

usage: python3 bench/peers/model_benchmark_peer.py --model resnet50 [--bench train|inference|both]
       [-b 8] [--img-size N] [--channels 3] [--num-classes 1000] [--amp] [--amp-dtype bfloat16|float16]
       [--device cpu|cuda[:N]] [--warmup 3] [--steps 10 | --duration S] [--threads N] [--csv FILE] [--serve]
"""
import argparse
import os
import statistics
import sys
import time

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 40), "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}
COLUMNS = ["engine", "model", "mode", "batch", "img_size", "dtype", "device", "threads", "steps", "step_ms_mean",
           "step_ms_median", "step_ms_min", "images_per_s", "peak_rss_mib", "peak_live_mib", "params"]


def keep_freed_memory():
    """Restarts this script with glibc keeping freed memory, unless it already does."""
    if any(k not in os.environ for k in MALLOC_ENV):
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **MALLOC_ENV})


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class ModelBenchmark:
    def __init__(self, args, mode, torch, device):
        from peer_models import build
        self.torch, self.mode, self.device, self.args = torch, mode, device, args
        torch.manual_seed(0)
        model, impl = build(args.model, args.img_size, args.num_classes, args.channels)
        self.impl = f"pytorch {torch.__version__} ({impl})"
        self.model = model.to(device).train(mode == "train")
        self.params = sum(p.numel() for p in model.parameters())
        self.dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}[args.amp_dtype] if args.amp else None
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05) if mode == "train" else None
        self.scaler = torch.amp.GradScaler(device.type) if mode == "train" and self.dtype == torch.float16 else None
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(args.batch_size, args.channels, args.img_size, args.img_size, generator=g).to(device)
        self.y = (torch.arange(args.batch_size) % args.num_classes).to(device)

    def _forward(self):
        out = self.model(self.x)
        if isinstance(out, tuple):  # CAS-ViT's two heads in training: Lumen trains on their mean
            out = (out[0] + out[1]) / 2
        return out

    def step(self):
        """One step's wall milliseconds."""
        torch = self.torch
        t0 = time.perf_counter()
        autocast = torch.autocast(device_type=self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)
        if self.mode == "train":
            self.opt.zero_grad(set_to_none=True)
            with autocast:
                loss = torch.nn.functional.cross_entropy(self._forward(), self.y)
            if self.scaler:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                loss.backward()
                self.opt.step()
            loss.item()  # the host read that ends Lumen's step too
        else:
            with torch.no_grad(), autocast:
                out = self._forward()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            del out
        return 1e3 * (time.perf_counter() - t0)

    def peak_live_mib(self):
        if self.device.type == "cuda":
            return self.torch.cuda.max_memory_allocated(self.device) / 2**20
        return float("nan")  # PyTorch keeps no count of live CPU tensor bytes

    def dtype_label(self):
        return "float32" if self.dtype is None else "amp_" + self.args.amp_dtype


def serve(bench, inp, out):
    """The --serve protocol of `lumen benchmark` (dev.lumen.app.bench.BenchServer); returns the exit code."""
    def answer(line):
        out.write(line + "\n")
        out.flush()
    answer("ready " + bench.impl)
    for line in inp:
        words = line.split()
        if not words or words[0] == "quit":
            return 0
        if words[0] == "memory":
            answer(f"memory {peak_rss_mib():.1f} {bench.peak_live_mib():.1f} {bench.params}")
        elif words[0] == "steps" and len(words) == 2 and words[1].isdigit() and int(words[1]) >= 1:
            answer("times " + " ".join(f"{bench.step():.3f}" for _ in range(int(words[1]))))
        else:
            answer(f"error unknown command '{line.strip()}' (steps K, memory, quit)")
            return 1
    return 0


def csv_row(bench, times, torch):
    a = bench.args
    mean = statistics.fmean(times)
    vals = [bench.impl.replace(",", ";"), a.model, bench.mode, a.batch_size, a.img_size, bench.dtype_label(), str(bench.device),
            torch.get_num_threads(), len(times), f"{mean:.3f}", f"{statistics.median(times):.3f}", f"{min(times):.3f}",
            f"{a.batch_size * 1000 / mean:.3f}", f"{peak_rss_mib():.1f}", "" if bench.peak_live_mib() != bench.peak_live_mib()
            else f"{bench.peak_live_mib():.1f}", bench.params]
    return ",".join(str(v) for v in vals)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--bench", default="both", choices=["train", "inference", "both"])
    p.add_argument("-b", "--batch-size", type=int, default=8)
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--amp", action="store_true")
    p.add_argument("--amp-dtype", default="bfloat16", choices=["bfloat16", "float16"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int)
    p.add_argument("--duration", type=float)
    p.add_argument("--threads", type=int)
    p.add_argument("--csv")
    p.add_argument("--serve", action="store_true")
    a = p.parse_args(argv)
    for name, low in (("batch_size", 1), ("img_size", 1), ("channels", 1), ("num_classes", 1), ("warmup", 0)):
        if getattr(a, name) < low:
            p.error(f"--{name.replace('_', '-')} must be >= {low}, got {getattr(a, name)}")
    if a.steps is not None and a.duration is not None:
        p.error("give --steps or --duration, not both")
    if a.steps is not None and a.steps < 1 or a.duration is not None and a.duration <= 0 or a.threads is not None and a.threads < 1:
        p.error("--steps and --threads must be >= 1, --duration > 0")
    if a.serve and a.bench == "both":
        p.error("--serve takes --bench train or inference")
    return a


def main(argv):
    a = parse(argv)
    keep_freed_memory()
    import torch
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"model_benchmark_peer: --device {a.device}: torch {torch.__version__} sees no CUDA device")
    if a.threads:
        torch.set_num_threads(a.threads)
    for mode in (["train", "inference"] if a.bench == "both" else [a.bench]):
        try:
            bench = ModelBenchmark(a, mode, torch, device)
        except (KeyError, RuntimeError, ValueError) as e:  # timm's unknown model is a RuntimeError
            sys.exit(f"model_benchmark_peer: --model {a.model}: {e}")
        for _ in range(a.warmup):
            bench.step()
        if a.serve:
            return serve(bench, sys.stdin, sys.stdout)
        times, end = [], time.perf_counter() + (a.duration or 0)
        while (len(times) < (a.steps or 10)) if a.duration is None else (not times or time.perf_counter() < end):
            times.append(bench.step())
        row = csv_row(bench, times, torch)
        print(row, flush=True)
        if a.csv:
            fresh = not os.path.exists(a.csv) or os.path.getsize(a.csv) == 0
            with open(a.csv, "a") as f:
                f.write((",".join(COLUMNS) + "\n" if fresh else "") + row + "\n")
        del bench
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
