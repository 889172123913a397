package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.optim.SGD;
import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** GradScaler follows torch.cuda.amp.GradScaler: scale, unscale, skip on inf/NaN, back off, grow. */
class GradScalerTest {
    private static Tensor param(float... v) { return Tensor.fromFloats(v, v.length).requiresGrad(true); }

    @Test
    void scaledLossGivesScaledGradsThatUnscaleBack() {
        Tensor w = param(1f, 2f);
        SGD opt = new SGD(List.of(w), 0.5, 0, 0, false);
        GradScaler s = new GradScaler(1024, 2, 0.5, 3);
        s.scale(w.mul(w).sum()).backward(); // d/dw = 2w, times 1024
        assertArrayEquals(new float[] {2048f, 4096f}, w.grad().toFloats());
        Tensor flag = s.unscale(opt);
        assertArrayEquals(new float[] {2f, 4f}, w.grad().toFloats());
        assertEquals(0.0, flag.item(), "finite gradients leave the flag at 0");
        assertThrows(IllegalStateException.class, () -> s.step(opt), "step before the flag's verdict");
        s.foundInf(false);
        assertTrue(s.step(opt));
        assertArrayEquals(new float[] {0f, 0f}, w.toFloats()); // w - 0.5 * 2w
        s.update();
        assertEquals(1024, s.scale());
        assertThrows(IllegalStateException.class, s::update, "update twice without a step");
    }

    @Test
    void overflowSkipsTheStepAndHalvesTheScale() {
        for (float bad : new float[] {Float.POSITIVE_INFINITY, Float.NaN}) {
            Tensor w = param(1f, 2f);
            SGD opt = new SGD(List.of(w), 0.5, 0, 0, false);
            GradScaler s = new GradScaler(65536, 2, 0.5, 2000);
            w.setGrad(Tensor.fromFloats(new float[] {1f, bad}, 2));
            assertTrue(Double.isNaN(new GradScaler(1, 2, 0.5, 1).unscale(opt).item()), "the flag of a non-finite gradient is NaN");
            w.setGrad(Tensor.fromFloats(new float[] {1f, bad}, 2));
            assertFalse(s.step(opt), "skipped");
            s.update();
            assertArrayEquals(new float[] {1f, 2f}, w.toFloats(), "weights untouched");
            assertEquals(32768, s.scale());
            assertEquals(1, s.skippedSteps());
        }
    }

    @Test
    void growsAfterTheIntervalOfCleanStepsAndTheTrackerResetsOnOverflow() {
        Tensor w = param(1f);
        SGD opt = new SGD(List.of(w), 0.0, 0, 0, false);
        GradScaler s = new GradScaler(8, 2, 0.5, 3);
        float[] grads = {1, 1, Float.NaN, 1, 1, 1, 1};
        double[] scales = {8, 8, 4, 4, 4, 8, 8};
        for (int i = 0; i < grads.length; i++) {
            w.setGrad(Tensor.fromFloats(new float[] {grads[i]}, 1));
            s.step(opt);
            s.update();
            assertEquals(scales[i], s.scale(), "after step " + i);
        }
        Map<String, Object> sd = s.stateDict();
        assertEquals(1, sd.get("_growth_tracker"));
        GradScaler t = new GradScaler(8, 2, 0.5, 3);
        t.loadStateDict(sd);
        assertEquals(sd, t.stateDict());
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(8, 2, 0.5, 5).loadStateDict(sd));
    }

    @Test
    void ampParsesTheTwoTypes() {
        assertEquals(Amp.BF16, Amp.parse("bf16"));
        assertEquals(Amp.F16, Amp.parse("fp16"));
        assertEquals(Amp.OFF, Amp.parse(null));
        try (var ac = Amp.F16.autocast()) {
            assertEquals(dev.lumen.tensor.DType.F16, dev.lumen.autograd.Autocast.dtype());
            try (var off = Amp.OFF.autocast()) {
                assertEquals(null, dev.lumen.autograd.Autocast.dtype());
            }
            assertEquals(dev.lumen.tensor.DType.F16, dev.lumen.autograd.Autocast.dtype());
        }
        assertEquals(null, dev.lumen.autograd.Autocast.dtype());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Amp.parse("int8"));
        assertEquals("--amp must be bf16 or f16, got 'int8'", e.getMessage());
    }
}
