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
import java.nio.file.StandardOpenOption;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.util.ArrayList;
import java.util.Comparator;
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

    /** The largest header the reference implementation reads (its MAX_HEADER_SIZE). */
    public static final long MAX_HEADER_BYTES = 100_000_000;

    /**
     * Reads file, accepting exactly what the reference implementation (huggingface/safetensors)
     * accepts: a UTF-8 JSON header of at most {@value #MAX_HEADER_BYTES} bytes, string metadata,
     * unique names, known dtypes, non-negative shapes whose byte size matches the tensor's range,
     * and ranges that, in offset order, tile the data section from 0 to the end of the file
     * without gaps or overlaps. Dimensions over Integer.MAX_VALUE are refused as well (the
     * engine's shapes are ints). Every error names the file and, where there is one, the tensor.
     */
    public static Contents read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": no such file");
        long size = Files.size(file);
        if (size < 8) throw new IOException(file + ": not a safetensors file (" + size + " bytes)");
        MemorySegment map;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, Arena.ofAuto());
        }
        long headerLen = map.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
            throw new IOException(file + ": not a safetensors file (header length " + Long.toUnsignedString(headerLen)
                    + " is over the limit of " + MAX_HEADER_BYTES + " bytes)");
        }
        if (headerLen == 0 || headerLen > size - 8) {
            throw new IOException(file + ": not a safetensors file (header length " + headerLen + " in a file of " + size + " bytes)");
        }
        String header;
        try {
            header = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(map.asSlice(8, headerLen).asByteBuffer()).toString();
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": bad safetensors header: not valid UTF-8");
        }
        Object parsed;
        try {
            parsed = Json.parse(header);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": bad safetensors header: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> root)) throw new IOException(file + ": safetensors header is not a JSON object");
        long dataStart = 8 + headerLen;
        Map<String, String> meta = metadata(file, root.get("__metadata__"));
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<?, ?> e : root.entrySet()) {
            String name = (String) e.getKey();
            if (!name.equals("__metadata__")) entries.add(entry(file, name, e.getValue()));
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        for (Entry en : byOffset) {
            if (en.begin != expected) {
                throw new IOException(file + ": tensor '" + en.name + "': data_offsets [" + en.begin + ", " + en.end + ") "
                        + (en.begin < expected ? "overlap the previous tensor's" : "leave a gap after the previous tensor's")
                        + " (which ends at " + expected + ")");
            }
            expected = en.end;
        }
        long available = size - dataStart;
        for (Entry en : byOffset) {
            if (en.end > available) {
                throw new IOException(file + ": tensor '" + en.name + "': data_offsets [" + en.begin + ", " + en.end + ") reach past the end of"
                        + " the file (" + available + " data bytes after the header; truncated?)");
            }
        }
        if (expected != available) {
            throw new IOException(file + ": " + (available - expected) + " trailing bytes after the last tensor's data (which ends at " + expected + ")");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Scope scope = Scope.current();
        for (Entry en : entries) {
            long want = en.end - en.begin;
            MemorySegment bytes = map.asSlice(dataStart + en.begin, want);
            Storage st;
            if ((bytes.address() % en.dtype.byteSize()) == 0) {
                st = Storage.wrap(bytes);
            } else {
                st = Storage.host(Math.max(want, 1));
                MemorySegment.copy(bytes, 0, st.segment(), 0, want);
            }
            Tensor t = new Tensor(st, en.shape, Shapes.contiguousStrides(en.shape), 0, en.dtype);
            if (scope != null) scope.keep(t);
            tensors.put(en.name, Scope.detachFromScopes(t));
        }
        return new Contents(tensors, meta);
    }

    /** One tensor of a header, checked on its own. */
    private record Entry(String name, DType dtype, int[] shape, long begin, long end) {}

    private static Entry entry(Path file, String name, Object value) throws IOException {
        String where = file + ": tensor '" + name + "': ";
        if (!(value instanceof Map<?, ?> info)) throw new IOException(where + "expected an object with dtype, shape and data_offsets");
        if (!(info.get("dtype") instanceof String dt)) throw new IOException(where + "dtype is missing or not a string");
        DType dtype;
        try {
            dtype = DType.fromSafetensors(dt);
        } catch (IllegalArgumentException e) {
            throw new IOException(where + e.getMessage());
        }
        if (!(info.get("shape") instanceof List<?> dims)) throw new IOException(where + "shape is missing or not a list");
        int[] shape = new int[dims.size()];
        long numel = 1;
        for (int d = 0; d < shape.length; d++) {
            if (!(dims.get(d) instanceof Long v) || v < 0) throw new IOException(where + "shape " + dims + " must hold non-negative integers");
            if (v > Integer.MAX_VALUE) throw new IOException(where + "dimension " + v + " of shape " + dims + " is over " + Integer.MAX_VALUE);
            shape[d] = (int) (long) v;
            numel = multiply(where, numel, v);
        }
        if (!(info.get("data_offsets") instanceof List<?> offs) || offs.size() != 2 || !(offs.get(0) instanceof Long begin)
                || !(offs.get(1) instanceof Long end) || begin < 0 || end < begin) {
            throw new IOException(where + "data_offsets " + info.get("data_offsets") + " must be [begin, end] with 0 <= begin <= end");
        }
        long want = multiply(where, numel, dtype.byteSize());
        if (end - begin != want) {
            throw new IOException(where + "byte range [" + begin + ", " + end + ") holds " + (end - begin) + " bytes, but " + dtype
                    + Shapes.str(shape) + " takes " + want);
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long multiply(String where, long a, long b) throws IOException {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new IOException(where + "byte size overflows 64 bits");
        }
    }

    /** __metadata__ is a map of strings to strings, as the reference reader requires. */
    private static Map<String, String> metadata(Path file, Object raw) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        if (raw == null) return meta;
        if (!(raw instanceof Map<?, ?> m)) throw new IOException(file + ": __metadata__ must be an object of strings");
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String v)) throw new IOException(file + ": __metadata__ '" + e.getKey() + "' is not a string");
            meta.put((String) e.getKey(), v);
        }
        return meta;
    }

    /** Writes atomically and durably ({@link AtomicFiles#replace}). */
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
        AtomicFiles.replace(file, ch -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).flip();
            writeFully(ch, len);
            writeFully(ch, ByteBuffer.wrap(padded));
            for (Tensor t : tensors.values()) {
                Tensor c = hostContiguous(t);
                long n = t.numel() * t.dtype().byteSize();
                writeFully(ch, c.storage().segment().asSlice(c.offset() * t.dtype().byteSize(), n).asByteBuffer());
                if (c != t) c.close();
            }
        });
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
