package dev.lumen.app.train;

import dev.lumen.app.TrainCommandAccess;
import dev.lumen.io.Safetensors;
import dev.lumen.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/** A tiny generated folder dataset and helpers to run lumen train on it. */
final class TrainFixtures {
    private TrainFixtures() {}

    static final String[] CLASSES = {"checks", "columns", "rows"};

    /** root/train and root/val with 8x8 grey PNGs: rows, columns or a checkerboard, with a per-image shift. */
    static Path folderDataset(Path root, int perClassTrain, int perClassVal) throws IOException {
        for (String split : new String[] {"train", "val"}) {
            int n = split.equals("train") ? perClassTrain : perClassVal;
            for (int c = 0; c < CLASSES.length; c++) {
                Path dir = Files.createDirectories(root.resolve(split).resolve(CLASSES[c]));
                for (int i = 0; i < n; i++) {
                    BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
                    for (int y = 0; y < 8; y++) {
                        for (int x = 0; x < 8; x++) {
                            int on = switch (c) {
                                case 0 -> (x + y + i) % 2;
                                case 1 -> (x + i) % 2;
                                default -> (y + i) % 2;
                            };
                            img.getRaster().setSample(x, y, 0, on == 1 ? 200 + (i * 7) % 50 : 20 + (i * 13) % 40);
                        }
                    }
                    ImageIO.write(img, "png", dir.resolve(String.format("img%02d.png", i)).toFile());
                }
            }
        }
        return root;
    }

    /** The first training image of a folderDataset. */
    static Path firstImage(Path root) {
        return root.resolve("train").resolve(CLASSES[0]).resolve("img00.png");
    }

    /** The arguments of a fast run on the tiny dataset (3 updates per epoch). */
    static List<String> tinyArgs(Path data, Path out, int epochs) {
        return new ArrayList<>(List.of("--data", data.toString(), "--output", out.toString(), "--model", "resnet_micro", "--img-size", "8",
                "-b", "4", "--epochs", String.valueOf(epochs), "--opt", "adamw", "--lr", "0.01", "--weight-decay", "0.05",
                "--warmup-epochs", "1", "--workers", "0", "--seed", "7", "--quiet"));
    }

    /** tinyArgs with every part of the recipe that draws random numbers or carries state across epochs. */
    static List<String> resumeRecipe(Path data, Path out, int workers) {
        List<String> a = tinyArgs(data, out, 4);
        a.set(a.indexOf("--workers") + 1, String.valueOf(workers));
        a.addAll(List.of("--mixup", "0.4", "--cutmix", "1.0", "--mixup-mode", "elem", "--drop", "0.2", "--model-ema", "--model-ema-decay", "0.8",
                "--amp", "bf16", "--clip-grad", "2"));
        return a;
    }

    /** Asserts that two checkpoints hold the same tensors bit for bit, optimizer state and EMA included. */
    static void assertSameBits(Path expected, Path actual) throws IOException {
        Map<String, int[]> x = bits(expected), y = bits(actual);
        org.junit.jupiter.api.Assertions.assertEquals(x.keySet(), y.keySet());
        org.junit.jupiter.api.Assertions.assertTrue(x.keySet().stream().anyMatch(k -> k.startsWith("optimizer.state."))
                && x.keySet().stream().anyMatch(k -> k.startsWith("ema.")));
        for (String k : x.keySet()) org.junit.jupiter.api.Assertions.assertArrayEquals(x.get(k), y.get(k), k);
    }

    record Run(int code, String out, String err) {}

    static Run lumenTrain(List<String> args, TrainListener... listeners) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = TrainCommandAccess.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), List.of(listeners));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The tensors of a safetensors file as float bit patterns (exact comparison), by name. */
    static Map<String, int[]> bits(Path file) throws IOException {
        Map<String, int[]> out = new LinkedHashMap<>();
        Safetensors.Contents c = Safetensors.read(file);
        for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype().isFloating()) {
                float[] f = t.toFloats();
                int[] b = new int[f.length];
                for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
                out.put(e.getKey(), b);
            } else {
                long[] l = t.toLongs();
                int[] b = new int[l.length];
                for (int i = 0; i < l.length; i++) b[i] = (int) l[i];
                out.put(e.getKey(), b);
            }
            t.close();
        }
        return out;
    }
}
