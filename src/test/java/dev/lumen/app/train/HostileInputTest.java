package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.LumenCli;
import dev.lumen.app.data.ImageFiles;
import dev.lumen.app.data.UnreadableImageException;
import dev.lumen.io.InputLimits;
import dev.lumen.io.Json;
import dev.lumen.io.Printable;
import dev.lumen.io.Safetensors;
import dev.lumen.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command meets hostile or broken input with one line and exit code 1 (a bad command line:
 * the error, a pointer at --help, exit code 2): malformed checkpoints in eval, predict, train
 * --pretrained and --resume, decompression-bomb images, escape sequences in class names.
 */
class HostileInputTest {
    @TempDir static Path tmp;
    static Path data, run;

    record Result(int code, String out, String err) {
        /** The one line of stderr (and asserts there is exactly one). */
        String line() {
            String e = err.strip();
            assertFalse(e.contains("\n"), "one line: " + e);
            return e;
        }
    }

    static Result lumen(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = LumenCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Result(cl.execute(args), out.toString(), err.toString());
    }

    @BeforeAll
    static void trainOneEpoch() throws IOException {
        data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        run = tmp.resolve("run");
        TrainFixtures.Run r = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, run, 1));
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void aParseErrorIsTheErrorAndAPointerAtHelp() {
        Result r = lumen("train", "--epochs", "x");
        assertEquals(2, r.code());
        assertEquals("lumen train: Invalid value for option '--epochs': 'x' is not an int\nTry 'lumen train --help' for more information.",
                r.err().strip());
        Result u = lumen("eval", "--checkpoint", "x", "--bogus");
        assertEquals(2, u.code());
        assertEquals("lumen eval: Unknown option: '--bogus'\nTry 'lumen eval --help' for more information.", u.err().strip());
        assertEquals("", u.out());
    }

    @Test
    void evalOfADeeplyNestedHeaderIsOneLine() throws IOException {
        byte[] h = ("{\"__metadata__\":" + "[".repeat(50_000) + "}").getBytes(StandardCharsets.UTF_8);
        Path f = tmp.resolve("nested.safetensors");
        Files.write(f, ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h).array());
        Result r = lumen("eval", "--checkpoint", f.toString(), "--data", data.toString(), "--model", "resnet_micro");
        assertEquals(1, r.code());
        assertEquals("lumen eval: " + f + ": bad safetensors header: bad JSON at offset 143: nested deeper than 128 levels", r.line());
    }

    @Test
    void predictWithAPickleBombIsOneLine() throws IOException {
        Path f = tmp.resolve("deep.pth");
        byte[] pkl = ("]".repeat(100_000) + "a".repeat(99_999) + ".").getBytes(StandardCharsets.ISO_8859_1);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            z.putNextEntry(new ZipEntry("deep/data.pkl"));
            z.write(pkl);
        }
        Path img = TrainFixtures.firstImage(data);
        Result r = lumen("predict", "--checkpoint", f.toString(), "--model", "resnet_micro", img.toString());
        assertEquals(1, r.code());
        assertEquals("lumen predict: " + f + ": the pickle nests containers deeper than 1000 levels", r.line());
    }

    @Test
    void pretrainedWithANegativeHeadShapeIsRefused() throws IOException {
        String h = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[-3,8],\"data_offsets\":[0,0]}}";
        Path f = tmp.resolve("negative.safetensors");
        byte[] hb = h.getBytes(StandardCharsets.UTF_8);
        Files.write(f, ByteBuffer.allocate(8 + hb.length).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).put(hb).array());
        List<String> a = TrainFixtures.tinyArgs(data, tmp.resolve("pre"), 1);
        a.addAll(List.of("--pretrained", f.toString()));
        TrainFixtures.Run r = TrainFixtures.lumenTrain(a);
        assertEquals(1, r.code());
        assertEquals("lumen train: --pretrained " + f + ": cannot read weights: " + f + ": tensor 'fc.weight': shape [-3, 8] must hold non-negative integers",
                r.err().strip());
    }

    /** A copy of the run's last checkpoint with its metadata JSON changed by edit. */
    @SuppressWarnings("unchecked")
    static Path hostileCheckpoint(String name, Consumer<Map<String, Object>> edit) throws IOException {
        Safetensors.Contents c = Safetensors.read(run.resolve("last.safetensors"));
        Map<String, Object> info = (Map<String, Object>) Json.parse(c.metadata().get(TrainCheckpoint.META_KEY));
        edit.accept(info);
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        meta.put(TrainCheckpoint.META_KEY, Json.write(info, false));
        Path f = Files.createDirectories(tmp.resolve(name)).resolve("last.safetensors");
        Safetensors.write(f, c.tensors(), meta);
        c.tensors().values().forEach(Tensor::close);
        return f;
    }

    @Test
    @SuppressWarnings("unchecked")
    void resumeFromHostileMetadataIsOneLine() throws IOException {
        Path epoch = hostileCheckpoint("epoch", m -> m.put("epoch", "3"));
        assertEquals("lumen train: --resume " + epoch + ": checkpoint metadata 'epoch' must be an integer, got a string", resume(epoch));
        Path rng = hostileCheckpoint("rng", m -> m.remove("rng"));
        assertEquals("lumen train: --resume " + rng + ": checkpoint metadata 'rng' must be an object, got nothing", resume(rng));
        Path size = hostileCheckpoint("size", m -> ((Map<String, Object>) m.get("config")).put("img-size", 100000));
        assertEquals("lumen train: --img-size must be in [1, 8192], got 100000", resume(size));
        Path history = hostileCheckpoint("history", m -> m.put("history", List.of("x")));
        assertEquals("lumen train: --resume " + history + ": checkpoint metadata 'history' row 0 is malformed", resume(history));
    }

    @Test
    @SuppressWarnings("unchecked")
    void evalAndPredictOfAnAbsurdImgSizeNameTheFile() throws IOException {
        Path f = hostileCheckpoint("huge-input", m -> ((Map<String, Object>) m.get("config")).put("img-size", 1_000_000));
        String expected = f + ": its run config's img-size must be in [1, 8192], got 1000000";
        Result e = lumen("eval", "--checkpoint", f.toString(), "--data", data.toString());
        assertEquals(1, e.code(), e.err());
        assertEquals("lumen eval: " + expected, e.line());
        Result p = lumen("predict", "--checkpoint", f.toString(), TrainFixtures.firstImage(data).toString());
        assertEquals(1, p.code(), p.err());
        assertEquals("lumen predict: " + expected, p.line());
    }

    private static String resume(Path f) {
        TrainFixtures.Run r = TrainFixtures.lumenTrain(List.of("--resume", f.toString(), "--epochs", "2", "--quiet"));
        assertEquals(1, r.code(), r.out());
        String e = r.err().strip();
        assertFalse(e.contains("\n"), e);
        return e;
    }

    @Test
    @SuppressWarnings("unchecked")
    void escapeSequencesInClassNamesArePrintedEscaped() throws IOException {
        Path f = hostileCheckpoint("ansi", m -> m.put("class_names", List.of("\u001b[2Jchecks", "columns\nforged line", "rows")));
        Result r = lumen("predict", "--checkpoint", f.toString(), "--topk", "3", TrainFixtures.firstImage(data).toString());
        assertEquals(0, r.code(), r.err());
        assertFalse(r.out().contains("\u001b"), r.out());
        assertTrue(r.out().contains("\\x1b[2Jchecks") && r.out().contains("columns\\x0aforged line"), r.out());
        assertFalse(r.out().lines().anyMatch(l -> l.startsWith("forged line")), r.out());
        assertEquals("a\\\\b\\x07\\u202e", Printable.of("a\\b\u0007\u202e"));
    }

    /** A PNG whose header declares width x height; the pixel data is a stub the limit never reaches. */
    static byte[] pngHeader(int width, int height) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8).put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0);
        chunk(d, "IHDR", ihdr.array());
        chunk(d, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        chunk(d, "IEND", new byte[0]);
        return b.toByteArray();
    }

    private static void chunk(DataOutputStream d, String type, byte[] body) throws IOException {
        d.writeInt(body.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        d.write(t);
        d.write(body);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(body);
        d.writeInt((int) crc.getValue());
    }

    @Test
    void aDecompressionBombImageIsSkippedAndTheRunGoesOn() throws IOException {
        Path bombData = TrainFixtures.folderDataset(tmp.resolve("bombdata"), 2, 1);
        Path bomb = bombData.resolve("train/rows/zz-bomb.png");
        Files.write(bomb, pngHeader(20000, 20000));
        assertTrue(Files.size(bomb) < 100);
        TrainFixtures.Run r = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(bombData, tmp.resolve("bombrun"), 1));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("warning: skipping " + bomb + ": unreadable image (20000x20000 = 400000000 pixels is over the limit of 89478485"
                + " (a decompression bomb?); raise it with --max-image-pixels)"), r.err());
        assertTrue(r.out().contains("skipped 1 unreadable images"), r.out());
    }

    @Test
    void thePixelLimitCanBeRaised() throws IOException {
        Path bomb = Files.write(tmp.resolve("limit.png"), pngHeader(100, 100));
        long before = InputLimits.maxImagePixels();
        try {
            assertEquals(2, lumen("--max-image-pixels", "0", "models").code());
            LumenCli.commandLine().parseArgs("predict", "--max-image-pixels", "9999", "--checkpoint", "x", "a.png"); // every command has it
            assertEquals(9999, InputLimits.maxImagePixels());
            String msg = assertThrows(UnreadableImageException.class, () -> ImageFiles.decode(bomb)).getMessage();
            assertTrue(msg.contains("10000 pixels is over the limit of 9999"), msg);
            InputLimits.setMaxImagePixels(10000);
            msg = assertThrows(UnreadableImageException.class, () -> ImageFiles.decode(bomb)).getMessage();
            assertFalse(msg.contains("over the limit"), "within the limit the decoder runs (and finds the stub data): " + msg);
        } finally {
            InputLimits.setMaxImagePixels(before);
        }
    }
}
