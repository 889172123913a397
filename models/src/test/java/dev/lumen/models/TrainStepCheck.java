package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.function.Predicate;

/**
 * The check every family runs on each published variant: one training step (forward,
 * cross-entropy, backward, AdamW) on a batch of two 32x32 RGB images gives a finite loss, a
 * non-zero gradient for every parameter, and moves the weights. Call inside a Scope.
 */
public final class TrainStepCheck {
    private TrainStepCheck() {}

    /** No parameter is exempt from the non-zero-gradient check. */
    public static void oneAdamWStep(String name, ImageClassifier m, String probeKey) {
        oneAdamWStep(name, m, probeKey, key -> false);
    }

    /**
     * As above; parameters named by structurallyZero (a bias that a training-mode BN cancels)
     * must instead have a gradient that is pure round-off: at most 1e-4 of the model's largest.
     */
    public static void oneAdamWStep(String name, ImageClassifier m, String probeKey, Predicate<String> structurallyZero) {
        Tensor x = Tensor.randn(new Generator(3), DType.F32, 2, 3, 32, 32);
        Tensor labels = Tensor.fromLongs(new long[] {1, 999}, 2);
        AdamW opt = new AdamW(m.trainableParameters(), 1e-3, 0.05);
        m.train();
        Tensor logits = m.forward(x);
        assertArrayEquals(new int[] {2, 1000}, logits.shape());
        Tensor loss = Losses.crossEntropy(logits, labels);
        assertTrue(Double.isFinite(loss.item()), name + ": loss " + loss.item());
        loss.backward();
        Tensor w = m.stateDict().get(probeKey);
        float before = w.toFloats()[0];
        double largest = 0;
        for (var e : m.namedParameters().entrySet()) {
            assertNotNull(e.getValue().grad(), name + ": " + e.getKey() + " has no gradient");
            largest = Math.max(largest, maxAbs(e.getValue().grad()));
        }
        for (var e : m.namedParameters().entrySet()) {
            double g = maxAbs(e.getValue().grad());
            if (structurallyZero.test(e.getKey())) {
                assertTrue(g <= 1e-4 * largest, name + ": " + e.getKey() + " should have a zero gradient, has " + g
                        + " against a largest gradient of " + largest);
            } else {
                assertTrue(g > 0, name + ": " + e.getKey() + " has a zero gradient");
            }
        }
        opt.step();
        assertTrue(w.toFloats()[0] != before, name + ": AdamW did not move the weights");
    }

    public static double maxAbs(Tensor t) {
        double m = 0;
        for (double v : t.toDoubles()) m = Math.max(m, Math.abs(v));
        return m;
    }
}
