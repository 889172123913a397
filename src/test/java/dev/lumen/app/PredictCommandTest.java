package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.FolderDataset;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.data.transform.ToTensor;
import dev.lumen.app.report.EvalFixtures;
import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.tensor.Generator;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PredictCommandTest {
    @TempDir static Path tmp;
    static Path data, weights, run;
    /** Softmax of the model on data/val/red/1.png, computed directly. */
    static float[] redProbs;

    private record Run(int code, String out, String err) {}

    private static Run predict(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new LumenCli());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String[] full = new String[args.length + 1];
        full[0] = "predict";
        System.arraycopy(args, 0, full, 1, args.length);
        return new Run(cl.execute(full), out.toString(), err.toString());
    }

    @BeforeAll
    static void setUp() throws Exception {
        data = tmp.resolve("data");
        EvalFixtures.folderDataset(data.resolve("train"), EvalFixtures.CLASSES, 1, 1);
        EvalFixtures.folderDataset(data.resolve("val"), EvalFixtures.CLASSES, 2, 2);
        Files.write(data.resolve("val/green/broken.png"), new byte[] {9, 9, 9});
        try (ImageClassifier m = EvalFixtures.model(3, 11)) {
            weights = EvalFixtures.plainWeights(m, tmp.resolve("w/weights.safetensors"));
            run = tmp.resolve("run");
            EvalFixtures.trainCheckpoint(m, run.resolve("last.safetensors"), EvalFixtures.config(data));
            FolderDataset ds = new FolderDataset(data.resolve("val/red").getParent(), 3);
            int idx = ds.size() - 1; // red/1.png, the last file
            var pipe = Pipelines.eval(Pipelines.Options.defaults(EvalFixtures.SIZE, EvalFixtures.MEAN, EvalFixtures.STD));
            try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
                float[] logits = m.forward(ToTensor.of(pipe.apply(ds.get(idx).image(), new Generator(0))).view(1, 3, 16, 16)).toFloats();
                redProbs = softmax(logits);
            }
        }
    }

    private static float[] softmax(float[] z) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : z) max = Math.max(max, v);
        for (float v : z) sum += Math.exp(v - max);
        float[] p = new float[z.length];
        for (int i = 0; i < z.length; i++) p[i] = (float) (Math.exp(z[i] - max) / sum);
        return p;
    }

    @Test
    void foldersAndFilesWithTopKDrawingAndUnreadablesSkipped() throws Exception {
        Path out = tmp.resolve("drawn");
        Path red1 = data.resolve("val/red/1.png"), blue1 = data.resolve("val/blue/1.png"), missing = tmp.resolve("missing.jpg");
        Run r = predict("--checkpoint", run.toString(), "--topk", "2", "--draw", out.toString(), "-b", "4",
                data.resolve("val").toString(), red1.toString(), blue1.toString(), missing.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(9, lines.size(), r.out()); // 6 readable in the folder, red1 and blue1 again, the summary
        assertEquals("predicted 8 images, skipped 2 unreadable; drawn into " + out, lines.get(8));
        assertTrue(r.err().contains("warning: skipping " + data.resolve("val/green/broken.png") + ": unreadable image ("), r.err());
        assertTrue(r.err().contains("warning: skipping " + missing + ": unreadable image (no such file)"), r.err());

        // The run's class names (from its data) and the directly computed probabilities, highest first.
        int first = redProbs[0] >= redProbs[1] && redProbs[0] >= redProbs[2] ? 0 : redProbs[1] >= redProbs[2] ? 1 : 2;
        String expected = red1 + ": " + EvalFixtures.CLASSES.get(first) + String.format(Locale.ROOT, " %.2f%%", 100 * redProbs[first]);
        assertTrue(lines.get(6).startsWith(expected + ", "), lines.get(6) + "\nexpected: " + expected);
        assertTrue(lines.get(5).startsWith(red1 + ": "), lines.get(5));
        assertEquals(lines.get(5), lines.get(6));
        assertTrue(lines.get(0).matches(".*blue/0\\.png: (blue|green|red) \\d+\\.\\d\\d%, (blue|green|red) \\d+\\.\\d\\d%"), lines.get(0));

        // Drawn copies mirror the folder; files given alone go to OUTDIR, the second 1.png as 1-1.png.
        BufferedImage drawn = ImageIO.read(out.resolve("red/1.png").toFile());
        assertNotNull(drawn);
        assertEquals(272, drawn.getWidth()); // 17x16 enlarged 16x to a 256 shorter side
        assertEquals(256, drawn.getHeight());
        assertTrue(Files.exists(out.resolve("1.png")) && Files.exists(out.resolve("1-1.png")), "the explicit files' copies");
        assertEquals(8, Files.walk(out).filter(Files::isRegularFile).count());
        int corner = drawn.getRGB(1, 1);
        assertTrue(((corner >> 16) & 0xff) < 80 && ((corner >> 8) & 0xff) < 80 && (corner & 0xff) < 80, "dark label box");
        int white = 0;
        for (int y = 0; y < 40; y++) for (int x = 0; x < 120; x++) if ((drawn.getRGB(x, y) & 0xffffff) == 0xffffff) white++;
        assertTrue(white > 30, "white label text in the box: " + white);
    }

    @Test
    void csvAndJsonFormatsAndTopKDrawn() throws Exception {
        Path red1 = data.resolve("val/red/1.png"), blue1 = data.resolve("val/blue/1.png");
        Run text = predict("--checkpoint", run.toString(), "--topk", "3", red1.toString(), blue1.toString());
        Run csv = predict("--checkpoint", run.toString(), "--topk", "3", "--format", "csv", red1.toString(), blue1.toString());
        assertEquals(0, csv.code(), csv.err());
        List<String> rows = csv.out().lines().toList();
        assertEquals(List.of("image,class_1,prob_1,class_2,prob_2,class_3,prob_3"), rows.subList(0, 1));
        assertEquals(3, rows.size(), csv.out()); // the summary went to stderr
        assertTrue(csv.err().contains("predicted 2 images"), csv.err());
        String[] f = rows.get(1).split(",");
        assertEquals(red1.toString(), f[0]);
        String firstText = text.out().lines().findFirst().orElseThrow();
        assertTrue(firstText.startsWith(red1 + ": " + f[1] + String.format(Locale.ROOT, " %.2f%%", 100 * Double.parseDouble(f[2]))), firstText);
        assertEquals(1.0, Double.parseDouble(f[2]) + Double.parseDouble(f[4]) + Double.parseDouble(f[6]), 1e-5);

        Run json = predict("--checkpoint", run.toString(), "--topk", "2", "--format", "json", red1.toString());
        assertEquals(0, json.code(), json.err());
        Map<?, ?> doc = (Map<?, ?>) dev.lumen.io.Json.parse(json.out());
        assertEquals(run.resolve("last.safetensors") + " (model weights)", doc.get("weights"));
        Map<?, ?> p0 = (Map<?, ?>) ((List<?>) doc.get("predictions")).get(0);
        assertEquals(red1.toString(), p0.get("image"));
        Map<?, ?> top0 = (Map<?, ?>) ((List<?>) p0.get("topk")).get(0);
        assertEquals(f[1], top0.get("class"));
        assertEquals(Double.parseDouble(f[2]), ((Number) top0.get("probability")).doubleValue(), 1e-6);

        Run bad = predict("--checkpoint", run.toString(), "--format", "xml", red1.toString());
        assertEquals(1, bad.code());
        assertEquals("lumen predict: --format must be text, csv or json, got 'xml'\n", bad.err());

        // --draw shows every one of the top-k: the label box grows a line per class.
        int[] heights = new int[3];
        for (int k = 1; k <= 3; k++) {
            Path dir = tmp.resolve("drawn-top" + k);
            assertEquals(0, predict("--checkpoint", run.toString(), "--topk", String.valueOf(k), "--draw", dir.toString(), red1.toString()).code());
            BufferedImage img = ImageIO.read(dir.resolve("1.png").toFile());
            int y = 0;
            while (y < img.getHeight() && (((img.getRGB(1, y) >> 16) & 0xff) < 80)) y++;
            heights[k - 1] = y;
        }
        assertTrue(heights[0] > 10 && heights[1] > heights[0] + 10 && heights[2] > heights[1] + 10, java.util.Arrays.toString(heights));
    }

    @Test
    void plainWeightsTakeModelAndClassNamesFromOptions() {
        Path img = data.resolve("val/blue/0.png");
        Run named = predict("--checkpoint", weights.toString(), "--model", "resnet50", "--img-size", "16", "--mean", "0.5,0.5,0.5",
                "--std", "0.25,0.25,0.25", "--classes", "b, g, r", "--topk", "10", img.toString());
        assertEquals(0, named.code(), named.err());
        String line = named.out().lines().findFirst().orElseThrow();
        assertTrue(line.matches(".*0\\.png: [bgr] \\d+\\.\\d\\d%, [bgr] \\d+\\.\\d\\d%, [bgr] \\d+\\.\\d\\d%"), line); // k clamped to 3

        Run unnamed = predict("--checkpoint", weights.toString(), "--model", "resnet50", "--img-size", "16", "--topk", "1", img.toString());
        assertEquals(0, unnamed.code(), unnamed.err());
        assertTrue(unnamed.out().lines().findFirst().orElseThrow().matches(".*0\\.png: class [012] \\d+\\.\\d\\d%"), unnamed.out());

        Run folderNames = predict("--checkpoint", weights.toString(), "--model", "resnet50", "--img-size", "16",
                "--classes", data.resolve("train").toString(), img.toString());
        assertTrue(folderNames.out().lines().findFirst().orElseThrow().matches(".*0\\.png: (blue|green|red) .*"), folderNames.out());
    }

    @Test
    void nothingReadableOrNoModelFails() {
        Path broken = data.resolve("val/green/broken.png");
        Run none = predict("--checkpoint", run.toString(), broken.toString());
        assertEquals(1, none.code());
        assertTrue(none.out().endsWith("predicted 0 images, skipped 1 unreadable\n"), none.out());

        Run noModel = predict("--checkpoint", weights.toString(), broken.toString());
        assertEquals(1, noModel.code());
        assertEquals("lumen predict: " + weights + " has no run config naming its model: pass --model\n", noModel.err());

        Run badNames = predict("--checkpoint", run.toString(), "--classes", "a,b", broken.toString());
        assertEquals(1, badNames.code());
        assertEquals("lumen predict: --classes names 2 classes but the checkpoint has 3\n", badNames.err());
    }
}
