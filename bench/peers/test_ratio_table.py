"""The ratio table's arithmetic (make tools-test)."""
import math
import unittest

import ratio_table as rt


def result(model, mode, torch_ms, lumen_ms, torch_rss=1000.0, lumen_rss=1100.0):
    return {"model": model, "mode": mode, "batch": 8, "img": 224, "torch_ms": torch_ms, "lumen_ms": lumen_ms,
            "torch_rss": torch_rss, "lumen_rss": lumen_rss}


class RatioTableTest(unittest.TestCase):
    def test_time_ratio_is_pytorch_over_lumen(self):
        self.assertAlmostEqual(rt.time_ratio(300.0, 200.0), 1.5)
        self.assertAlmostEqual(rt.time_ratio(100.0, 200.0), 0.5)

    def test_summary_is_median_min_mean(self):
        self.assertEqual(rt.summary([5.0, 1.0, 3.0, 2.0]), (2.5, 1.0, 2.75))
        with self.assertRaises(ValueError):
            rt.summary([])

    def test_geomean(self):
        self.assertAlmostEqual(rt.geomean([1.0, 4.0]), 2.0)
        self.assertAlmostEqual(rt.geomean([0.5, 2.0, 1.0]), 1.0)
        self.assertAlmostEqual(rt.geomean([1.44]), 1.44)
        with self.assertRaises(ValueError):
            rt.geomean([1.0, 0.0])

    def test_rows_mark_each_target(self):
        rows = rt.rows([result("a", "train", 120.0, 100.0, 1000.0, 1250.0), result("b", "inference", 90.0, 100.0, 1000.0, 1400.0)])
        self.assertEqual(rows[0][6], "1.20 (>= 1.0: yes)")
        self.assertEqual(rows[0][7], "1250 / 1000 = 1.25 (<= 1.2: NO)")
        self.assertEqual(rows[1][6], "0.90 (>= 1.0: NO)")
        self.assertEqual(rows[1][7], "1400 / 1000 = 1.40 (<= 1.5: yes)")

    def test_geomean_counts_training_rows_only(self):
        results = [result("a", "train", 200.0, 100.0), result("b", "train", 50.0, 100.0), result("c", "inference", 900.0, 100.0)]
        self.assertEqual(rt.geomean_line(results), "geometric mean of the 2 training ratios: 1.00 (>= 1.2: NO)")
        self.assertIsNone(rt.geomean_line([result("c", "inference", 1.0, 1.0)]))
        md = rt.markdown(results)
        self.assertEqual(md.count("\n| "), 3, md)  # the three rows under the header and its separator
        self.assertIn("Geometric mean of the 2 training ratios: 1.00", md)
        self.assertTrue(math.isclose(rt.geomean([2.0, 0.5]), 1.0))


if __name__ == "__main__":
    unittest.main()
