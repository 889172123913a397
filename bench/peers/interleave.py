#!/usr/bin/env python3
"""`make bench-models`: `lumen benchmark` and its PyTorch peer (model_benchmark_peer.py) in turns.

For each model and mode both are started once with --serve and kept warm; then, round by round,
one side runs its steps while the other waits, the side going first alternating, so that both
see the same machine load. The ratio is PyTorch's median step time / Lumen's (all rounds'
steps); peak RSS is each process's own. Prints the ratio table (ratio_table.py) and writes
bench-models.csv (both engines' rows, lumen benchmark's columns) and bench-models.md into --out.
A process that dies or stops answering gives one line naming it and the end of its log.
"""
import argparse
import os
import queue
import shlex
import subprocess
import sys
import threading
import time

import ratio_table

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from model_benchmark_peer import COLUMNS, MALLOC_ENV  # noqa: E402

TRAIN_MODELS = ["resnet50", "res2net50_26w_4s", "vit_small_patch16_224", "volo_d1", "replknet_31b", "vmamba_tiny", "rcvit_xs"]
INFERENCE_MODELS = ["resnet50", "vit_small_patch16_224"]


class Side:
    """One warm benchmark process speaking the --serve protocol."""

    def __init__(self, name, cmd, log_path, env):
        self.name, self.log_path = name, log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
                                     bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _fail(self, why):
        self.close()
        tail = ""
        try:
            with open(self.log_path) as f:
                tail = [l.strip() for l in f if l.strip() and "NNPACK" not in l][-1:]
                tail = tail[0] if tail else ""
        except OSError:
            pass
        raise RuntimeError(f"{self.name} {why}" + (f": {tail}" if tail else "") + f" (log: {self.log_path})")

    def expect(self, word, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self._fail(f"gave no '{word}' line within {timeout:.0f} s")
        if line is None:
            self._fail(f"ended (exit {self.proc.wait()}) before its '{word}' line")
        if not line.startswith(word):
            self._fail(f"answered '{line}' instead of '{word} ...'")
        return line[len(word):].strip()

    def ask(self, command, word, timeout):
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fail("is gone")
        return self.expect(word, timeout)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=60)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass  # a dead reader's pipe: nothing left to flush
        self.log.close()


def run_job(args, model, mode, batch, out_dir):
    common = ["--model", model, "--bench", mode, "-b", str(batch), "--img-size", str(args.img_size), "--threads", str(args.threads),
              "--warmup", str(args.warmup), "--serve"]
    env = {**os.environ, **MALLOC_ENV}
    lumen_env = {**os.environ, "LUMEN_NUM_THREADS": str(args.threads)}
    tag = f"{model}-{mode}-b{batch}"
    lumen = Side("lumen benchmark", shlex.split(args.lumen) + ["benchmark"] + common + ["--max-warmup", str(max(args.warmup, args.lumen_max_warmup))],
                 os.path.join(out_dir, tag + ".lumen.log"), lumen_env)
    torch = Side("pytorch peer", [args.python, args.peer] + getattr(args, "peer_args", []) + common,
                 os.path.join(out_dir, tag + ".pytorch.log"), env)
    sides = [lumen, torch]
    try:
        impl = {}
        for s in sides:
            impl[s] = s.expect("ready", args.ready_timeout)
        times = {lumen: [], torch: []}
        for r in range(args.rounds):
            for s in (sides if r % 2 == 0 else sides[::-1]):
                times[s] += [float(t) for t in s.ask(f"steps {args.steps_per_round}", "times", args.step_timeout * args.steps_per_round).split()]
        memory = {s: s.ask("memory", "memory", 60).split() for s in sides}
    finally:
        for s in sides:
            s.close()
    result = {"model": model, "mode": mode, "batch": batch, "img": args.img_size, "impl": impl[torch], "lumen_warmup": impl[lumen]}
    csv = []
    for s, key, engine in ((lumen, "lumen", "lumen"), (torch, "torch", None)):
        med, best, mean = ratio_table.summary(times[s])
        rss, live, params = float(memory[s][0]), float(memory[s][1]), int(memory[s][2])
        result[key + "_ms"], result[key + "_rss"] = med, rss
        engine = engine or impl[torch].replace(",", ";")
        csv.append(",".join(str(v) for v in [engine, model, mode, batch, args.img_size, "float32", "cpu", args.threads,
                                             len(times[s]), f"{mean:.3f}", f"{med:.3f}", f"{best:.3f}", f"{batch * 1000 / mean:.3f}",
                                             f"{rss:.1f}", "" if live != live else f"{live:.1f}", params]))
    return result, csv


def jobs(args):
    models = args.models.split(",") if args.models else TRAIN_MODELS + [m for m in INFERENCE_MODELS if m not in TRAIN_MODELS]
    out = [(m, "train", args.batch) for m in models if m in TRAIN_MODELS or m not in INFERENCE_MODELS]
    out += [(m, "inference", args.inference_batch) for m in models if m in INFERENCE_MODELS]
    return out


def note(args, load):
    return (f"Load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} now; medians of {args.rounds * args.steps_per_round} "
            f"interleaved steps per side, after {args.warmup} warm-up steps on PyTorch's side and on Lumen's at least {args.warmup}, "
            f"then until its JIT settles (two steps in a row under 5% compiling, at most {max(args.warmup, args.lumen_max_warmup)}).")


def write(args, load, results, csv, failed):
    with open(os.path.join(args.out, "bench-models.csv"), "w") as f:
        f.write(",".join(COLUMNS) + "\n" + "".join(line + "\n" for line in csv))
    with open(os.path.join(args.out, "bench-models.md"), "w") as f:
        f.write((ratio_table.markdown(results) if results else "No model ran.\n") + "\n" + note(args, load) + "\n"
                + "".join(f"\nFailed: {line}\n" for line in failed))


def main_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="", help="comma-separated (default: the issue's seven; inference for resnet50 and vit_small)")
    p.add_argument("--lumen", default=os.path.join(ROOT, "bin", "lumen"), help="the lumen launcher command")
    p.add_argument("--python", default=sys.executable, help="the python with PyTorch 2.13 and timm 1.0")
    p.add_argument("--peer", default=os.path.join(HERE, "model_benchmark_peer.py"), help=argparse.SUPPRESS)  # tests put a stand-in here
    p.add_argument("--batch", type=int, default=8, help="training batch (default 8)")
    p.add_argument("--inference-batch", type=int, default=32, help="inference batch (default 32)")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps on each side before the rounds")
    p.add_argument("--lumen-max-warmup", type=int, default=50,
                   help="Lumen's warm-up goes on past --warmup while its JIT compiles, up to this many steps (lumen benchmark --max-warmup)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps-per-round", type=int, default=1)
    p.add_argument("--ready-timeout", type=float, default=1200, help="seconds to build and warm up a model")
    p.add_argument("--step-timeout", type=float, default=600, help="seconds one step may take")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "target", "bench-models"))
    return p.parse_args(argv)


def main(argv):
    args = main_args(argv)
    os.makedirs(args.out, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"bench-models: Lumen and PyTorch in turns, {args.rounds} rounds of {args.steps_per_round} step(s) after {args.warmup} "
          f"warm-up steps, {args.threads} threads, {args.img_size}x{args.img_size}; load average {load:.1f} at the start", flush=True)
    results, csv, failed = [], [], []
    for model, mode, batch in jobs(args):
        t0 = time.time()
        try:
            r, rows = run_job(args, model, mode, batch, args.out)
        except RuntimeError as e:
            failed.append(f"{model} {mode}: {e}")
            print(f"bench-models: {model} {mode}: {e}", flush=True)
            continue
        results.append(r)
        csv += rows
        write(args, load, results, csv, failed)  # after every model, so a stopped run keeps what it measured
        print(f"bench-models: {model} {mode} batch {batch}: PyTorch {r['torch_ms']:.1f} ms, Lumen {r['lumen_ms']:.1f} ms "
              f"(ratio {r['torch_ms'] / r['lumen_ms']:.2f}), peak RSS {r['lumen_rss']:.0f} / {r['torch_rss']:.0f} MiB; "
              f"{time.time() - t0:.0f} s; PyTorch side: {r['impl']}; Lumen side: {r['lumen_warmup']}", flush=True)
    write(args, load, results, csv, failed)
    if results:
        print("\n" + ratio_table.text(results) + note(args, load))
    print(f"bench-models: wrote {os.path.join(args.out, 'bench-models.csv')} and bench-models.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
