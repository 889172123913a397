package dev.lumen.app.report;

import dev.lumen.app.data.FashionMnist;
import dev.lumen.app.data.FolderDataset;
import dev.lumen.io.Json;
import dev.lumen.io.Printable;
import dev.lumen.io.Safetensors;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights and settings an evaluation starts from. The checkpoint may be
 * <ul>
 * <li>a run folder of {@code lumen train} (its best.safetensors, else last.safetensors);</li>
 * <li>a training checkpoint: a safetensors file whose metadata entry {@value #TRAIN_META_KEY}
 *     holds the run's JSON (with its resolved options under "config"), the model's weights
 *     under "model." and the EMA's under "ema.";</li>
 * <li>plain weights: a safetensors file (as {@link Checkpoints#exportSafetensors} writes) or a
 *     PyTorch .pth/.pt file.</li>
 * </ul>
 * The run's options come from the checkpoint's metadata, else from a config.json beside the file;
 * plain weights have none, and the caller's options fill in.
 */
public final class CheckpointModel implements AutoCloseable {
    /** The metadata key under which {@code lumen train} stores a checkpoint's JSON. */
    public static final String TRAIN_META_KEY = "lumen.train";

    /** The files a run folder is looked up by, in order. */
    public static final List<String> RUN_FILES = List.of("best.safetensors", "last.safetensors");

    private final Path file;
    private final Map<String, Tensor> state;
    private final Map<String, Object> config;
    private final List<String> classNames;
    private final String weights;

    private CheckpointModel(Path file, Map<String, Tensor> state, Map<String, Object> config, List<String> classNames, String weights) {
        this.file = file;
        this.weights = weights;
        this.state = state;
        this.config = config;
        this.classNames = classNames;
    }

    /**
     * Reads the weights of checkpoint (a file or a run folder), the EMA's when ema is set and the
     * checkpoint has them.
     *
     * @throws IllegalArgumentException for a missing file or a folder without a checkpoint
     * @throws IOException              for a file that is not a checkpoint
     */
    @SuppressWarnings("unchecked")
    public static CheckpointModel read(Path checkpoint, boolean ema) throws IOException {
        Path file = resolve(checkpoint);
        Map<String, Object> info = Map.of();
        Map<String, Tensor> state = null;
        String weights = "weights";
        if (!isZip(file)) {
            Safetensors.Contents c = Safetensors.read(file);
            String json = c.metadata().get(TRAIN_META_KEY);
            if (json != null) {
                try {
                    info = (Map<String, Object>) Json.parse(json);
                } catch (IllegalArgumentException | ClassCastException e) {
                    c.tensors().values().forEach(Tensor::close);
                    throw new IOException(file + ": bad training checkpoint metadata: " + e.getMessage());
                }
                boolean useEma = ema && c.tensors().keySet().stream().anyMatch(k -> k.startsWith("ema."));
                weights = useEma ? "EMA weights" : "model weights";
                state = modelState(c.tensors(), useEma);
            } else {
                c.tensors().values().forEach(Tensor::close);
            }
        }
        if (state == null) { // plain weights, with timm's unwrapping
            Checkpoints.Weights w = Checkpoints.loadWeights(file, ema);
            state = w.state();
            if (!w.source().equals("safetensors")) weights = "weights of " + w.source();
        }
        if (state.isEmpty()) throw new IOException(file + ": the checkpoint holds no model weights");

        Map<String, Object> config = info.get("config") instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
        if (config == null) config = configBeside(file);
        List<String> names = strings(info.get("class_names"));
        if (names == null) names = strings(config.get("class_names"));
        if (names == null) names = classNamesOfData(config);
        return new CheckpointModel(file, state, config, names, weights);
    }

    /** A run folder's best (else last) checkpoint, or the file itself. */
    public static Path resolve(Path checkpoint) {
        if (Files.isDirectory(checkpoint)) {
            for (String n : RUN_FILES) if (Files.isRegularFile(checkpoint.resolve(n))) return checkpoint.resolve(n);
            throw new IllegalArgumentException(checkpoint + ": no checkpoint in this folder (expected " + String.join(" or ", RUN_FILES) + ")");
        }
        if (!Files.isRegularFile(checkpoint)) throw new IllegalArgumentException(checkpoint + ": no such checkpoint");
        return checkpoint;
    }

    /** The model (or EMA) tensors of a training checkpoint under their plain names; the rest is closed. */
    private static Map<String, Tensor> modelState(Map<String, Tensor> all, boolean useEma) {
        String prefix = useEma ? "ema." : "model.";
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : all.entrySet()) {
            if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
            else e.getValue().close();
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> configBeside(Path file) throws IOException {
        Path json = file.toAbsolutePath().resolveSibling("config.json");
        if (!Files.isRegularFile(json)) return Map.of();
        try {
            return Json.parse(Files.readString(json)) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        } catch (IllegalArgumentException e) {
            throw new IOException(json + ": bad JSON: " + e.getMessage());
        }
    }

    /** The class names of the run's data, when its config names a dataset that is still there. */
    private static List<String> classNamesOfData(Map<String, Object> config) {
        if (config.get("data") instanceof String dir) {
            Path root = Path.of(dir);
            Path train = root.resolve("train");
            try {
                return FolderDataset.classFolders(Files.isDirectory(train) ? train : root).stream()
                        .map(p -> p.getFileName().toString()).toList();
            } catch (RuntimeException e) {
                return null; // moved or deleted since the run
            }
        }
        if ("fashion-mnist".equals(config.get("dataset"))) return FashionMnist.CLASS_NAMES;
        return null;
    }

    private static List<String> strings(Object o) {
        if (!(o instanceof List<?> l) || l.isEmpty()) return null;
        List<String> out = new ArrayList<>();
        for (Object v : l) out.add(Printable.of(v)); // names from a file reach the terminal and reports
        return out;
    }

    private static boolean isZip(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] m = in.readNBytes(2);
            return m.length == 2 && m[0] == 'P' && m[1] == 'K';
        }
    }

    /**
     * Which weights of the file were read, in words: "model weights" or "EMA weights" of a lumen
     * checkpoint, "weights of the 'model_ema' entry" (or another entry, or the top-level dict) of
     * a .pth, "weights" of a plain safetensors file.
     */
    public String weights() { return weights; }

    /** The file and its weights, as reports name them: "runs/x/best.safetensors (EMA weights)". */
    public String describe() { return file + " (" + weights + ")"; }

    /** The checkpoint file read (a run folder's best or last). */
    public Path file() { return file; }

    /** The run's options (config.json keys: "model", "img-size", "in-chans", "mean" ...); empty for plain weights. */
    public Map<String, Object> config() { return config; }

    /** The class names the run trained on, or null when the checkpoint does not say. */
    public List<String> classNames() { return classNames; }

    public String configString(String key) { return config.get(key) instanceof String s ? s : null; }

    public Integer configInt(String key) { return config.get(key) instanceof Number n ? n.intValue() : null; }

    /**
     * A setting the run recorded wins over the command line (the weights were trained with it);
     * an option that disagrees is ignored with a warning. Without a recorded value, the option's.
     */
    public static <T> T setting(String option, T given, T fromRun, java.io.PrintWriter err) {
        if (fromRun == null) return given;
        boolean differs = given != null && (given instanceof float[] a ? !java.util.Arrays.equals(a, (float[]) fromRun) : !given.equals(fromRun));
        if (differs) err.println("warning: ignoring " + option + " " + str(given) + ": the checkpoint was trained with " + str(fromRun));
        return fromRun;
    }

    private static String str(Object o) { return o instanceof float[] a ? java.util.Arrays.toString(a) : String.valueOf(o); }

    /**
     * The input side eval and predict will use, checked like lumen train's --img-size: a run
     * config with an absurd img-size is a hostile or broken file, named in the error.
     */
    public int checkedImgSize(int size) {
        if (size >= 1 && size <= dev.lumen.app.train.Trainer.MAX_IMG_SIZE) return size;
        String from = configInt("img-size") != null ? file + ": its run config's img-size" : "--img-size";
        throw new IllegalArgumentException(from + " must be in [1, " + dev.lumen.app.train.Trainer.MAX_IMG_SIZE + "], got " + size);
    }

    /** A list of numbers of the config, or null. */
    public float[] configFloats(String key) {
        if (!(config.get(key) instanceof List<?> l) || l.isEmpty()) return null;
        float[] out = new float[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Number n)) return null;
            out[i] = n.floatValue();
        }
        return out;
    }

    /**
     * Builds model with the checkpoint's weights. numClasses may be null: the class count is then
     * the checkpoint's. With a class count given, a checkpoint trained on another count fails.
     *
     * @throws IllegalArgumentException with one line that names the file and what does not fit:
     *                                  the class counts, or the first mismatching keys
     */
    public ImageClassifier build(String model, Integer numClasses, int inChans, int imgSize) {
        ModelOptions options = ModelOptions.defaults().withNumClasses(numClasses != null ? numClasses : 1).withInChannels(inChans).withImgSize(imgSize);
        ImageClassifier m = ModelRegistry.create(model, ModelRegistry.fitTo(model, state.keySet(), options));
        try {
            Tensor head = state.get(m.headPrefix() + ".weight");
            if (head != null && head.dim() >= 1 && head.shape(0) != m.numClasses()) {
                if (numClasses != null) {
                    throw new IllegalArgumentException(file + ": the checkpoint has " + head.shape(0) + " classes but the data has " + numClasses);
                }
                m.resetClassifier(head.shape(0));
            }
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, state, false, false);
            if (!r.isClean()) {
                throw new IllegalArgumentException(file + ": the weights do not fit " + model + " (" + inChans + " input channels): " + r);
            }
            m.eval();
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    @Override
    public void close() { state.values().forEach(Tensor::close); }
}
