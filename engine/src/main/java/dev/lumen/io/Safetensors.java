package dev.lumen.io;

import dev.lumen.memory.Scope;
import dev.lumen.memory.Storage;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian bytes. Reading maps the
 * file; tensors view the mapping (read-only) where alignment allows.
 */
public final class Safetensors {
    private Safetensors() {}

    /** Tensors of a file, in header order, plus its __metadata__. Tensors are outside every scope. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

    public static Contents read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": no such file");
        long size = Files.size(file);
        MemorySegment map;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, Arena.ofAuto());
        }
        if (size < 8) throw new IOException(file + ": not a safetensors file (" + size + " bytes)");
        long headerLen = map.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen <= 0 || headerLen > size - 8 || headerLen > 100_000_000) {
            throw new IOException(file + ": not a safetensors file (header length " + headerLen + ")");
        }
        String header = new String(map.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        Object parsed;
        try {
            parsed = Json.parse(header);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": bad safetensors header: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> root)) throw new IOException(file + ": safetensors header is not a JSON object");
        long dataStart = 8 + headerLen;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        Scope scope = Scope.current();
        for (Map.Entry<?, ?> e : root.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (e.getValue() instanceof Map<?, ?> m) m.forEach((k, v) -> meta.put(String.valueOf(k), String.valueOf(v)));
                continue;
            }
            try {
                Map<?, ?> info = (Map<?, ?>) e.getValue();
                DType dtype = DType.fromSafetensors((String) info.get("dtype"));
                int[] shape = ((List<?>) info.get("shape")).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
                List<?> offs = (List<?>) info.get("data_offsets");
                long begin = ((Number) offs.get(0)).longValue(), end = ((Number) offs.get(1)).longValue();
                long want = Shapes.numel(shape) * dtype.byteSize();
                if (end - begin != want || begin < 0 || dataStart + end > size) {
                    throw new IOException("byte range [" + begin + ", " + end + ") does not fit " + dtype + Shapes.str(shape)
                            + " in a file of " + size + " bytes");
                }
                MemorySegment bytes = map.asSlice(dataStart + begin, want);
                Storage st;
                if ((bytes.address() % dtype.byteSize()) == 0) {
                    st = Storage.wrap(bytes);
                } else {
                    st = Storage.host(Math.max(want, 1));
                    MemorySegment.copy(bytes, 0, st.segment(), 0, want);
                }
                Tensor t = new Tensor(st, shape, Shapes.contiguousStrides(shape), 0, dtype);
                if (scope != null) scope.keep(t);
                tensors.put(name, Scope.detachFromScopes(t));
            } catch (IOException | RuntimeException ex) {
                throw new IOException(file + ": tensor '" + name + "': " + ex.getMessage(), ex);
            }
        }
        return new Contents(tensors, meta);
    }

    /** Writes atomically: a temporary file beside the target, then a rename. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            long n = t.numel() * t.dtype().byteSize();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().safetensorsName());
            info.put("shape", t.shape());
            info.put("data_offsets", List.of(offset, offset + n));
            header.put(e.getKey(), info);
            offset += n;
        }
        byte[] json = Json.write(header, false).getBytes(StandardCharsets.UTF_8);
        int pad = (8 - json.length % 8) % 8;
        byte[] padded = new byte[json.length + pad];
        System.arraycopy(json, 0, padded, 0, json.length);
        for (int k = json.length; k < padded.length; k++) padded[k] = ' ';
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(padded));
                for (Tensor t : tensors.values()) {
                    Tensor c = hostContiguous(t);
                    long n = t.numel() * t.dtype().byteSize();
                    writeFully(ch, c.storage().segment().asSlice(c.offset() * t.dtype().byteSize(), n).asByteBuffer());
                    if (c != t) c.close();
                }
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static Tensor hostContiguous(Tensor t) {
        try (var ng = dev.lumen.autograd.GradMode.noGrad()) {
            Tensor h = t.device().kind() == Device.Kind.CPU ? t : t.to(Device.CPU);
            return h.isContiguous() ? h : h.contiguous();
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
