package dev.lumen.nn;

import dev.lumen.io.Safetensors;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Saves a module's state dict to a safetensors file and loads it back by name. */
public final class StateDicts {
    private StateDicts() {}

    /** Writes module.stateDict() (with metadata, may be null) atomically to file. */
    public static void save(Module module, Path file, Map<String, String> metadata) throws IOException {
        Map<String, Tensor> state = module.stateDict();
        try {
            Safetensors.write(file, state, metadata);
        } finally {
            for (Tensor t : state.values()) t.close();
        }
    }

    public static void save(Module module, Path file) throws IOException { save(module, file, null); }

    /** Reads file and copies its tensors into module by name; see {@link Module#loadStateDict}. */
    public static Module.LoadResult load(Module module, Path file, boolean strict) throws IOException {
        Map<String, Tensor> state = Safetensors.read(file).tensors();
        try {
            return module.loadStateDict(state, strict);
        } finally {
            for (Tensor t : state.values()) t.close();
        }
    }
}
