package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.Golden;
import java.util.function.Function;

/**
 * Runs an op on F32 and on F64 copies of the same inputs and compares the output and every
 * input gradient. The F32 kernels take the vectorized paths and the F64 ones the scalar
 * reference paths (on the CPU), so this checks the fast paths on shapes too large for a golden file.
 */
final class PrecisionCheck {
    private PrecisionCheck() {}

    static void f32MatchesF64(Device device, String what, Function<Tensor[], Tensor> fn, double tol, Tensor... inputs) {
        try (Scope s = Scope.open()) {
            Tensor[] a = new Tensor[inputs.length], b = new Tensor[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                Tensor in = inputs[i];
                if (in == null || !in.dtype().isFloating()) {
                    a[i] = b[i] = in == null ? null : in.to(device);
                    continue;
                }
                a[i] = in.detach().to(device).to(DType.F32).copy().requiresGrad(true);
                b[i] = in.detach().to(device).to(DType.F64).copy().requiresGrad(true);
            }
            Tensor outA = fn.apply(a), outB = fn.apply(b);
            Golden.assertClose("f32-vs-f64", what + ".out", outA, outB, tol);
            Tensor g = Tensor.randn(new Generator(99), DType.F64, outB.shape()).to(device);
            outA.backward(g.to(DType.F32));
            outB.backward(g);
            for (int i = 0; i < inputs.length; i++) {
                if (a[i] == null || !a[i].requiresGrad()) continue;
                assertNotNull(a[i].grad(), what + ": input " + i + " got no gradient");
                Golden.assertClose("f32-vs-f64", what + ".grad" + i, a[i].grad(), b[i].grad(), tol);
            }
        }
    }
}
