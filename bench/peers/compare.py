"""Prints Lumen's CPU times (from the JMH JSON of `make bench`) beside PyTorch's for the same
work, and their ratio. Each *_peer.py here names its JMH class (BENCH) and exposes run() -> {JMH key: milliseconds}, where a JMH
key is 'Class.method param=value,...'; torch runs on the thread count the Lumen run used. tools/bench.sh
runs it on PyTorch 2.13 with glibc keeping freed memory."""
import importlib
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def jmh_ms(entry):
    """Milliseconds per operation from a JMH result (average-time or throughput mode)."""
    score, unit = entry["primaryMetric"]["score"], entry["primaryMetric"]["scoreUnit"]
    per = {"s": 1e3, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
    if unit.endswith("/op"):
        return score * per[unit.split("/")[0]]
    if unit.startswith("ops/"):
        return per[unit.split("/")[1]] / score
    raise ValueError(f"unknown JMH unit {unit}")


def jmh_key(entry):
    name = ".".join(entry["benchmark"].split(".")[-2:])
    params = entry.get("params") or {}
    return name + ("" if not params else " " + ",".join(f"{k}={v}" for k, v in sorted(params.items())))


def main(path):
    with open(path) as f:
        lumen = {jmh_key(e): jmh_ms(e) for e in json.load(f)}
    if not torch.__version__.startswith("2.13"):
        print(f"bench: these ratios are against PyTorch {torch.__version__}, not 2.13 (make peers installs it)")
    threads = int(os.environ.get("LUMEN_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    rows = []
    for name in sorted(os.listdir(HERE)):
        if not name.endswith("_peer.py"):
            continue
        module = importlib.import_module(name[:-3])
        if not hasattr(module, "BENCH"):
            continue  # a standalone timing script (vit_step_peer.py), not a JMH peer
        if not any(k.startswith(module.BENCH + ".") for k in lumen):
            continue  # only peers of benchmarks that ran
        for key, torch_ms in module.run().items():
            if key in lumen:
                rows.append((key, lumen[key], torch_ms))
    if not rows:
        print("bench: no JMH result has a PyTorch peer (run the CPU benchmarks: make bench BENCH='Outlook|Additive|SelectiveScan')")
        return
    print(f"\nLumen CPU vs PyTorch {torch.__version__} CPU, {threads} threads (wall time, best of runs)")
    print(f"{'benchmark':<48} {'Lumen ms':>10} {'torch ms':>10} {'speed-up':>9}")
    for key, l, t in rows:
        print(f"{key:<48} {l:>10.2f} {t:>10.2f} {t / l:>8.1f}x")


if __name__ == "__main__":
    main(sys.argv[1])
