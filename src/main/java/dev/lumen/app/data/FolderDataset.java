package dev.lumen.app.data;

import dev.lumen.io.Printable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A folder of class folders, as torchvision's ImageFolder: root/&lt;class&gt;/&lt;image&gt;. Class
 * names are the sub-folder names, sorted; files are sorted within a class. Hidden entries and
 * files without an image extension ({@link ImageFiles#EXTENSIONS}) are ignored.
 */
public final class FolderDataset implements Dataset {
    private final Path root;
    private final int channels;
    private final List<String> classes;
    private final List<Path> files = new ArrayList<>();
    private final int[] labels;

    /** Every image converted to 3 channels. */
    public FolderDataset(Path root) { this(root, 3); }

    /**
     * @param channels 1 (grey) or 3 (RGB) to convert every image to that count; 0 to choose: 1
     *                 when the first image of every class is grey, else 3
     * @throws IllegalArgumentException for a missing folder, a folder without class folders, or an
     *                                  empty class folder; the message names the path
     */
    public FolderDataset(Path root, int channels) { this(root, channels, null); }

    /**
     * As {@link #FolderDataset(Path, int)}, with the labels of classMap (timm's --class-map):
     * class i is the folder named classMap[i]; folders it does not name are skipped, and a class
     * without a folder has no images. null: every sub-folder, sorted.
     */
    public FolderDataset(Path root, int channels, List<String> classMap) {
        if (channels != 0 && channels != 1 && channels != 3) {
            throw new IllegalArgumentException("folder dataset: channels must be 0, 1 or 3, got " + channels);
        }
        this.root = root;
        List<Path> found = classFolders(root);
        List<String> names = classMap == null ? found.stream().map(p -> p.getFileName().toString()).toList() : List.copyOf(classMap);
        // escaped: folder names reach the terminal, reports and checkpoints
        classes = names.stream().map(Printable::of).toList();
        List<Path> classDirs = new ArrayList<>();
        List<Integer> dirLabels = new ArrayList<>();
        for (int c = 0; c < names.size(); c++) {
            Path dir = root.resolve(names.get(c));
            if (classMap != null && !Files.isDirectory(dir)) continue;
            classDirs.add(dir);
            dirLabels.add(c);
        }
        if (classDirs.isEmpty()) throw new IllegalArgumentException(Printable.of(root) + ": no folder of the class map's classes " + classes);
        List<Integer> labelList = new ArrayList<>();
        for (int d = 0; d < classDirs.size(); d++) {
            List<Path> images = imagesIn(classDirs.get(d));
            if (images.isEmpty()) {
                throw new IllegalArgumentException(classDirs.get(d) + ": class folder has no images ("
                        + String.join(", ", ImageFiles.EXTENSIONS.stream().sorted().toList()) + ")");
            }
            for (Path p : images) {
                files.add(p);
                labelList.add(dirLabels.get(d));
            }
        }
        labels = labelList.stream().mapToInt(Integer::intValue).toArray();
        this.channels = channels != 0 ? channels : detectChannels(dirLabels);
    }

    /** The sorted, non-hidden sub-folders of root; errors name root. */
    public static List<Path> classFolders(Path root) {
        if (!Files.isDirectory(root)) throw new IllegalArgumentException(root + ": no such folder");
        List<Path> dirs;
        try (Stream<Path> s = Files.list(root)) {
            dirs = s.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith("."))
                    .sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(root + ": cannot list folder: " + e.getMessage(), e);
        }
        if (dirs.isEmpty()) {
            throw new IllegalArgumentException(root + ": no class folders (expected " + root.resolve("<class>/<image>") + ")");
        }
        return dirs;
    }

    /** The sorted image files directly inside dir. */
    public static List<Path> imagesIn(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(ImageFiles::isImage).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list folder: " + e.getMessage(), e);
        }
    }

    /** Reads the first image of each class folder (given by their labels, in file order). */
    private int detectChannels(List<Integer> dirLabels) {
        int start = 0;
        for (int c : dirLabels) {
            try {
                if (ImageFiles.read(files.get(start), 0).channels() != 1) return 3;
            } catch (UnreadableImageException e) {
                return 3; // the loader reports it later; colour is the safe choice
            }
            while (start < labels.length && labels[start] == c) start++;
        }
        return 1;
    }

    public Path root() { return root; }

    /** The channel count every image is converted to. */
    public int channels() { return channels; }

    public Path path(int index) { return files.get(index); }

    @Override
    public int size() { return files.size(); }

    @Override
    public List<String> classNames() { return classes; }

    @Override
    public int label(int index) { return labels[index]; }

    @Override
    public Sample get(int index) { return new Sample(ImageFiles.read(files.get(index), channels), labels[index]); }

    @Override
    public String describe(int index) { return files.get(index).toString(); }
}
