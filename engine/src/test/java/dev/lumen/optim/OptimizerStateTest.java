package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OptimizerStateTest extends DeviceTest {
    @Test
    void zeroGradDropsAndFreesEveryGradient() {
        Tensor p = on(Tensor.ones(4)).requiresGrad(true), q = on(Tensor.ones(2, 2)).requiresGrad(true);
        SGD opt = new SGD(List.of(p, q), 0.1, 0, 0, false);
        Tensor gp = on(Tensor.ones(4)), gq = on(Tensor.ones(2, 2));
        p.setGrad(gp);
        q.setGrad(gq);
        opt.zeroGrad();
        assertNull(p.grad());
        assertNull(q.grad());
        assertTrue(gp.isClosed() && gq.isClosed(), "the old gradients are freed");
    }

    @Test
    void gradientsFromBackwardAreFreedByZeroGrad() {
        Tensor p = on(Tensor.ones(3)).requiresGrad(true);
        SGD opt = new SGD(List.of(p), 0.1, 0, 0, false);
        try (Scope s = Scope.open()) {
            p.mul(p).sum().backward();
        }
        Tensor g = p.grad();
        assertArrayEquals(new float[] {2, 2, 2}, g.toFloats());
        opt.zeroGrad();
        assertTrue(g.isClosed());
    }

    @Test
    void stateDictHoldsStepsGroupsAndNamedState() {
        Tensor a = on(Tensor.ones(2, 3)).requiresGrad(true), b = on(Tensor.ones(3)).requiresGrad(true);
        AdamW opt = new AdamW(List.of(ParamGroup.of(List.of(b)).set("weight_decay", 0.0), ParamGroup.of(List.of(a))),
                Adam.defaults(0.01, 0.9, 0.999, 1e-8, 0.05, true));
        for (int k = 0; k < 3; k++) {
            a.setGrad(on(Tensor.ones(2, 3)));
            if (k < 2) b.setGrad(on(Tensor.ones(3)));
            opt.step();
            opt.zeroGrad();
        }
        StateDict sd = opt.stateDict();
        assertEquals(List.of("state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq",
                "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.max_exp_avg_sq"), List.copyOf(sd.tensors().keySet()));
        StateDict back = StateDict.fromJson(sd.tensors(), sd.metaJson());
        assertEquals("AdamW", back.meta().get("type"));
        Map<?, ?> steps = (Map<?, ?>) back.meta().get("state");
        assertEquals(2L, ((Map<?, ?>) steps.get("0")).get("step"));
        assertEquals(3L, ((Map<?, ?>) steps.get("1")).get("step"));
        List<?> groups = (List<?>) back.meta().get("param_groups");
        assertEquals(List.of(0L), ((Map<?, ?>) groups.get(0)).get("params"));
        assertEquals(0.0, ((Map<?, ?>) groups.get(0)).get("weight_decay"));
        assertEquals(0.05, ((Map<?, ?>) groups.get(1)).get("weight_decay"));
        assertEquals(true, ((Map<?, ?>) groups.get(1)).get("amsgrad"));
    }

    @Test
    void loadStateDictRestoresLrStepsAndStateIntoCopies() {
        Tensor p = on(Tensor.randn(5)).requiresGrad(true);
        Adam opt = new Adam(List.of(p), 0.01, 0);
        Tensor g = on(Tensor.randn(5));
        p.setGrad(g.copy());
        opt.step();
        opt.paramGroups().get(0).setLr(0.003);
        StateDict sd = opt.stateDict();

        Tensor p2 = p.copy().detach().requiresGrad(true);
        Adam fresh = new Adam(List.of(p2), 0.5, 0);
        fresh.loadStateDict(StateDict.fromJson(sd.tensors(), sd.metaJson()));
        assertEquals(0.003, fresh.paramGroups().get(0).lr());
        Tensor loaded = fresh.stateDict().tensors().get("state.0.exp_avg");
        assertFalse(loaded == sd.tensors().get("state.0.exp_avg"), "loading copies the state");

        p.setGrad(g.copy());
        p2.setGrad(g.copy());
        opt.step();
        fresh.step();   // step 2 on both: the bias corrections agree only if the step count was restored
        assertArrayEquals(p.toFloats(), p2.toFloats());
    }

    @Test
    void loadStateDictLoadsF32StateIntoF64Parameters() {
        Tensor p = on(Tensor.ones(3)).requiresGrad(true);
        SGD opt = new SGD(List.of(p), 0.1, 0.9, 0, false);
        p.setGrad(Tensor.full(0.5, DType.F32, p.device(), 3));
        opt.step();
        Tensor q = on(Tensor.fromDoubles(new double[] {1, 1, 1}, DType.F64, 3)).requiresGrad(true);
        SGD other = new SGD(List.of(q), 0.1, 0.9, 0, false);
        other.loadStateDict(opt.stateDict());
        Tensor buf = other.stateDict().tensors().get("state.0.momentum_buffer");
        assertEquals(DType.F64, buf.dtype());
        assertArrayEquals(new double[] {0.5, 0.5, 0.5}, buf.toDoubles());
    }

    @Test
    void mismatchedStateDictsAreRejectedWithReasons() {
        Tensor p = on(Tensor.ones(3)).requiresGrad(true);
        SGD sgd = new SGD(List.of(p), 0.1, 0.9, 0, false);
        p.setGrad(on(Tensor.ones(3)));
        sgd.step();
        StateDict sd = sgd.stateDict();

        var e = assertThrows(IllegalArgumentException.class, () -> new AdamW(List.of(on(Tensor.ones(3)).requiresGrad(true)), 0.1, 0).loadStateDict(sd));
        assertTrue(e.getMessage().contains("SGD"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(on(Tensor.ones(4)).requiresGrad(true)), 0.1, 0.9, 0, false).loadStateDict(sd));
        assertTrue(e.getMessage().contains("[3]") && e.getMessage().contains("[4]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new SGD(List.of(on(Tensor.ones(3)).requiresGrad(true), on(Tensor.ones(3)).requiresGrad(true)), 0.1, 0.9, 0, false).loadStateDict(sd));
        assertTrue(e.getMessage().contains("parameters"), e.getMessage());
    }

    @Test
    void mismatchedGradientIsAnError() {
        Tensor p = on(Tensor.ones(3)).requiresGrad(true);
        SGD opt = new SGD(List.of(p), 0.1, 0, 0, false);
        p.setGrad(on(Tensor.fromDoubles(new double[] {1, 1, 1}, DType.F64, 3)));
        assertThrows(IllegalStateException.class, opt::step);
    }
}
