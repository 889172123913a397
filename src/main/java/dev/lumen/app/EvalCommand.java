package dev.lumen.app;

import dev.lumen.app.data.Batch;
import dev.lumen.app.data.DataLoader;
import dev.lumen.app.data.Dataset;
import dev.lumen.app.data.FashionMnist;
import dev.lumen.app.data.FolderDataset;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.data.transform.Normalize;
import dev.lumen.app.report.CheckpointModel;
import dev.lumen.app.report.ClassificationReport;
import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelRegistry;
import dev.lumen.ops.Losses;
import dev.lumen.tensor.Tensor;
import dev.lumen.tensor.Device;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lumen eval}: top-1, top-5, loss, per-class metrics and the confusion matrix of a checkpoint on a dataset. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluate a checkpoint: top-1, top-5, loss, per-class precision, recall, F1 and support, confusion matrix.",
                "Prints them; with --output DIR also writes report.md and report.json (and confusion.csv above 30 classes) there",
                "(never into the run's folder unless DIR is that folder, so a run's own report stays).",
                "A run's checkpoint brings its model and image settings; plain weights take them from the options.",
                "Without --data or --dataset, the run's own validation data is used."})
public final class EvalCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin EvalResizeOptions resize;

    @Option(names = "--checkpoint", required = true, paramLabel = "PATH",
            description = "A run folder (its best, else last, checkpoint), a training checkpoint, or plain weights (safetensors or .pth).")
    Path checkpoint;

    @Option(names = "--model", paramLabel = "NAME", description = "Model name, for plain weights (`lumen models` lists them).")
    String model;

    @Option(names = "--data", paramLabel = "DIR", description = "Folder of class folders, or a folder with val/ (as `lumen split` writes).")
    Path data;

    @Option(names = "--dataset", paramLabel = "NAME", description = "Built-in dataset: fashion-mnist (its 10000 test images).")
    String dataset;

    @Option(names = "--img-size", paramLabel = "N", description = "Input side length; default: the run's, else 28 for fashion-mnist, else the model's.")
    Integer imgSize;

    @Option(names = "--in-chans", paramLabel = "C", description = "Input channels, 1 or 3; default: the run's, else from the images.")
    Integer inChans;

    @Option(names = "--mean", paramLabel = "M", split = ",", description = "Normalize mean per channel; default: the run's, else the dataset's (ImageNet's for RGB folders, 0.5 for grey).")
    float[] mean;

    @Option(names = "--std", paramLabel = "S", split = ",", description = "Normalize std per channel; default as --mean.")
    float[] std;

    @Option(names = "--ema", description = "Evaluate the EMA weights of a training checkpoint that kept them.")
    boolean ema;

    @Option(names = "--device", paramLabel = "DEV", defaultValue = "cpu",
            description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}); `lumen doctor` says why cuda is not usable.")
    String device;

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--workers", paramLabel = "N", description = "Decoding threads (default: cores - 1).")
    Integer workers;

    @Option(names = "--output", paramLabel = "DIR", description = "Write report.md and report.json into DIR (default: print only).")
    Path output;


    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try {
            return run(out, err);
        } catch (IllegalArgumentException | UncheckedIOException | IOException e) {
            return CliErrors.report(err, "lumen eval", e);
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int run(PrintWriter out, PrintWriter err) throws IOException {
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        if (data != null && dataset != null) throw new IllegalArgumentException("give --data or --dataset, not both");
        if (dataset != null && !dataset.equalsIgnoreCase("fashion-mnist")) {
            throw new IllegalArgumentException("unknown --dataset '" + dataset + "'; the built-in one is fashion-mnist");
        }
        Device dev = DeviceChoice.resolve(device);
        try (CheckpointModel ck = CheckpointModel.read(checkpoint, ema)) {
            String name = CheckpointModel.setting("--model", model, ck.configString("model"), err);
            if (name == null) throw new IllegalArgumentException(ck.file() + " has no run config naming its model: pass --model");
            ModelRegistry.entry(name); // an unknown name fails here, with the nearest ones
            Integer chans = CheckpointModel.setting("--in-chans", inChans, ck.configInt("in-chans"), err);
            if (chans != null && chans != 1 && chans != 3) throw new IllegalArgumentException("--in-chans must be 1 or 3, got " + chans);

            Eval set = dataset(ck, chans == null ? 0 : chans);
            int c = chans != null ? chans : set.channels();
            Integer size = CheckpointModel.setting("--img-size", imgSize, ck.configInt("img-size"), err);
            if (size == null) size = set.fashionMnist() ? 28 : ModelRegistry.entry(name).variant().defaultImgSize();
            size = ck.checkedImgSize(size);
            float[] m = CheckpointModel.setting("--mean", mean, ck.configFloats("mean"), err), s = CheckpointModel.setting("--std", std, ck.configFloats("std"), err);
            if (m == null) m = set.fashionMnist() ? FashionMnist.MEAN : c == 3 ? Normalize.IMAGENET_MEAN : new float[] {0.5f};
            if (s == null) s = set.fashionMnist() ? FashionMnist.STD : c == 3 ? Normalize.IMAGENET_STD : new float[] {0.5f};
            if (ck.classNames() != null && !ck.classNames().equals(set.data().classNames())
                    && ck.classNames().size() == set.data().numClasses()) {
                err.println("warning: the run's classes " + ck.classNames() + " are not the data's " + set.data().classNames());
            }

            ClassificationReport report;
            try (ImageClassifier net = ck.build(name, set.data().numClasses(), c, size)) {
                if (!dev.equals(Device.CPU)) net.to(dev);
                err.printf(Locale.ROOT, "evaluating %s (%s, %s, %dx%dx%d) on %s: %d images, %d classes%n", ck.file(), ck.weights(), name, c, size, size,
                        set.description(), set.data().size(), set.data().numClasses());
                report = evaluate(net, dev, set.data(), resize.apply(Pipelines.Options.defaults(size, m, s), ck), err);
            }
            out.println(report.summaryLine());
            out.print(report.toText());
            if (output != null) {
                List<Path> files = report.write(output, new ClassificationReport.Source(name, set.description(), ck.describe()));
                out.println("wrote " + String.join(", ", files.stream().map(Path::toString).toList()));
            }
            return 0;
        }
    }

    /** The dataset to evaluate on and where it comes from. */
    private record Eval(Dataset data, String description, int channels, boolean fashionMnist) {}

    private Eval dataset(CheckpointModel ck, int chans) {
        Path dir = data;
        boolean fmnist = dataset != null;
        if (dir == null && !fmnist) {
            // The run's own validation data.
            String runData = ck.configString("data");
            if (runData != null) dir = Path.of(runData);
            else if ("fashion-mnist".equalsIgnoreCase(ck.configString("dataset"))) fmnist = true;
            else throw new IllegalArgumentException("no data to evaluate on: pass --data DIR or --dataset fashion-mnist");
        }
        if (fmnist) {
            FashionMnist f = new FashionMnist(FashionMnist.DEFAULT_DIR, FashionMnist.Split.TEST, chans == 0 ? 1 : chans);
            return new Eval(f, "fashion-mnist test", f.channels(), true);
        }
        Path root = Files.isDirectory(dir.resolve("val")) ? dir.resolve("val") : dir;
        FolderDataset f = new FolderDataset(root, chans);
        return new Eval(f, root.toString(), f.channels(), false);
    }

    private ClassificationReport evaluate(ImageClassifier net, Device dev, Dataset ds, Pipelines.Options opts, PrintWriter err) {
        ClassificationReport.Accumulator acc = new ClassificationReport.Accumulator(ds.classNames(), Math.min(5, ds.numClasses()));
        DataLoader.Builder b = DataLoader.builder(ds, Pipelines.eval(opts)).batchSize(batchSize).shuffle(false)
                .onUnreadable(e -> err.println("warning: skipping " + e.getMessage()));
        if (workers != null) b.workers(workers);
        try (DataLoader loader = b.build(); GradMode ng = GradMode.noGrad()) {
            long start = System.nanoTime();
            int done = 0, total = ds.size(), nextTenth = 1;
            long nonFinite = 0;
            for (Batch batch : loader.epoch(0)) {
                try (batch; Scope scope = Scope.open()) {
                    // An unreadable image's slot holds a copy of another row: count each image once.
                    int[] idx = batch.indices();
                    Set<Integer> seen = new HashSet<>();
                    int[] keep = new int[idx.length];
                    int n = 0;
                    for (int k = 0; k < idx.length; k++) if (seen.add(idx[k])) keep[n++] = k;
                    float[] all = net.forward(batch.images().to(dev)).toFloats();
                    long[] y = batch.labels().toLongs();
                    int c = ds.numClasses();
                    float[] rows = new float[n * c];
                    int[] lab = new int[n];
                    long[] labLong = new long[n];
                    for (int r = 0; r < n; r++) {
                        System.arraycopy(all, keep[r] * c, rows, r * c, c);
                        lab[r] = (int) y[keep[r]];
                        labLong[r] = y[keep[r]];
                    }
                    acc.add(rows, lab);
                    for (int r = 0; r < n; r++) if (!ClassificationReport.Accumulator.finiteRow(rows, r * c, c)) nonFinite++;
                    acc.addLoss(Losses.crossEntropy(Tensor.fromFloats(rows, n, c), Tensor.fromLongs(labLong, n)).item(), n);
                    done += idx.length;
                }
                // A progress line per tenth of the data, for long evaluations.
                if (done * 10L >= (long) nextTenth * total && done < total) {
                    double sec = (System.nanoTime() - start) / 1e9;
                    err.printf(Locale.ROOT, "  %d/%d images (%.0f images/s)%n", done, total, done / Math.max(sec, 1e-9));
                    err.flush();
                    while (done * 10L >= (long) nextTenth * total) nextTenth++;
                }
            }
            if (!loader.unreadableFiles().isEmpty()) err.println("lumen eval: left out " + loader.unreadableFiles().size() + " unreadable images");
            if (nonFinite > 0) err.println("warning: " + nonFinite + " outputs hold NaN or infinity (the weights diverged); counted as wrong");
        }
        return acc.finish();
    }
}
