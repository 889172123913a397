package dev.lumen.app;

import dev.lumen.app.dist.Communicators;
import dev.lumen.app.dist.DataParallelRun;
import dev.lumen.app.dist.DistOptions;
import dev.lumen.app.dist.LaunchPlan;
import dev.lumen.app.train.EvalMetric;
import dev.lumen.app.train.TrainException;
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

    @Mixin DistOptions dist;

    @Option(names = "--quiet", description = "No progress bar or progress lines (epoch lines only).")
    boolean quiet;

    @Option(names = "--overwrite", description = "Replace the run already in --output (its checkpoints, metrics and reports are removed first).")
    boolean overwrite;

    PrintStream out = System.out;
    PrintStream err = System.err;
    /** Extra hooks (report writers, tests). */
    final List<TrainListener> listeners = new ArrayList<>();
    /** The environment the SLURM and torchrun variables are read from (tests give their own). */
    java.util.Map<String, String> env = System.getenv();
    /** The communicators of a data-parallel run (tests may give their own). */
    Communicators communicators = Communicators.NCCL;

    @Override
    public Integer call() {
        try {
            TrainConfig cfg = config;
            // Before anything is read or written: a data-parallel request this machine cannot serve fails in one line.
            LaunchPlan plan = dataParallelPlan();
            if (cfg.resume != null) {
                List<String> given = new ArrayList<>();
                for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
                    if (o.longestName().equals("--quiet") || o.longestName().equals("--overwrite")) continue;
                    if (DIST_OPTIONS.contains(o.longestName())) continue;
                    given.add(o.longestName());
                }
                Set<String> keys = Trainer.keysOf(given);
                cfg = Trainer.resumeConfig(config, keys);
            }
            if (plan != null && plan.nnodes() == 1 && plan.devices().size() == 1 && !plan.syncBn()) {
                cfg.device = "cuda:" + plan.devices().get(0); // one GPU: a plain run on it, no communicator needed
                plan = null;
            }
            Progress progress = quiet ? Progress.none() : Progress.auto(err);
            TrainResult r;
            if (plan == null) {
                Trainer t = new Trainer(cfg, out, err, progress).overwrite(overwrite);
                t.addListener(new RunReports(cfg.model, out));
                listeners.forEach(t::addListener);
                r = t.run();
            } else {
                List<TrainListener> all = new ArrayList<>(List.of(new RunReports(cfg.model, out)));
                all.addAll(listeners);
                r = new DataParallelRun(plan, communicators, DataParallelRun.localHost()).run(cfg, overwrite, out, err, progress, all);
                if (r == null) {
                    out.println("node " + plan.nodeRank() + " finished its ranks; node 0 wrote the run folder");
                    out.flush();
                    return 0;
                }
            }
            out.println("run folder: " + r.runDir());
            String best = r.bestEpoch() > 0 ? String.format(Locale.ROOT, "best %s%s %s at epoch %d", r.emaWeights() ? "EMA " : "", r.evalMetric(),
                    EvalMetric.format(r.evalMetric(), r.bestMetric()), r.bestEpoch()) : "no best: every epoch diverged";
            out.println(String.format(Locale.ROOT, "final %s top-1: %.2f%% loss %.4f (%s); %s", validationName(r),
                    r.finalTop1(), r.finalLoss(), r.emaWeights() ? "EMA weights" : "model weights", best));
            out.flush();
            return 0;
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            // Engine argument errors name the op and shapes (an --img-size too small for the model's convolutions).
            out.flush();
            return CliErrors.report(new java.io.PrintWriter(err, true), "lumen train", e);
        }
    }

    /** The data-parallel options that stay out of the run's config (a resume may change them). */
    private static final Set<String> DIST_OPTIONS = Set.of("--devices", "--nnodes", "--node-rank", "--master-addr", "--sync-bn", "--dist-timeout");

    /** "test" for the built-in dataset's validation split, "val" for a folder's (as the Trainer names it). */
    private static String validationName(TrainResult r) { return r.dataset().endsWith("(test)") ? "test" : "val"; }

    /** The plan of a data-parallel run, null for a run on one device; a one-line error where it cannot run here. */
    private LaunchPlan dataParallelPlan() {
        LaunchPlan plan;
        try {
            plan = LaunchPlan.resolve(dist, env, DataParallelRun::driverDeviceCount);
        } catch (IllegalArgumentException e) {
            throw new TrainException(e.getMessage());
        }
        if (plan == null) return null;
        if (spec.commandLine().getParseResult().hasMatchedOption("--device")) {
            throw new TrainException("--device and --devices: give one (--devices " + (dist.devices == null ? "all" : dist.devices) + " trains on several GPUs)");
        }
        String why = DataParallelRun.unavailableReason(plan.devices(), communicators);
        if (why != null) {
            String what = dist.devices != null ? "--devices " + dist.devices : "data-parallel training (" + plan.nnodes() + " nodes)";
            throw new TrainException(what + ": " + why);
        }
        return plan;
    }
}
