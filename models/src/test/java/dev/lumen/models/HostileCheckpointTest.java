package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.io.InputLimits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile .pth files (zip and pickle bombs, deep and shared pickles, absurd storage sizes) end in
 * one IOException naming the file and what is wrong, fast and without exhausting memory or stack.
 */
class HostileCheckpointTest {
    @TempDir Path tmp;

    private static final String REBUILD = "ctorch._utils\n_rebuild_tensor_v2\n";

    /** A one-tensor state dict {"w": _rebuild_tensor_v2(storage "0" of numelOp, 0, (1,), (1,))}; numelOp pushes the element count. */
    private static byte[] stateDict(String numelOp) {
        String pkl = "}(X\u0001\u0000\u0000\u0000w" + REBUILD
                + "((X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpu" + numelOp + "tQ"
                + "K\u0000K\u0001\u0085K\u0001\u0085\u0089ccollections\nOrderedDict\n)RtRu.";
        return pkl.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A zip with data.pkl and storage entries; compressed entries are deflated, others stored. */
    private Path pth(String name, byte[] pkl, boolean compressed, byte[]... storages) throws IOException {
        Path f = tmp.resolve(name + ".pth");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            put(z, name + "/data.pkl", pkl, compressed);
            for (int i = 0; i < storages.length; i++) put(z, name + "/data/" + i, storages[i], compressed);
        }
        return f;
    }

    private static void put(ZipOutputStream z, String name, byte[] bytes, boolean compressed) throws IOException {
        ZipEntry e = new ZipEntry(name);
        if (!compressed) {
            e.setMethod(ZipEntry.STORED);
            e.setSize(bytes.length);
            CRC32 crc = new CRC32();
            crc.update(bytes);
            e.setCrc(crc.getValue());
        }
        z.putNextEntry(e);
        z.write(bytes);
        z.closeEntry();
    }

    private String refused(Path f) {
        IOException e = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(IOException.class, () -> Checkpoints.load(f)));
        assertEquals(-1, e.getMessage().indexOf('\n'), "one line: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
        return e.getMessage().substring(f.toString().length() + 2);
    }

    @Test
    void aZipBombPickleStopsAtTheEntryCap() throws IOException {
        byte[] bomb = new byte[8 << 20]; // 8 MiB of zeros deflate to a few KiB
        Path f = pth("bomb", bomb, true);
        assertTrue(Files.size(f) < 100_000);
        long before = InputLimits.maxEntryBytes();
        InputLimits.setMaxEntryBytes(1 << 20);
        try {
            assertEquals("zip entry bomb/data.pkl inflates to more than 1048576 bytes (raise the limit with --max-entry-bytes)", refused(f));
        } finally {
            InputLimits.setMaxEntryBytes(before);
        }
    }

    @Test
    void aCompressedStorageClaimingMoreThanTheCapIsRefusedBeforeAllocating() throws IOException {
        // BININT 2^28 floats = 1 GiB claimed by a storage entry of 4 deflated bytes
        Path f = pth("claim", stateDict("J\u0000\u0000\u0000\u0010"), true, new byte[4]);
        long before = InputLimits.maxEntryBytes();
        InputLimits.setMaxEntryBytes(1 << 20);
        try {
            assertEquals("storage 0 claims 1073741824 bytes (268435456 x FloatStorage) but its entry holds at most 1048576 bytes once inflated"
                    + " (raise the limit with --max-entry-bytes)", refused(f));
        } finally {
            InputLimits.setMaxEntryBytes(before);
        }
    }

    @Test
    void aStoredStorageClaimingMoreThanItsEntryIsRefused() throws IOException {
        Path f = pth("stored", stateDict("K\u0010"), false, new byte[4]);
        assertEquals("storage 0 claims 64 bytes (16 x FloatStorage) but its entry holds 4 bytes", refused(f));
    }

    @Test
    void aStorageNumelWhoseByteCountOverflowsIsRefused() throws IOException {
        // LONG1 with 8 bytes: 2^62 elements, 2^64 bytes as floats
        Path f = pth("numel", stateDict("\u008a\u0008\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0040"), false, new byte[4]);
        assertEquals("storage 0 claims 4611686018427387904 elements: its byte count overflows 64 bits", refused(f));
    }

    @Test
    void aHundredThousandDeepPickleIsRefusedWithoutAStackOverflow() throws IOException {
        String lists = "]".repeat(100_000) + "a".repeat(99_999) + ".";
        assertEquals("the pickle nests containers deeper than 1000 levels", refused(pth("deep", lists.getBytes(StandardCharsets.ISO_8859_1), false)));
        String tuples = "N" + "\u0085".repeat(100_000) + ".";
        assertEquals("the pickle nests containers deeper than 1000 levels", refused(pth("deept", tuples.getBytes(StandardCharsets.ISO_8859_1), false)));
    }

    @Test
    void aPickleDagOfTwoToThe64NodesIsDescribedWithoutWalkingIt() throws IOException {
        // x = None; 64 times: x = (x, x) through the memo; then x() must be refused by a message that does not print x whole
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write('N');
        for (int i = 0; i < 64; i++) b.writeBytes(new byte[] {'q', 0, 'h', 0, (byte) 0x86});
        b.writeBytes(new byte[] {')', 'R', '.'});
        assertEquals("refused to call a tuple(tuple of 2, tuple of 2) (not an allowed global)", refused(pth("dag", b.toByteArray(), false)));
    }

    @Test
    void aPickleMemoizingTooManyObjectsIsRefused() throws IOException {
        byte[] pkl = new byte[InputLimits.MAX_PICKLE_MEMO + 3];
        java.util.Arrays.fill(pkl, (byte) 0x94); // MEMOIZE: each stores the top of the stack under a new index
        pkl[0] = 'N';
        pkl[pkl.length - 1] = '.';
        assertEquals("the pickle memoizes more than 1000000 objects", refused(pth("memo", pkl, false)));
    }

    @Test
    void unhashableDictKeysAreRefused() throws IOException {
        // {[]: None}: Python would refuse it; hashing a list here would walk into it
        assertEquals("refused a dict key or set item of type ArrayList of 0", refused(pth("key", "}]Ns.".getBytes(StandardCharsets.ISO_8859_1), false)));
    }

    @Test
    void aTruncatedPickleIsOneLine() throws IOException {
        byte[] full = stateDict("K\u0001");
        byte[] cut = java.util.Arrays.copyOf(full, full.length / 2);
        assertTrue(refused(pth("cut", cut, false, new byte[4])).startsWith("malformed checkpoint pickle: "));
    }
}
