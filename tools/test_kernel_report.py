"""Tests of the static kernel report (tools/kernel_report.py) on a committed sample of nvcc's output
(tools/testdata/kernel_report): a change of PTX or ptxas format that breaks the parsers fails here,
in `make test` (target tools-test)."""
import os
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kernel_report  # noqa: E402
from kernelreport import models, roofline  # noqa: E402
from kernelreport.h100 import occupancy  # noqa: E402
from kernelreport.ptx import Resources, category, divisions_in_loops, hot_loop, loops, mix_of, parse_ptx, parse_ptxas  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "kernel_report")


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


class PtxasTest(unittest.TestCase):
    def test_reads_the_sm90_entries_only(self):
        r = parse_ptxas(read("sample-ptxas.txt"))
        self.assertEqual(sorted(r), ["dwconv2d_fwd_k31_s1_f32", "toy_copy_f32"])
        self.assertEqual(r["dwconv2d_fwd_k31_s1_f32"].regs, 92)   # the sm_80 entry says 30
        self.assertEqual(r["dwconv2d_fwd_k31_s1_f32"].static_shared, 0)
        self.assertFalse(r["dwconv2d_fwd_k31_s1_f32"].spill)
        self.assertEqual((r["toy_copy_f32"].regs, r["toy_copy_f32"].static_shared), (72, 2048))
        self.assertTrue(r["toy_copy_f32"].spill)


class PtxTest(unittest.TestCase):
    def setUp(self):
        self.bodies = parse_ptx(read("sample.compute_90.ptx"))

    def test_finds_every_entry_and_drops_directives(self):
        self.assertEqual(sorted(self.bodies), ["dwconv2d_fwd_k31_s1_f32", "toy_copy_f32"])
        for body in self.bodies.values():
            self.assertFalse([s for s in body if s.startswith(".")])
        self.assertEqual(self.bodies["toy_copy_f32"][-1], "ret")

    def test_loops_are_backward_branches_to_labels(self):
        body = self.bodies["toy_copy_f32"]
        found = [(body[a], body[b]) for a, b in loops(body)]
        self.assertEqual(found, [("$L__BB9_1:", "@%p2 bra \t$L__BB9_1"), ("$L__BB9_4:", "@%p3 bra \t$L__BB9_4")])

    def test_dwconv_forward_hot_loop_is_its_input_row_loop(self):
        # The register-blocked k31 forward (nvcc 13's PTX): per input row, 37 loads of the row segment
        # and 4 filter rows of 8 float4 broadcasts for 4 x 7 x 31 FMAs (the old kernel: 20 loads per 16).
        _, mix = hot_loop(self.bodies["dwconv2d_fwd_k31_s1_f32"])
        self.assertEqual(mix.n("fma"), 4 * 7 * 31)
        self.assertEqual(mix.n("lds"), 37 + 4 * 8)
        self.assertEqual(mix.shared_wavefronts, 37 + 4 * 8 * 4)
        self.assertEqual(mix.n("div"), 0)
        self.assertEqual(mix.n("ldg"), 0)
        self.assertGreater(mix.n("fma") / mix.instructions, 0.9)

    def test_hot_loop_paths(self):
        body = self.bodies["toy_copy_f32"]
        (a, _), work = hot_loop(body)
        self.assertEqual(body[a], "$L__BB9_4:")                      # the loop with the FMA
        self.assertEqual((work.n("fma"), work.n("ldg"), work.n("stg")), (1, 1, 1))
        self.assertEqual(work.shared_wavefronts, 0)
        body_without_fma = [s for s in body if not s.startswith("fma")]
        (a, _), strided = hot_loop(body_without_fma)
        self.assertEqual(body_without_fma[a], "$L__BB9_1:")          # more instructions, no FMA anywhere
        self.assertEqual(strided.n("div"), 2)
        self.assertEqual(strided.issue, strided.instructions - 2 + 2 * 25)   # 64-bit div/rem weigh 25 slots
        (a, _), fast = hot_loop(body_without_fma, "fast")
        self.assertEqual(body_without_fma[a], "$L__BB9_4:")          # the loop without a division

    def test_categories(self):
        cases = {"fma.rn.f32": "fma", "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32": "mma",
                 "wmma.mma.sync.aligned.row.col.m16n16k16.f32.f16.f16.f32": "mma",
                 "wmma.load.a.sync.aligned.row.m16n16k16.shared.f16": "lds",
                 "wmma.load.b.sync.aligned.col.m16n16k16.f16": "lds",
                 "wmma.store.d.sync.aligned.row.m16n16k16.shared.f32": "sts",
                 "wmma.load.c.sync.aligned.row.m16n16k16.global.f32": "ldg",
                 "mad.lo.s32": "int", "div.s32": "div", "rem.u64": "div", "div.rn.f32": "fp",
                 "ld.shared.v4.f32": "lds", "ld.global.nc.f32": "ldg", "st.global.f32": "stg",
                 "st.shared.f32": "sts", "atom.global.add.f32": "atom", "bar.sync": "ctl", "ex2.approx.ftz.f32": "fp",
                 "cvt.rn.f32.s32": "fp", "cvt.s64.s32": "int", "setp.lt.s32": "int", "ld.param.u64": "other"}
        for op, want in cases.items():
            self.assertEqual(category(op), want, op)

    def test_fragment_loads_count_their_wavefronts(self):
        # a 16x16 fragment of 16-bit values is 512 bytes: 4 conflict-free 128-byte wavefronts
        m = mix_of(["wmma.load.a.sync.aligned.row.m16n16k16.shared.f16 {%r1, %r2}, [%rd1], 16",
                    "wmma.store.d.sync.aligned.row.m16n16k16.shared.f32 [%rd2], {%f1}, 16",
                    "ld.shared.v4.f32 {%f1, %f2, %f3, %f4}, [%rd3]", "ld.shared.f32 %f5, [%rd4]"])
        self.assertEqual(m.shared_wavefronts, 4 + 8 + 4 + 1)

    def test_outer_and_body_paths(self):
        body = ["mov.u32 %r1, 0", "$L1:", "ld.global.f32 %f1, [%rd1]", "$L2:", "fma.rn.f32 %f2, %f1, %f1, %f2",
                "@%p1 bra $L2", "div.u32 %r2, %r1, %r3", "@%p2 bra $L1", "ret"]
        (a, b), inner = hot_loop(body)
        self.assertEqual((body[a], inner.instructions), ("$L2:", 2))
        (a, b), outer = hot_loop(body, "outer")
        self.assertEqual(body[a], "$L1:")                               # the loop around the FMA loop, whole
        self.assertEqual((outer.n("fma"), outer.n("ldg"), outer.n("div")), (1, 1, 1))
        where, whole = hot_loop(body, "body")
        self.assertIsNone(where)
        self.assertEqual(whole.instructions, 7)
        with self.assertRaises(ValueError):
            hot_loop(body[3:7], "outer")                                # a loop with nothing around it

    def test_body_path_with_trips(self):
        # one row per thread: a staging loop of 2 statements run 17 times, the body's 2 statements
        # once, an FMA loop of 3 statements 8 times; a division inside a loop is seen as such
        body = ["div.u32 %r9, %r1, %r3", "$L1:", "ld.global.f32 %f1, [%rd1]", "@%p1 bra $L1",
                "$L2:", "fma.rn.f32 %f2, %f1, %f1, %f2", "fma.rn.f32 %f3, %f1, %f1, %f3", "@%p2 bra $L2", "ret"]
        where, m = hot_loop(body, "body", nested=lambda loop: 8 if loop.n("fma") else 17)
        self.assertIsNone(where)
        self.assertEqual((m.n("fma"), m.n("ldg"), m.n("div"), m.instructions), (16, 17, 1, 2 + 2 * 17 + 3 * 8))
        self.assertEqual(divisions_in_loops(body), 0)
        self.assertEqual(divisions_in_loops(body[1:3] + body[:1] + body[3:]), 1)

    def test_nested_trips_and_wanted_counts(self):
        # an outer loop of 1 FMA around an inner one of 2 FMAs: the inner one 8 times is 17 FMAs
        body = ["$L1:", "fma.rn.f32 %f1, %f1, %f1, %f1", "$L2:", "fma.rn.f32 %f2, %f2, %f2, %f2",
                "fma.rn.f32 %f3, %f3, %f3, %f3", "@%p1 bra $L2", "@%p2 bra $L1",
                "$L3:", "fma.rn.f32 %f4, %f4, %f4, %f4", "fma.rn.f32 %f4, %f4, %f4, %f4", "fma.rn.f32 %f4, %f4, %f4, %f4",
                "@%p3 bra $L3", "ret"]
        (a, _), m = hot_loop(body, want={"fma": 1})
        self.assertEqual(body[a], "$L1:")                               # not $L3, which has more FMAs
        _, m = hot_loop(body, want={"fma": 1}, nested=lambda inner: 16 / inner.n("fma"))
        self.assertEqual((m.n("fma"), m.instructions, m.n("ctl")), (1 + 8 * 2, 2 + 8 * 3, 1 + 8))
        with self.assertRaises(ValueError):
            hot_loop(body, want={"mma": 1})

    def test_mean_of_instances(self):
        # two instantiations of a span loop, each around one state loop of 1 FMA ($S1, $S2); the
        # second also holds a staging loop ($W) that runs 4 times per span; a tail copy of the state
        # loop ($T) sits in the loop around both, which encloses two state loops and is no instance
        body = ["$R:",
                "$A:", "add.s32 %r1, %r1, 1", "$S1:", "fma.rn.f32 %f1, %f1, %f1, %f1", "@%p1 bra $S1", "@%p2 bra $A",
                "$B:", "$W:", "ld.global.f32 %f2, [%rd1]", "@%p3 bra $W", "$S2:", "fma.rn.f32 %f1, %f1, %f1, %f1",
                "@%p4 bra $S2", "mul.f32 %f3, %f3, %f3", "@%p5 bra $B",
                "$T:", "fma.rn.f32 %f1, %f1, %f1, %f1", "@%p6 bra $T", "@%p7 bra $R", "ret"]

        def trips(mix, depth, is_state, has_inner):
            self.assertEqual(depth, 1)
            self.assertFalse(has_inner)
            return 2 if is_state else 4

        where, m = hot_loop(body, "mean", {"fma": 1}, trips)
        self.assertEqual(body[where[0]], "$A:")
        # $A: add + branch + 2 x (fma + branch) = 6; $B: mul + branch + 4 x (ld + branch) + 2 x 2 = 14
        self.assertAlmostEqual(m.instructions, (6 + 14) / 2)
        self.assertAlmostEqual(m.n("fma"), 2)
        self.assertAlmostEqual(m.n("ldg"), 2)
        with self.assertRaises(ValueError):
            hot_loop(body, "mean", {"fma": 3}, trips)


class OccupancyTest(unittest.TestCase):
    def test_sm90_limits(self):
        # 32 registers x 256 threads: 8 blocks fill the 2,048 threads of an SM
        self.assertEqual(occupancy(32, 256, 19220)[:2], (8, 1.0))
        # 72 registers: 2,304 per warp, 7 warps per 16,384-register sub-partition, 28 warps: 7 blocks of 4
        self.assertEqual(occupancy(72, 128, 26112), (7, 28 / 64, "registers"))
        # 100 KiB of shared memory plus the 1 KiB reservation: 2 blocks in 228 KiB
        self.assertEqual(occupancy(32, 128, 100 * 1024), (2, 8 / 64, "shared"))
        # 32 blocks per SM at most
        self.assertEqual(occupancy(16, 32, 0), (32, 0.5, "blocks"))


class ReportTest(unittest.TestCase):
    def test_a_kernel_of_the_table_missing_from_the_ptx_is_an_error_naming_it(self):
        with self.assertRaises(SystemExit) as e:
            kernel_report.report(read("sample-ptxas.txt"), read("sample.compute_90.ptx"))
        self.assertIn("missing from the PTX", str(e.exception))
        self.assertIn("outlook_fwd_f32", str(e.exception))
        self.assertNotIn("dwconv2d_fwd_k31_s1_f32", str(e.exception))

    def test_dwconv_forward_estimate_is_issue_bound(self):
        rows = [r for r in models.ROWS if r.kernel == "dwconv2d_fwd_k31_s1_f32"]
        with mock.patch.object(models, "ROWS", rows), mock.patch.object(kernel_report, "ROWS", rows):
            [e] = kernel_report.report(read("sample-ptxas.txt"), read("sample.compute_90.ptx"))
        # Blocks of 8 x 14 threads (a 56x56 plane, 7x4 outputs each), 33,680 bytes of shared memory;
        # 92 registers fit 5 blocks (20 warps) per SM, so 8,192 blocks run in 13 waves of 660. The
        # row loop's 954 instructions per 868 FMAs issue at 4 warp-instructions a clock, its 4th warp
        # half empty (112 threads): about 1.3x the 737 us FP32 floor, ahead of shared memory (165
        # wavefronts per 954 issue slots).
        self.assertEqual(e.bound, "issue")
        self.assertEqual((e.blocks_per_sm, e.warps_per_sm), (5, 20))
        loops = 64 * 128 * 3136 * 961 / 868
        want = loops / 32 / (112 / 128) * 954 / (132 * 4 * 1.98e9) / (8192 / (13 * 660))
        self.assertAlmostEqual(e.estimate / want, 1.0, places=9)
        self.assertAlmostEqual(e.floor * 1e6, 737, delta=1)
        self.assertAlmostEqual(e.estimate / e.floor, 1.32, places=2)
        self.assertEqual(e.misses, [])
        lines = kernel_report.table([e])
        self.assertTrue(lines[2].startswith("| `dwconv2d_fwd_k31_s1_f32` | dw conv 31x31, B64 C128 56x56 | 92 | 33,680 | 31%"))
        self.assertIn("868 FMA (91%)", lines[2])
        self.assertTrue(lines[2].endswith("| met | no GPU lent yet |"))

    def test_tensor_core_row_is_held_to_the_fp16_floor(self):
        [row] = [r for r in models.ROWS if r.kernel == "dwconv2d_tc_f16"]
        w = row.model()
        self.assertTrue(w.floor_is16)
        # 31 filter columns x 24 MMAs per 64x32 tile, 2 tiles (one window) per 56x56 plane, 32 images per
        # block in 6 rounds of 6 windows, 2 blocks per channel, charged to all 12 warps
        self.assertEqual(w.hot, ("mma", 32 * 128 * 2 * 6 * 12 * 31 * 24))
        self.assertEqual(w.dynamic_shared, (31 * 3 * 256 + 6 * 94 * 112) * 2)
        loop = (["$L1:"] + ["wmma.load.a.sync.aligned.row.m16n16k16.shared.f16 {%r1}, [%rd1], 16"] * 15
                + ["wmma.mma.sync.aligned.row.col.m16n16k16.f32.f32 {%f1}, {%r1}, {%r2}, {%f1}"] * 24 + ["@%p1 bra $L1"])
        e = roofline.estimate(row, Resources(128, 0, False), loop)
        self.assertEqual(e.floor, e.floor16)
        self.assertIn("tensor", e.times)
        # one 12-warp block per SM: 256 blocks in 2 waves of 132
        self.assertAlmostEqual(e.times["tensor"] * 990e12 / 2,
                               w.hot[1] / 32 * 4096 / (256 / (2 * 132)), delta=1)

    def test_catm_strip_kernels_follow_the_launcher(self):
        # AdditiveAttentionCuda.Strips.of (AdditiveAttentionCudaTest asserts the same numbers): a
        # 56x56 plane is one block of 4 strips of 14 rows; 130 columns need two boxes across
        self.assertEqual(models.ca_strips(56, 56), (56, 4, 14, 1, 224))
        self.assertEqual(models.ca_strips(40, 130), (128, 2, 16, 4, 256))
        w = models.catm_stats()
        self.assertEqual((w.blocks, w.threads), (64 * 48, 224))
        # the row loop's trips from its loads (3 per pixel), however far nvcc unrolls it: a loop of
        # 3 pixels' code runs a third as often
        loop = ["$L1:"] + ["ld.global.nc.f32 %f1, [%rd1]"] * 9 + ["fma.rn.f32 %f2, %f1, %f1, %f2"] * 27 + ["@%p1 bra $L1"]
        [row] = [r for r in models.ROWS if r.kernel == "catm_stats_f32"]
        e = roofline.estimate(row, Resources(40, 128, False), loop)
        # 40 registers: 6 blocks of 7 warps per SM, 3,072 blocks in 4 waves of 792
        self.assertEqual((e.blocks_per_sm, e.warps_per_sm), (6, 42))
        issue = 64 * 48 * 3136 / 3 / 32 * 37 / (132 * 4 * 1.98e9) / (3072 / (4 * 792))
        self.assertAlmostEqual(e.times["issue"] / issue, 1.0, places=9)

    def test_every_model_runs_and_has_a_floor(self):
        for r in models.ROWS:
            w = r.model()
            self.assertGreater(w.floor_bytes, 0, r.kernel)
            self.assertGreaterEqual(w.moved_bytes, (w.floor_bytes16 if w.floor_is16 else w.floor_bytes) * 0.99, r.kernel)
            self.assertIn(w.hot[0], ("fma", "mma", "ldg", "iters"), r.kernel)
            self.assertEqual(w.hot[0] == "mma", w.mma_macs > 0, r.kernel)
            self.assertLessEqual(w.threads, 1024, r.kernel)
        self.assertEqual(roofline.MAX_RATIO, 2.0)


if __name__ == "__main__":
    unittest.main()
