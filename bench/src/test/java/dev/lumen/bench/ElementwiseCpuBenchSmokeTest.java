package dev.lumen.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.tensor.Tensor;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Keeps GeluCpuBench, UnaryCpuBench and ElementwiseCpuBench from rotting: one invocation of every benchmark, set up and torn down as JMH would, with a check of what it computed. */
class ElementwiseCpuBenchSmokeTest {
    private static void allFinite(Tensor t, String what) {
        for (float v : t.toFloats()) assertTrue(Float.isFinite(v), what + " gave " + v);
    }

    /** One unary benchmark's trial: set up, both benchmarks once with finite results, torn down. */
    private static void trial(String op, Runnable setup, Supplier<Tensor> forward, Supplier<Tensor> derivative, Runnable tearDown) {
        setup.run();
        try {
            allFinite(forward.get(), op + " forward");
            allFinite(derivative.get(), op + " derivative");
        } finally {
            tearDown.run();
        }
    }

    @Test
    void geluBenchmarksRunForBothForms() {
        for (String op : new String[] {"GELU", "GELU_TANH"}) {
            GeluCpuBench b = new GeluCpuBench();
            b.unary = op;
            trial(op, b::setup, b::unaryForward, b::unaryDerivative, b::tearDown);
        }
    }

    @Test
    void unaryBenchmarksRunForEveryOp() {
        for (String op : new String[] {"TANH", "SOFTPLUS", "LOG", "SILU", "SIGMOID"}) {
            UnaryCpuBench b = new UnaryCpuBench();
            b.unary = op;
            trial(op, b::setup, b::unaryForward, b::unaryDerivative, b::tearDown);
        }
    }

    @Test
    void binaryBenchmarksComputeTheirPatterns() {
        ElementwiseCpuBench b = new ElementwiseCpuBench();
        b.setup();
        try {
            Tensor sum = b.addSameShape();
            assertEquals(ElementwiseCpuBench.B * ElementwiseCpuBench.C * ElementwiseCpuBench.H * ElementwiseCpuBench.W, sum.numel());
            allFinite(sum, "same-shape add");
            allFinite(b.mulPerChannel(), "per-channel mul");
            allFinite(b.mulPerRowNlc(), "per-row mul");
            allFinite(b.mulScalarTensor(), "scalar mul");
            allFinite(b.addInPlace(), "in-place add");
        } finally {
            b.tearDown();
        }
    }
}
