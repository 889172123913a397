package dev.lumen.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lumen.io.Safetensors;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;

/**
 * A golden file written by tools/golden (PyTorch 1.13), read from the test resources.
 * Cases are stored as "case.in0", "case.out", "case.gout", "case.grad0" ...
 */
public final class Golden {
    private final String name;
    private final Map<String, Tensor> tensors;

    private Golden(String name, Map<String, Tensor> tensors) {
        this.name = name;
        this.tensors = tensors;
    }

    /** Loads golden/NAME.safetensors from the class path. */
    public static Golden load(String name) {
        URL url = Golden.class.getResource("/golden/" + name + ".safetensors");
        if (url == null) throw new IllegalStateException("golden/" + name + ".safetensors missing: run `make golden`");
        try {
            if ("file".equals(url.getProtocol())) return new Golden(name, Safetensors.read(Path.of(url.toURI())).tensors());
            // Inside the engine's test-jar (the kernels module runs these tests on cuda): read a temporary copy.
            Path tmp = java.nio.file.Files.createTempFile("golden-" + name, ".safetensors");
            try (java.io.InputStream in = url.openStream()) {
                java.nio.file.Files.copy(in, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                return new Golden(name, Safetensors.read(tmp).tensors());
            } finally {
                java.nio.file.Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new IllegalArgumentException("golden " + name + " has no tensor '" + key + "'");
        return t;
    }

    public boolean has(String key) { return tensors.containsKey(key); }

    /** Every tensor of the file, by key. */
    public Map<String, Tensor> all() { return java.util.Collections.unmodifiableMap(tensors); }

    /** Input i of a case on a device, as a fresh leaf that requires grad when it is floating. */
    public Tensor input(String caseName, int i, Device device) {
        Tensor t = get(caseName + ".in" + i).to(device).copy();
        if (t.dtype().isFloating()) t.requiresGrad(true);
        return t;
    }

    /** Input i of a case on the CPU. */
    public Tensor input(String caseName, int i) { return input(caseName, i, Device.CPU); }

    /** ||a - b|| / ||b|| over all elements, in double; either may be on any device (compared on the host). */
    public static double relativeError(Tensor actual, Tensor expected) {
        assertArrayEquals(expected.shape(), actual.shape(), "shape");
        double[] a = actual.toDoubles(), b = expected.toDoubles();
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i]) != Double.isNaN(b[i])) return Double.POSITIVE_INFINITY;
            if (Double.isNaN(a[i])) continue;
            double d = a[i] - b[i];
            num += d * d;
            den += b[i] * b[i];
        }
        if (den == 0) return Math.sqrt(num);
        return Math.sqrt(num / den);
    }

    /**
     * Asserts relative error within tol and records it in target/golden-errors.tsv, so the
     * largest error per op family can be reported.
     */
    public static void assertClose(String family, String what, Tensor actual, Tensor expected, double tol) {
        double err = relativeError(actual, expected);
        record(family, what, err);
        if (!(err <= tol)) fail(family + "/" + what + ": relative error " + err + " > " + tol);
    }

    /** Compares the output and, where the golden has them, every input gradient of a case. */
    public void check(String family, String caseName, Tensor out, Tensor[] inputs, double tolOut, double tolGrad) {
        assertClose(family, caseName + ".out", out, get(caseName + ".out"), tolOut);
        if (!has(caseName + ".gout")) return;
        out.backward(get(caseName + ".gout").to(out.device()));
        for (int i = 0; i < inputs.length; i++) {
            String key = caseName + ".grad" + i;
            if (!has(key)) continue;
            assertTrue(inputs[i].grad() != null, caseName + ": input " + i + " got no gradient");
            assertClose(family, key, inputs[i].grad(), get(key), tolGrad);
        }
    }

    private static synchronized void record(String family, String what, double err) {
        try {
            Path p = Path.of("target", "golden-errors.tsv");
            Files.createDirectories(p.getParent());
            Files.writeString(p, family + "\t" + what + "\t" + err + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ignored) {
            // the ledger is a report, not part of the check
        }
    }

    @Override
    public String toString() { return "Golden(" + name + ", " + Arrays.toString(tensors.keySet().toArray()) + ")"; }
}
