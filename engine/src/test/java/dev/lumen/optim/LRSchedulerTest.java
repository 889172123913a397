package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Expected values are written from timm's and torch's formulas, not from the implementation. */
class LRSchedulerTest extends DeviceTest {
    private static final double EPS = 1e-15;

    private SGD sgd(double... lrs) {
        List<ParamGroup> gs = new java.util.ArrayList<>();
        for (double lr : lrs) gs.add(ParamGroup.of(List.of(on(Tensor.zeros(1)).requiresGrad(true))).set("lr", lr));
        return new SGD(gs, SGD.defaults(1, 0, 0, 0, false));
    }

    private static double lr(Optimizer o) { return o.paramGroups().get(0).lr(); }

    @Test
    void cosineWithWarmupPerEpoch() {
        SGD o = sgd(0.1);
        CosineLR s = new CosineLR(o, 10, 0.001, 2, 1e-4, false, true);
        assertEquals(1e-4, lr(o), EPS);                         // construction: warmup_lr_init
        s.step(0);
        assertEquals(1e-4, lr(o), EPS);
        s.step(1);
        assertEquals(0.05005, lr(o), EPS);                      // 1e-4 + 1 * (0.1 - 1e-4) / 2
        s.step(2);                                               // first epoch after warmup: t counts from 0 (no prefix)
        assertEquals(0.001 + 0.5 * 0.099 * (1 + Math.cos(Math.PI * 2 / 10)), lr(o), EPS);
        assertEquals(0.0905463412215599, lr(o), 1e-15);
        s.step(5);
        assertEquals(0.0505, lr(o), 1e-15);                     // cos(pi/2) = 0
        s.step(9);
        assertEquals(0.001 + 0.0495 * (1 + Math.cos(0.9 * Math.PI)), lr(o), EPS);
        s.step(10);
        assertEquals(0.001, lr(o), EPS);                        // past t_initial: lr_min
        s.stepUpdate(3);                                         // per-update calls do nothing when t counts epochs
        assertEquals(0.001, lr(o), EPS);
    }

    @Test
    void cosineWithWarmupPrefixPerUpdate() {
        SGD o = sgd(0.2, 0.02);
        CosineLR s = new CosineLR(o, 8, 0, 4, 0, true, false);
        assertArrayEquals(new double[] {0, 0}, s.lrs());
        s.stepUpdate(3);
        assertArrayEquals(new double[] {0.15, 0.015}, s.lrs(), 1e-15);   // 3 * base / 4
        s.stepUpdate(4);
        assertArrayEquals(new double[] {0.2, 0.02}, s.lrs(), 1e-15);      // t - warmup = 0: the base lr
        s.stepUpdate(6);
        assertArrayEquals(new double[] {0.1 * (1 + Math.cos(Math.PI / 4)), 0.01 * (1 + Math.cos(Math.PI / 4))}, s.lrs(), 1e-15);
        s.stepUpdate(8);
        assertArrayEquals(new double[] {0.1, 0.01}, s.lrs(), 1e-15);      // t = 4 of 8: half
        s.step(1);                                                         // per-epoch calls do nothing here
        assertArrayEquals(new double[] {0.1, 0.01}, s.lrs(), 1e-15);
        s.stepUpdate(12);
        assertArrayEquals(new double[] {0, 0}, s.lrs(), 1e-15);
    }

    @Test
    void stepDecayWithWarmup() {
        SGD o = sgd(0.1);
        StepLR s = new StepLR(o, 3, 0.5, 2, 0.01, true, true);
        assertEquals(0.01, lr(o), EPS);
        s.step(1);
        assertEquals(0.055, lr(o), 1e-15);      // 0.01 + 1 * 0.09 / 2
        s.step(2);
        assertEquals(0.1, lr(o), EPS);           // t = 0 after the prefix
        s.step(4);
        assertEquals(0.1, lr(o), EPS);           // t = 2
        s.step(5);
        assertEquals(0.05, lr(o), EPS);          // t = 3
        s.step(8);
        assertEquals(0.025, lr(o), EPS);         // t = 6
    }

    @Test
    void stepDecayMatchesTorchStepLR() {
        double[] torch = OptimGolden.G.get("step_lr.lrs").toDoubles();
        SGD o = sgd(0.1);
        StepLR s = new StepLR(o, 3, 0.5);
        for (int e = 0; e < torch.length; e++) {
            s.step(e);
            assertEquals(torch[e], lr(o), 1e-15, "epoch " + e);
        }
    }

    @Test
    void yoloCosineLambdaMatchesTorchLambdaLR() {
        double[] torch = OptimGolden.G.get("lambda_lr.lrs").toDoubles();
        SGD o = sgd(0.1);
        LambdaLR s = new LambdaLR(o, LambdaLR.cosineToFraction(10, 0.01));
        assertEquals(torch[0], lr(o), 1e-15);
        assertEquals(0.1, lr(o), EPS);
        for (int e = 1; e < torch.length; e++) {
            s.step();
            assertEquals(torch[e], lr(o), 1e-15, "epoch " + e);
        }
        assertEquals(0.1 * (((1 - Math.cos(12 * Math.PI / 10)) / 2) * (0.01 - 1) + 1), lr(o), EPS);
        assertEquals(0.001, 0.1 * LambdaLR.cosineToFraction(10, 0.01).applyAsDouble(10), 1e-15);
    }

    @Test
    void schedulerStateDictsResume() {
        SGD a = sgd(0.1, 0.05);
        CosineLR s = new CosineLR(a, 10, 0.001, 2, 1e-4, false, true);
        s.step(4);
        SGD b = sgd(0.1, 0.05);
        b.loadStateDict(a.stateDict());
        CosineLR t = new CosineLR(b, 10, 0.001, 2, 1e-4, false, true);
        StateDict sd = s.stateDict();
        t.loadStateDict(StateDict.fromJson(sd.tensors(), sd.metaJson()));
        assertArrayEquals(s.lrs(), t.lrs());
        assertArrayEquals(new double[] {0.1, 0.05}, t.baseLrs());
        s.step(5);
        t.step(5);
        assertArrayEquals(s.lrs(), t.lrs());

        SGD c = sgd(0.1);
        LambdaLR l = new LambdaLR(c, LambdaLR.cosineToFraction(10, 0.01));
        l.step();
        l.step();
        SGD d = sgd(0.1);
        LambdaLR m = new LambdaLR(d, LambdaLR.cosineToFraction(10, 0.01));
        m.loadStateDict(StateDict.fromJson(l.stateDict().tensors(), l.stateDict().metaJson()));
        assertEquals(2, m.lastEpoch());
        assertEquals(lr(c), lr(d), EPS);
        var e = assertThrows(IllegalArgumentException.class, () -> m.loadStateDict(s.stateDict()));
        assertEquals("LambdaLR: state dict is for CosineLR", e.getMessage());
    }
}
