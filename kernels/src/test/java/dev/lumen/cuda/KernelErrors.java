package dev.lumen.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Appends the errors a kernel test measured to target/kernel-errors.tsv, for the report. */
final class KernelErrors {
    private KernelErrors() {}

    static synchronized void record(String kernel, String dtype, double... errors) {
        StringBuilder b = new StringBuilder(kernel).append('\t').append(dtype).append('\t')
                .append(System.getenv().getOrDefault("LUMEN_EMU_CHECK", "0"));
        for (double e : errors) b.append('\t').append(e);
        try {
            Path p = Path.of("target", "kernel-errors.tsv");
            Files.createDirectories(p.getParent());
            Files.writeString(p, b.append('\n').toString(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ignored) {
            // a report, not part of the check
        }
    }
}
