package dev.lumen.ops;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import org.junit.jupiter.api.Test;

class ElementwiseTest {
    private static final Golden G = Golden.load("elementwise");
    // One rounding per element: f32 results agree with PyTorch to ~1e-7 relative.
    private static final double TOL = 1e-6;

    private void binary(String name, java.util.function.BinaryOperator<Tensor> op) {
        try (Scope s = Scope.open()) {
            Tensor a = G.input(name, 0), b = G.input(name, 1);
            G.check("elementwise", name, op.apply(a, b), new Tensor[] {a, b}, TOL, TOL);
        }
    }

    @Test void addMatchesTorch() { binary("add", Elementwise::add); }
    @Test void subMatchesTorch() { binary("sub", Elementwise::sub); }
    @Test void mulMatchesTorch() { binary("mul", Elementwise::mul); }
    @Test void divMatchesTorch() { binary("div", Elementwise::div); }

    @Test
    void affineMatchesTorch() {
        try (Scope s = Scope.open()) {
            Tensor a = G.input("affine", 0);
            G.check("elementwise", "affine", Elementwise.affine(a, 2.5, -0.75), new Tensor[] {a}, TOL, TOL);
        }
    }

    @Test
    void binaryOpsPassFiniteDifferences() {
        Generator g = new Generator(3);
        Tensor a = Tensor.randn(g, DType.F64, 3, 4), b = Tensor.rand(g, DType.F64, 4).add(0.5);
        GradCheck.check("add", x -> x[0].add(x[1]), a, b);
        GradCheck.check("sub", x -> x[0].sub(x[1]), a, b);
        GradCheck.check("mul", x -> x[0].mul(x[1]), a, b);
        GradCheck.check("div", x -> x[0].div(x[1]), a, b);
        GradCheck.check("affine", x -> Elementwise.affine(x[0], -1.5, 2), a);
    }
}
