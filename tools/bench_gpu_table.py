#!/usr/bin/env python3
"""Prints the CUDA benchmarks' results from a JMH json file (tools/bench-gpu.sh writes it):
one line per benchmark with the device time per call (CUDA events on the compute stream),
the wall time per call, achieved GB/s and TFLOP/s and the H100 roofline floor, then the README's
kernel table (section "Kernels") with its "measured" column filled in.

Usage: bench_gpu_table.py JMH_JSON README.md [--emulated]
With --emulated the numbers came from Lumen's CPU emulation of CUDA and say nothing about a GPU;
the output says so on every table. Standard library only.
"""
import fnmatch
import json
import re
import sys

# H100 SXM5 (80 GB HBM3): the roofline floor of a call is max(bytes / bandwidth, flops / peak).
HBM_BYTES_PER_S = 3.35e12
PEAK_FLOPS = {"F32": 67e12, "F64": 67e12, "F16": 989e12, "BF16": 989e12}  # FP32 SIMT; dense tensor cores for 16-bit
# The README kernel table's rows, by the prefix of their kernel names, and the benchmark that measures them.
# A row matches the first prefix its kernel cell starts with; a cell that starts with a wildcard
# (`*_pool2d_{fwd,bwd}`) matches a prefix its head covers as a glob (max_pool2d_ here).
README_ROWS = {
    # the hot ops' rows are one kernel each (make kernel-report): each shows its own pass
    "dwconv2d_tc_": ("DepthwiseConvTensorCoreCudaBench", ["forward"]),
    "dwconv2d_fwd_": ("DepthwiseConvCudaBench", ["forward"]),
    "dwconv2d_bwd_input_": ("DepthwiseConvCudaBench", ["backwardInput"]),
    "dwconv2d_bwd_weight_": ("DepthwiseConvCudaBench", ["backwardWeight"]),
    "outlook_fwd_": ("OutlookCudaBench", ["forward"]),
    "outlook_bwd_": ("OutlookCudaBench", ["backward"]),
    "selective_scan_fwd_": ("SelectiveScanCudaBench", ["forward"]),
    "selective_scan_bwd_": ("SelectiveScanCudaBench", ["backward"]),
    "catm_bwd_": ("AdditiveAttentionCudaBench", ["backward"]),
    "dwconv2d_": ("DepthwiseConvCudaBench", ["forward", "backwardInput", "backwardWeight"]),
    "outlook_": ("OutlookCudaBench", ["forward", "backward"]),
    "selective_scan_": ("SelectiveScanCudaBench", ["forward", "backward"]),
    "catm_": ("AdditiveAttentionCudaBench", ["forward"]),
    "binary_": ("GlueCudaBench", ["add", "gelu"]),   # the README's element-wise row lists binary_ and unary_ together
    "unary_": ("GlueCudaBench", ["gelu"]),
    "reduce_": ("GlueCudaBench", ["channelSum"]),
    "softmax_": ("GlueCudaBench", ["softmax"]),
    "layer_norm_": ("GlueCudaBench", ["layerNormForward", "layerNormBackward"]),
    "optim_": ("GlueCudaBench", ["adamw"]),
    "copy_": ("DataMovementCudaBench", ["cast"]),
    "index_": ("DataMovementCudaBench", ["indexSelect", "rangeCheck"]),
    "range_check_": ("DataMovementCudaBench", ["rangeCheck"]),
    "resize_": ("DataMovementCudaBench", ["resizeForward", "resizeBackward"]),
    "im2col": ("DataMovementCudaBench", ["im2col", "col2im"]),
    "col2im": ("DataMovementCudaBench", ["col2im", "im2col"]),
    "max_pool2d_": ("PoolNormCudaBench", ["maxPool", "maxPoolBackward", "adaptiveAvgPool"]),
    "adaptive_avg_pool2d_": ("PoolNormCudaBench", ["adaptiveAvgPool"]),
    "dropout_": ("PoolNormCudaBench", ["dropout"]),
    "batchnorm_": ("PoolNormCudaBench", ["batchNormBackwardConstStats", "batchNormForwardTraining"]),
}
# How the measured cell names each benchmark method.
SHORT = {"forward": "fwd", "backward": "bwd", "backwardInput": "bwd_input", "backwardWeight": "bwd_weight",
         "add": "add", "gelu": "gelu", "channelSum": "channel sum", "softmax": "fwd",
         "layerNormForward": "fwd", "layerNormBackward": "bwd", "adamw": "adamw",
         "cast": "to bf16", "indexSelect": "select", "rangeCheck": "check 64",
         "resizeForward": "fwd", "resizeBackward": "bwd", "im2col": "im2col", "col2im": "col2im",
         "maxPool": "max fwd", "maxPoolBackward": "max bwd", "adaptiveAvgPool": "adaptive avg fwd",
         "dropout": "fwd", "batchNormBackwardConstStats": "bwd (constant stats)", "batchNormForwardTraining": "cuDNN fwd (training)"}
EMULATED = "EMULATED: measured on Lumen's CPU emulation of CUDA at tiny sizes, not on a GPU; these times say nothing about GPU speed"


class Result:
    def __init__(self, entry):
        full = entry["benchmark"]
        self.cls, self.method = full.split(".")[-2:]
        self.params = entry.get("params", {})
        self.dtype = self.params.get("dtype", "F32")
        self.wall_us = entry["primaryMetric"]["score"]
        sec = entry.get("secondaryMetrics", {})
        get = lambda k: sec.get(k, {}).get("score", 0.0)
        calls, self.device_total_us = get("calls"), get("deviceUs")
        self.device_us = self.device_total_us / calls if calls else None
        self.bytes_per_call = get("bytes") / calls if calls else 0.0
        self.flops_per_call = get("flops") / calls if calls else 0.0

    def gbps(self):
        return self.bytes_per_call / self.device_us / 1e3 if self.device_us else None

    def tflops(self):
        return self.flops_per_call / self.device_us / 1e6 if self.device_us and self.flops_per_call else None

    def floor_us(self):
        memory = self.bytes_per_call / HBM_BYTES_PER_S
        compute = self.flops_per_call / PEAK_FLOPS.get(self.dtype, PEAK_FLOPS["F32"])
        return max(memory, compute) * 1e6

    def name(self):
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()) if k != "dtype")
        return f"{self.cls}.{self.method}" + (f" ({extra})" if extra else "")


def fmt(v, pattern):
    return "-" if v is None else pattern % v


def detail_table(results, emulated):
    lines = []
    if emulated:
        lines.append(EMULATED)
    lines.append("| benchmark | dtype | device us/call | wall us/call | GB/s | TFLOP/s | H100 floor us | floor/measured |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (r.cls, r.method, r.dtype)):
        floor = r.floor_us()
        ratio = floor / r.device_us if r.device_us else None
        ratio_text = "-" if ratio is None else "%.0f%%" % (100 * ratio)
        lines.append(f"| {r.name()} | {r.dtype} | {fmt(r.device_us, '%.1f')} | {r.wall_us:.1f} | {fmt(r.gbps(), '%.3g')} | "
                     f"{fmt(r.tflops(), '%.3g')} | {floor:.3g} | {ratio_text} |")
    return lines


def measured_cell(results, bench, methods, emulated):
    by_dtype = {}
    for r in results:
        if r.cls == bench and r.method in methods and r.device_us is not None:
            by_dtype.setdefault(r.dtype, {})[r.method] = r.device_us
    if not by_dtype:
        return None
    parts = []
    for dtype in sorted(by_dtype, key=lambda d: (d != "F32", d)):
        times = " / ".join(f"{SHORT[m]} {by_dtype[dtype][m]:.0f}" for m in methods if m in by_dtype[dtype])
        parts.append(f"{times} us ({dtype.lower()})")
    cell = "; ".join(parts)
    return ("emulated, not a GPU: " + cell) if emulated else cell


def readme_table(readme_text, results, emulated):
    section = re.search(r"^## Kernels\n(.*?)(?=^## |\Z)", readme_text, re.S | re.M)
    if not section:
        raise SystemExit("bench_gpu_table: README has no '## Kernels' section")
    rows = [l for l in section.group(1).splitlines() if l.startswith("|")]
    if len(rows) < 3:
        raise SystemExit("bench_gpu_table: the README's Kernels section has no table")
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    if "measured" not in header:
        raise SystemExit("bench_gpu_table: the README's kernel table has no 'measured' column")
    col = header.index("measured")
    out = [rows[0], rows[1]]
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        rule = row_rule(cells[0])
        if rule is None:
            print(f"bench_gpu_table: no benchmark in README_ROWS for the kernel row {cells[0]}", file=sys.stderr)
        else:
            bench, methods = rule
            cell = measured_cell(results, bench, methods, emulated)
            cells[col] = cell if cell is not None else "not run (" + bench + ")"
        out.append("| " + " | ".join(cells) + " |")
    return out


def row_rule(kernel_cell):
    """The README_ROWS entry of a kernel cell: the first prefix it starts with, or that its wildcard head covers."""
    kernel = kernel_cell.strip().strip("`")
    head = re.match(r"[^{<`,\s]*", kernel).group(0)
    for prefix, rule in README_ROWS.items():
        if kernel.startswith(prefix) or (head.startswith("*") and fnmatch.fnmatchcase(prefix, head + "*")):
            return rule
    return None


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    emulated = "--emulated" in argv
    if len(args) != 2:
        raise SystemExit(__doc__)
    with open(args[0]) as f:
        results = [Result(e) for e in json.load(f) if ".bench." in e["benchmark"] and e["benchmark"].split(".")[-2].endswith("CudaBench")]
    with open(args[1]) as f:
        readme = f.read()
    if not results:
        raise SystemExit(f"bench_gpu_table: no *CudaBench results in {args[0]}")
    print("\n".join(detail_table(results, emulated)))
    print()
    if emulated:
        print(EMULATED)
    print("README.md, Kernels (measured = device time per call, CUDA events, mean over the measured iterations):")
    print("\n".join(readme_table(readme, results, emulated)))


if __name__ == "__main__":
    main(sys.argv[1:])
