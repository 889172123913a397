package dev.lumen.optim;

import dev.lumen.io.Json;
import dev.lumen.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The resumable state of an optimizer, scheduler or EMA in a form a checkpoint stores as it is:
 * named tensors (safetensors) plus JSON-able metadata (maps, lists, strings, numbers, booleans).
 * The tensors are the live state, not copies: save them before the next update.
 */
public record StateDict(Map<String, Tensor> tensors, Map<String, Object> meta) {
    public StateDict {
        tensors = new LinkedHashMap<>(tensors);
        meta = new LinkedHashMap<>(meta);
    }

    /** The metadata as one JSON string (a safetensors metadata value). */
    public String metaJson() { return Json.write(meta, false); }

    /** Rebuilds a state dict from stored tensors and the JSON written by {@link #metaJson()}. */
    @SuppressWarnings("unchecked")
    public static StateDict fromJson(Map<String, Tensor> tensors, String metaJson) {
        Object parsed = Json.parse(metaJson);
        if (!(parsed instanceof Map<?, ?> m)) throw new IllegalArgumentException("state dict metadata must be a JSON object: " + metaJson);
        return new StateDict(tensors, (Map<String, Object>) m);
    }

    /** A metadata entry, or an error naming what is missing. */
    Object require(String owner, String key) {
        Object v = meta.get(key);
        if (v == null) throw new IllegalArgumentException(owner + ": state dict has no '" + key + "' entry; it has " + meta.keySet());
        return v;
    }

    static double number(Object v) { return ((Number) v).doubleValue(); }
}
