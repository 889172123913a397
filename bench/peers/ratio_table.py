"""The arithmetic and the table of `make bench-models`: PyTorch time / Lumen time per model (above 1:
Lumen is faster), their geometric mean over the training rows, peak RSS Lumen / PyTorch, each
against the issue's target. Standard library only, so its test runs without torch."""
import math
import statistics

# Targets: every time ratio >= 1.0, the training geomean >= 1.2; peak RSS at most 1.2x PyTorch's in training, 1.5x in inference.
TIME_TARGET = 1.0
GEOMEAN_TARGET = 1.2
RSS_TARGET = {"train": 1.2, "inference": 1.5}


def summary(times_ms):
    """(median, min, mean) of one side's timed steps."""
    if not times_ms:
        raise ValueError("no timed steps")
    return statistics.median(times_ms), min(times_ms), statistics.fmean(times_ms)


def time_ratio(torch_ms, lumen_ms):
    """PyTorch time / Lumen time: above 1, Lumen is faster."""
    return torch_ms / lumen_ms


def geomean(values):
    values = list(values)
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"geomean needs positive values, got {values}")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def mark(ok):
    return "yes" if ok else "NO"


def rows(results):
    """Table rows from results: dicts with model, mode, batch, img, lumen_ms, torch_ms (medians), lumen_rss, torch_rss (MiB)."""
    out = []
    for r in results:
        t = time_ratio(r["torch_ms"], r["lumen_ms"])
        m = r["lumen_rss"] / r["torch_rss"]
        rss_target = RSS_TARGET[r["mode"]]
        out.append([r["model"], r["mode"], str(r["batch"]), f"{r['img']}", f"{r['torch_ms']:.1f}", f"{r['lumen_ms']:.1f}",
                    f"{t:.2f} (>= {TIME_TARGET:.1f}: {mark(t >= TIME_TARGET)})",
                    f"{r['lumen_rss']:.0f} / {r['torch_rss']:.0f} = {m:.2f} (<= {rss_target:.1f}: {mark(m <= rss_target)})"])
    return out


HEADER = ["model", "mode", "batch", "img", "PyTorch ms", "Lumen ms", "PyTorch / Lumen time", "peak RSS Lumen / PyTorch MiB"]


def geomean_line(results):
    train = [time_ratio(r["torch_ms"], r["lumen_ms"]) for r in results if r["mode"] == "train"]
    if not train:
        return None
    g = geomean(train)
    return f"geometric mean of the {len(train)} training ratios: {g:.2f} (>= {GEOMEAN_TARGET:.1f}: {mark(g >= GEOMEAN_TARGET)})"


def markdown(results):
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(results)]
    g = geomean_line(results)
    return "\n".join(lines) + ("\n\n" + g[0].upper() + g[1:] + "." if g else "") + "\n"


def text(results):
    table = [HEADER] + rows(results)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    g = geomean_line(results)
    return "\n".join(lines + ([g] if g else [])) + "\n"
