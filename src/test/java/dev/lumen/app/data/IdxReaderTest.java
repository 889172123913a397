package dev.lumen.app.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {
    @TempDir Path dir;

    private Path write(String name, int magic, int[] dims, byte[] data, boolean gz) throws IOException {
        Path f = dir.resolve(name);
        try (OutputStream raw = Files.newOutputStream(f);
             OutputStream o = gz ? new GZIPOutputStream(raw) : raw;
             DataOutputStream d = new DataOutputStream(o)) {
            d.writeInt(magic);
            for (int x : dims) d.writeInt(x);
            d.write(data);
        }
        return f;
    }

    @Test
    void readsPlainAndGzippedImages() throws IOException {
        byte[] data = new byte[2 * 3 * 4];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 11);
        for (boolean gz : new boolean[] {false, true}) {
            var a = IdxReader.read(write("img" + (gz ? ".gz" : ""), 0x0803, new int[] {2, 3, 4}, data, gz));
            assertArrayEquals(new int[] {2, 3, 4}, a.shape());
            assertArrayEquals(data, a.data());
            assertEquals(2, a.count());
        }
    }

    @Test
    void badFilesNameThemselves() throws IOException {
        Path trunc = write("trunc", 0x0801, new int[] {10}, new byte[3], false);
        var e = assertThrows(IOException.class, () -> IdxReader.read(trunc));
        assertTrue(e.getMessage().contains("trunc") && e.getMessage().contains("truncated"), e.getMessage());
        Path floats = write("floats", 0x0D01, new int[] {1}, new byte[4], false);
        e = assertThrows(IOException.class, () -> IdxReader.read(floats));
        assertTrue(e.getMessage().contains("not unsigned byte"), e.getMessage());
        Path junk = write("junk", 0x12345678, new int[] {}, new byte[0], false);
        assertThrows(IOException.class, () -> IdxReader.read(junk));
    }
}
