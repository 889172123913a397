package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.bench.BenchmarkRow;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class BenchmarkCommandTest {
    @TempDir Path tmp;

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = LumenCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String[] full = new String[args.length + 1];
        full[0] = "benchmark";
        System.arraycopy(args, 0, full, 1, args.length);
        int code = cl.execute(full);
        return new Run(code, out.toString(), err.toString());
    }

    private static void assertOneLineError(Run r, int code, String expected) {
        assertEquals(code, r.code(), r.out() + r.err());
        String first = r.err().lines().findFirst().orElse("");
        assertTrue(first.startsWith("lumen benchmark: ") && first.contains(expected), r.err());
    }

    @Test
    void tinyModelTrainsAndInfersIntoTheCsv() throws Exception {
        Path csv = tmp.resolve("out/bench.csv");
        Run r = run("--model", "resnet_micro", "--bench", "both", "-b", "2", "--img-size", "32", "--num-classes", "10",
                "--warmup", "1", "--steps", "2", "--threads", "1", "--csv", csv.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(csv);
        assertEquals(3, lines.size(), lines.toString());
        assertEquals(String.join(",", BenchmarkRow.COLUMNS), lines.get(0));
        String[] train = lines.get(1).split(",", -1), infer = lines.get(2).split(",", -1);
        assertEquals(BenchmarkRow.COLUMNS.size(), train.length, lines.get(1));
        assertEquals(List.of("lumen", "resnet_micro", "train", "2", "32", "float32", "cpu", "1", "2"), List.of(train).subList(0, 9));
        assertEquals("inference", infer[2]);
        for (String[] row : List.of(train, infer)) {
            double mean = Double.parseDouble(row[9]), median = Double.parseDouble(row[10]), min = Double.parseDouble(row[11]);
            assertTrue(min > 0 && min <= median && min <= mean, String.join(",", row));
            assertEquals(2 * 1000 / mean, Double.parseDouble(row[12]), 0.01 * Double.parseDouble(row[12]) + 0.001, "images/s from the mean step");
            assertTrue(Double.parseDouble(row[13]) > 0, "peak RSS");
            assertTrue(Double.parseDouble(row[14]) > 0, "peak live tensors");
            assertTrue(Long.parseLong(row[15]) > 10_000, "params");
        }
        assertTrue(r.out().contains("resnet_micro train: ") && r.out().contains("resnet_micro inference: "), r.out());
        assertTrue(r.out().contains("; after ") && r.out().contains(" warm-up steps"), "the line says what the warm-up did: " + r.out());
        // --max-warmup equal to --warmup: exactly that many, no JIT check
        Run exact = run("--model", "resnet_micro", "--bench", "inference", "-b", "1", "--img-size", "32", "--warmup", "2", "--max-warmup", "2",
                "--steps", "1");
        assertTrue(exact.out().contains("; after 2 warm-up steps ("), exact.out());
        // A second run appends rows under the one header.
        assertEquals(0, run("--model", "resnet_micro", "--bench", "inference", "-b", "1", "--img-size", "32", "--warmup", "0",
                "--duration", "0.001", "--csv", csv.toString()).code());
        List<String> again = Files.readAllLines(csv);
        assertEquals(4, again.size());
        assertTrue(again.get(3).startsWith("lumen,resnet_micro,inference,1,32,"), again.get(3));
        // Mixed precision is named in the dtype column, as timm's --amp-dtype.
        assertEquals(0, run("--model", "resnet_micro", "--bench", "train", "-b", "2", "--img-size", "32", "--warmup", "0", "--steps", "1",
                "--amp", "--amp-dtype", "float16", "--csv", csv.toString()).code());
        assertTrue(Files.readAllLines(csv).get(4).startsWith("lumen,resnet_micro,train,2,32,amp_float16,cpu,"));
    }

    @Test
    void unknownModelNamesTheNearest() {
        assertOneLineError(run("--model", "resnet5"), 1, "resnet5");
    }

    @Test
    void badSizesAndCountsAreOneLine() {
        assertOneLineError(run("--model", "resnet_micro", "-b", "0"), 1, "--batch-size must be >= 1");
        assertOneLineError(run("--model", "resnet_micro", "--img-size", "0"), 1, "--img-size must be >= 1");
        assertOneLineError(run("--model", "resnet_micro", "--channels", "-1"), 1, "--channels must be >= 1");
        assertOneLineError(run("--model", "resnet_micro", "--num-classes", "0"), 1, "--num-classes must be >= 1");
        assertOneLineError(run("--model", "resnet_micro", "--steps", "0"), 1, "--steps must be >= 1");
        assertOneLineError(run("--model", "resnet_micro", "--warmup", "-1"), 1, "--warmup must be >= 0");
        assertOneLineError(run("--model", "resnet_micro", "--warmup", "5", "--max-warmup", "4"), 1, "--max-warmup must be >= --warmup (5), got 4");
        assertOneLineError(run("--model", "resnet_micro", "--threads", "0"), 1, "--threads must be >= 1");
        assertOneLineError(run("--model", "resnet_micro", "--steps", "3", "--duration", "2"), 1, "not both");
        assertOneLineError(run("--model", "resnet_micro", "--bench", "eval"), 1, "--bench must be train, inference or both");
        assertOneLineError(run("--model", "resnet_micro", "--amp", "--amp-dtype", "int8"), 1, "--amp-dtype must be bfloat16 or float16, got 'int8'");
        assertOneLineError(run("--model", "resnet_micro", "--amp", "--amp-dtype", "off"), 1, "--amp-dtype must be");
        assertOneLineError(run("--model", "resnet_micro", "-b", "x"), 2, "-b");
        assertOneLineError(run("--model", "resnet_micro", "--serve", "--bench", "both"), 1, "--serve takes one --model");
    }

    @Test
    void aSizeTheModelCannotTakeIsOneLine() {
        // ViT's patch embedding needs at least one patch of 16x16.
        Run r = run("--model", "vit_tiny_patch16_224", "--img-size", "8", "--bench", "inference", "-b", "1", "--steps", "1", "--warmup", "0");
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith("lumen benchmark: --model vit_tiny_patch16_224: "), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void aDeviceThatIsNotThereIsOneLine() {
        assertOneLineError(run("--model", "resnet_micro", "--device", "tpu"), 1, "--device");
        assertOneLineError(run("--model", "resnet_micro", "--device", "cuda:97"), 1, "--device cuda:97");
    }
}
