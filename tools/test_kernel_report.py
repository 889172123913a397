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
from kernelreport.ptx import category, hot_loop, loops, parse_ptx, parse_ptxas  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "kernel_report")


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


class PtxasTest(unittest.TestCase):
    def test_reads_the_sm90_entries_only(self):
        r = parse_ptxas(read("sample-ptxas.txt"))
        self.assertEqual(sorted(r), ["dwconv2d_fwd_f32", "toy_copy_f32"])
        self.assertEqual(r["dwconv2d_fwd_f32"].regs, 32)          # the sm_80 entry says 30
        self.assertEqual(r["dwconv2d_fwd_f32"].static_shared, 0)
        self.assertFalse(r["dwconv2d_fwd_f32"].spill)
        self.assertEqual((r["toy_copy_f32"].regs, r["toy_copy_f32"].static_shared), (72, 2048))
        self.assertTrue(r["toy_copy_f32"].spill)


class PtxTest(unittest.TestCase):
    def setUp(self):
        self.bodies = parse_ptx(read("sample.compute_90.ptx"))

    def test_finds_every_entry_and_drops_directives(self):
        self.assertEqual(sorted(self.bodies), ["dwconv2d_fwd_f32", "toy_copy_f32"])
        for body in self.bodies.values():
            self.assertFalse([s for s in body if s.startswith(".")])
        self.assertEqual(self.bodies["toy_copy_f32"][-1], "ret")

    def test_loops_are_backward_branches_to_labels(self):
        body = self.bodies["toy_copy_f32"]
        found = [(body[a], body[b]) for a, b in loops(body)]
        self.assertEqual(found, [("$L__BB9_1:", "@%p2 bra \t$L__BB9_1"), ("$L__BB9_4:", "@%p3 bra \t$L__BB9_4")])

    def test_dwconv_forward_hot_loop_is_its_tap_loop(self):
        # The issue's reading of the forward: about 35 shared loads per 28 FMAs; this PTX has 20 per 16.
        _, mix = hot_loop(self.bodies["dwconv2d_fwd_f32"])
        self.assertEqual(mix.n("fma"), 16)
        self.assertEqual(mix.n("lds"), 20)
        self.assertEqual(mix.n("div"), 0)
        self.assertEqual(mix.n("ldg"), 0)

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
        cases = {"fma.rn.f32": "fma", "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32": "fma",
                 "mad.lo.s32": "int", "div.s32": "div", "rem.u64": "div", "div.rn.f32": "fp",
                 "ld.shared.v4.f32": "lds", "ld.global.nc.f32": "ldg", "st.global.f32": "stg",
                 "st.shared.f32": "sts", "atom.global.add.f32": "atom", "bar.sync": "ctl", "ex2.approx.ftz.f32": "fp",
                 "cvt.rn.f32.s32": "fp", "cvt.s64.s32": "int", "setp.lt.s32": "int", "ld.param.u64": "other"}
        for op, want in cases.items():
            self.assertEqual(category(op), want, op)


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
        self.assertNotIn("dwconv2d_fwd_f32,", str(e.exception))

    def test_dwconv_forward_estimate_is_shared_memory_bound(self):
        rows = [r for r in models.ROWS if r.kernel == "dwconv2d_fwd_f32"]
        with mock.patch.object(models, "ROWS", rows), mock.patch.object(kernel_report, "ROWS", rows):
            [e] = kernel_report.report(read("sample-ptxas.txt"), read("sample.compute_90.ptx"))
        # 20 shared loads per 16 FMAs: 1.25 per FMA against 1 shared wavefront and 4 FMA issues a clock
        # (4 times the floor's rate, 67 TFLOP/s being 132 SMs x 4 x 32 lanes x 2 x 1.98 GHz), on 2x2
        # 32x32 tiles per 56x56 map (4096/3136 of the work), in 32 waves of 1,056 blocks for 32,768.
        self.assertEqual(e.bound, "shared")
        waves = 32768 / (32 * 8 * 132)
        want = 1.25 * 67e12 / (132 * 4 * 32 * 2 * 1.98e9) * 4 * 4096 / 3136 / waves
        self.assertAlmostEqual(e.estimate / e.floor, want, places=6)
        self.assertAlmostEqual(want, 6.74, places=2)
        self.assertAlmostEqual(e.floor * 1e6, 737, delta=1)
        self.assertIn("hot loop 28% FMA", e.misses)
        lines = kernel_report.table([e])
        self.assertTrue(lines[2].startswith("| `dwconv2d_fwd_f32` | dw conv 31x31, B64 C128 56x56 | 32 | 19,220 | 100%"))
        self.assertTrue(lines[2].endswith("| no GPU lent yet |"))

    def test_every_model_runs_and_has_a_floor(self):
        for r in models.ROWS:
            w = r.model()
            self.assertGreater(w.floor_bytes, 0, r.kernel)
            self.assertGreaterEqual(w.moved_bytes, w.floor_bytes * 0.99, r.kernel)
            self.assertIn(w.hot[0], ("fma", "ldg", "iters"), r.kernel)
            self.assertLessEqual(w.threads, 1024, r.kernel)
        self.assertEqual(roofline.MAX_RATIO, 2.0)


if __name__ == "__main__":
    unittest.main()
