package dev.lumen.app.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** timm's --class-map text file: one class (folder) name per line, the line number (from 0) its label. */
public final class ClassMap {
    private ClassMap() {}

    /** The class names in label order; a blank or repeated line is an error naming the file and line. */
    public static List<String> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the class map: " + e.getMessage());
        }
        // A trailing newline leaves one empty last line; it is no class.
        while (!lines.isEmpty() && lines.getLast().isBlank()) lines = lines.subList(0, lines.size() - 1);
        List<String> names = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            String name = lines.get(i).strip();
            if (name.isEmpty()) throw new IllegalArgumentException(file + ":" + (i + 1) + ": empty class name");
            if (!seen.add(name)) throw new IllegalArgumentException(file + ":" + (i + 1) + ": class '" + name + "' is listed twice");
            names.add(name);
        }
        if (names.isEmpty()) throw new IllegalArgumentException(file + ": the class map lists no class");
        return names;
    }
}
