package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ActivationsTest extends DeviceTest {
    private static final Golden G = Golden.load("activations");
    // A few float roundings per element, and erf/exp/tanh accurate to ~1e-7: well inside 1e-5.
    private static final double TOL = 1e-5;

    private static Map<String, Function<Tensor, Tensor>> ops() {
        Map<String, Function<Tensor, Tensor>> m = new LinkedHashMap<>();
        m.put("relu", Activations::relu);
        m.put("gelu", Activations::gelu);
        m.put("gelu_tanh", Activations::geluTanh);
        m.put("silu", Activations::silu);
        m.put("sigmoid", Activations::sigmoid);
        m.put("tanh", Activations::tanh);
        m.put("softplus", Activations::softplus);
        m.put("softplus_beta", x -> Activations.softplus(x, 2, 5));
        m.put("leaky_relu", Activations::leakyRelu);
        m.put("leaky_relu_slope", x -> Activations.leakyRelu(x, 0.2));
        m.put("hardsigmoid", Activations::hardSigmoid);
        m.put("hardswish", Activations::hardSwish);
        return m;
    }

    private void golden(String name, Function<Tensor, Tensor> op) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            G.check("activations", name, op.apply(x), new Tensor[] {x}, TOL, TOL);
        }
    }

    @Test void reluMatchesTorch() { golden("relu", ops().get("relu")); }
    @Test void geluMatchesTorch() { golden("gelu", ops().get("gelu")); }
    @Test void geluTanhMatchesTorch() { golden("gelu_tanh", ops().get("gelu_tanh")); }
    @Test void siluMatchesTorch() { golden("silu", ops().get("silu")); }
    @Test void sigmoidMatchesTorch() { golden("sigmoid", ops().get("sigmoid")); }
    @Test void tanhMatchesTorch() { golden("tanh", ops().get("tanh")); }
    @Test void softplusMatchesTorch() { golden("softplus", ops().get("softplus")); }
    @Test void softplusWithBetaAndThresholdMatchesTorch() { golden("softplus_beta", ops().get("softplus_beta")); }
    @Test void leakyReluMatchesTorch() { golden("leaky_relu", ops().get("leaky_relu")); }
    @Test void leakyReluWithSlopeMatchesTorch() { golden("leaky_relu_slope", ops().get("leaky_relu_slope")); }
    @Test void hardSigmoidMatchesTorch() { golden("hardsigmoid", ops().get("hardsigmoid")); }
    @Test void hardSwishMatchesTorch() { golden("hardswish", ops().get("hardswish")); }
    @Test void geluOfTransposedViewMatchesTorch() { golden("gelu_t", x -> Activations.gelu(x.transpose(1, 2))); }
    @Test void siluOfTransposedViewMatchesTorch() { golden("silu_t", x -> Activations.silu(x.transpose(1, 2))); }

    @Test
    void everyActivationPassesFiniteDifferences() {
        // Points within eps of a kink (0, +-3, the softplus threshold) would make the numeric derivative meaningless.
        double[] v = new double[33];
        for (int i = 0; i < v.length; i++) v[i] = -4.9 + i * 0.3 + 0.0123;
        Tensor x = on(Tensor.fromDoubles(v, DType.F64, 3, 11));
        for (var e : ops().entrySet()) GradCheck.check(device, e.getKey(), t -> e.getValue().apply(t[0]), x);
        GradCheck.check(device, "gelu of a transposed view", t -> Activations.gelu(t[0].transpose(0, 1)), x);
    }

    @Test
    void largeF32VectorPathAgreesWithF64() {
        // The dense F32 path runs the vector formulas (float erf, lane exp/tanh) on threads; the F64 path is the reference.
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(new Generator(9), DType.F32, 257, 129)).mul(4);
            Tensor x64 = x.to(DType.F64).requiresGrad(true);
            Tensor x32 = x.copy().requiresGrad(true);
            Tensor gout = on(Tensor.randn(new Generator(10), DType.F32, 257, 129));
            for (var e : ops().entrySet()) {
                Tensor y32 = e.getValue().apply(x32), y64 = e.getValue().apply(x64);
                Golden.assertClose("activations", e.getKey() + ".vector_vs_f64", y32, y64.to(DType.F32), 2e-6);
                y32.backward(gout);
                y64.backward(gout.to(DType.F64));
                Golden.assertClose("activations", e.getKey() + ".vector_grad_vs_f64", x32.grad(), x64.grad().to(DType.F32), 2e-6);
                x32.setGrad(null);
                x64.setGrad(null);
            }
        }
    }

    @Test
    void reluKeepsNaNAndIntegerDtype() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(new double[] {Double.NaN, 0, 2}, Activations.relu(on(Tensor.fromFloats(new float[] {Float.NaN, -1, 2}, 3))).toDoubles());
            Tensor i = Activations.relu(on(Tensor.fromLongs(new long[] {-3, 4}, 2)));
            assertArrayEquals(new long[] {0, 4}, i.toLongs());
        }
    }
}
