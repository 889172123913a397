package dev.lumen.app.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TensorBoardWriterTest {
    @TempDir Path dir;

    /** Reads TFRecords back, checking both CRCs of every record. */
    private static List<byte[]> records(Path f) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> out = new ArrayList<>();
        while (b.hasRemaining()) {
            byte[] len = new byte[8];
            b.get(len);
            assertEquals(TensorBoardWriter.maskedCrc(len), b.getInt(), "length CRC");
            byte[] data = new byte[(int) ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong()];
            b.get(data);
            assertEquals(TensorBoardWriter.maskedCrc(data), b.getInt(), "data CRC");
            out.add(data);
        }
        return out;
    }

    @Test
    void writesCheckedRecordsWithTagsAndValues() throws Exception {
        Path f;
        try (TensorBoardWriter w = new TensorBoardWriter(dir)) {
            w.scalar("train/loss", 0.25, 7);
            w.scalar("val/top1", 91.5, 8);
            f = w.file();
        }
        assertTrue(f.getFileName().toString().startsWith("events.out.tfevents."));
        List<byte[]> rs = records(f);
        assertEquals(3, rs.size());
        assertTrue(new String(rs.get(0), StandardCharsets.ISO_8859_1).contains("brain.Event:2"));
        String second = new String(rs.get(1), StandardCharsets.ISO_8859_1);
        assertTrue(second.contains("train/loss"));
        // simple_value (field 2, fixed32) follows the tag: 0x15 then the float's bytes.
        byte[] r = rs.get(1);
        int at = second.indexOf("train/loss") + "train/loss".length();
        assertEquals(0x15, r[at] & 0xff);
        assertEquals(0.25f, ByteBuffer.wrap(r, at + 1, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat());
        // step (field 2, varint) right after wall_time (field 1, 9 bytes).
        assertEquals(0x10, r[9] & 0xff);
        assertEquals(7, r[10]);
    }

    @Test
    void maskedCrcMatchesTheTfRecordDefinition() {
        // CRC32C("123456789") = 0xE3069283; masked = rotr15 + 0xa282ead8.
        int crc = 0xE3069283;
        int expected = ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
        assertEquals(expected, TensorBoardWriter.maskedCrc("123456789".getBytes(StandardCharsets.US_ASCII)));
    }
}
