package dev.lumen.app.train;

import dev.lumen.io.Json;
import dev.lumen.io.Safetensors;
import dev.lumen.optim.StateDict;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A training checkpoint (last.safetensors, best.safetensors): one safetensors file holding the
 * model's state dict under "model.", the optimizer's state tensors under "optimizer.", the
 * EMA's under "ema." (ModelEma's own names), and in the metadata entry {@value #META_KEY} one
 * JSON object with the optimizer, scheduler and EMA metadata, the loss scaler, the epoch and
 * update count, the best metric, the generator states, the metrics history and the run's
 * config. Files are written to a temporary file and renamed, so a kill leaves the previous
 * checkpoint intact.
 */
public final class TrainCheckpoint {
    /** The safetensors metadata key of the JSON. */
    public static final String META_KEY = "lumen.train";
    static final String MODEL = "model.", OPTIMIZER = "optimizer.", EMA = "ema.";

    private TrainCheckpoint() {}

    /**
     * A loaded checkpoint; its tensors view the file's mapping and are freed by close().
     *
     * @param ema     null when the run kept no EMA
     * @param info    epoch, global_step, best_metric, best_epoch, rng, history, config, scaler ...
     */
    public record Loaded(Map<String, Tensor> model, StateDict optimizer, StateDict scheduler, StateDict ema, Map<String, Object> info)
            implements AutoCloseable {
        @Override
        public void close() {
            model.values().forEach(Tensor::close);
            optimizer.tensors().values().forEach(Tensor::close);
            if (ema != null) ema.tensors().values().forEach(Tensor::close);
        }
    }

    /** Writes a checkpoint atomically; info is stored as JSON beside the three states' metadata. */
    public static void save(Path file, Map<String, Tensor> model, StateDict optimizer, StateDict scheduler, StateDict ema,
                            Map<String, Object> info) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.forEach((k, v) -> tensors.put(MODEL + k, v));
        optimizer.tensors().forEach((k, v) -> tensors.put(OPTIMIZER + k, v));
        if (ema != null) {
            ema.tensors().forEach((k, v) -> {
                if (!k.startsWith(EMA)) throw new IllegalStateException("checkpoint: EMA tensor '" + k + "' lacks the ema. prefix");
                tensors.put(k, v);
            });
        }
        Map<String, Object> meta = new LinkedHashMap<>(info);
        meta.put("optimizer", optimizer.meta());
        meta.put("scheduler", scheduler.meta());
        if (ema != null) meta.put("ema", ema.meta());
        Map<String, String> header = new LinkedHashMap<>();
        header.put("format", "lumen-train");
        header.put(META_KEY, Json.write(meta, false));
        Safetensors.write(file, tensors, header);
    }

    /** True when file is a safetensors file written by {@link #save}. */
    public static boolean isTrainCheckpoint(Path file) {
        try {
            if (!Files.isRegularFile(file) || Files.size(file) < 8) return false;
            try (var in = Files.newInputStream(file)) {
                byte[] magic = in.readNBytes(2);
                if (magic.length == 2 && magic[0] == 'P' && magic[1] == 'K') return false; // a torch zip
            }
            Safetensors.Contents c = Safetensors.read(file);
            c.tensors().values().forEach(Tensor::close);
            return c.metadata().containsKey(META_KEY);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Reads a checkpoint; an error names the file and what is wrong with it. */
    @SuppressWarnings("unchecked")
    public static Loaded load(Path file) throws IOException {
        Safetensors.Contents c = Safetensors.read(file);
        String json = c.metadata().get(META_KEY);
        if (json == null) {
            c.tensors().values().forEach(Tensor::close);
            throw new IOException(file + ": not a lumen training checkpoint (no '" + META_KEY + "' metadata); use --pretrained for plain weights");
        }
        Map<String, Object> meta;
        try {
            meta = (Map<String, Object>) Json.parse(json);
        } catch (IllegalArgumentException | ClassCastException e) {
            c.tensors().values().forEach(Tensor::close);
            throw new IOException(file + ": bad checkpoint metadata: " + e.getMessage());
        }
        Map<String, Tensor> model = new LinkedHashMap<>(), opt = new LinkedHashMap<>(), ema = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
            String k = e.getKey();
            if (k.startsWith(MODEL)) model.put(k.substring(MODEL.length()), e.getValue());
            else if (k.startsWith(OPTIMIZER)) opt.put(k.substring(OPTIMIZER.length()), e.getValue());
            else if (k.startsWith(EMA)) ema.put(k, e.getValue());
            else {
                c.tensors().values().forEach(Tensor::close);
                throw new IOException(file + ": unexpected tensor '" + k + "' in a training checkpoint");
            }
        }
        Map<String, Object> info = new LinkedHashMap<>(meta);
        Object om = info.remove("optimizer"), sm = info.remove("scheduler"), em = info.remove("ema");
        if (!(om instanceof Map) || !(sm instanceof Map)) {
            c.tensors().values().forEach(Tensor::close);
            throw new IOException(file + ": checkpoint metadata lacks the optimizer or scheduler state");
        }
        StateDict emaSd = em instanceof Map ? new StateDict(ema, (Map<String, Object>) em) : null;
        if (emaSd == null) ema.values().forEach(Tensor::close);
        return new Loaded(model, new StateDict(opt, (Map<String, Object>) om), new StateDict(Map.of(), (Map<String, Object>) sm), emaSd, info);
    }

    /**
     * The model weights of a training checkpoint with their plain names (the EMA's when ema is
     * true and the run kept one), for evaluation and fine-tuning; the caller closes the tensors.
     */
    public static Map<String, Tensor> readModelState(Path file, boolean ema) throws IOException {
        Loaded l = load(file);
        l.optimizer().tensors().values().forEach(Tensor::close);
        if (ema && l.ema() != null) {
            l.model().values().forEach(Tensor::close);
            Map<String, Tensor> out = new LinkedHashMap<>();
            l.ema().tensors().forEach((k, v) -> out.put(k.substring(EMA.length()), v));
            return out;
        }
        if (l.ema() != null) l.ema().tensors().values().forEach(Tensor::close);
        return l.model();
    }
}
