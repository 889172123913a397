#!/usr/bin/env python3
"""Per-primitive profile of oneDNN's verbose log (ONEDNN_VERBOSE=1, oneDNN 2.x).

Each executed primitive prints one line:
  onednn_verbose,exec,cpu,<primitive>,<impl>,<propagation>,<memory descs>,<attrs>,<aux>,<problem>,<ms>
This sums the times per primitive kind and propagation (how much is convolution, how much is
reorder between Lumen's NCHW and oneDNN's blocked layouts), and lists the costliest layers
(problem descriptors). Steps are identical, so the lines of one step are the total over the
number of steps run; --skip drops the first steps (warm-up: page faults of fresh scratch).

  LUMEN_ONEDNN_VERBOSE: ONEDNN_VERBOSE=1 bin/lumen benchmark --model resnet50 --bench inference \\
      -b 32 --threads 2 --warmup 1 --steps 2 > /tmp/v.log
  python3 tools/onednn_profile.py /tmp/v.log --steps 3 --skip 1 [--step-ms 3100]
"""
import argparse
import collections
import signal
import sys

MARKERS = ("onednn_verbose,exec,", "dnnl_verbose,exec,")


class Exec:
    """One executed primitive."""

    def __init__(self, fields):
        self.kind, self.impl, self.prop = fields[3], fields[4], fields[5]
        self.descs, self.attrs, self.problem = fields[6], fields[7], fields[-2]
        self.ms = float(fields[-1])

    def label(self):
        """Primitive and propagation; a reorder also says which way its layouts go."""
        if self.kind == "reorder":
            return "reorder " + self.direction()
        return f"{self.kind} {self.prop}" + (" +" + self.attrs if self.attrs else "")

    def direction(self):
        """plain->blocked, blocked->plain or other, from the format tags of source and destination (NHWC counts as blocked)."""
        tags = [d.split(":")[3] if len(d.split(":")) > 3 else "?" for d in self.descs.split()]
        if len(tags) != 2:
            return "other"
        # plain: dimensions in their logical order (abcd = NCHW); acdb (NHWC) or aBcd16b are not.
        plain = [t.isalpha() and t == "".join(sorted(t)) and t == t.lower() for t in tags]
        return {(True, False): "plain->blocked", (False, True): "blocked->plain"}.get(tuple(plain), "other")


def parse(lines):
    out = []
    for line in lines:
        if line.startswith(MARKERS):
            fields = line.rstrip("\n").split(",")
            if len(fields) >= 11:
                out.append(Exec(fields))
    return out


def profile(execs, steps, skip):
    """Per-step totals (ms) by label and by layer, over the steps after the first skip ones."""
    if steps < 1 or skip < 0 or skip >= steps:
        raise ValueError(f"--steps {steps} must be >= 1 and --skip {skip} in [0, steps)")
    if len(execs) % steps:
        raise ValueError(f"{len(execs)} executed primitives do not split into {steps} equal steps; check --steps")
    per = len(execs) // steps
    kept = execs[skip * per:]
    n = steps - skip
    by_label, by_layer = collections.Counter(), collections.Counter()
    for e in kept:
        by_label[e.label()] += e.ms / n
        by_layer[(e.label(), e.impl, e.problem)] += e.ms / n
    return per, by_label, by_layer


def report(execs, steps, skip, step_ms, top, out):
    per, by_label, by_layer = profile(execs, steps, skip)
    total = sum(by_label.values())
    base = step_ms if step_ms else total
    out.write(f"{per} primitives per step, {total:.1f} ms per step in oneDNN"
              + (f" of a {step_ms:.1f} ms step ({100 * total / step_ms:.1f}%)" if step_ms else "") + "\n\n")
    out.write(f"{'ms/step':>9} {'share':>6}  primitive\n")
    for label, ms in by_label.most_common():
        out.write(f"{ms:9.1f} {100 * ms / base:5.1f}%  {label}\n")
    out.write(f"\ncostliest {top} layers\n{'ms/step':>9} {'share':>6}  primitive, implementation, problem\n")
    for (label, impl, problem), ms in by_layer.most_common(top):
        out.write(f"{ms:9.1f} {100 * ms / base:5.1f}%  {label}, {impl}, {problem}\n")


def main(argv=None):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head
    p = argparse.ArgumentParser(description="Aggregate a oneDNN verbose log per primitive and per layer.")
    p.add_argument("log", help="the log (ONEDNN_VERBOSE=1 output); - for stdin")
    p.add_argument("--steps", type=int, required=True, help="steps the log holds (warm-up included)")
    p.add_argument("--skip", type=int, default=0, help="first steps to leave out")
    p.add_argument("--step-ms", type=float, default=0, help="the step's wall time, to show oneDNN's share of it")
    p.add_argument("--top", type=int, default=15, help="layers to list")
    a = p.parse_args(argv)
    f = sys.stdin if a.log == "-" else open(a.log, encoding="utf-8", errors="replace")
    with f:
        execs = parse(f)
    if not execs:
        sys.exit(f"onednn_profile: {a.log} has no '{MARKERS[0]}' lines (run with ONEDNN_VERBOSE=1)")
    try:
        report(execs, a.steps, a.skip, a.step_ms, a.top, sys.stdout)
    except ValueError as e:
        sys.exit(f"onednn_profile: {a.log}: {e}")


if __name__ == "__main__":
    main()
