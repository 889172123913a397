"""Timing shared by the PyTorch peers: best wall time of several runs, in milliseconds, with
torch on the same number of threads as the Lumen run being compared."""
import time


def best_ms(fn, reps):
    fn()  # warm-up: first-call allocations
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)
