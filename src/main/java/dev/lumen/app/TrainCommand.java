package dev.lumen.app;

import dev.lumen.app.train.EvalMetric;
import dev.lumen.app.train.Progress;
import dev.lumen.app.train.TrainConfig;
import dev.lumen.app.report.RunReports;
import dev.lumen.app.train.TrainListener;
import dev.lumen.app.train.TrainResult;
import dev.lumen.app.train.Trainer;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code lumen train}: trains a model on a folder dataset or the built-in Fashion-MNIST with
 * timm's recipe (see {@link Trainer}) and prints, as its last two lines, the run folder and the
 * final validation (test) top-1. Errors are one line naming the thing at fault; the exit code is
 * 1 for a run that failed and 2 for a bad command line.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train an image classifier with timm's recipe.",
                "Param groups without weight decay on norms and biases, warmup + cosine lr per update, label smoothing or",
                "MixUp/CutMix, EMA, gradient clipping, loss scaling.",
                "Writes config.json, metrics.csv, TensorBoard events, last/best checkpoints (and ema.safetensors) to the run folder.",
                "Without --data it trains on the built-in Fashion-MNIST (make train)."})
public final class TrainCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin TrainConfig config;

    @Option(names = "--quiet", description = "No progress bar or progress lines (epoch lines only).")
    boolean quiet;

    @Option(names = "--overwrite", description = "Replace the run already in --output (its checkpoints, metrics and reports are removed first).")
    boolean overwrite;

    PrintStream out = System.out;
    PrintStream err = System.err;
    /** Extra hooks (report writers, tests). */
    final List<TrainListener> listeners = new ArrayList<>();

    @Override
    public Integer call() {
        try {
            TrainConfig cfg = config;
            if (cfg.resume != null) {
                List<String> given = new ArrayList<>();
                for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
                    if (o.longestName().equals("--quiet") || o.longestName().equals("--overwrite")) continue;
                    given.add(o.longestName());
                }
                Set<String> keys = Trainer.keysOf(given);
                cfg = Trainer.resumeConfig(config, keys);
            }
            Trainer t = new Trainer(cfg, out, err, quiet ? Progress.none() : Progress.auto(err)).overwrite(overwrite);
            t.addListener(new RunReports(cfg.model, out));
            listeners.forEach(t::addListener);
            TrainResult r = t.run();
            out.println("run folder: " + r.runDir());
            String best = r.bestEpoch() > 0 ? String.format(Locale.ROOT, "best %s%s %s at epoch %d", r.emaWeights() ? "EMA " : "", r.evalMetric(),
                    EvalMetric.format(r.evalMetric(), r.bestMetric()), r.bestEpoch()) : "no best: every epoch diverged";
            out.println(String.format(Locale.ROOT, "final %s top-1: %.2f%% loss %.4f (%s); %s", t.validationName(),
                    r.finalTop1(), r.finalLoss(), r.emaWeights() ? "EMA weights" : "model weights", best));
            out.flush();
            return 0;
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            // Engine argument errors name the op and shapes (an --img-size too small for the model's convolutions).
            out.flush();
            return CliErrors.report(new java.io.PrintWriter(err, true), "lumen train", e);
        }
    }
}
