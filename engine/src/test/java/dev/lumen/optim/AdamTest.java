package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdamTest extends DeviceTest {
    // f32 moments, a sqrt and a division per element and step: torch agrees to ~1e-7 relative.
    private static final double TOL = 1e-6;

    private static Adam adam(List<Tensor> ps, boolean amsgrad) {
        return new Adam(List.of(ParamGroup.of(ps)), Adam.defaults(0.01, 0.9, 0.99, 1e-8, 0.05, amsgrad));
    }

    private static AdamW adamw(List<Tensor> ps, boolean amsgrad) {
        return new AdamW(List.of(ParamGroup.of(ps)), Adam.defaults(0.01, 0.9, 0.99, 1e-8, 0.05, amsgrad));
    }

    @Test void adamWithL2DecayMatchesTorch() { OptimGolden.replay(device, "adam", ps -> adam(ps, false), TOL); }

    @Test void adamAmsgradMatchesTorch() { OptimGolden.replay(device, "adam_amsgrad", ps -> adam(ps, true), TOL); }

    @Test void adamwMatchesTorch() { OptimGolden.replay(device, "adamw", ps -> adamw(ps, false), TOL); }

    @Test void adamwAmsgradMatchesTorch() { OptimGolden.replay(device, "adamw_amsgrad", ps -> adamw(ps, true), TOL); }

    @Test
    void adamwGroupsWithTheirOwnLrAndDecayMatchTorch() {
        OptimGolden.replay(device, "adamw_groups", ps -> new AdamW(List.of(
                ParamGroup.of(List.of(ps.get(0))).set("lr", 0.01).set("weight_decay", 0.1),
                ParamGroup.of(List.of(ps.get(1))).set("lr", 0.003).set("weight_decay", 0.0)),
                Adam.defaults(1e-3, 0.9, 0.999, 1e-8, 0.01, false)), TOL);
    }

    /** Three f64 steps on one element, written out from torch's Adam/AdamW formulas. */
    @Test
    void followsTheFormulaInF64() {
        double lr = 0.1, b1 = 0.8, b2 = 0.95, eps = 1e-3, wd = 0.2;
        double[] gs = {0.5, -0.05, 0.01};
        for (boolean decoupled : new boolean[] {false, true}) {
            for (boolean ams : new boolean[] {false, true}) {
                Tensor p = on(Tensor.fromDoubles(new double[] {2.0}, DType.F64, 1)).requiresGrad(true);
                var groups = List.of(ParamGroup.of(List.of(p)));
                var defaults = Adam.defaults(lr, b1, b2, eps, wd, ams);
                Adam opt = decoupled ? new AdamW(groups, defaults) : new Adam(groups, defaults);
                double x = 2.0, m = 0, v = 0, vmax = 0;
                for (int t = 1; t <= gs.length; t++) {
                    p.setGrad(on(Tensor.fromDoubles(new double[] {gs[t - 1]}, DType.F64, 1)));
                    opt.step();
                    double g = gs[t - 1];
                    if (decoupled) x *= 1 - lr * wd;
                    else g += wd * x;
                    m = b1 * m + (1 - b1) * g;
                    v = b2 * v + (1 - b2) * g * g;
                    vmax = Math.max(vmax, v);
                    double denom = Math.sqrt(ams ? vmax : v) / Math.sqrt(1 - Math.pow(b2, t)) + eps;
                    x -= lr / (1 - Math.pow(b1, t)) * m / denom;
                    assertEquals(x, p.item(), 1e-14, "decoupled=" + decoupled + " amsgrad=" + ams + " step " + t);
                }
            }
        }
    }

    @Test
    void amsgradKeepsTheLargestSecondMoment() {
        Tensor p = on(Tensor.zeros(1)).requiresGrad(true);
        AdamW opt = new AdamW(List.of(ParamGroup.of(List.of(p))), Adam.defaults(0.1, 0.9, 0.5, 1e-8, 0, true));
        p.setGrad(Tensor.full(4, DType.F32, p.device(), 1));
        opt.step();
        p.setGrad(Tensor.full(0, DType.F32, p.device(), 1));
        opt.step();
        var sd = opt.stateDict().tensors();
        assertEquals(4.0, sd.get("state.0.exp_avg_sq").item(), 1e-6);   // 0.5 * 8
        assertEquals(8.0, sd.get("state.0.max_exp_avg_sq").item(), 1e-6);
    }

    @Test
    void vectorBodyAndTailAgreeWithF64OnOddSizes() {
        for (int n : new int[] {3, 31, 33, 65_537}) {
            Tensor p32 = on(Tensor.randn(n)).requiresGrad(true);
            Tensor p64 = p32.to(DType.F64).detach().requiresGrad(true);
            Adam a = adamw(List.of(p32), true), b = adamw(List.of(p64), true);
            for (int k = 0; k < 3; k++) {
                Tensor g = on(Tensor.randn(n));
                p32.setGrad(g);
                p64.setGrad(g.to(DType.F64));
                a.step();
                b.step();
            }
            assertTrue(Golden.relativeError(p32.to(DType.F64), p64) < 1e-6, "n=" + n);
        }
    }

    @Test
    void badBetasAreNamed() {
        Tensor p = on(Tensor.ones(2)).requiresGrad(true);
        var e = assertThrows(IllegalArgumentException.class,
                () -> new AdamW(List.of(ParamGroup.of(List.of(p)).set("beta2", 1.0)), Adam.defaults(0.1, 0.9, 0.999, 1e-8, 0, false)));
        assertTrue(e.getMessage().contains("AdamW") && e.getMessage().contains("beta2"), e.getMessage());
    }
}
