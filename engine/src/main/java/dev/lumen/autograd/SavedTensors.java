package dev.lumen.autograd;

import dev.lumen.tensor.Tensor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * The tensors a gradient rule saved: those its closure captured. A rule is a lambda, and a
 * lambda's captured locals are the fields of its object, so reading them finds exactly what
 * backward will read, with no list to keep in step with each rule by hand. Tensors inside
 * captured arrays, records and collections count too (a kernel's state record). Each saved
 * tensor is held (its bytes outlive a release by the code that made it) until the node has run.
 */
final class SavedTensors {
    private static final ClassValue<Field[]> FIELDS = new ClassValue<>() {
        @Override
        protected Field[] computeValue(Class<?> type) {
            List<Field> found = new ArrayList<>();
            for (Field f : type.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())) continue;
                // A JDK type's fields stay closed to us; none of them holds our tensors.
                if (mayHoldTensors(f.getType()) && f.trySetAccessible()) found.add(f);
            }
            return found.toArray(new Field[0]);
        }
    };

    private SavedTensors() {}

    private static boolean mayHoldTensors(Class<?> type) {
        return type == Tensor.class || type == Object.class || type.isArray() && !type.getComponentType().isPrimitive()
                || Record.class.isAssignableFrom(type) || java.util.Collection.class.isAssignableFrom(type);
    }

    private static void collect(Object v, IdentityHashMap<Object, Boolean> seen, List<Tensor> out) throws IllegalAccessException {
        if (v == null || seen.put(v, Boolean.TRUE) != null) return;
        if (v instanceof Tensor t) {
            out.add(t);
        } else if (v instanceof Object[] arr) {
            for (Object o : arr) collect(o, seen, out);
        } else if (v instanceof java.util.Collection<?> c) {
            for (Object o : c) collect(o, seen, out);
        } else if (v instanceof Record) {
            for (Field f : FIELDS.get(v.getClass())) collect(f.get(v), seen, out);
        }
    }

    /** The distinct tensors the rule object captured, each held once. */
    static Tensor[] hold(Object rule) {
        Field[] fields = FIELDS.get(rule.getClass());
        if (fields.length == 0) return new Tensor[0];
        IdentityHashMap<Object, Boolean> seen = new IdentityHashMap<>();
        List<Tensor> found = new ArrayList<>();
        try {
            for (Field f : fields) collect(f.get(rule), seen, found);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot read what the gradient rule " + rule.getClass().getName() + " captured", e);
        }
        found.removeIf(t -> !t.save());
        return found.toArray(new Tensor[0]);
    }

    /**
     * Lets go of what the rule saved, except a tensor it handed back as a gradient: that one is
     * backward's to use now, and the scope that owns it frees it.
     */
    static void unhold(Tensor[] saved, Tensor[] grads) {
        for (Tensor t : saved) {
            boolean returned = false;
            for (Tensor g : grads) returned |= g == t;
            if (!returned) t.unsave();
        }
    }
}
