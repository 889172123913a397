package dev.lumen.app.data;

import dev.lumen.tensor.Generator;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Splits data/&lt;class&gt;/* into out/train/&lt;class&gt; and out/val/&lt;class&gt;, by copying (or
 * symbolically linking) the images; the originals are never moved or changed. Per class the
 * sorted file list is shuffled by a generator seeded from (seed, class index) and the first
 * round(ratio * n) go to train, clamped so that a class with at least 2 images keeps at least
 * one on each side (a class of 1 image goes to train).
 */
public final class Splitter {
    private Splitter() {}

    public record ClassCount(String name, int train, int val) {}

    /** The per-class counts for n images. */
    public static int trainCount(int n, double ratio) {
        int t = (int) Math.round(ratio * n);
        return n >= 2 ? Math.max(1, Math.min(n - 1, t)) : n;
    }

    /**
     * @param force replace out/train and out/val when out is not empty (only those two folders are deleted)
     * @throws IllegalArgumentException for a missing data folder, an empty class, a bad ratio, an out
     *                                  folder that overlaps data, or a non-empty out without force
     */
    public static List<ClassCount> split(Path data, Path out, double ratio, long seed, boolean link, boolean force) throws IOException {
        if (!(ratio > 0 && ratio < 1)) throw new IllegalArgumentException("split: ratio must be in (0, 1), got " + ratio);
        List<Path> classDirs = FolderDataset.classFolders(data);
        List<List<Path>> files = new ArrayList<>();
        for (Path dir : classDirs) {
            List<Path> images = FolderDataset.imagesIn(dir);
            if (images.isEmpty()) throw new IllegalArgumentException(dir + ": class folder has no images");
            files.add(images);
        }
        Path src = data.toRealPath(), dst = Files.exists(out) ? out.toRealPath() : out.toAbsolutePath().normalize();
        if (dst.startsWith(src) || src.startsWith(dst)) {
            throw new IllegalArgumentException("split: the output folder " + out + " overlaps the data folder " + data);
        }
        if (Files.exists(dst) && !Files.isDirectory(dst)) throw new IllegalArgumentException(out + ": exists and is not a folder");
        if (Files.isDirectory(dst) && !isEmpty(dst)) {
            if (!force) throw new IllegalArgumentException(out + ": folder is not empty; --force replaces its train/ and val/ folders");
            deleteTree(dst.resolve("train"));
            deleteTree(dst.resolve("val"));
        }
        List<ClassCount> counts = new ArrayList<>();
        for (int c = 0; c < classDirs.size(); c++) {
            String name = classDirs.get(c).getFileName().toString();
            List<Path> list = new ArrayList<>(files.get(c));
            Generator g = new Generator(Generator.bits(seed, c));
            for (int i = list.size() - 1; i > 0; i--) {
                int j = Draws.randint(g, 0, i + 1);
                Path t = list.get(i);
                list.set(i, list.get(j));
                list.set(j, t);
            }
            int nTrain = trainCount(list.size(), ratio);
            Path trainDir = Files.createDirectories(dst.resolve("train").resolve(name));
            Path valDir = Files.createDirectories(dst.resolve("val").resolve(name));
            for (int i = 0; i < list.size(); i++) {
                Path f = list.get(i);
                Path target = (i < nTrain ? trainDir : valDir).resolve(f.getFileName().toString());
                if (link) Files.createSymbolicLink(target, f.toAbsolutePath());
                else Files.copy(f, target, StandardCopyOption.COPY_ATTRIBUTES);
            }
            counts.add(new ClassCount(name, nTrain, list.size() - nTrain));
        }
        return counts;
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /** Deletes a folder tree without following links (a linked split never touches the originals). */
    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) throw e;
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
