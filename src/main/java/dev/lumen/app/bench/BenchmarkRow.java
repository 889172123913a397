package dev.lumen.app.bench;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;

/**
 * One benchmark result, as a CSV row. bench/peers/model_benchmark_peer.py writes the same
 * columns for PyTorch, so the two files concatenate; images/s comes from the mean step time, as
 * in timm's benchmark.py.
 */
public record BenchmarkRow(String engine, String model, BenchMode mode, int batch, int imgSize, String dtype, String device,
        int threads, StepStats stats, double peakRssMib, double peakLiveMib, long params) {

    public static final List<String> COLUMNS = List.of("engine", "model", "mode", "batch", "img_size", "dtype", "device", "threads",
            "steps", "step_ms_mean", "step_ms_median", "step_ms_min", "images_per_s", "peak_rss_mib", "peak_live_mib", "params");

    public double imagesPerSecond() { return batch * 1000.0 / stats.meanMs(); }

    public String csvLine() {
        return String.join(",", engine, model, mode.label(), Integer.toString(batch), Integer.toString(imgSize), dtype, device,
                Integer.toString(threads), Integer.toString(stats.steps()), f3(stats.meanMs()), f3(stats.medianMs()), f3(stats.minMs()),
                f3(imagesPerSecond()), f1(peakRssMib), f1(peakLiveMib), Long.toString(params));
    }

    /** Appends the row to csv, with the header first when the file is new or empty. */
    public void appendTo(Path csv) throws IOException {
        boolean fresh = !Files.exists(csv) || Files.size(csv) == 0;
        Path parent = csv.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        try (Writer w = Files.newBufferedWriter(csv, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            if (fresh) w.write(String.join(",", COLUMNS) + "\n");
            w.write(csvLine() + "\n");
        }
    }

    private static String f3(double v) { return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v); }

    private static String f1(double v) { return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.1f", v); }
}
