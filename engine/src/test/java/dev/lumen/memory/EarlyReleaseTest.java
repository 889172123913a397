package dev.lumen.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.autograd.GradMode;
import dev.lumen.nn.GELU;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Activations;
import dev.lumen.ops.Convolution;
import dev.lumen.ops.Normalization;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Intermediates go as soon as nothing can use them, as in PyTorch: released by the container
 * or block that made them, kept only while an autograd node has saved them, freed by backward
 * once that node ran, and an error (never a read of freed memory) when used after release.
 */
class EarlyReleaseTest {
    private static final int BATCH = 64, WIDTH = 256;
    /** One [64, 256] F32 activation: 64 KiB, a power of two, so the allocator's size classes add nothing. */
    private static final long ACTIVATION = (long) BATCH * WIDTH * 4;

    private static Sequential chain(int layers, Generator gen) {
        Sequential s = new Sequential();
        for (int i = 0; i < layers; i++) {
            s.add(new Linear(WIDTH, WIDTH, true, gen));
            s.add(i % 2 == 0 ? new GELU() : new ReLU());
        }
        return s;
    }

    /** The same layers called one after another without a container: every output stays until the scope closes. */
    private static Tensor unreleased(Sequential s, Tensor x) {
        for (int i = 0; i < s.size(); i++) x = ((Layer) s.get(i)).forward(x);
        return x;
    }

    /**
     * Lets the Cleaner free what earlier tests left to the GC before a measurement: when it did
     * so during one, the live bytes fell under the work's own and the peak came out low (a CI
     * run measured the unreleased chain at 13 activations instead of 16).
     */
    private static void settle() {
        CachingAllocator a = CachingAllocator.host();
        for (int i = 0; i < 20; i++) {
            long live = a.liveBytes();
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (a.liveBytes() == live) return;
        }
    }

    private static long peakOf(Runnable work) {
        settle();
        CachingAllocator a = CachingAllocator.host();
        long before = a.liveBytes();
        a.resetPeak();
        work.run();
        return a.peakLiveBytes() - before;
    }

    @Test
    void noGradChainHoldsAboutTwoActivations() {
        Sequential net = chain(8, new Generator(1));
        Tensor x = Tensor.randn(new Generator(2), DType.F32, BATCH, WIDTH);
        long released, kept;
        try (GradMode ng = GradMode.noGrad()) {
            released = peakOf(() -> {
                try (Scope s = Scope.open()) {
                    net.forward(x);
                }
            });
            kept = peakOf(() -> {
                try (Scope s = Scope.open()) {
                    unreleased(net, x);
                }
            });
        }
        // The layer's input and its output, plus one activation of slack for an op's own temporary.
        assertTrue(released <= 3 * ACTIVATION, "16 layers without grad peaked at " + released / (double) ACTIVATION + " activations");
        assertTrue(kept >= 15 * ACTIVATION, "the unreleased chain keeps every output: " + kept / (double) ACTIVATION);
        net.close();
        x.close();
    }

    @Test
    void backwardFreesSavedTensorsAsItGoesAndGradientsAgree() {
        Sequential net = chain(8, new Generator(3));
        Tensor x = Tensor.randn(new Generator(4), DType.F32, BATCH, WIDTH);
        List<float[]> gradsReleased = new ArrayList<>(), gradsKept = new ArrayList<>();
        step(net, () -> net.forward(x), new ArrayList<>()); // the parameters' .grad exist from here on, outside both peaks
        long released = peakOf(() -> step(net, () -> net.forward(x), gradsReleased));
        long kept = peakOf(() -> step(net, () -> unreleased(net, x), gradsKept));
        // Freeing each saved activation once its node ran leaves the backward's gradients room in the forward's memory.
        assertTrue(released < kept - 4 * ACTIVATION, "peak with freeing " + released + " bytes, without " + kept);
        for (int i = 0; i < gradsKept.size(); i++) assertArrayEquals(gradsKept.get(i), gradsReleased.get(i), "gradient " + i);
        net.close();
        x.close();
    }

    private static void step(Module net, java.util.function.Supplier<Tensor> forward, List<float[]> grads) {
        try (Scope s = Scope.open()) {
            net.zeroGrad();
            forward.get().sum().backward();
        }
        for (Tensor p : net.parameters()) grads.add(p.grad().toFloats());
    }

    @Test
    void aSavedTensorLivesUntilItsNodeRanThenGoes() {
        Tensor x = Tensor.randn(new Generator(5), DType.F32, 4, 8).requiresGrad(true);
        float[] reference;
        try (Scope s = Scope.open()) {
            Activations.gelu(x.mul(2.0)).sum().backward();
            reference = x.grad().toFloats();
            x.setGrad(null);
        }
        try (Scope s = Scope.open()) {
            Tensor h = x.mul(2.0);
            Tensor y = Activations.gelu(h);
            h.release();
            assertTrue(h.isReleased());
            assertFalse(h.isClosed(), "gelu saved its input for backward");
            y.sum().backward();
            assertTrue(h.isClosed(), "gelu's node ran, so nothing needs its input any more");
            assertArrayEquals(reference, x.grad().toFloats());
        }
        x.close();
    }

    @Test
    void retainGraphKeepsSavedTensorsForASecondBackward() {
        Tensor x = Tensor.randn(new Generator(9), DType.F32, 4, 8).requiresGrad(true);
        try (Scope s = Scope.open()) {
            Tensor h = x.mul(2.0);
            Tensor y = Activations.gelu(h).sum();
            h.release();
            y.backward(Tensor.ones(), true);
            float[] once = x.grad().toFloats();
            assertFalse(h.isClosed(), "retain_graph keeps what gelu saved");
            y.backward(Tensor.ones());
            assertTrue(h.isClosed(), "the second, consuming backward let it go");
            float[] twice = x.grad().toFloats();
            for (int i = 0; i < once.length; i++) assertTrue(twice[i] == 2 * once[i], "gradients add up over both passes");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> y.backward(Tensor.ones()));
            assertTrue(e.getMessage().contains("a second time"), e.getMessage());
        }
        x.close();
    }

    @Test
    void useAfterReleaseFailsWithAClearMessage() {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.ones(3, 5);
            t.release();
            assertTrue(t.isClosed());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.add(1.0));
            assertTrue(e.getMessage().contains("use of a released tensor [3, 5]"), e.getMessage());
            assertThrows(IllegalStateException.class, t::toFloats);
            t.release();
        }
    }

    @Test
    void aReleasingScopeFreesTemporariesAndHandsSavedOnesUp() {
        Tensor x = Tensor.randn(new Generator(6), DType.F32, 16).requiresGrad(true);
        try (Scope step = Scope.open()) {
            Tensor temp, saved, y;
            try (Scope locals = Scope.openReleasing()) {
                temp = x.mul(3.0).add(1.0);
                saved = temp.mul(0.5);
                y = locals.keep(Activations.gelu(saved));
            }
            assertTrue(temp.isClosed(), "nothing saved it");
            assertFalse(saved.isClosed(), "gelu saved it");
            assertSame(step, saved.owner(), "the enclosing scope stays its safety net");
            y.sum().backward();
            assertTrue(saved.isClosed());
        }
        x.close();
    }

    @Test
    void inplaceReluGivesTheOutOfPlaceValuesAndGradients() {
        Generator gen = new Generator(7);
        Tensor x = Tensor.randn(gen, DType.F32, 2, 3, 6, 6).requiresGrad(true);
        Tensor w = Tensor.randn(gen, DType.F32, 4, 3, 3, 3).requiresGrad(true);
        Tensor bw = Tensor.ones(4).requiresGrad(true), bb = Tensor.zeros(4).requiresGrad(true);
        float[][] outOfPlace = convBnRelu(x, w, bw, bb, false), inplace = convBnRelu(x, w, bw, bb, true);
        for (int i = 0; i < outOfPlace.length; i++) assertArrayEquals(outOfPlace[i], inplace[i], "output and gradients, item " + i);
        for (Tensor t : new Tensor[] {x, w, bw, bb}) t.close();
    }

    private static float[][] convBnRelu(Tensor x, Tensor w, Tensor bw, Tensor bb, boolean inplace) {
        for (Tensor t : new Tensor[] {x, w, bw, bb}) t.setGrad(null);
        try (Scope s = Scope.open()) {
            Tensor h = Normalization.batchNorm(Convolution.conv2d(x, w, null, new int[] {1}, new int[] {1}, new int[] {1}, 1),
                    null, null, bw, bb, true, 0.1, 1e-5);
            Tensor y = inplace ? Activations.reluInplace(h) : Activations.relu(h);
            assertTrue(h.isReleased() == inplace, "batch norm saved its input, not its output: relu may overwrite it");
            y.mul(y).sum().backward();
            return new float[][] {y.toFloats(), x.grad().toFloats(), w.grad().toFloats(), bw.grad().toFloats(), bb.grad().toFloats()};
        }
    }

    @Test
    void inplaceReluLeavesATensorAloneWhenSomethingElseNeedsIt() {
        Tensor x = Tensor.randn(new Generator(8), DType.F32, 4, 8).requiresGrad(true);
        try (Scope s = Scope.open()) {
            Tensor h = x.mul(1.0);
            float[] before = h.toFloats();
            Tensor g = Activations.gelu(h);
            Tensor r = Activations.reluInplace(h);
            assertFalse(h.isReleased(), "gelu saved h, so relu must not overwrite it");
            assertArrayEquals(before, h.toFloats());
            Tensor view = r.view(32);
            Tensor r2 = Activations.reluInplace(r);
            assertFalse(r.isReleased(), "another view shares r's storage");
            Tensor leaf = Activations.reluInplace(x);
            assertFalse(x.isReleased(), "a leaf that requires grad is never changed in place");
            try (GradMode ng = GradMode.noGrad()) {
                Activations.reluInplace(x);
                assertFalse(x.isReleased(), "nor without grad: it lives outside the step");
            }
            g.sum().add(r2.sum()).add(view.sum()).add(leaf.sum()).backward();
        }
        x.close();
    }
}
