package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelEmaTest extends DeviceTest {
    private static final Golden G = OptimGolden.G;
    private static final String[] NAMES = {"fc.weight", "fc.bias", "bn.running_mean", "bn.num_batches_tracked"};
    // Two f32 products and a sum per element, as timm computes them: agreement to ~1e-7.
    private static final double TOL = 1e-6;

    private Map<String, Tensor> model(String prefix) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String n : NAMES) m.put(n, G.get(prefix + "." + n).to(device).copy());
        return m;
    }

    private void replay(String name, double decay, boolean warmup) {
        ModelEma ema = new ModelEma(model(name + ".init"), decay, warmup);
        for (int t = 0; t < 3; t++) {
            try (Scope s = Scope.open()) {
                ema.update(model(name + ".model" + t));
            }
            for (String n : NAMES) {
                Tensor expected = G.get(name + ".ema" + t + "." + n);
                if (expected.dtype().isFloating()) Golden.assertClose("optim", name + ".ema" + t + "." + n, ema.ema().get(n), expected, TOL);
                else assertArrayEquals(expected.toLongs(), ema.ema().get(n).toLongs(), n);
            }
        }
        assertEquals(3, ema.updates());
    }

    @Test void matchesModelEmaV2() { replay("ema", 0.9, false); }

    @Test void warmupMatchesTheFormula() { replay("ema_warmup", 0.99, true); }

    @Test
    void warmupDecaySchedule() {
        ModelEma ema = new ModelEma(Map.of("w", on(Tensor.zeros(1))), 0.999, true);
        assertEquals(0.1, ema.decayAt(0), 1e-15);              // (1 + 0) / (10 + 0)
        assertEquals(11.0 / 20.0, ema.decayAt(10), 1e-15);
        assertEquals(0.999, ema.decayAt(1_000_000), 1e-15);   // capped at decay
        assertEquals(0.999, new ModelEma(Map.of("w", on(Tensor.zeros(1))), 0.999).decayAt(0));
    }

    @Test
    void f64AveragesFollowTheFormula() {
        Tensor w = on(Tensor.fromDoubles(new double[] {1, 2}, DType.F64, 2));
        ModelEma ema = new ModelEma(Map.of("w", w), 0.75);
        ema.update(Map.of("w", on(Tensor.fromDoubles(new double[] {5, -2}, DType.F64, 2))));
        assertArrayEquals(new double[] {0.75 * 1 + 0.25 * 5, 0.75 * 2 + 0.25 * -2}, ema.ema().get("w").toDoubles(), 1e-15);
    }

    @Test
    void averagesAreCopiesOutsideScopesAndResume() {
        ModelEma ema;
        Tensor w = on(Tensor.ones(3));
        try (Scope s = Scope.open()) {
            ema = new ModelEma(Map.of("w", w), 0.5);
            ema.update(Map.of("w", Tensor.full(3, DType.F32, w.device(), 3)));
        }
        Tensor avg = ema.ema().get("w");
        assertFalse(avg.isClosed());
        assertArrayEquals(new float[] {2, 2, 2}, avg.toFloats());
        assertArrayEquals(new float[] {1, 1, 1}, w.toFloats(), "the model is untouched");

        ModelEma other = new ModelEma(Map.of("w", on(Tensor.zeros(3))), 0.5);
        StateDict sd = ema.stateDict();
        other.loadStateDict(StateDict.fromJson(sd.tensors(), sd.metaJson()));
        assertEquals(1, other.updates());
        assertArrayEquals(new float[] {2, 2, 2}, other.ema().get("w").toFloats());
    }

    @Test
    void differentNamesAreRejected() {
        ModelEma ema = new ModelEma(Map.of("w", on(Tensor.zeros(3))), 0.5);
        var e = assertThrows(IllegalArgumentException.class, () -> ema.update(Map.of("v", on(Tensor.zeros(3)))));
        assertEquals(true, e.getMessage().contains("[v]"), e.getMessage());
    }
}
