package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.io.Safetensors;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {

    @TempDir
    Path tmp;

    static Path resource(String name) {
        try {
            return Path.of(CheckpointsTest.class.getResource("/golden/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("golden/" + name + " missing: run tools/golden/gen_pth.py", e);
        }
    }

    private static void assertSameTensors(Map<String, Tensor> expected, Map<String, Tensor> actual) {
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()));
        for (var e : expected.entrySet()) {
            Tensor a = actual.get(e.getKey()), x = e.getValue();
            assertEquals(x.dtype(), a.dtype(), e.getKey());
            assertArrayEquals(x.shape(), a.shape(), e.getKey());
            assertTrue(a.isContiguous(), e.getKey());
            if (x.dtype() == DType.I64) assertArrayEquals(x.toLongs(), a.toLongs(), e.getKey());
            else assertArrayEquals(x.toDoubles(), a.toDoubles(), 0, e.getKey());
        }
    }

    @Test
    void pthMatchesSafetensorsWithWrapperAndPrefixStripped() throws IOException {
        Map<String, Tensor> pth = Checkpoints.load(resource("pth_state.pth"));
        Map<String, Tensor> st = Checkpoints.load(resource("pth_state.safetensors"));
        assertSameTensors(st, pth);
        // the transposed tensor was stored with stride (1, 6): row 0 is the first column of the base
        assertArrayEquals(new int[] {6, 4}, pth.get("transposed").shape());
        assertArrayEquals(new double[] {8, 9, 10, 14, 15, 16, 20, 21, 22}, pth.get("window").toDoubles(), 0);
        assertEquals(2.5, pth.get("scalar").item());
        assertEquals((1L << 40), pth.get("index").toLongs()[3]);
    }

    @Test
    void moduleStateDictWithMetadataLoads() throws IOException {
        Map<String, Tensor> pth = Checkpoints.load(resource("pth_module.pth"));
        assertSameTensors(Safetensors.read(resource("pth_module.safetensors")).tensors(), pth);
        assertTrue(pth.containsKey("1.num_batches_tracked"));
    }

    @Test
    void codeRunningGlobalsAreRefused() throws IOException {
        Path marker = Path.of("/tmp/lumen-pickle-pwned");
        Files.deleteIfExists(marker);
        Path system = resource("pth_evil_system.pth");
        IOException e = assertThrows(IOException.class, () -> Checkpoints.load(system));
        assertTrue(e.getMessage().contains(system.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("refused to unpickle global 'posix.system'"), e.getMessage());
        Path eval = resource("pth_evil_eval.pth");
        IOException e2 = assertThrows(IOException.class, () -> Checkpoints.load(eval));
        assertTrue(e2.getMessage().contains("'builtins.eval'") && e2.getMessage().contains("pth_evil_eval.pth"), e2.getMessage());
        assertFalse(Files.exists(marker), "nothing of the payload ran");
    }

    @Test
    void handWrittenExploitsAreRefused() throws IOException {
        // protocol-0 INST names a class directly; a REDUCE on a non-global is refused too
        IOException inst = assertThrows(IOException.class, () -> Checkpoints.load(zipWithPickle("inst", "(S'ls'\nios\nsystem\n.".getBytes())));
        assertTrue(inst.getMessage().contains("'os.system'"), inst.getMessage());
        IOException sub = assertThrows(IOException.class,
                () -> Checkpoints.load(zipWithPickle("sub", "csubprocess\ncheck_output\n(S'id'\ntR.".getBytes())));
        assertTrue(sub.getMessage().contains("'subprocess.check_output'"), sub.getMessage());
        IOException notDict = assertThrows(IOException.class, () -> Checkpoints.load(zipWithPickle("list", "(I1\nI2\nl.".getBytes())));
        assertTrue(notDict.getMessage().contains("not a dict of tensors"), notDict.getMessage());
    }

    @Test
    void tensorsReachingPastTheirStorageAreRejected() throws IOException {
        // _rebuild_tensor_v2(storage of 4 floats, offset 2, size (3,), stride (1,)) reads 5 elements
        String pkl = "}(X\u0001\u0000\u0000\u0000w"
                + "ctorch._utils\n_rebuild_tensor_v2\n"
                + "((X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpuK\u0004tQ"
                + "K\u0002K\u0003\u0085K\u0001\u0085\u0089ccollections\nOrderedDict\n)RtRu.";
        Path f = zipWithPickle("oob", pkl.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), new byte[16]);
        IOException e = assertThrows(IOException.class, () -> Checkpoints.load(f));
        assertTrue(e.getMessage().contains("reaches past storage"), e.getMessage());
    }

    private Path zipWithPickle(String name, byte[] pkl, byte[]... storages) throws IOException {
        Path f = tmp.resolve(name + ".pth");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            z.putNextEntry(new ZipEntry(name + "/data.pkl"));
            z.write(pkl);
            for (int i = 0; i < storages.length; i++) {
                z.putNextEntry(new ZipEntry(name + "/data/" + i));
                z.write(storages[i]);
            }
        }
        return f;
    }

    @Test
    void loadIntoReportsAndDropsTheHead() throws IOException {
        try (TinyClassifier src = new TinyClassifier(3, 6, 1, 5); TinyClassifier dst = new TinyClassifier(3, 6, 1, 7)) {
            Path file = tmp.resolve("tiny.safetensors");
            Checkpoints.exportSafetensors(src, file);
            Map<String, Tensor> state = Checkpoints.load(file);
            IllegalArgumentException strict = assertThrows(IllegalArgumentException.class, () -> Checkpoints.loadInto(dst, state, true, false));
            assertTrue(strict.getMessage().contains("fc.weight: module [7, 6], state [5, 6]"), strict.getMessage());

            Checkpoints.LoadReport r = Checkpoints.loadInto(dst, state, true, true);
            assertTrue(r.isClean(), r.toString());
            assertEquals(List.of("fc.weight", "fc.bias"), r.droppedHead());
            assertArrayEquals(src.stateDict().get("stem.weight").toFloats(), dst.stateDict().get("stem.weight").toFloats());
            assertEquals(7, dst.stateDict().get("fc.weight").shape(0));

            state.put("extra.weight", Tensor.zeros(2));
            state.remove("stem.bias");
            Checkpoints.LoadReport loose = Checkpoints.loadInto(src, state, false, true);
            assertEquals(List.of("stem.bias"), loose.missingKeys());
            assertEquals(List.of("extra.weight"), loose.unexpectedKeys());
            assertTrue(loose.droppedHead().isEmpty(), "same class count: the head loads");
        }
    }

    @Test
    void exportRoundTripsThroughLoadInto() throws IOException {
        try (TinyClassifier a = new TinyClassifier(3, 6, 1, 5); TinyClassifier b = new TinyClassifier(3, 6, 1, 5)) {
            try (var ng = dev.lumen.autograd.GradMode.noGrad()) {
                a.stateDict().get("fc.bias").backend().copy(Tensor.full(0.5, DType.F32, dev.lumen.tensor.Device.CPU, 5), a.stateDict().get("fc.bias"));
            }
            Path f = tmp.resolve("a.safetensors");
            Checkpoints.exportSafetensors(a, f);
            assertTrue(Checkpoints.loadInto(b, f, true, false).isClean());
            assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, b.stateDict().get("fc.bias").toFloats());
        }
    }
}
