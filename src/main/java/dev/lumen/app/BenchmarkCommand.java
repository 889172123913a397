package dev.lumen.app;

import dev.lumen.app.bench.BenchMode;
import dev.lumen.app.bench.BenchmarkRow;
import dev.lumen.app.bench.BenchServer;
import dev.lumen.app.bench.ModelBenchmark;
import dev.lumen.app.bench.PeakRss;
import dev.lumen.app.bench.StepStats;
import dev.lumen.app.bench.Warmup;
import dev.lumen.app.train.Amp;
import dev.lumen.backend.cpu.Parallel;
import dev.lumen.models.ModelRegistry;
import dev.lumen.tensor.Device;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lumen benchmark}: training and inference throughput of registry models on synthetic data, as timm's benchmark.py. */
@Command(name = "benchmark", mixinStandardHelpOptions = true,
        description = {"Time training and inference steps of models on a synthetic batch, as timm's benchmark.py.",
                "A training step is forward, cross-entropy, backward and AdamW; inference is the eval-mode"
                        + " forward without autograd. Warm-up steps run first, untimed; then it prints the mean, median"
                        + " and fastest step, images/s (from the mean), the process's peak RSS and peak live tensor"
                        + " memory, and the parameter count. Peak memory is the process's so far: run one model and mode"
                        + " per process to compare it (make bench-models does)."})
public final class BenchmarkCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, split = ",", paramLabel = "NAME",
            description = "Model name(s), comma-separated (`lumen models` lists them).")
    List<String> models;

    @Option(names = "--bench", defaultValue = "both", paramLabel = "MODE", description = "train, inference or both (default: ${DEFAULT-VALUE}).")
    String bench;

    @Option(names = {"-b", "--batch-size"}, defaultValue = "8", paramLabel = "N", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--img-size", paramLabel = "N", description = "Input side length (default: the model's).")
    Integer imgSize;

    @Option(names = "--channels", defaultValue = "3", paramLabel = "C", description = "Input channels (default: ${DEFAULT-VALUE}).")
    int channels;

    @Option(names = "--num-classes", defaultValue = "1000", paramLabel = "N", description = "Classifier outputs (default: ${DEFAULT-VALUE}).")
    int numClasses;

    @Option(names = "--amp", description = "Mixed precision: forward and loss under autocast to --amp-dtype (default: float32).")
    boolean amp;

    @Option(names = "--amp-dtype", defaultValue = "bfloat16", paramLabel = "DTYPE",
            description = "bfloat16 or float16 (default: ${DEFAULT-VALUE}); float16 scales the loss (GradScaler).")
    String ampDtype;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV",
            description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}); `lumen doctor` says why cuda is not usable.")
    String device;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "N",
            description = "Untimed steps first, at least this many (default: ${DEFAULT-VALUE}); more while the JIT is still compiling,"
                    + " up to --max-warmup.")
    int warmup;

    @Option(names = "--max-warmup", defaultValue = "50", paramLabel = "N",
            description = "Warm-up steps at most (default: ${DEFAULT-VALUE}): past --warmup, the warm-up goes on until two steps in a row"
                    + " spent under 5%% of their time in the JIT compiler. Equal to --warmup: exactly that many.")
    int maxWarmup;

    @Option(names = "--steps", paramLabel = "N", description = "Timed steps (default: 10).")
    Integer steps;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Instead of --steps: timed steps until this many seconds have passed (at least one).")
    Double duration;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: LUMEN_NUM_THREADS, else every core).")
    Integer threads;

    @Option(names = "--csv", paramLabel = "FILE", description = "Append one row per result to FILE (header first when new).")
    Path csv;

    @Option(names = "--serve", description = "After the warm-up, answer commands on stdin, one per line: 'steps K' gives"
            + " 'times MS ...', 'memory' gives 'memory PEAK_RSS_MIB PEAK_LIVE_MIB PARAMS', 'quit' ends. One model and mode;"
            + " bench/peers/interleave.py drives Lumen and PyTorch in turns this way.")
    boolean serve;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try {
            return run(out, err);
        } catch (IllegalArgumentException | UncheckedIOException | IOException e) {
            return CliErrors.report(err, "lumen benchmark", e);
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int run(PrintWriter out, PrintWriter err) throws IOException {
        List<BenchMode> modes = BenchMode.parse(bench);
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        if (maxWarmup < warmup) throw new IllegalArgumentException("--max-warmup must be >= --warmup (" + warmup + "), got " + maxWarmup);
        if (steps != null && duration != null) throw new IllegalArgumentException("give --steps or --duration, not both");
        if (steps != null && steps < 1) throw new IllegalArgumentException("--steps must be >= 1, got " + steps);
        if (duration != null && !(duration > 0)) throw new IllegalArgumentException("--duration must be > 0 seconds, got " + duration);
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        Amp precision = amp ? ampType() : Amp.OFF;
        for (String m : models) ModelRegistry.entry(m); // an unknown name fails before anything runs, with the nearest names
        if (serve && (models.size() != 1 || modes.size() != 1)) {
            throw new IllegalArgumentException("--serve takes one --model and --bench train or inference");
        }
        Device dev = DeviceChoice.resolve(device);
        if (threads != null) Parallel.setThreads(threads);
        for (String m : models) {
            for (BenchMode mode : modes) {
                int size = imgSize != null ? imgSize : ModelRegistry.entry(m).variant().defaultImgSize();
                var s = new ModelBenchmark.Spec(m, mode, batchSize, size, channels, numClasses, precision, dev);
                try (ModelBenchmark b = new ModelBenchmark(s)) {
                    Warmup.Result w = Warmup.run(b::step, warmup, maxWarmup, Warmup.jitMillis());
                    if (serve) {
                        return new BenchServer(b, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), out)
                                .serve(w.describe());
                    }
                    BenchmarkRow row = row(b, StepStats.of(timed(b)));
                    out.println(describe(row) + "; after " + w.describe());
                    out.flush();
                    if (csv != null) row.appendTo(csv);
                }
            }
        }
        return 0;
    }

    private Amp ampType() {
        Amp a = null;
        try {
            a = Amp.parse(ampDtype);
        } catch (IllegalArgumentException e) {
            // named below, with this option's name
        }
        if (a == null || !a.on()) throw new IllegalArgumentException("--amp-dtype must be bfloat16 or float16, got '" + ampDtype + "'");
        return a;
    }

    private double[] timed(ModelBenchmark b) {
        List<Double> ms = new ArrayList<>();
        long end = duration == null ? 0 : System.nanoTime() + (long) (duration * 1e9);
        int n = steps == null ? 10 : steps;
        while (duration == null ? ms.size() < n : ms.isEmpty() || System.nanoTime() < end) ms.add(b.step());
        return ms.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private BenchmarkRow row(ModelBenchmark b, StepStats stats) {
        var s = b.spec();
        return new BenchmarkRow("lumen", s.model(), s.mode(), s.batch(), s.imgSize(), s.dtypeLabel(), s.device().toString(),
                Parallel.threads(), stats, PeakRss.mib(), b.peakLiveMib(), b.parameterCount());
    }

    /** A MiB figure, or "-" where it is not known (peak RSS without /proc, live tensors on a GPU). */
    private static String mib(double v) { return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.0f", v); }

    static String describe(BenchmarkRow r) {
        StepStats st = r.stats();
        return String.format(Locale.ROOT,
                "%s %s: %.1f images/s, step %.1f ms mean, %.1f median, %.1f min over %d steps; peak RSS %s MiB, peak live tensors %s MiB;"
                        + " %s params; batch %d, %dx%d, %s, %s, %d threads",
                r.model(), r.mode().label(), r.imagesPerSecond(), st.meanMs(), st.medianMs(), st.minMs(), st.steps(), mib(r.peakRssMib()),
                mib(r.peakLiveMib()), ModelRegistry.formatParams(r.params()), r.batch(), r.imgSize(), r.imgSize(), r.dtype(), r.device(),
                r.threads());
    }
}
