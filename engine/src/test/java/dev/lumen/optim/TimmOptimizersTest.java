package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The optimizers of `lumen train --opt` against timm 1.0 / torch 2.x on the same inputs
 * (tools/golden/timm_gen_optim.py): 8 steps of a [5, 7] weight (weight decay 0.05) and a [13]
 * bias (no decay) in two groups, as timm's param_groups_weight_decay makes them.
 */
class TimmOptimizersTest extends DeviceTest {
    private static final Golden G = Golden.load("timm_optim");
    private static final int STEPS = 8;
    // f32 state over 8 steps; torch applies python scalars in f32 where Lumen uses doubles, and the
    // trust ratios (lamb, lars) are host doubles here but f32 tensors in timm: ~1e-6 relative apart.
    private static final double TOL = 2e-5;

    private static List<ParamGroup> groups(List<Tensor> ps) {
        return List.of(ParamGroup.of(List.of(ps.get(0))).set("weight_decay", 0.05), ParamGroup.of(List.of(ps.get(1))).set("weight_decay", 0.0));
    }

    private void replay(String name, Function<List<ParamGroup>, Optimizer> make, String... stateKeys) {
        List<Tensor> ps = new ArrayList<>();
        for (int i = 0; i < 2; i++) ps.add(Scope.detachFromScopes(G.get(name + ".param" + i + ".init").to(device).copy()).requiresGrad(true));
        Optimizer opt = make.apply(groups(ps));
        for (int k = 0; k < STEPS; k++) {
            try (Scope s = Scope.open()) {
                for (int i = 0; i < 2; i++) ps.get(i).setGrad(G.get(name + ".param" + i + ".grad" + k).to(device).copy());
                opt.step();
                for (int i = 0; i < 2; i++) {
                    Golden.assertClose("timm_optim", name + ".param" + i + ".step" + k, ps.get(i), G.get(name + ".param" + i + ".step" + k), TOL);
                }
            }
            opt.zeroGrad();
        }
        StateDict sd = opt.stateDict();
        for (int i = 0; i < 2; i++) {
            for (String key : stateKeys) {
                String gk = name + ".param" + i + ".state." + key;
                assertTrue(G.has(gk), "golden lacks " + gk);
                Tensor mine = sd.tensors().get("state." + i + "." + key);
                assertTrue(mine != null, name + ": no state " + key + " for parameter " + i);
                Golden.assertClose("timm_optim", gk, mine, G.get(gk), TOL);
            }
        }
    }

    @Test void sgdIsNesterov() { replay("sgd", g -> new SGD(g, SGD.defaults(0.05, 0.9, 0, 0, true)), "momentum_buffer"); }

    @Test void momentumIsPlainSgd() { replay("momentum", g -> new SGD(g, SGD.defaults(0.05, 0.9, 0, 0, false)), "momentum_buffer"); }

    @Test void adam() { replay("adam", g -> new Adam(g, Adam.defaults(0.01, 0.9, 0.999, 1e-8, 0, false)), "exp_avg", "exp_avg_sq"); }

    @Test void adamw() { replay("adamw", g -> new AdamW(g, Adam.defaults(0.01, 0.9, 0.999, 1e-8, 0, false)), "exp_avg", "exp_avg_sq"); }

    @Test void adamwWithOptBetasAndEps() { replay("adam_betas_eps", g -> new AdamW(g, Adam.defaults(0.01, 0.8, 0.99, 1e-6, 0, false)), "exp_avg"); }

    @Test void nadam() { replay("nadam", g -> new NAdam(g, NAdam.defaults(0.01, 0.9, 0.999, 1e-8, 0)), "exp_avg", "exp_avg_sq"); }

    @Test void radamBeforeAndAfterRectification() {
        replay("radam", g -> new RAdam(g, RAdam.defaults(0.01, 0.9, 0.9, 1e-8, 0)), "exp_avg", "exp_avg_sq");
    }

    @Test void rmsprop() { replay("rmsprop", g -> new RMSprop(g, RMSprop.defaults(0.01, 0.9, 1e-8, 0, 0.9)), "square_avg", "momentum_buffer"); }

    @Test void rmsproptf() {
        replay("rmsproptf", g -> new RMSpropTF(g, RMSpropTF.defaults(0.01, 0.9, 1e-3, 0, 0.9)), "square_avg", "momentum_buffer");
    }

    @Test void lambWithGlobalClipAndTrustRatio() {
        replay("lamb", g -> new Lamb(g, Lamb.defaults(0.01, 0.9, 0.999, 1e-6, 0), 1.0), "exp_avg", "exp_avg_sq");
    }

    @Test void lars() { replay("lars", g -> new Lars(g, Lars.defaults(0.5, 0.9, 0, false, 1e-8)), "momentum_buffer"); }

    @Test void adabelief() { replay("adabelief", g -> new AdaBelief(g, AdaBelief.defaults(0.01, 0.9, 0.999, 1e-16, 0)), "exp_avg", "exp_avg_var"); }

    @Test
    void nadamResumedMidRunContinuesTheSameTrajectory() {
        onlyOnCpu("state dict round trip; the arithmetic is checked on every device above");
        // The mu product is not in the state dict: a fresh optimizer recomputes it from the step count.
        List<Tensor> a = List.of(Tensor.fromFloats(new float[] {1, -2, 3}, 3).requiresGrad(true));
        List<Tensor> b = List.of(Tensor.fromFloats(new float[] {1, -2, 3}, 3).requiresGrad(true));
        NAdam oa = new NAdam(List.of(ParamGroup.of(a)), NAdam.defaults(0.1, 0.9, 0.999, 1e-8, 0));
        NAdam ob = new NAdam(List.of(ParamGroup.of(b)), NAdam.defaults(0.1, 0.9, 0.999, 1e-8, 0));
        for (int k = 0; k < 5; k++) {
            a.get(0).setGrad(Tensor.fromFloats(new float[] {0.5f, k, -1}, 3));
            b.get(0).setGrad(Tensor.fromFloats(new float[] {0.5f, k, -1}, 3));
            oa.step();
            ob.step();
            if (k == 2) {
                ob = new NAdam(List.of(ParamGroup.of(b)), NAdam.defaults(0.1, 0.9, 0.999, 1e-8, 0));
                ob.loadStateDict(oa.stateDict());
            }
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(a.get(0).toFloats(), b.get(0).toFloats());
    }

    @Test
    void badHyperParametersAreRejectedByName() {
        onlyOnCpu("argument checks");
        // A fresh group each time: a constructor fills the group's options with its defaults.
        java.util.function.Supplier<List<ParamGroup>> g = () -> List.of(ParamGroup.of(List.of(Tensor.zeros(2).requiresGrad(true))));
        assertThrows(IllegalArgumentException.class, () -> new RAdam(g.get(), RAdam.defaults(0.01, 1.0, 0.999, 1e-8, 0)));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Lamb(g.get(), Lamb.defaults(-1, 0.9, 0.999, 1e-6, 0), 1))
                .getMessage().contains("Lamb: invalid lr"));
        assertThrows(IllegalArgumentException.class, () -> new Lars(g.get(), Lars.defaults(0.1, 0, 0, true, 1e-8)));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RMSpropTF(g.get(), RMSpropTF.defaults(0.01, -0.9, 1e-3, 0, 0)))
                .getMessage().contains("RMSpropTF: invalid alpha"));
    }

    @Test
    void adaptiveClipGradMatchesTimm() {
        for (String name : new String[] {"conv", "bias"}) {
            Tensor p = Scope.detachFromScopes(G.get("agc." + name + ".param").to(device).copy());
            p.setGrad(Scope.detachFromScopes(G.get("agc." + name + ".grad").to(device).copy()));
            GradClip.adaptiveClipGrad(List.of(p), 0.05, 1e-3);
            // A norm, a division and a select per unit: f32 rounding only.
            Golden.assertClose("timm_optim", "agc." + name + ".clipped", p.grad(), G.get("agc." + name + ".clipped"), 1e-6);
        }
    }

    @Test
    void multiStepDecaysAtEachMilestoneAsTimm() {
        onlyOnCpu("schedule arithmetic");
        Tensor w = Tensor.zeros(1).requiresGrad(true);
        SGD opt = new SGD(List.of(ParamGroup.of(List.of(w))), SGD.defaults(1.0, 0, 0, 0, false));
        MultiStepLR s = new MultiStepLR(opt, new double[] {4, 6}, 0.1, 2, 0.01, false, false);
        // timm: warmup 0.01 -> 1 over t < 2, then 0.1^bisect_right([4, 6], t + 1).
        double[] expected = {0.01, 0.505, 1, 0.1, 0.1, 0.01, 0.01};
        for (int t = 0; t < expected.length; t++) {
            org.junit.jupiter.api.Assertions.assertEquals(expected[t], s.lrsAt(t)[0], 1e-12, "t=" + t);
        }
        assertThrows(IllegalArgumentException.class, () -> new MultiStepLR(opt, new double[] {6, 4}, 0.1, 0, 0, false, false));
    }
}
