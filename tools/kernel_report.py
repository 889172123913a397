#!/usr/bin/env python3
"""Static performance report of the kernels in the README's kernel table, on an H100 SXM (sm_90).

For each kernel at the table's problem size: registers and static shared memory from ptxas -v
(kernels/target/ptxas-report.txt), theoretical occupancy on sm_90, the instruction mix of its hot
loop read from the PTX nvcc emits (kernels/target/fatbin/keep/*.compute_90.ptx; the toolkit here
has no SASS disassembler), the FLOPs and bytes its launch geometry moves (models below, one
function per kernel family), and a roofline estimate next to the floor. THE TIMES ARE ESTIMATES
from a model, not measurements: `make bench-gpu` measures them on a GPU.

Usage: kernel_report.py PTXAS_REPORT PTX
Standard library only; deterministic; reads the files once.
"""
import sys

from kernelreport.h100 import WARPS_PER_SM
from kernelreport.models import ROWS
from kernelreport.ptx import parse_ptx, parse_ptxas
from kernelreport.roofline import MAX_RATIO, MIN_FMA_SHARE, estimate


def us(s):
    return f"{s * 1e6:,.0f} us" if s >= 1e-5 else f"{s * 1e6:.1f} us"


def table(estimates):
    head = ("| kernel (`kernels/cuda`) | problem | regs | smem B | occupancy | hot loop (PTX) | GFLOP | MB moved "
            "| estimate (bound) | H100 floor | est/floor | floor fp16 | targets | measured |")
    lines = [head, "|" + "---|" * 14]
    for e in estimates:
        m = e.mix
        fma, mma = m.n("fma"), m.n("mma")
        loop = f"{m.instructions:.0f} instr: {fma:.0f} FMA ({100 * fma / m.instructions:.0f}%), "
        if mma:
            loop += f"{mma:.0f} MMA ({100 * mma / m.instructions:.0f}%), "
        loop += f"{m.n('lds'):.0f} lds, {m.n('ldg'):.0f} ldg, {m.n('int'):.0f} int, {m.n('div'):.0f} div"
        if fma and not mma:
            loop += f"; {m.issue / fma:.1f} issue/FMA"
        if e.work.useful_fma and e.work.hot[0] == "mma":
            loop += f"; {100 * e.work.useful_fma / (e.work.hot[1] / 32 * e.work.mma_macs):.0f}% of the MMA work useful"
        elif e.work.useful_fma:
            loop += f"; {e.work.hot[1] / e.work.useful_fma:.2f} FMA per useful FMA"
        floor = us(e.floor) + (" (fp16 TC)" if e.work.floor_is16 else "")
        lines.append(f"| `{e.row.kernel}` | {e.row.problem} | {e.res.regs} | {e.res.static_shared + e.work.dynamic_shared:,} "
                     f"| {100 * e.occupancy:.0f}% ({e.limiter}), {100 * e.warps_per_sm / WARPS_PER_SM:.0f}% filled | {loop} | {e.work.flops / 1e9:.2f} "
                     f"| {e.work.moved_bytes / 1e6:,.0f} | {us(e.estimate)} ({e.bound}) | {floor} "
                     f"| {e.estimate / e.floor:.1f}x | {us(e.floor16)} | {'; '.join(e.misses) or 'met'}{''.join(f' ({n})' for n in e.notes)} | no GPU lent yet |")
    return lines


NOTE = ("Static estimate, not a measurement: registers and shared memory from ptxas -v (sm_90), the hot loop's "
        "instruction mix from the compute_90 PTX (no SASS here), the work from each kernel's launch geometry at the "
        "table's size, then max(instruction issue at 4 warp-instructions/clock/SM, shared memory at 128 B/clock/SM, "
        "bytes moved at 90% of 3.35 TB/s), each scaled down where too few warps are resident to hide latency, and MMAs at the dense 16-bit "
        "tensor-core peak; the floor is FP32 unless the kernel is a 16-bit tensor-core one (fp16 TC).")


def report(ptxas_text, ptx_text):
    resources = parse_ptxas(ptxas_text)
    bodies = parse_ptx(ptx_text)
    missing = [r.kernel for r in ROWS if r.kernel not in bodies]
    if missing:
        raise SystemExit("kernel_report: kernels of the README table missing from the PTX: " + ", ".join(missing))
    missing = [r.kernel for r in ROWS if r.kernel not in resources]
    if missing:
        raise SystemExit("kernel_report: kernels missing from the ptxas report (sm_90): " + ", ".join(missing))
    return [estimate(r, resources[r.kernel], bodies[r.kernel]) for r in ROWS]


def main(argv):
    args = argv
    if len(args) != 2:
        raise SystemExit(__doc__)
    texts = []
    for path in args:
        try:
            with open(path) as f:
                texts.append(f.read())
        except OSError as e:
            raise SystemExit(f"kernel_report: {path}: {e.strerror} (build it with `make kernels`)")
    estimates = report(*texts)
    print(NOTE)
    print()
    print("\n".join(table(estimates)))
    missed = [e for e in estimates if e.misses]
    print()
    print(f"{len(estimates) - len(missed)} of {len(estimates)} kernels meet the targets (estimate within {MAX_RATIO:g}x of "
          f"the floor, dwconv forward hot loop >= {100 * MIN_FMA_SHARE:.0f}% FMA or MMA, no integer division in a hot loop).")


if __name__ == "__main__":
    main(sys.argv[1:])
