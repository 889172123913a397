import io
import unittest

import onednn_profile

# Two steps of three primitives, in oneDNN 2.6's verbose format (one 3x3 convolution with its
# reorders in and out, as Lumen runs a blocked layer on NCHW tensors).
STEP = """onednn_verbose,exec,cpu,reorder,jit:uni,undef,src_f32::blocked:abcd:f0 dst_f32::blocked:aBcd16b:f0,,,8x64x56x56,{r1}
onednn_verbose,exec,cpu,convolution,jit:avx512_core,forward_inference,src_f32::blocked:aBcd16b:f0 wei_f32::blocked:ABcd16b16a:f0 bia_f32::blocked:a:f0 dst_f32::blocked:aBcd16b:f0,attr-post-ops:eltwise_relu ,alg:convolution_direct,mb8_ic64oc64_ih56oh56kh3sh1dh0ph1_iw56ow56kw3sw1dw0pw1,{c}
onednn_verbose,exec,cpu,reorder,jit:uni,undef,src_f32::blocked:aBcd16b:f0 dst_f32::blocked:abcd:f0,,,8x64x56x56,{r2}
"""
LOG = ("onednn_verbose,info,oneDNN v2.6.3\nnot a oneDNN line\n"
       + STEP.format(r1=9.0, c=90.0, r2=9.0) + STEP.format(r1=1.0, c=10.0, r2=3.0))


class OneDnnProfileTest(unittest.TestCase):
    def test_sums_per_primitive_and_direction_per_step(self):
        execs = onednn_profile.parse(io.StringIO(LOG))
        self.assertEqual(6, len(execs))
        per, by_label, by_layer = onednn_profile.profile(execs, steps=2, skip=0)
        self.assertEqual(3, per)
        self.assertAlmostEqual(50.0, by_label["convolution forward_inference +attr-post-ops:eltwise_relu "])
        self.assertAlmostEqual(5.0, by_label["reorder plain->blocked"])
        self.assertAlmostEqual(6.0, by_label["reorder blocked->plain"])

    def test_skip_drops_the_warm_up_steps(self):
        execs = onednn_profile.parse(io.StringIO(LOG))
        _, by_label, _ = onednn_profile.profile(execs, steps=2, skip=1)
        self.assertAlmostEqual(10.0, by_label["convolution forward_inference +attr-post-ops:eltwise_relu "])
        self.assertAlmostEqual(1.0, by_label["reorder plain->blocked"])

    def test_a_count_that_does_not_split_is_an_error_naming_the_option(self):
        execs = onednn_profile.parse(io.StringIO(LOG))
        with self.assertRaisesRegex(ValueError, "--steps"):
            onednn_profile.profile(execs, steps=4, skip=0)
        with self.assertRaisesRegex(ValueError, "--skip"):
            onednn_profile.profile(execs, steps=2, skip=2)

    def test_report_gives_shares_of_the_step(self):
        out = io.StringIO()
        onednn_profile.report(onednn_profile.parse(io.StringIO(LOG)), 2, 1, 28.0, 5, out)
        text = out.getvalue()
        self.assertIn("14.0 ms per step in oneDNN of a 28.0 ms step (50.0%)", text)
        self.assertIn("mb8_ic64oc64_ih56oh56kh3", text)


if __name__ == "__main__":
    unittest.main()
