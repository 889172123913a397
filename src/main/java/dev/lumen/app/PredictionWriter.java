package dev.lumen.app;

import dev.lumen.io.Json;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The output of {@code lumen predict}: a line per image ("path: cat 91.20%, dog 5.10%"), CSV
 * (a header, then image,class_1,prob_1,...,class_k,prob_k with probabilities as fractions) or
 * one JSON document that also names the checkpoint and its weights.
 */
final class PredictionWriter {
    enum Format {
        TEXT, CSV, JSON;

        static Format parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "text" -> TEXT;
                case "csv" -> CSV;
                case "json" -> JSON;
                default -> throw new IllegalArgumentException("--format must be text, csv or json, got '" + s + "'");
            };
        }
    }

    private final Format format;
    private final PrintWriter out;
    private final int k;
    private final String weights;
    private final String model;
    private final List<Object> rows = new ArrayList<>();
    private boolean header;

    PredictionWriter(Format format, PrintWriter out, int k, String weights, String model) {
        this.format = format;
        this.out = out;
        this.k = k;
        this.weights = weights;
        this.model = model;
    }

    /** One image's top-k classes and probabilities (fractions), best first. */
    void add(String image, List<String> classes, float[] probabilities) {
        switch (format) {
            case TEXT -> {
                StringBuilder line = new StringBuilder(image).append(':');
                for (int j = 0; j < classes.size(); j++) {
                    line.append(j == 0 ? " " : ", ").append(classes.get(j)).append(String.format(Locale.ROOT, " %.2f%%", 100 * probabilities[j]));
                }
                out.println(line);
            }
            case CSV -> {
                if (!header) {
                    StringBuilder h = new StringBuilder("image");
                    for (int j = 1; j <= k; j++) h.append(",class_").append(j).append(",prob_").append(j);
                    out.println(h);
                    header = true;
                }
                StringBuilder line = new StringBuilder(csv(image));
                for (int j = 0; j < classes.size(); j++) {
                    line.append(',').append(csv(classes.get(j))).append(',').append(String.format(Locale.ROOT, "%.6f", probabilities[j]));
                }
                out.println(line);
            }
            case JSON -> {
                List<Object> top = new ArrayList<>();
                for (int j = 0; j < classes.size(); j++) {
                    Map<String, Object> c = new LinkedHashMap<>();
                    c.put("class", classes.get(j));
                    c.put("probability", (double) probabilities[j]);
                    top.add(c);
                }
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("image", image);
                row.put("topk", top);
                rows.add(row);
            }
        }
    }

    /** Ends the output (the JSON document is written here). */
    void finish() {
        if (format != Format.JSON) return;
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("model", model);
        doc.put("weights", weights);
        doc.put("topk", k);
        doc.put("predictions", rows);
        out.println(Json.write(doc, true));
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }
}
