package dev.lumen.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.Golden;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The layer goldens of tools/golden/gen_nn.py. A case holds the torch module's state dict
 * before the forward ("case.state.NAME"), the input, output and gradients, each
 * parameter's gradient ("case.pgrad.NAME") and the buffers after the forward ("case.after.NAME").
 */
final class NnGolden {
    static final Golden G = Golden.load("nn");
    private static final Map<String, Tensor> ALL = G.all();

    private NnGolden() {}

    /** The torch state dict of a case, with the case prefix removed. */
    static Map<String, Tensor> state(String caseName) {
        String prefix = caseName + ".state.";
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : ALL.entrySet()) if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
        return out;
    }

    /**
     * Loads the torch weights into m by name (strictly, so the names must match torch's),
     * moves m to device, runs the forward and backward of the case there, and compares the output, the input
     * gradient, every parameter gradient and every buffer after the forward.
     */
    static void check(Device device, String caseName, Module m, double tolOut, double tolGrad) {
        Map<String, Tensor> state = state(caseName);
        assertEquals(List.copyOf(state.keySet()), List.copyOf(m.stateDict().keySet()), caseName + ": state dict names");
        assertTrue(m.loadStateDict(state, true).isClean());
        m.to(device);
        try (Scope s = Scope.open()) {
            Tensor x = G.input(caseName, 0, device);
            Tensor out = ((Layer) m).forward(x);
            Golden.assertClose("nn", caseName + ".out", out, G.get(caseName + ".out"), tolOut);
            out.backward(G.get(caseName + ".gout").to(device));
            assertNotNull(x.grad(), caseName + ": the input got no gradient");
            Golden.assertClose("nn", caseName + ".grad0", x.grad(), G.get(caseName + ".grad0"), tolGrad);
            for (var p : m.namedParameters().entrySet()) {
                assertNotNull(p.getValue().grad(), caseName + ": parameter " + p.getKey() + " got no gradient");
                Golden.assertClose("nn", caseName + ".pgrad." + p.getKey(), p.getValue().grad(), G.get(caseName + ".pgrad." + p.getKey()), tolGrad);
            }
            for (var b : m.namedBuffers().entrySet()) {
                String key = caseName + ".after." + b.getKey();
                if (G.has(key)) Golden.assertClose("nn", key, b.getValue(), G.get(key), tolOut);
            }
        } finally {
            m.zeroGrad();
        }
    }
}
