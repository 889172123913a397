package dev.lumen.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir Path dir;

    @Test
    void roundTripKeepsEveryDtypeShapeAndMetadata() throws IOException {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("w", Tensor.fromFloats(new float[] {1.5f, -2, 3, 4, 5, 6}, 2, 3));
            m.put("w_t", m.get("w").transpose(0, 1));
            m.put("h", Tensor.fromFloats(new float[] {0.1f, 65504f}, 2).to(DType.F16));
            m.put("b", Tensor.fromFloats(new float[] {0.1f, 1e30f}, 2).to(DType.BF16));
            m.put("i", Tensor.fromLongs(new long[] {1L << 40, -3}, 2));
            m.put("d", Tensor.full(Math.PI, DType.F64, Device.CPU, 1));
            Path f = dir.resolve("x.safetensors");
            Safetensors.write(f, m, Map.of("format", "pt"));
            var back = Safetensors.read(f);
            assertEquals("pt", back.metadata().get("format"));
            assertEquals(m.keySet(), back.tensors().keySet());
            for (String k : m.keySet()) {
                Tensor a = m.get(k), b = back.tensors().get(k);
                assertEquals(a.dtype(), b.dtype(), k);
                assertArrayEquals(a.shape(), b.shape(), k);
                assertArrayEquals(a.toDoubles(), b.toDoubles(), k);
            }
            assertArrayEquals(new long[] {1L << 40, -3}, back.tensors().get("i").toLongs());
            try (var list = Files.list(dir)) {
                assertEquals(1, list.count(), "no temporary file left beside the result");
            }
        }
    }

    @Test
    void readsFilesThatPyTorchWrote() throws Exception {
        Path p = Path.of(getClass().getResource("/golden/tensor.safetensors").toURI());
        var c = Safetensors.read(p);
        assertEquals(DType.BF16, c.tensors().get("convert.bf16").dtype());
        assertTrue(c.metadata().get("torch").startsWith("1.13"));
    }

    private Path rawFile(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, b.array());
        return f;
    }

    @Test
    void badFilesNameTheFileAndTheTensor() throws IOException {
        Path f = rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        var e = assertThrows(IOException.class, () -> Safetensors.read(f));
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("'w'"), e.getMessage());

        Path g = rawFile("{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        e = assertThrows(IOException.class, () -> Safetensors.read(g));
        assertTrue(e.getMessage().contains("Q7"), e.getMessage());

        Path h = rawFile("{not json", 0);
        e = assertThrows(IOException.class, () -> Safetensors.read(h));
        assertTrue(e.getMessage().contains("bad safetensors header"), e.getMessage());

        e = assertThrows(IOException.class, () -> Safetensors.read(dir.resolve("missing.safetensors")));
        assertTrue(e.getMessage().contains("missing.safetensors"), e.getMessage());
    }
}
