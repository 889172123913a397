package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.report.ClassificationReport;
import dev.lumen.app.report.EvalFixtures;
import dev.lumen.io.Json;
import dev.lumen.models.ImageClassifier;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class EvalCommandTest {
    @TempDir static Path tmp;
    static Path data, weights;
    static ClassificationReport expected;

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new LumenCli());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String[] full = new String[args.length + 1];
        full[0] = "eval";
        System.arraycopy(args, 0, full, 1, args.length);
        int code = cl.execute(full);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeAll
    static void setUp() throws Exception {
        data = tmp.resolve("data");
        EvalFixtures.folderDataset(data.resolve("train"), EvalFixtures.CLASSES, 2, 1);
        EvalFixtures.folderDataset(data.resolve("val"), EvalFixtures.CLASSES, 4, 2);
        Files.write(data.resolve("val/green/broken.png"), new byte[] {1, 2, 3, 4, 5});
        try (ImageClassifier m = EvalFixtures.model(3, 7)) {
            weights = EvalFixtures.plainWeights(m, tmp.resolve("w/weights.safetensors"));
            expected = EvalFixtures.direct(m, data.resolve("val"));
            EvalFixtures.trainCheckpoint(m, tmp.resolve("run/best.safetensors"), EvalFixtures.config(data));
        }
    }

    @Test
    void plainWeightsOnAFolderGiveTheDirectlyComputedReport() throws Exception {
        Path outDir = tmp.resolve("out-plain");
        Run r = run("--checkpoint", weights.toString(), "--model", "resnet50", "--data", data.toString(), "--img-size", "16",
                "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "-b", "5", "--workers", "0", "--output", outDir.toString());
        assertEquals(0, r.code(), r.err());
        // The corrupt file is reported and left out: 12 images are evaluated, not 13.
        assertTrue(r.err().contains("broken.png: unreadable image"), r.err());
        assertTrue(r.err().contains("left out 1 unreadable images"), r.err());
        assertEquals(12, expected.count());
        assertTrue(r.out().startsWith(expected.summaryLine() + "\n"), r.out() + "\nexpected: " + expected.summaryLine());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("green\\s+\\d\\.\\d{4}\\s+\\d\\.\\d{4}\\s+\\d\\.\\d{4}\\s+4")), r.out());

        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(outDir.resolve("report.json")));
        assertEquals(12L, json.get("count"));
        assertEquals(expected.top1(), (Double) json.get("top1"), 1e-9);
        assertEquals(expected.loss(), (Double) json.get("loss"), 1e-4 * Math.max(1, expected.loss()));
        assertEquals(List.of(List.of(expected.confusion()[0][0], expected.confusion()[0][1], expected.confusion()[0][2])),
                ((List<?>) json.get("confusion")).subList(0, 1));
        String md = Files.readString(outDir.resolve("report.md"));
        assertTrue(md.contains("| Model | `resnet50` |"), md);
        assertTrue(md.contains("| Dataset | " + data.resolve("val") + " |"), md);
        assertTrue(md.contains("| Weights | " + weights + " (weights) |"), md);
        assertTrue(md.contains("| **red** |"), md);
    }

    @Test
    void aRunFolderBringsItsModelSettingsAndData() throws Exception {
        Path run = tmp.resolve("run");
        Run r = run("--checkpoint", run.toString(), "-b", "4", "--workers", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith(expected.summaryLine() + "\n"), r.out() + "\nexpected: " + expected.summaryLine());
        assertTrue(r.err().contains("on " + data.resolve("val")), r.err());
        assertTrue(r.err().contains("(model weights, resnet50,"), r.err());
        // Without --output nothing is written: the run's own report.md/report.json stay as training left them.
        assertFalse(Files.exists(run.resolve("report.md")));
        assertFalse(Files.exists(run.resolve("report.json")));
        assertFalse(r.out().contains("wrote "), r.out());
        Path out = tmp.resolve("out-run");
        Run o = run("--checkpoint", run.toString(), "-b", "4", "--workers", "1", "--output", out.toString());
        assertEquals(0, o.code(), o.err());
        assertTrue(Files.readString(out.resolve("report.md")).contains("| Weights | " + run.resolve("best.safetensors") + " (model weights) |"));
        assertTrue(Files.exists(out.resolve("report.json")));
        assertFalse(Files.exists(out.resolve("confusion.csv")));

        // An option the run contradicts is ignored with a warning.
        Run w = run("--checkpoint", run.toString(), "--img-size", "32", "--output", tmp.resolve("out-w").toString(), "--workers", "0");
        assertEquals(0, w.code(), w.err());
        assertTrue(w.err().contains("warning: ignoring --img-size 32: the checkpoint was trained with 16"), w.err());
    }

    @Test
    void errorsAreOneClearLine() throws Exception {
        Run missing = run("--checkpoint", tmp.resolve("nope.safetensors").toString(), "--model", "resnet50", "--data", data.toString());
        assertEquals(1, missing.code());
        assertEquals("lumen eval: " + tmp.resolve("nope.safetensors") + ": no such checkpoint\n", missing.err());

        Run noModel = run("--checkpoint", weights.toString(), "--data", data.toString());
        assertEquals(1, noModel.code());
        assertEquals("lumen eval: " + weights + " has no run config naming its model: pass --model\n", noModel.err());

        Run typo = run("--checkpoint", weights.toString(), "--model", "resnet5", "--data", data.toString());
        assertEquals(1, typo.code());
        assertTrue(typo.err().startsWith("lumen eval: unknown model 'resnet5'; did you mean resnet50"), typo.err());

        Path two = EvalFixtures.folderDataset(tmp.resolve("two"), List.of("blue", "red"), 1, 3);
        Run classes = run("--checkpoint", weights.toString(), "--model", "resnet50", "--data", two.toString(), "--img-size", "16");
        assertEquals(1, classes.code());
        assertEquals("lumen eval: " + weights + ": the checkpoint has 3 classes but the data has 2\n", classes.err());

        Run shapes = run("--checkpoint", weights.toString(), "--model", "resnet50", "--data", data.toString(), "--img-size", "16",
                "--in-chans", "1");
        assertEquals(1, shapes.code());
        assertTrue(shapes.err().startsWith("lumen eval: " + weights + ": the weights do not fit resnet50 (1 input channels): "
                + "1 shape mismatches [conv1.weight: module [64, 1, 7, 7], state [64, 3, 7, 7]]"), shapes.err());
        assertEquals(1, shapes.err().lines().count(), shapes.err());

        Run both = run("--checkpoint", weights.toString(), "--data", data.toString(), "--dataset", "fashion-mnist");
        assertEquals("lumen eval: give --data or --dataset, not both\n", both.err());
    }
}
