package dev.lumen.app;

import dev.lumen.app.data.FolderDataset;
import dev.lumen.app.data.Image;
import dev.lumen.app.data.ImageFiles;
import dev.lumen.app.data.UnreadableImageException;
import dev.lumen.io.Printable;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.data.transform.ToTensor;
import dev.lumen.app.data.transform.Transform;
import dev.lumen.app.data.transform.Normalize;
import dev.lumen.app.report.CheckpointModel;
import dev.lumen.app.report.LabelDrawer;
import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelRegistry;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.tensor.Device;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code lumen predict}: the top-k classes of images, optionally drawn onto copies of them. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = {"Classify images: one line per image with its top-k classes and probabilities, the prediction first.",
                "A folder stands for every image under it (PNG, JPEG, BMP, GIF). Unreadable images are reported and skipped.",
                "A run's checkpoint brings its model, image settings and class names; plain weights take them from the options."})
public final class PredictCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin EvalResizeOptions resize;

    @Option(names = "--checkpoint", required = true, paramLabel = "PATH",
            description = "A run folder (its best, else last, checkpoint), a training checkpoint, or plain weights (safetensors or .pth).")
    Path checkpoint;

    @Option(names = "--model", paramLabel = "NAME", description = "Model name, for plain weights (`lumen models` lists them).")
    String model;

    @Option(names = "--topk", paramLabel = "K", defaultValue = "5", description = "Classes per image (default: ${DEFAULT-VALUE}; at most the class count).")
    int topk;

    @Option(names = "--draw", paramLabel = "OUTDIR", description = "Write a PNG copy of each image with its top-k labels and probabilities drawn on it.")
    Path draw;

    @Option(names = "--format", paramLabel = "FMT", defaultValue = "text",
            description = "text (default: one line per image), csv (image,class_1,prob_1,...) or json (one document); csv and json keep"
                    + " stdout to the data, the summary goes to stderr.")
    String format;

    @Option(names = "--classes", paramLabel = "NAMES", description = "Class names, comma-separated, or a folder of class folders; default: the run's.")
    String classes;

    @Option(names = "--img-size", paramLabel = "N", description = "Input side length; default: the run's, else the model's.")
    Integer imgSize;

    @Option(names = "--in-chans", paramLabel = "C", description = "Input channels, 1 or 3; default: the run's, else 3.")
    Integer inChans;

    @Option(names = "--mean", paramLabel = "M", split = ",", description = "Normalize mean per channel; default: the run's, else ImageNet's (0.5 for grey).")
    float[] mean;

    @Option(names = "--std", paramLabel = "S", split = ",", description = "Normalize std per channel; default as --mean.")
    float[] std;

    @Option(names = "--ema", description = "Use the EMA weights of a training checkpoint that kept them.")
    boolean ema;

    @Option(names = "--device", paramLabel = "DEV", defaultValue = "cpu",
            description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}); `lumen doctor` says why cuda is not usable.")
    String device;

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", defaultValue = "32", description = "Images per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Parameters(arity = "1..*", paramLabel = "IMAGE_OR_FOLDER", description = "Images, or folders of images (searched recursively).")
    List<Path> inputs;

    /** One image to classify and where its drawn copy goes. */
    private record Item(Path path, Path drawTo) {}

    /** A decoded image, kept as decoded for drawing. */
    private record Decoded(Item item, BufferedImage original, Image image) {}

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try {
            return run(out, err);
        } catch (IllegalArgumentException | UncheckedIOException | IOException e) {
            return CliErrors.report(err, "lumen predict", e);
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int run(PrintWriter out, PrintWriter err) throws IOException {
        if (topk < 1) throw new IllegalArgumentException("--topk must be >= 1, got " + topk);
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        PredictionWriter.Format fmt = PredictionWriter.Format.parse(format);
        Device dev = DeviceChoice.resolve(device);
        try (CheckpointModel ck = CheckpointModel.read(checkpoint, ema)) {
            String name = CheckpointModel.setting("--model", model, ck.configString("model"), err);
            if (name == null) throw new IllegalArgumentException(ck.file() + " has no run config naming its model: pass --model");
            ModelRegistry.entry(name);
            Integer chans = CheckpointModel.setting("--in-chans", inChans, ck.configInt("in-chans"), err);
            int c = chans != null ? chans : 3;
            if (c != 1 && c != 3) throw new IllegalArgumentException("--in-chans must be 1 or 3, got " + c);
            Integer given = CheckpointModel.setting("--img-size", imgSize, ck.configInt("img-size"), err);
            int size = ck.checkedImgSize(given != null ? given : ModelRegistry.entry(name).variant().defaultImgSize());
            float[] m = CheckpointModel.setting("--mean", mean, ck.configFloats("mean"), err);
            float[] s = CheckpointModel.setting("--std", std, ck.configFloats("std"), err);
            if (m == null) m = c == 3 ? Normalize.IMAGENET_MEAN : new float[] {0.5f};
            if (s == null) s = c == 3 ? Normalize.IMAGENET_STD : new float[] {0.5f};
            Transform pipe = Pipelines.eval(resize.apply(Pipelines.Options.defaults(size, m, s), ck));

            List<Item> items = collect(err);
            try (ImageClassifier net = ck.build(name, null, c, size)) {
                if (!dev.equals(Device.CPU)) net.to(dev);
                List<String> names = classNames(ck, net.numClasses());
                int k = Math.min(topk, net.numClasses());
                if (draw != null) Files.createDirectories(draw);
                PredictionWriter writer = new PredictionWriter(fmt, out, k, ck.describe(), name);
                int done = 0, unreadable = items.size();
                for (int start = 0; start < items.size(); start += batchSize) {
                    List<Decoded> batch = new ArrayList<>();
                    for (Item it : items.subList(start, Math.min(items.size(), start + batchSize))) {
                        Decoded d = decode(it, c, err);
                        if (d != null) batch.add(new Decoded(it, d.original(), pipe.apply(d.image(), new Generator(0))));
                    }
                    if (batch.isEmpty()) continue;
                    float[] probs = probabilities(net, dev, batch);
                    int nc = net.numClasses();
                    for (int r = 0; r < batch.size(); r++) {
                        int[] top = topK(probs, r * nc, nc, k);
                        List<String> classes = new ArrayList<>();
                        float[] p = new float[k];
                        for (int j = 0; j < k; j++) {
                            classes.add(names.get(top[j]));
                            p[j] = probs[r * nc + top[j]];
                        }
                        writer.add(batch.get(r).item().path().toString(), classes, p);
                        if (draw != null) {
                            List<String> labels = new ArrayList<>();
                            for (int j = 0; j < k; j++) labels.add(classes.get(j) + String.format(Locale.ROOT, " %.1f%%", 100 * p[j]));
                            writePng(LabelDrawer.draw(batch.get(r).original(), labels), batch.get(r).item().drawTo());
                        }
                    }
                    done += batch.size();
                    out.flush();
                }
                unreadable -= done;
                writer.finish();
                (fmt == PredictionWriter.Format.TEXT ? out : err).println("predicted " + done + " image" + (done == 1 ? "" : "s") + ", skipped " + unreadable + " unreadable"
                        + (draw != null && done > 0 ? "; drawn into " + draw : ""));
                return done > 0 ? 0 : 1;
            }
        }
    }

    /** Every input image in order: files as given, folders walked (sorted); each with a distinct drawn-copy path. */
    private List<Item> collect(PrintWriter err) throws IOException {
        List<Item> items = new ArrayList<>();
        Set<Path> used = new HashSet<>();
        for (Path in : inputs) {
            if (Files.isDirectory(in)) {
                List<Path> files;
                try (Stream<Path> w = Files.walk(in)) {
                    files = w.filter(ImageFiles::isImage).filter(p -> !hidden(in.relativize(p))).sorted().toList();
                }
                if (files.isEmpty()) err.println("warning: no images in " + in);
                for (Path f : files) items.add(new Item(f, drawPath(in.relativize(f), used)));
            } else {
                items.add(new Item(in, drawPath(in.getFileName(), used)));
            }
        }
        if (items.isEmpty()) throw new IllegalArgumentException("no images in " + inputs);
        return items;
    }

    private static boolean hidden(Path relative) {
        for (Path p : relative) if (p.toString().startsWith(".")) return true;
        return false;
    }

    /** OUTDIR/relative with a .png extension, suffixed -1, -2 ... when another image took the name. */
    private Path drawPath(Path relative, Set<Path> used) {
        if (draw == null) return null;
        String file = relative.getFileName().toString();
        int dot = file.lastIndexOf('.');
        String stem = dot > 0 ? file.substring(0, dot) : file;
        Path parent = relative.getParent() == null ? draw : draw.resolve(relative.getParent());
        Path p = parent.resolve(stem + ".png");
        for (int i = 1; !used.add(p); i++) p = parent.resolve(stem + "-" + i + ".png");
        return p;
    }

    /** The image at item, or null (reported) when it cannot be read. */
    private static Decoded decode(Item item, int channels, PrintWriter err) {
        Path p = item.path();
        try {
            BufferedImage img = ImageFiles.decode(p);
            return new Decoded(item, img, ImageFiles.fromBuffered(img, channels));
        } catch (UnreadableImageException e) {
            err.println("warning: skipping " + Printable.of(e.getMessage()));
            return null;
        }
    }

    /** Softmax probabilities [batch, classes], row-major, computed in double from the logits. */
    private static float[] probabilities(ImageClassifier net, Device dev, List<Decoded> batch) {
        float[] logits;
        try (GradMode ng = GradMode.noGrad(); Scope scope = Scope.open()) {
            Tensor x = ToTensor.batch(batch.stream().map(Decoded::image).toList());
            logits = net.forward(x.to(dev)).toFloats();
            x.close();
        }
        int nc = net.numClasses();
        float[] p = new float[logits.length];
        for (int r = 0; r < batch.size(); r++) {
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < nc; j++) max = Math.max(max, logits[r * nc + j]);
            for (int j = 0; j < nc; j++) z += Math.exp(logits[r * nc + j] - max);
            for (int j = 0; j < nc; j++) p[r * nc + j] = (float) (Math.exp(logits[r * nc + j] - max) / z);
        }
        return p;
    }

    /** The k classes of highest probability in row [off, off + n), highest first, ties by class index. */
    static int[] topK(float[] p, int off, int n, int k) {
        return IntStream.range(0, n).boxed()
                .sorted((a, b) -> p[off + a] != p[off + b] ? Float.compare(p[off + b], p[off + a]) : Integer.compare(a, b))
                .limit(k).mapToInt(Integer::intValue).toArray();
    }

    private List<String> classNames(CheckpointModel ck, int n) {
        List<String> names = null;
        if (classes != null) {
            Path dir = Path.of(classes);
            names = Files.isDirectory(dir) ? FolderDataset.classFolders(dir).stream().map(p -> Printable.of(p.getFileName())).toList()
                    : Arrays.stream(classes.split(",")).map(String::trim).toList();
            if (names.size() != n) {
                throw new IllegalArgumentException("--classes names " + names.size() + " classes but the checkpoint has " + n);
            }
        } else if (ck.classNames() != null && ck.classNames().size() == n) {
            names = ck.classNames();
        }
        return names != null ? names : IntStream.range(0, n).mapToObj(i -> "class " + i).toList();
    }

    private static void writePng(BufferedImage img, Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (!ImageIO.write(img, "png", file.toFile())) throw new IOException(file + ": no PNG writer");
    }
}
