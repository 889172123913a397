"""interleave.py's turn-taking and its failure lines, with stand-in servers of the --serve protocol
(standard library only: no torch, no JVM)."""
import os
import sys
import tempfile
import unittest

import interleave

# A --serve stand-in: each step "takes" the time given by argv[1] ms; with "die" it exits at the first steps.
SERVER = r'''
import sys
ms, mode = sys.argv[1], sys.argv[2]
order = open(sys.argv[3], "a")
print("ready stand-in", flush=True)
for line in sys.stdin:
    w = line.split()
    if w[0] == "quit":
        break
    if w[0] == "memory":
        print("memory 100.0 nan 42", flush=True)
    elif w[0] == "steps":
        if mode == "die":
            print("stand-in: out of memory", file=sys.stderr, flush=True)
            sys.exit(3)
        order.write(ms + "\n"); order.flush()
        print("times " + " ".join([ms] * int(w[1])), flush=True)
'''


class InterleaveTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.server = os.path.join(self.dir, "server.py")
        self.order = os.path.join(self.dir, "order.txt")
        with open(self.server, "w") as f:
            f.write(SERVER)

    def test_sides_take_turns_and_the_ratio_is_pytorch_over_lumen(self):
        args = interleave.main_args(["--lumen", f"{sys.executable} {self.server} 200 ok {self.order}", "--python", sys.executable,
                                     "--peer", f"{self.server}", "--rounds", "4", "--steps-per-round", "2", "--out", self.dir])
        args.peer_args = ["300", "ok", self.order]
        result, rows = interleave.run_job(args, "resnet50", "train", 8, self.dir)
        self.assertEqual(result["lumen_ms"], 200.0)
        self.assertEqual(result["torch_ms"], 300.0)
        self.assertEqual(result["lumen_rss"], 100.0)
        with open(self.order) as f:
            self.assertEqual(f.read().split(), ["200", "300", "300", "200", "200", "300", "300", "200"])  # who goes first alternates
        self.assertEqual(rows[0].split(",")[:9], ["lumen", "resnet50", "train", "8", "224", "float32", "cpu", "2", "8"])
        self.assertEqual(rows[1].split(",")[0], "stand-in")
        self.assertEqual(rows[0].split(",")[14], "")  # an unknown live-tensor peak stays empty

    def test_a_dead_side_is_one_line_naming_it_and_its_last_words(self):
        args = interleave.main_args(["--lumen", f"{sys.executable} {self.server} 200 ok {self.order}", "--python", sys.executable,
                                     "--peer", self.server, "--rounds", "1", "--out", self.dir])
        args.peer_args = ["300", "die", self.order]
        with self.assertRaises(RuntimeError) as e:
            interleave.run_job(args, "resnet50", "train", 8, self.dir)
        msg = str(e.exception)
        self.assertTrue(msg.startswith("pytorch peer ended (exit 3) before its 'times' line: stand-in: out of memory"), msg)
        self.assertIn("resnet50-train-b8.pytorch.log", msg)


if __name__ == "__main__":
    unittest.main()
