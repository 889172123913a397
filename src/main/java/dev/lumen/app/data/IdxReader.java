package dev.lumen.app.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads IDX files (the MNIST / Fashion-MNIST format): a magic number whose third byte is the
 * element type (0x08 = unsigned byte) and fourth the rank, big-endian int32 dims, then the data.
 * Gzipped files (.gz) are read directly.
 */
public final class IdxReader {
    private IdxReader() {}

    /** An IDX array of unsigned bytes. */
    public record UByteArray(int[] shape, byte[] data) {
        public int count() { return shape[0]; }
    }

    public static UByteArray read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": no such file");
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(new BufferedInputStream(raw), 1 << 16) : new BufferedInputStream(raw);
             DataInputStream d = new DataInputStream(in)) {
            int magic = d.readInt();
            if ((magic >>> 16) != 0) throw new IOException(file + ": not an IDX file (magic 0x" + Integer.toHexString(magic) + ")");
            int type = (magic >>> 8) & 0xff, rank = magic & 0xff;
            if (type != 0x08) throw new IOException(file + ": IDX element type 0x" + Integer.toHexString(type) + " is not unsigned byte");
            if (rank < 1 || rank > 4) throw new IOException(file + ": IDX rank " + rank + " is out of range");
            int[] shape = new int[rank];
            long n = 1;
            for (int i = 0; i < rank; i++) {
                shape[i] = d.readInt();
                if (shape[i] < 0) throw new IOException(file + ": negative IDX dimension " + shape[i]);
                n *= shape[i];
            }
            if (n > Integer.MAX_VALUE) throw new IOException(file + ": IDX array of " + n + " bytes is too large");
            byte[] data = new byte[(int) n];
            try {
                d.readFully(data);
            } catch (java.io.EOFException e) {
                throw new IOException(file + ": truncated IDX file (expected " + n + " data bytes)");
            }
            return new UByteArray(shape, data);
        }
    }
}
