package dev.lumen.models;

import dev.lumen.io.Safetensors;
import dev.lumen.nn.Module;
import dev.lumen.nn.StateDicts;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Model weights in and out: state dicts from safetensors files and from PyTorch .pth/.pt
 * checkpoints (read by a restricted unpickler, see {@link TorchPickle}), loading into a model
 * by name with a report of what did not match, and export to safetensors.
 */
public final class Checkpoints {
    private Checkpoints() {}

    /** Wrapper keys of training checkpoints, in the order timm's load_state_dict tries them. */
    private static final List<String> WRAPPERS = List.of("state_dict", "model");
    private static final List<String> EMA_WRAPPERS = List.of("state_dict_ema", "model_ema");

    /** The state dict of a .safetensors or .pth/.pt file; see {@link #load(Path, boolean)}. */
    public static Map<String, Tensor> load(Path file) throws IOException { return load(file, false); }

    /**
     * A state dict and where in the file it was found, for messages: "the 'model_ema' entry",
     * "the top-level dict", "safetensors".
     */
    public record Weights(Map<String, Tensor> state, String source) {}

    /** As {@link #load(Path, boolean)}. */
    public static Map<String, Tensor> load(Path file, boolean ema) throws IOException { return loadWeights(file, ema).state(); }

    /**
     * The state dict in file, told apart by content (a zip archive is a torch.save checkpoint,
     * anything else is read as safetensors). A training checkpoint is unwrapped
     * ({@code state_dict}, {@code model}; with ema, {@code state_dict_ema} / {@code model_ema}
     * first) and DataParallel's {@code module.} prefixes are stripped. Tensors are outside
     * every scope; the caller closes them.
     */
    public static Weights loadWeights(Path file, boolean ema) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": no such file");
        Map<String, Tensor> state;
        String source = "safetensors";
        if (isZip(file)) {
            try (TorchPickle pk = TorchPickle.open(file)) {
                Object root = pk.root();
                String key = wrapperKey(file, root, ema);
                Map<?, ?> dict = key == null ? (Map<?, ?>) root : (Map<?, ?>) ((Map<?, ?>) root).get(key);
                source = key == null ? "the top-level dict" : "the '" + key + "' entry";
                state = new LinkedHashMap<>();
                try {
                    for (var e : dict.entrySet()) {
                        if (e.getValue() instanceof TorchPickle.TensorRef ref) state.put(String.valueOf(e.getKey()), pk.materialize(ref));
                    }
                } catch (IOException | RuntimeException ex) {
                    state.values().forEach(Tensor::close);
                    throw ex;
                }
                if (state.isEmpty() && !dict.isEmpty()) throw new IOException(file + ": the checkpoint's dict holds no tensors");
            }
        } else {
            Map<String, Tensor> raw = Safetensors.read(file).tensors();
            state = new LinkedHashMap<>(raw);
        }
        return new Weights(stripPrefix(state, "module."), source);
    }

    private static boolean isZip(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
        }
    }

    /** The key of the wrapped state dict (model weights first, or EMA first with ema), or null for the root itself. */
    private static String wrapperKey(Path file, Object root, boolean ema) throws IOException {
        if (!(root instanceof Map<?, ?> m) || root instanceof TorchPickle.PyObject) {
            throw new IOException(file + ": the checkpoint holds a " + (root == null ? "None" : root.getClass().getSimpleName())
                    + ", not a dict of tensors");
        }
        List<String> order = new ArrayList<>();
        if (ema) order.addAll(EMA_WRAPPERS);
        order.addAll(WRAPPERS);
        if (!ema) order.addAll(EMA_WRAPPERS);
        for (String k : order) if (m.get(k) instanceof Map<?, ?> inner && !(inner instanceof TorchPickle.PyObject)) return k;
        return null;
    }

    /** Removes prefix from every key that has it (all of them, as DataParallel writes them). */
    static Map<String, Tensor> stripPrefix(Map<String, Tensor> state, String prefix) {
        if (state.isEmpty() || !state.keySet().stream().allMatch(k -> k.startsWith(prefix))) return state;
        Map<String, Tensor> out = new LinkedHashMap<>();
        state.forEach((k, v) -> out.put(k.substring(prefix.length()), v));
        return out;
    }

    /**
     * What loading found. Head keys dropped because the class count differs are listed in
     * droppedHead and left out of missing; mismatches name both shapes.
     */
    public record LoadReport(List<String> missingKeys, List<String> unexpectedKeys, List<Module.ShapeMismatch> shapeMismatches,
                             List<String> droppedHead) {
        public boolean isClean() { return missingKeys.isEmpty() && unexpectedKeys.isEmpty() && shapeMismatches.isEmpty(); }

        @Override
        public String toString() {
            if (isClean() && droppedHead.isEmpty()) return "all keys matched";
            StringBuilder sb = new StringBuilder();
            if (!missingKeys.isEmpty()) sb.append(missingKeys.size()).append(" missing ").append(first(missingKeys)).append("; ");
            if (!unexpectedKeys.isEmpty()) sb.append(unexpectedKeys.size()).append(" unexpected ").append(first(unexpectedKeys)).append("; ");
            if (!shapeMismatches.isEmpty()) sb.append(shapeMismatches.size()).append(" shape mismatches ").append(first(shapeMismatches)).append("; ");
            if (!droppedHead.isEmpty()) sb.append("classifier not loaded (class count differs) ").append(first(droppedHead)).append("; ");
            return sb.substring(0, sb.length() - 2);
        }

        private static String first(List<?> items) {
            int n = Math.min(5, items.size());
            return items.subList(0, n) + (items.size() > n ? " ..." : "");
        }
    }

    /**
     * Copies state into model by name, after the model's {@link ImageClassifier#adaptStateDict}
     * (e.g. a ViT position embedding resampled to the model's grid). With dropHeadIfMismatch, classifier keys
     * ({@link ImageClassifier#headPrefixes()}) whose shapes differ from the model's are
     * skipped, the model keeping its fresh classifier (fine-tuning on another class count).
     * Strict loading throws an IllegalArgumentException, before copying anything, when a key
     * is missing, unexpected or of another shape (beyond the dropped head).
     */
    public static LoadReport loadInto(Module model, Map<String, Tensor> state, boolean strict, boolean dropHeadIfMismatch) {
        if (!(model instanceof ImageClassifier ic)) return loadAdapted(model, state, strict, dropHeadIfMismatch);
        Map<String, Tensor> adapted = ic.adaptStateDict(state);
        try {
            return loadAdapted(model, adapted, strict, dropHeadIfMismatch);
        } finally {
            // tensors the model made while adapting (a resampled position embedding) are not the caller's
            Set<Tensor> given = Collections.newSetFromMap(new IdentityHashMap<>());
            given.addAll(state.values());
            for (Tensor t : adapted.values()) if (!given.contains(t)) t.close();
        }
    }

    /** loadInto once the model has adapted the state (see {@link ImageClassifier#adaptStateDict}). */
    private static LoadReport loadAdapted(Module model, Map<String, Tensor> state, boolean strict, boolean dropHeadIfMismatch) {
        Map<String, Tensor> own = model.stateDict();
        List<String> dropped = new ArrayList<>();
        Map<String, Tensor> use = new LinkedHashMap<>(state);
        try {
            if (dropHeadIfMismatch && model instanceof ImageClassifier ic) {
                boolean differs = false;
                for (var e : state.entrySet()) {
                    Tensor mine = own.get(e.getKey());
                    if (ic.isHeadKey(e.getKey()) && (mine == null || !Arrays.equals(mine.shape(), e.getValue().shape()))) differs = true;
                }
                if (differs) {
                    for (String k : state.keySet()) if (ic.isHeadKey(k)) { use.remove(k); dropped.add(k); }
                }
            }
            List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>();
            List<Module.ShapeMismatch> mismatched = new ArrayList<>();
            for (var e : own.entrySet()) {
                Tensor src = use.get(e.getKey());
                if (src == null) {
                    if (dropped.isEmpty() || !((ImageClassifier) model).isHeadKey(e.getKey())) missing.add(e.getKey());
                } else if (!Arrays.equals(src.shape(), e.getValue().shape())) {
                    mismatched.add(new Module.ShapeMismatch(e.getKey(), e.getValue().shape(), src.shape()));
                }
            }
            for (String k : use.keySet()) if (!own.containsKey(k)) unexpected.add(k);
            LoadReport report = new LoadReport(List.copyOf(missing), List.copyOf(unexpected), List.copyOf(mismatched), List.copyOf(dropped));
            if (strict && !report.isClean()) {
                throw new IllegalArgumentException("loading weights into " + model.getClass().getSimpleName() + " (strict): " + report);
            }
            model.loadStateDict(use, false);
            return report;
        } finally {
            own.values().forEach(Tensor::close);
        }
    }

    /** Loads file into model; see {@link #load(Path)} and {@link #loadInto}. */
    public static LoadReport loadInto(Module model, Path file, boolean strict, boolean dropHeadIfMismatch) throws IOException {
        Map<String, Tensor> state = load(file);
        try {
            return loadInto(model, state, strict, dropHeadIfMismatch);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** Writes the model's state dict to a safetensors file (atomically). */
    public static void exportSafetensors(Module model, Path file) throws IOException {
        StateDicts.save(model, file, Map.of("format", "pt"));
    }
}
