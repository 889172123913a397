package dev.lumen.ops;

import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.Collection;

/**
 * The operands of an op live on one device: the op runs on that device's backend, and a mix
 * is an error that names the op and both devices before any kernel sees the tensors (a CPU
 * kernel would otherwise read device addresses as host memory).
 */
public final class Devices {
    private Devices() {}

    /** The device of the non-null operands; an IllegalArgumentException if they differ. */
    public static Device common(String op, Tensor... operands) {
        Device d = null;
        for (Tensor t : operands) d = join(op, d, t);
        return d;
    }

    public static Device common(String op, Collection<Tensor> operands) {
        Device d = null;
        for (Tensor t : operands) d = join(op, d, t);
        return d;
    }

    private static Device join(String op, Device d, Tensor t) {
        if (t == null) return d;
        if (d == null || d.equals(t.device())) return t.device();
        throw new IllegalArgumentException(op + ": operands on " + d + " and " + t.device());
    }
}
