package dev.lumen.app.report;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Writes TensorBoard event files (events.out.tfevents.*) with scalar summaries, readable by
 * `tensorboard --logdir`. The format is a TFRecord stream of tensorflow.Event protos: each
 * record is a little-endian uint64 length, its masked CRC32C, the bytes, and their masked CRC32C.
 * The two protos needed (Event, Summary.Value with simple_value) are encoded by hand.
 */
public final class TensorBoardWriter implements AutoCloseable {
    private final OutputStream out;
    private final Path file;

    public TensorBoardWriter(Path dir) throws IOException {
        Files.createDirectories(dir);
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "localhost";
        }
        long now = System.currentTimeMillis();
        this.file = dir.resolve("events.out.tfevents." + now / 1000 + "." + host);
        this.out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        // The first event names the file version, as every TensorFlow writer does.
        Proto e = new Proto().fixed64Double(1, now / 1000.0).string(3, "brain.Event:2");
        writeRecord(e.bytes());
        out.flush();
    }

    public Path file() { return file; }

    /** One scalar at a step; flushed so a crash loses nothing already logged. */
    public synchronized void scalar(String tag, double value, long step) throws IOException {
        Proto v = new Proto().string(1, tag).fixed32Float(2, (float) value);
        Proto summary = new Proto().message(1, v);
        Proto event = new Proto().fixed64Double(1, System.currentTimeMillis() / 1000.0).varint(2, step).message(5, summary);
        writeRecord(event.bytes());
        out.flush();
    }

    private void writeRecord(byte[] data) throws IOException {
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(data.length);
        byte[] lenBytes = len.array();
        out.write(lenBytes);
        out.write(le32(maskedCrc(lenBytes)));
        out.write(data);
        out.write(le32(maskedCrc(data)));
    }

    /** TFRecord's CRC mask: rotate right by 15 and add a constant, so CRCs of CRCs stay unlikely. */
    public static int maskedCrc(byte[] data) {
        CRC32C c = new CRC32C();
        c.update(data);
        int crc = (int) c.getValue();
        return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    @Override
    public void close() throws IOException { out.close(); }

    /** A minimal protobuf encoder for the fields the event protos use. */
    static final class Proto {
        private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();

        private void tag(int field, int wire) { varintRaw(((long) field << 3) | wire); }

        private void varintRaw(long v) {
            while ((v & ~0x7FL) != 0) {
                buf.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            buf.write((int) v);
        }

        Proto varint(int field, long v) {
            tag(field, 0);
            varintRaw(v);
            return this;
        }

        Proto fixed64Double(int field, double v) {
            tag(field, 1);
            buf.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(v).array());
            return this;
        }

        Proto fixed32Float(int field, float v) {
            tag(field, 5);
            buf.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array());
            return this;
        }

        Proto string(int field, String s) { return bytesField(field, s.getBytes(StandardCharsets.UTF_8)); }

        Proto message(int field, Proto m) { return bytesField(field, m.bytes()); }

        private Proto bytesField(int field, byte[] b) {
            tag(field, 2);
            varintRaw(b.length);
            buf.writeBytes(b);
            return this;
        }

        byte[] bytes() { return buf.toByteArray(); }
    }
}
