package dev.lumen.models.replknet;

import dev.lumen.nn.Module;
import java.lang.reflect.Field;
import java.util.Map;

/**
 * Removes a child module after construction, which re-parameterization needs (a branch
 * disappears from the state dict, as torch's {@code __delattr__} does). Module has no API to
 * remove a child, so this writes its child map, as ImageClassifier.replaceChild does.
 */
final class Surgery {
    private Surgery() {}

    /** Drops parent's child name (if present) and closes it, freeing its tensors. */
    static void removeChild(Module parent, String name) {
        Module old = children(parent).remove(name);
        if (old != null) old.close();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Module> children(Module parent) {
        try {
            Field f = Module.class.getDeclaredField("children");
            f.setAccessible(true);
            return (Map<String, Module>) f.get(parent);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot remove a child of " + parent + ": " + e, e);
        }
    }
}
