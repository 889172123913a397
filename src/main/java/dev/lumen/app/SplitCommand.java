package dev.lumen.app;

import dev.lumen.app.data.Splitter;
import dev.lumen.io.Printable;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lumen split}: data/&lt;class&gt;/* into out/train/&lt;class&gt; and out/val/&lt;class&gt;. */
@Command(name = "split", mixinStandardHelpOptions = true,
        description = {"Split a folder of class folders (DIR/<class>/<image>) into OUTPUT/train/<class> and OUTPUT/val/<class>.",
                "Images are copied (or linked with --link); the originals are never moved. Each class with at least",
                "2 images keeps at least one on each side. Prints the counts per class."})
public final class SplitCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "Folder of class folders.")
    Path data;

    @Option(names = {"--output", "--out"}, required = true, paramLabel = "OUTPUT", description = "Output folder; gets train/ and val/ (--out: the same).")
    Path out;

    @Option(names = "--ratio", defaultValue = "0.7", description = "Fraction of each class for train (default: ${DEFAULT-VALUE}).")
    double ratio;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the shuffle (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--link", description = "Make symbolic links instead of copies.")
    boolean link;

    @Option(names = "--force", description = "Replace OUTPUT/train and OUTPUT/val when OUTPUT is not empty.")
    boolean force;

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut();
        List<Splitter.ClassCount> counts;
        try {
            counts = Splitter.split(data, out, ratio, seed, link, force);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            spec.commandLine().getErr().println("lumen split: " + Printable.of(e.getMessage()));
            return 1;
        } catch (IOException e) {
            spec.commandLine().getErr().println("lumen split: " + Printable.of(e));
            return 1;
        }
        int width = Math.max(5, counts.stream().mapToInt(c -> c.name().length()).max().orElse(0));
        String fmt = "%-" + width + "s  %7s  %7s%n";
        o.printf(fmt, "class", "train", "val");
        int train = 0, val = 0;
        for (Splitter.ClassCount c : counts) {
            o.printf(fmt, c.name(), c.train(), c.val());
            train += c.train();
            val += c.val();
        }
        o.printf(fmt, "total", train, val);
        o.println((link ? "linked " : "copied ") + (train + val) + " images into " + out.resolve("train") + " and " + out.resolve("val"));
        o.flush();
        return 0;
    }
}
