package dev.lumen.app;

import dev.lumen.app.data.ChannelStats;
import dev.lumen.app.data.FolderDataset;
import dev.lumen.app.data.transform.Resize;
import dev.lumen.io.Json;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lumen stats}: per-channel mean and std of a folder dataset, for Normalize. */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = {"Per-channel mean and std of a folder dataset's pixels (in [0, 1]), for Normalize.",
                "When DIR has a train/ folder (the output of lumen split), the statistics are those of DIR/train.",
                "Unreadable images are reported and left out."})
public final class StatsCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "Folder of class folders.")
    Path data;

    @Option(names = "--img-size", paramLabel = "N", description = "Resize every image to N x N first.")
    Integer imgSize;

    @Option(names = "--channels", paramLabel = "C", defaultValue = "0",
            description = "1 (grey) or 3 (RGB); default: 1 when the images are grey, else 3.")
    int channels;

    @Option(names = "--workers", paramLabel = "N", description = "Decoding threads (default: the number of cores).")
    Integer workers;

    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        ChannelStats.Result r;
        try {
            if (imgSize != null && imgSize < 1) throw new IllegalArgumentException("--img-size must be >= 1, got " + imgSize);
            Path root = Files.isDirectory(data.resolve("train")) ? data.resolve("train") : data;
            if (root != data) err.println("lumen stats: using the training split " + root);
            FolderDataset ds = new FolderDataset(root, channels);
            int threads = workers != null ? workers : Runtime.getRuntime().availableProcessors();
            r = ChannelStats.compute(ds, imgSize == null ? null : Resize.to(imgSize, imgSize), threads,
                    e -> err.println("warning: skipping " + e.getMessage()));
        } catch (IllegalArgumentException | UncheckedIOException e) {
            return CliErrors.report(err, "lumen stats", e);
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mean", round(r.mean(), 6));
            m.put("std", round(r.std(), 6));
            m.put("channels", r.channels());
            m.put("images", r.images());
            m.put("pixels", r.pixels());
            m.put("unreadable", r.unreadable());
            o.println(Json.write(m, false));
        } else {
            o.println("mean: " + format(r.mean(), ", "));
            o.println("std:  " + format(r.std(), ", "));
            // The options to paste into lumen train, eval or predict.
            o.println("--mean " + format(r.mean(), ",") + " --std " + format(r.std(), ","));
            if (!r.unreadable().isEmpty()) err.println("lumen stats: left out " + r.unreadable().size() + " unreadable images");
        }
        o.flush();
        err.flush();
        return 0;
    }

    private static List<Double> round(double[] v, int digits) {
        List<Double> out = new ArrayList<>();
        double f = Math.pow(10, digits);
        for (double x : v) out.add(Math.round(x * f) / f);
        return out;
    }

    private static String format(double[] v, String separator) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < v.length; i++) b.append(i > 0 ? separator : "").append(String.format(Locale.ROOT, "%.4f", v[i]));
        return b.toString();
    }
}
