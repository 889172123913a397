"""The roofline estimate of one kernel: the time its hot loop's instruction issue, its shared-memory
accesses and its bytes take on an H100, each scaled where too few warps are resident, against
the floor of its useful FLOPs and compulsory bytes, and the targets of issue 11."""
from dataclasses import dataclass

from kernelreport.h100 import (CLOCK, FP32_PEAK, HBM, HBM_EFFICIENCY, ISSUE_PER_SM, SHARED_WAVEFRONTS_PER_SM, SMS,
                               TENSOR16_PEAK, WARPS_FOR_HBM, WARPS_FOR_ISSUE, ceil, occupancy)
from kernelreport.models import Row, Work
from kernelreport.ptx import Mix, Resources, divisions_in_loops, hot_loop

# Targets of issue 11: estimate within 2x of the floor; the dwconv forward's hot loop at least
# 60% FMA; no integer division in any hot loop.
MAX_RATIO, MIN_FMA_SHARE, FMA_SHARE_KERNELS = 2.0, 0.60, ("dwconv2d_fwd_", "dwconv2d_tc_")


@dataclass
class Estimate:
    row: Row
    res: Resources
    work: Work
    mix: Mix
    blocks_per_sm: int
    occupancy: float
    limiter: str
    warps_per_sm: float
    times: dict
    estimate: float
    bound: str
    floor: float
    floor16: float
    misses: list
    notes: list


def estimate(row, res, body):
    w = row.model()
    try:
        _, mix = hot_loop(body, row.path, row.want, row.nested)
    except ValueError as e:
        raise SystemExit(f"kernel_report: {row.kernel}: {e}")
    kind, executed = w.hot
    per_body = 1 if kind == "iters" else mix.n(kind)
    if per_body == 0:
        raise SystemExit(f"kernel_report: the hot loop of {row.kernel} has no '{kind}' instruction to count its work by")
    iterations = executed / per_body                  # thread-level executions of the hot loop's body
    blocks, occ, limiter = occupancy(res.regs, w.threads, res.static_shared + w.dynamic_shared)
    if blocks == 0:
        raise SystemExit(f"kernel_report: {row.kernel} cannot run: {w.threads} threads with {res.regs} registers "
                         f"and {res.static_shared + w.dynamic_shared} bytes of shared memory do not fit an SM")
    warps_per_block = ceil(w.threads, 32)
    warps = min(blocks * warps_per_block, w.blocks * warps_per_block / SMS)   # resident warps per SM
    waves = ceil(w.blocks, blocks * SMS)
    # A grid that does not fill its last wave leaves SMs idle for that wave.
    wave_eff = w.blocks / (waves * blocks * SMS) if w.blocks >= blocks * SMS else 1.0
    # A block of threads that is not a whole number of warps issues for the empty lanes too.
    lane_fill = w.threads / (warps_per_block * 32)
    warp_iterations = iterations / 32 / lane_fill
    issue = warp_iterations * mix.issue / (SMS * ISSUE_PER_SM * CLOCK) / min(1.0, warps / WARPS_FOR_ISSUE) / wave_eff
    shared = warp_iterations * mix.shared_wavefronts / (SMS * SHARED_WAVEFRONTS_PER_SM * CLOCK) / wave_eff
    memory = w.moved_bytes / (HBM * HBM_EFFICIENCY * min(1.0, warps / WARPS_FOR_HBM))
    times = {"issue": issue, "shared": shared, "memory": memory}
    if mix.n("mma"):
        # a warp's MMA instruction of w.mma_macs multiply-adds on the dense 16-bit tensor-core peak
        times["tensor"] = warp_iterations * mix.n("mma") * w.mma_macs * 2 / TENSOR16_PEAK / wave_eff
    bound = max(times, key=times.get)
    est = times[bound]
    floor32 = max(w.flops / FP32_PEAK, w.floor_bytes / HBM)
    floor16 = max(w.flops / (TENSOR16_PEAK if w.tensor_cores else 2 * FP32_PEAK), w.floor_bytes16 / HBM)
    # A 16-bit tensor-core kernel is held to the 16-bit tensor-core floor.
    floor = floor16 if w.floor_is16 else floor32
    misses = []
    if est > MAX_RATIO * floor:
        misses.append(f"{est / floor:.1f}x floor")
    share = (mix.n("fma") + mix.n("mma")) / mix.instructions
    if row.kernel.startswith(FMA_SHARE_KERNELS) and share < MIN_FMA_SHARE:
        misses.append(f"hot loop {100 * share:.0f}% FMA/MMA")
    notes = []
    looped = divisions_in_loops(body) if row.path == "body" and row.nested else 0
    if looped:
        # a kernel of one row per thread whose loops count their trips: those loops are its hot part
        misses.append(f"{looped} div/rem in a loop")
    elif mix.n("div") and row.path == "body":
        # a kernel of one pixel per thread has no hot loop: its block decode divides once per thread
        notes.append(f"{mix.n('div')} div/rem once per thread, not in a loop")
    elif mix.n("div"):
        misses.append(f"{mix.n('div')} div/rem in hot loop")
    return Estimate(row, res, w, mix, blocks, occ, limiter, warps, times, est, bound, floor, floor16, misses, notes)


