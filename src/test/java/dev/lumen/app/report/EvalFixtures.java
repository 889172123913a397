package dev.lumen.app.report;

import dev.lumen.app.data.FolderDataset;
import dev.lumen.app.data.ImageFiles;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.data.transform.ToTensor;
import dev.lumen.autograd.GradMode;
import dev.lumen.io.Json;
import dev.lumen.io.Safetensors;
import dev.lumen.memory.Scope;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * A tiny evaluation setup: a folder dataset of small coloured PNGs and the weights of a
 * registry model (resnet50 at 16x16, 3 classes: small enough to build and run in a second)
 * saved as plain safetensors and as a training checkpoint.
 */
public final class EvalFixtures {
    private EvalFixtures() {}

    public static final String MODEL = "resnet50";
    public static final int SIZE = 16;
    public static final List<String> CLASSES = List.of("blue", "green", "red");
    public static final float[] MEAN = {0.5f, 0.5f, 0.5f}, STD = {0.25f, 0.25f, 0.25f};

    /** root/&lt;class&gt;/&lt;i&gt;.png: perImage noisy images per class, dominated by the class's colour. */
    public static Path folderDataset(Path root, List<String> classes, int perClass, long seed) throws IOException {
        Random r = new Random(seed);
        for (String c : classes) {
            Path dir = Files.createDirectories(root.resolve(c));
            int shift = switch (c) {
                case "red" -> 16;
                case "green" -> 8;
                default -> 0;
            };
            for (int i = 0; i < perClass; i++) {
                BufferedImage img = new BufferedImage(SIZE + i, SIZE, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < img.getHeight(); y++) {
                    for (int x = 0; x < img.getWidth(); x++) {
                        int base = r.nextInt(60), main = 150 + r.nextInt(100);
                        int rgb = (base << 16) | (base << 8) | base;
                        rgb = (rgb & ~(0xff << shift)) | (main << shift);
                        img.setRGB(x, y, rgb);
                    }
                }
                ImageIO.write(img, "png", dir.resolve(i + ".png").toFile());
            }
        }
        return root;
    }

    /** A fresh model of the fixture's shape, seeded. */
    public static ImageClassifier model(int numClasses, long seed) {
        Generator.global().manualSeed(seed);
        ImageClassifier m = ModelRegistry.create(MODEL, ModelOptions.defaults().withNumClasses(numClasses).withImgSize(SIZE));
        m.eval();
        return m;
    }

    /** Plain weights, as Checkpoints.exportSafetensors writes them. */
    public static Path plainWeights(ImageClassifier m, Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Checkpoints.exportSafetensors(m, file);
        return file;
    }

    /**
     * A training checkpoint as {@code lumen train} writes it: the model under "model.", an
     * optimizer tensor, and the run's JSON (with its config) in the metadata.
     */
    public static Path trainCheckpoint(ImageClassifier m, Path file, Map<String, Object> config) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        m.stateDict().forEach((k, v) -> tensors.put("model." + k, v));
        tensors.put("optimizer.fc.weight.momentum_buffer", Tensor.zeros(3, 2));
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("epoch", 2);
        info.put("config", config);
        info.put("optimizer", Map.of());
        info.put("scheduler", Map.of());
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "lumen-train");
        meta.put(CheckpointModel.TRAIN_META_KEY, Json.write(info, false));
        Safetensors.write(file, tensors, meta);
        return file;
    }

    /** The run config keys eval reads, as TrainConfig.toMap() names them. */
    public static Map<String, Object> config(Path data) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("model", MODEL);
        c.put("data", data.toString());
        c.put("dataset", "fashion-mnist");
        c.put("img-size", SIZE);
        c.put("in-chans", 3);
        c.put("mean", toList(MEAN));
        c.put("std", toList(STD));
        return c;
    }

    private static List<Double> toList(float[] a) {
        List<Double> l = new ArrayList<>();
        for (float v : a) l.add((double) v);
        return l;
    }

    /**
     * The report computed directly: every image of root through the eval pipeline and the model,
     * without the loader or the checkpoint, for comparison with the command's.
     */
    public static ClassificationReport direct(ImageClassifier m, Path root) {
        FolderDataset ds = new FolderDataset(root, 3);
        var pipe = Pipelines.eval(Pipelines.Options.defaults(SIZE, MEAN, STD));
        List<Integer> readable = new ArrayList<>();
        for (int i = 0; i < ds.size(); i++) {
            try {
                ImageFiles.read(ds.path(i), 3);
                readable.add(i);
            } catch (RuntimeException e) {
                // left out, as the command leaves it out
            }
        }
        float[][] scores = new float[readable.size()][];
        int[] labels = new int[readable.size()];
        double loss = 0;
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            for (int r = 0; r < readable.size(); r++) {
                int i = readable.get(r);
                Tensor x = ToTensor.of(pipe.apply(ds.get(i).image(), new Generator(0)));
                scores[r] = m.forward(x.view(1, 3, SIZE, SIZE)).toFloats();
                labels[r] = ds.label(i);
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (float v : scores[r]) max = Math.max(max, v);
                for (float v : scores[r]) z += Math.exp(v - max);
                loss += max + Math.log(z) - scores[r][labels[r]];
            }
        }
        return ClassificationReport.of(scores, labels, ds.classNames(), loss / readable.size());
    }
}
