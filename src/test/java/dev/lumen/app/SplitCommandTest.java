package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class SplitCommandTest {
    @TempDir Path dir;

    /** Exit code, stdout and stderr of one lumen run. */
    record Run(int rc, String out, String err) {}

    static Run lumen(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cmd = new CommandLine(new LumenCli());
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        int rc = cmd.execute(args);
        return new Run(rc, out.toString(), err.toString());
    }

    private Path data() throws IOException {
        Path data = dir.resolve("data");
        for (int i = 0; i < 10; i++) Files.createDirectories(data.resolve("apple")).resolve("a" + i + ".png").toFile().createNewFile();
        for (int i = 0; i < 2; i++) Files.createDirectories(data.resolve("banana")).resolve("b" + i + ".jpg").toFile().createNewFile();
        Files.createDirectories(data.resolve("cherry")).resolve("c0.bmp").toFile().createNewFile();
        Files.writeString(data.resolve("apple/notes.txt"), "not an image");
        return data;
    }

    private static Set<String> names(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) return Set.of();
        try (Stream<Path> s = Files.list(folder)) {
            return new HashSet<>(s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void splitsEveryClassAndPrintsCounts() throws IOException {
        Path data = data(), out = dir.resolve("split");
        Run r = lumen("split", "--data", data.toString(), "--out", out.toString());
        assertEquals(0, r.rc(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(List.of("class     train      val", "apple         7        3", "banana        1        1", "cherry        1        0",
                "total         9        4"), lines.subList(0, 5));
        for (String c : List.of("apple", "banana", "cherry")) {
            Set<String> train = names(out.resolve("train/" + c)), val = names(out.resolve("val/" + c)), all = new HashSet<>(train);
            all.addAll(val);
            assertEquals(train.size() + val.size(), all.size(), "disjoint");
            Set<String> originals = names(data.resolve(c));
            originals.remove("notes.txt");
            assertEquals(originals, all, "every image on one side");
        }
        assertTrue(Files.exists(data.resolve("apple/a0.png")), "originals stay");
        assertFalse(Files.isSymbolicLink(out.resolve("train/banana").resolve(names(out.resolve("train/banana")).iterator().next())));

        Path again = dir.resolve("again"), other = dir.resolve("other");
        lumen("split", "--data", data.toString(), "--output", again.toString()); // --output and its alias --out: the same split
        assertEquals(names(out.resolve("val/apple")), names(again.resolve("val/apple")), "same seed, same split");
        lumen("split", "--data", data.toString(), "--out", other.toString(), "--seed", "5", "--ratio", "0.5");
        assertEquals(5, names(other.resolve("val/apple")).size());
        assertNotEquals(names(out.resolve("val/apple")), names(other.resolve("val/apple")));
    }

    @Test
    void linksInsteadOfCopyingAndRefusesToOverwrite() throws IOException {
        Path data = data(), out = dir.resolve("split");
        assertEquals(0, lumen("split", "--data", data.toString(), "--out", out.toString(), "--link").rc());
        Path f = out.resolve("val/banana").resolve(names(out.resolve("val/banana")).iterator().next());
        assertTrue(Files.isSymbolicLink(f));
        assertEquals(data.resolve("banana").resolve(f.getFileName()).toAbsolutePath(), Files.readSymbolicLink(f));

        Run r = lumen("split", "--data", data.toString(), "--out", out.toString());
        assertEquals(1, r.rc());
        assertEquals("lumen split: " + out + ": folder is not empty; --force replaces its train/ and val/ folders", r.err().strip());

        Files.writeString(out.resolve("train/apple/stale.png"), "left from before");
        r = lumen("split", "--data", data.toString(), "--out", out.toString(), "--force", "--ratio", "0.5");
        assertEquals(0, r.rc(), r.err());
        assertFalse(names(out.resolve("train/apple")).contains("stale.png"));
        assertEquals(5, names(out.resolve("train/apple")).size());
        assertTrue(Files.exists(data.resolve("banana/b0.jpg")) && Files.exists(data.resolve("banana/b1.jpg")), "originals survive --force");
    }

    @Test
    void badInputGetsOneLineErrors() throws IOException {
        Path missing = dir.resolve("missing");
        Run r = lumen("split", "--data", missing.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, r.rc());
        assertEquals("lumen split: " + missing + ": no such folder", r.err().strip());

        Path data = data();
        Files.createDirectories(data.resolve("durian"));
        r = lumen("split", "--data", data.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, r.rc());
        assertEquals("lumen split: " + data.resolve("durian") + ": class folder has no images", r.err().strip());
        Files.delete(data.resolve("durian"));

        r = lumen("split", "--data", data.toString(), "--out", data.resolve("apple/out").toString());
        assertEquals(1, r.rc());
        assertTrue(r.err().contains("overlaps the data folder"), r.err());
        r = lumen("split", "--data", data.toString(), "--out", dir.resolve("o").toString(), "--ratio", "1.5");
        assertEquals(1, r.rc());
        assertTrue(r.err().contains("ratio must be in (0, 1)"), r.err());
    }
}
