package dev.lumen.app;

import dev.lumen.models.ModelCost;
import dev.lumen.models.ModelRegistry;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lumen models}: one line per registered model with its family, parameter count,
 * GMACs of one forward at its default input size (batch 1) and that size. The counts come from
 * shape-only builds ({@link ModelCost}): no weights are allocated, so the whole list takes seconds.
 */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "List the models: name, family, parameters, GMACs at the default input size, default input size.")
public final class ModelsCommand implements Callable<Integer> {

    @Option(names = "--format", defaultValue = "table", description = "table (default) or tsv: name<TAB>parameters<TAB>gmacs, exact parameter counts.")
    String format;

    @Option(names = "--filter", paramLabel = "GLOB", description = "Only names matching the glob (* any run, ? one character), e.g. 'res2net*'.")
    String filter;

    @Option(names = "--no-macs", description = "Skip the GMACs (no shape-only forward pass).")
    boolean noMacs;

    PrintStream out = System.out;
    PrintStream err = System.err;

    @Override
    public Integer call() {
        boolean tsv = switch (format.toLowerCase(Locale.ROOT)) {
            case "tsv" -> true;
            case "table" -> false;
            default -> {
                err.println("lumen models: --format must be table or tsv, got '" + format + "'");
                yield false;
            }
        };
        if (!tsv && !format.equalsIgnoreCase("table")) return 2;
        Pattern glob = filter == null ? null : globToRegex(filter);
        List<ModelRegistry.Entry> entries = ModelRegistry.entries().stream()
                .filter(e -> glob == null || glob.matcher(e.name()).matches()).toList();
        if (entries.isEmpty()) {
            err.println(filter == null ? "lumen models: no model families on the class path" : "lumen models: no model matches '" + filter + "'");
            return 1;
        }
        if (!tsv) out.printf("%-26s %-10s %12s %9s %6s%n", "model", "family", "parameters", "GMACs", "input");
        for (ModelRegistry.Entry e : entries) {
            ModelCost cost = ModelCost.of(e.name(), !noMacs);
            int size = cost.imgSize();
            long params = cost.parameters();
            String gmacs = noMacs ? "-" : String.format(Locale.ROOT, "%.3f", cost.macs() / 1e9);
            if (tsv) out.println(e.name() + "\t" + params + "\t" + gmacs);
            else out.printf("%-26s %-10s %12s %9s %6s%n", e.name(), e.family().name(), ModelRegistry.formatParams(params), gmacs, size + "x" + size);
            out.flush();
        }
        return 0;
    }

    static Pattern globToRegex(String glob) {
        StringBuilder sb = new StringBuilder();
        for (char c : glob.toCharArray()) {
            if (c == '*') sb.append(".*");
            else if (c == '?') sb.append('.');
            else sb.append(Pattern.quote(String.valueOf(c)));
        }
        return Pattern.compile(sb.toString());
    }
}
