package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.util.List;
import org.junit.jupiter.api.Test;

class SGDTest extends DeviceTest {
    // A handful of f32 roundings per element and step: torch agrees to ~1e-7 relative.
    private static final double TOL = 1e-6;

    @Test
    void plainMatchesTorch() {
        OptimGolden.replay(device, "sgd_plain", ps -> new SGD(ps, 0.1, 0, 0, false), TOL);
    }

    @Test
    void momentumWithoutNesterovMatchesTorch() {
        OptimGolden.replay(device, "sgd_momentum", ps -> new SGD(ps, 0.1, 0.9, 0.01, false), TOL);
    }

    @Test
    void nesterovMatchesTorch() {
        OptimGolden.replay(device, "sgd_nesterov", ps -> new SGD(ps, 0.1, 0.9, 0.01, true), TOL);
    }

    @Test
    void dampeningMatchesTorch() {
        OptimGolden.replay(device, "sgd_dampening",
                ps -> new SGD(List.of(ParamGroup.of(ps)), SGD.defaults(0.1, 0.9, 0.25, 0.01, false)), TOL);
    }

    @Test
    void groupsWithTheirOwnLrAndDecayMatchTorch() {
        Optimizer opt = OptimGolden.replay(device, "sgd_groups", ps -> new SGD(List.of(
                ParamGroup.of(List.of(ps.get(0))).set("lr", 0.05).set("weight_decay", 0.02),
                ParamGroup.of(List.of(ps.get(1))).set("lr", 0.2)), SGD.defaults(0.1, 0.9, 0, 0, true)), TOL);
        assertEquals(0.05, opt.paramGroups().get(0).lr());
        assertEquals(0.0, opt.paramGroups().get(1).weightDecay());
    }

    /** Two steps in f64 on one element, written out from torch's update rule. */
    @Test
    void nesterovAndPlainMomentumFollowTheFormulaInF64() {
        double lr = 0.5, mom = 0.8, wd = 0.1, damp = 0.0;
        double[] gs = {0.3, -0.7};
        for (boolean nesterov : new boolean[] {false, true}) {
            Tensor p = on(Tensor.fromDoubles(new double[] {1.5}, DType.F64, 1)).requiresGrad(true);
            SGD opt = new SGD(List.of(p), lr, mom, wd, nesterov);
            double x = 1.5, buf = 0;
            for (int k = 0; k < gs.length; k++) {
                p.setGrad(on(Tensor.fromDoubles(new double[] {gs[k]}, DType.F64, 1)));
                opt.step();
                double d = gs[k] + wd * x;
                buf = k == 0 ? d : mom * buf + (1 - damp) * d;
                x -= lr * (nesterov ? d + mom * buf : buf);
                assertEquals(x, p.item(), 1e-15, "nesterov=" + nesterov + " step " + k);
            }
        }
    }

    @Test
    void dampeningDoesNotApplyToTheFirstStep() {
        Tensor p = on(Tensor.fromDoubles(new double[] {0, 0}, DType.F64, 2)).requiresGrad(true);
        SGD opt = new SGD(List.of(ParamGroup.of(List.of(p))), SGD.defaults(1, 0.9, 0.5, 0, false));
        p.setGrad(on(Tensor.fromDoubles(new double[] {1, 2}, DType.F64, 2)));
        opt.step();
        assertArrayEquals(new double[] {1, 2}, opt.stateDict().tensors().get("state.0.momentum_buffer").toDoubles());
        opt.step();
        // buf = 0.9 * buf + 0.5 * g
        assertArrayEquals(new double[] {1.4, 2.8}, opt.stateDict().tensors().get("state.0.momentum_buffer").toDoubles(), 1e-15);
        assertArrayEquals(new double[] {-2.4, -4.8}, p.toDoubles(), 1e-15);
    }

    @Test
    void vectorBodyAndTailAgreeWithF64OnOddSizes() {
        for (int n : new int[] {1, 15, 16, 17, 100_003}) {
            Tensor p32 = on(Tensor.randn(n)).requiresGrad(true);
            Tensor g32 = on(Tensor.randn(n));
            Tensor p64 = p32.to(DType.F64).detach().requiresGrad(true);
            SGD a = new SGD(List.of(p32), 0.1, 0.9, 0.01, true), b = new SGD(List.of(p64), 0.1, 0.9, 0.01, true);
            for (int k = 0; k < 3; k++) {
                p32.setGrad(g32.copy());
                p64.setGrad(g32.to(DType.F64));
                a.step();
                b.step();
            }
            assertTrue(Golden.relativeError(p32.to(DType.F64), p64) < 1e-6, "n=" + n);
        }
    }

    @Test
    void stridedParameterIsUpdatedInPlace() {
        Tensor base = on(Tensor.randn(6, 4));
        Tensor p = base.transpose(0, 1).detach().requiresGrad(true);   // non-contiguous view of base
        Tensor expected = p.copy().detach();
        Tensor g = on(Tensor.randn(4, 6));
        p.setGrad(g.copy());
        new SGD(List.of(p), 0.5, 0, 0, false).step();
        float[] e = expected.toFloats(), gv = g.toFloats(), got = base.transpose(0, 1).toFloats();
        for (int i = 0; i < e.length; i++) assertEquals(e[i] - 0.5f * gv[i], got[i], 1e-6f);
    }

    @Test
    void parametersWithoutGradientsAreLeftAlone() {
        Tensor p = on(Tensor.ones(3)).requiresGrad(true), q = on(Tensor.ones(3)).requiresGrad(true);
        SGD opt = new SGD(List.of(p, q), 0.1, 0.9, 0, false);
        p.setGrad(on(Tensor.ones(3)));
        opt.step();
        assertArrayEquals(new float[] {1, 1, 1}, q.toFloats());
        assertFalse(opt.stateDict().tensors().containsKey("state.1.momentum_buffer"));
        assertArrayEquals(new float[] {0.9f, 0.9f, 0.9f}, p.toFloats());
    }

    @Test
    void stateLivesOutsideTheStepScope() {
        Tensor p = on(Tensor.ones(5)).requiresGrad(true);
        SGD opt = new SGD(List.of(p), 0.1, 0.9, 0, false);
        for (int k = 0; k < 3; k++) {
            try (Scope s = Scope.open()) {
                p.setGrad(on(Tensor.ones(5)));
                opt.step();
            }
        }
        Tensor buf = opt.stateDict().tensors().get("state.0.momentum_buffer");
        assertFalse(buf.isClosed());
        assertArrayEquals(new float[] {2.71f, 2.71f, 2.71f, 2.71f, 2.71f}, buf.toFloats(), 1e-6f);
    }

    @Test
    void badArgumentsAreNamed() {
        Tensor p = on(Tensor.ones(2)).requiresGrad(true);
        var e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(ParamGroup.of(List.of(p))), SGD.defaults(0.1, 0.9, 0.5, 0, true)));
        assertTrue(e.getMessage().contains("nesterov"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(ParamGroup.of(List.of(p)).set("momentom", 0.9)), SGD.defaults(0.1, 0, 0, 0, false)));
        assertTrue(e.getMessage().contains("momentom"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(ParamGroup.of(List.of(p)), ParamGroup.of(List.of(p))), SGD.defaults(0.1, 0, 0, 0, false)));
        assertTrue(e.getMessage().contains("more than one group"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(p), -1, 0, 0, false));
        assertTrue(e.getMessage().contains("lr"), e.getMessage());
    }
}
