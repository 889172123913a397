package dev.lumen.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader accepts exactly what huggingface/safetensors accepts: one test per rejection, each
 * asserting the one-line message, and the boundary cases the reference accepts.
 */
class SafetensorsStrictTest {
    @TempDir Path dir;

    /** A file of header (as given) and data bytes of the given length. */
    private Path file(String header, int dataBytes) throws IOException {
        return file(header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    private Path file(byte[] header, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        Path f = Files.createTempFile(dir, "t", ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private String rejected(Path f) {
        String msg = assertThrows(IOException.class, () -> Safetensors.read(f)).getMessage();
        assertEquals(-1, msg.indexOf('\n'), "one line: " + msg);
        return msg.substring(f.toString().length() + 2);
    }

    private static String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void acceptsContiguousRangesInAnyHeaderOrderAndEmptyTensors() throws IOException {
        Path f = file("{" + t("b", "F32", "[2]", 8, 16) + "," + t("a", "F32", "[2]", 0, 8) + "," + t("e", "F32", "[0,3]", 16, 16)
                + ",\"__metadata__\":{\"format\":\"pt\"}}  ", 16);
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(java.util.List.of("b", "a", "e"), java.util.List.copyOf(c.tensors().keySet()));
        assertArrayEquals(new int[] {0, 3}, c.tensors().get("e").shape());
        assertEquals("pt", c.metadata().get("format"));
        c.tensors().values().forEach(Tensor::close);
    }

    @Test
    void rejectsOverlappingRanges() throws IOException {
        assertEquals("tensor 'b': data_offsets [4, 12) overlap the previous tensor's (which ends at 8)",
                rejected(file("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 4, 12) + "}", 12)));
    }

    @Test
    void rejectsAGapBetweenRanges() throws IOException {
        assertEquals("tensor 'b': data_offsets [12, 20) leave a gap after the previous tensor's (which ends at 8)",
                rejected(file("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 12, 20) + "}", 20)));
    }

    @Test
    void rejectsRangesThatDoNotStartAtZero() throws IOException {
        assertEquals("tensor 'a': data_offsets [4, 12) leave a gap after the previous tensor's (which ends at 0)",
                rejected(file("{" + t("a", "F32", "[2]", 4, 12) + "}", 12)));
    }

    @Test
    void rejectsARangePastTheEndOfTheFile() throws IOException {
        assertEquals("tensor 'a': data_offsets [0, 8) reach past the end of the file (4 data bytes after the header; truncated?)",
                rejected(file("{" + t("a", "F32", "[2]", 0, 8) + "}", 4)));
    }

    @Test
    void rejectsTrailingBytes() throws IOException {
        assertEquals("1 trailing bytes after the last tensor's data (which ends at 8)",
                rejected(file("{" + t("a", "F32", "[2]", 0, 8) + "}", 9)));
    }

    @Test
    void rejectsDuplicateNames() throws IOException {
        String msg = rejected(file("{" + t("a", "F32", "[2]", 0, 8) + "," + t("a", "F32", "[2]", 8, 16) + "}", 16));
        assertEquals("bad safetensors header: bad JSON at offset 54: duplicate key \"a\"", msg);
    }

    @Test
    void rejectsNegativeDimensions() throws IOException {
        assertEquals("tensor 'head.weight': shape [-3, 2] must hold non-negative integers",
                rejected(file("{" + t("head.weight", "F32", "[-3,2]", 0, 0) + "}", 0)));
    }

    @Test
    void rejectsADimensionOverInt32() throws IOException {
        assertEquals("tensor 'a': dimension 4294967296 of shape [4294967296, 0] is over 2147483647",
                rejected(file("{" + t("a", "F32", "[4294967296,0]", 0, 0) + "}", 0)));
    }

    @Test
    void rejectsAShapeWhoseByteSizeOverflows() throws IOException {
        assertEquals("tensor 'a': byte size overflows 64 bits",
                rejected(file("{" + t("a", "F32", "[2147483647,2147483647,2147483647]", 0, 0) + "}", 0)));
    }

    @Test
    void rejectsAShapeThatDoesNotMatchItsRange() throws IOException {
        assertEquals("tensor 'a': byte range [0, 8) holds 8 bytes, but F32[3] takes 12",
                rejected(file("{" + t("a", "F32", "[3]", 0, 8) + "}", 8)));
    }

    @Test
    void rejectsReversedOffsets() throws IOException {
        assertEquals("tensor 'a': data_offsets [8, 0] must be [begin, end] with 0 <= begin <= end",
                rejected(file("{" + t("a", "F32", "[2]", 8, 0) + "}", 8)));
    }

    @Test
    void rejectsAnUnknownDtype() throws IOException {
        assertEquals("tensor 'a': unsupported safetensors dtype 'F128'", rejected(file("{" + t("a", "F128", "[1]", 0, 16) + "}", 16)));
    }

    @Test
    void rejectsAHeaderThatIsNotUtf8() throws IOException {
        byte[] h = ("{\"__metadata__\":{\"x\":\"" + "\u00ff" + "\"}}").getBytes(StandardCharsets.ISO_8859_1);
        assertEquals("bad safetensors header: not valid UTF-8", rejected(file(h, 0)));
    }

    @Test
    void rejectsNonStringMetadata() throws IOException {
        assertEquals("__metadata__ 'epoch' is not a string", rejected(file("{\"__metadata__\":{\"epoch\":3}}", 0)));
    }

    @Test
    void rejectsAHeaderOverTheSizeCap() throws IOException {
        Path f = dir.resolve("huge.safetensors");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(100_000_001L).array());
        assertEquals("not a safetensors file (header length 100000001 is over the limit of 100000000 bytes)", rejected(f));
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).array());
        assertEquals("not a safetensors file (header length 18446744073709551615 is over the limit of 100000000 bytes)", rejected(f));
    }

    @Test
    void rejectsAHeaderLongerThanTheFile() throws IOException {
        Path f = dir.resolve("short.safetensors");
        Files.write(f, ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putLong(100).array());
        assertEquals("not a safetensors file (header length 100 in a file of 12 bytes)", rejected(f));
    }

    @Test
    void rejectsDeeplyNestedAndTruncatedJson() throws IOException {
        // the object and 127 arrays make 128 levels; the 128th array, at offset 16 + 127, would be the 129th
        assertEquals("bad safetensors header: bad JSON at offset 143: nested deeper than 128 levels",
                rejected(file("{\"__metadata__\":" + "[".repeat(100_000) + "}", 0)));
        assertEquals("bad safetensors header: bad JSON at offset 14: unexpected end", rejected(file("{\"a\":{\"dtype\":", 0)));
        assertEquals("bad safetensors header: bad JSON at offset 2: unterminated string", rejected(file("{\"", 0)));
    }
}
