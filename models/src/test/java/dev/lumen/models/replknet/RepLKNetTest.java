package dev.lumen.models.replknet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.MacCounter;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Init;
import dev.lumen.nn.Module;
import dev.lumen.ops.Indexing;
import dev.lumen.ops.Reductions;
import dev.lumen.ops.Softmax;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RepLKNetTest extends DeviceTest {
    static final String FAM = "model_replknet";

    /** The tiny configurations of tools/golden/gen_model_replknet.py. */
    static RepLKNet.Config tiny(String name) {
        return name.equals("tiny")
                ? new RepLKNet.Config("tiny", new int[] {7, 7, 5, 3}, new int[] {1, 1, 1, 1}, new int[] {8, 16, 24, 32}, 3, 1, 4)
                : new RepLKNet.Config("tiny_xl", new int[] {7, 5, 5, 3}, new int[] {1, 1, 1, 1}, new int[] {8, 16, 16, 24}, 0, 1.5, 4);
    }

    static final ModelOptions TEN = ModelOptions.defaults().withNumClasses(10);

    /** F.cross_entropy with mean reduction. */
    static Tensor crossEntropy(Tensor logits, Tensor labels) {
        Tensor picked = Indexing.gather(Softmax.logSoftmax(logits, 1), 1, labels.reshape(-1, 1));
        return Reductions.mean(picked).neg();
    }

    /** The golden tensors under prefix whose names the model has, keyed by those names. */
    static Map<String, Tensor> prefixed(Golden g, Iterable<String> names, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String k : names) if (g.has(prefix + k)) out.put(k, g.get(prefix + k));
        return out;
    }

    /**
     * Parameters whose gradient is zero in training mode (without drop path): each adds a
     * per-channel constant that the next train-mode BN subtracts again with the batch mean
     * (pw2.bn.bias onto the residual stream, whose every reader is a BN or a 1x1 conv then a
     * BN; the pre-BN biases into a 1x1 conv then a BN). PyTorch's values are rounding noise.
     */
    static boolean zeroInTraining(String key) {
        return key.endsWith("pw2.bn.bias") || key.endsWith("prelkb_bn.bias") || key.endsWith("preffn_bn.bias");
    }

    static double maxAbs(Tensor t) {
        double m = 0;
        for (double v : t.toDoubles()) m = Math.max(m, Math.abs(v));
        return m;
    }

    static RepLKNet loaded(Golden g, String c) {
        RepLKNet m = new RepLKNet(tiny(c), TEN);
        Checkpoints.LoadReport r = Checkpoints.loadInto(m, prefixed(g, m.stateDict().keySet(), c + ".w."), true, false);
        assertTrue(r.isClean(), r.toString());
        return m;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny_xl"})
    void tinyMatchesPyTorchForwardLossAndEveryGradient(String c) {
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); RepLKNet m = loaded(g, c)) {
            m.to(device);
            m.train();
            Tensor logits = m.forward(g.get(c + ".x").to(device));
            Tensor loss = crossEntropy(logits, g.get(c + ".labels").to(device));
            Golden.assertClose(FAM, c + ".logits", logits, g.get(c + ".logits"), 1e-4);
            Golden.assertClose(FAM, c + ".loss", loss, g.get(c + ".loss"), 1e-4);
            loss.backward();
            int checked = 0, zero = 0;
            double scale = 0;
            for (String k : m.namedParameters().keySet()) scale = Math.max(scale, maxAbs(g.get(c + ".g." + k)));
            for (var e : m.namedParameters().entrySet()) {
                Tensor gr = e.getValue().grad(), want = g.get(c + ".g." + e.getKey());
                assertNotNull(gr, e.getKey() + " has no gradient");
                if (zeroInTraining(e.getKey())) {
                    // both are rounding noise around 0: compare to the largest gradient of the model
                    assertTrue(maxAbs(want) <= 1e-6 * scale && maxAbs(gr) <= 1e-6 * scale, e.getKey() + ": " + maxAbs(gr) + " vs " + maxAbs(want));
                    zero++;
                } else {
                    Golden.assertClose(FAM, c + ".grad." + e.getKey(), gr, want, 1e-3);
                }
                checked++;
            }
            assertEquals(16, zero, "pw2.bn.bias and the pre-BN bias of the 8 blocks");
            assertEquals(m.namedParameters().size(), checked);
            assertEquals(c.equals("tiny"), m.namedParameters().keySet().stream().anyMatch(k -> k.contains("small_conv")));
            Map<String, Tensor> after = m.stateDict();
            Map<String, Tensor> want = prefixed(g, after.keySet(), c + ".w_after.");
            assertFalse(want.isEmpty());
            for (var e : want.entrySet()) {
                Golden.assertClose(FAM, c + ".after." + e.getKey(), after.get(e.getKey()).to(DType.F64), e.getValue().to(DType.F64), 1e-5);
            }
            m.eval();
            Golden.assertClose(FAM, c + ".eval_logits", m.forward(g.get(c + ".x").to(device)), g.get(c + ".eval_logits"), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny_xl"})
    void reparameterizeMatchesTheOfficialMergeAndKeepsTheOutputs(String c) {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); RepLKNet m = loaded(g, c)) {
            // the golden merged the kernels after its training step: take its running statistics
            assertTrue(m.loadStateDict(prefixed(g, m.stateDict().keySet(), c + ".w_after."), false).unexpectedKeys().isEmpty());
            m.eval();
            Tensor x = g.get(c + ".x");
            Tensor before = m.forward(x);
            m.reparameterize();
            // the same keys and merged kernels as PyTorch's structural_reparam
            Map<String, Tensor> state = m.stateDict();
            Map<String, Tensor> want = prefixed(g, state.keySet(), c + ".rep.");
            assertEquals(state.keySet(), want.keySet());
            assertTrue(state.keySet().stream().anyMatch(k -> k.endsWith("large_kernel.lkb_reparam.bias")));
            assertTrue(state.keySet().stream().noneMatch(k -> k.contains("lkb_origin") || k.contains("small_conv")));
            for (var e : want.entrySet()) Golden.assertClose(FAM, c + ".rep." + e.getKey(), state.get(e.getKey()), e.getValue(), 1e-6);
            Tensor merged = m.forward(x);
            Golden.assertClose(FAM, c + ".rep_logits", merged, g.get(c + ".rep_logits"), 1e-4);
            Golden.assertClose(FAM, c + ".reparam_vs_origin", merged, before, 1e-4);
            m.reparameterize();
            assertEquals(state.keySet(), m.stateDict().keySet(), "idempotent");

            m.fuseBatchNorms();
            assertTrue(m.namedModules().values().stream().noneMatch(mod -> mod instanceof BatchNorm2d), "every BN folded");
            Golden.assertClose(FAM, c + ".fused_vs_origin", m.forward(x), before, 1e-4);
        }
    }

    @Test
    void smallKernelMergedOptionLoadsTheReparameterizedWeights() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); RepLKNet m = new RepLKNet(tiny("tiny"), TEN.with("small_kernel_merged", true))) {
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, prefixed(g, m.stateDict().keySet(), "tiny.rep."), true, false);
            assertTrue(r.isClean(), r.toString());
            m.eval();
            Golden.assertClose(FAM, "tiny.merged_option_logits", m.forward(g.get("tiny.x")), g.get("tiny.rep_logits"), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny_xl"})
    void torchSavedWeightsLoadThroughTheUnpickler(String c) throws IOException, URISyntaxException {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        Path pth = Path.of(getClass().getResource("/golden/model_replknet_" + c + ".pth").toURI());
        Map<String, Tensor> state = Checkpoints.load(pth);
        try (Scope s = Scope.open(); RepLKNet m = new RepLKNet(tiny(c), TEN)) {
            assertEquals(m.stateDict().keySet(), state.keySet());
            for (var e : state.entrySet()) {
                assertArrayEquals(g.get(c + ".w." + e.getKey()).toDoubles(), e.getValue().toDoubles(), 0, e.getKey());
            }
            assertTrue(Checkpoints.loadInto(m, state, true, false).isClean());
            m.train();
            Golden.assertClose(FAM, c + ".pth_logits", m.forward(g.get(c + ".x")), g.get(c + ".logits"), 1e-4);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** Sets every BN's affine parameters and running statistics to random values, so folding them is not trivial. */
    static void randomizeBatchNorms(Module m, Generator gen) {
        try (GradMode ng = GradMode.noGrad()) {
            for (Module mod : m.namedModules().values()) {
                if (mod instanceof BatchNorm2d bn) {
                    Init.uniform(bn.weight(), 0.5, 1.0, gen);
                    Init.normal(bn.bias(), 0, 0.1, gen);
                    Init.normal(bn.runningMean(), 0, 0.1, gen);
                    Init.uniform(bn.runningVar(), 0.75, 1.25, gen);
                }
            }
        }
    }

    @Test
    void replknet31bReparameterizedAgreesInEvalModeAt32x32() {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        Generator gen = new Generator(31);
        try (Scope s = Scope.open(); RepLKNet m = (RepLKNet) ModelRegistry.create("replknet_31b", ModelOptions.defaults().withImgSize(32))) {
            randomizeBatchNorms(m, gen);
            m.eval();
            Tensor x = Tensor.randn(gen, DType.F32, 2, 3, 32, 32);
            Tensor before;
            try (GradMode ng = GradMode.noGrad()) {
                before = m.forward(x);
                m.reparameterize();
                assertEquals(24, m.stateDict().keySet().stream().filter(k -> k.endsWith("lkb_reparam.weight")).count());
                Golden.assertClose(FAM, "replknet_31b.reparam_vs_origin", m.forward(x), before, 1e-4);
                m.fuseBatchNorms();
                Golden.assertClose(FAM, "replknet_31b.fused_vs_origin", m.forward(x), before, 1e-4);
            }
            assertTrue(Reductions.sum(before.mul(before)).item() > 0);
        }
    }

    /** Exact counts of the PyTorch reference in gen_model_replknet.py (--counts), training form. */
    static final Map<String, Long> TORCH_COUNTS = Map.of(
            "replknet_31b", 79_864_168L, "replknet_31l", 172_671_016L, "replknet_xl", 335_435_752L);

    /** Exact counts after PyTorch's structural_reparam. */
    static final Map<String, Long> TORCH_DEPLOY_COUNTS = Map.of(
            "replknet_31b", 79_527_272L, "replknet_31l", 172_165_672L, "replknet_xl", 335_399_656L);

    /** The paper prints counts truncated (79M, 172M, 335M), the issue 31B's rounded (79.9M): either agrees. */
    static boolean agrees(long n, String published) {
        if (ModelRegistry.agreesWithPublished(n, published)) return true;
        BigDecimal p = new BigDecimal(published.substring(0, published.length() - 1));
        return BigDecimal.valueOf(n).movePointLeft(6).setScale(Math.max(p.scale(), 0), RoundingMode.DOWN).compareTo(p) == 0;
    }

    @Test
    void parameterCountsMatchThePublishedOnes() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        RepLKNetFamily fam = new RepLKNetFamily();
        assertEquals(3, fam.variants().size());
        for (var v : fam.variants()) {
            try (RepLKNet m = (RepLKNet) ModelRegistry.create(v.name())) {
                long n = m.numParameters();
                assertEquals(TORCH_COUNTS.get(v.name()), n, v.name());
                assertTrue(agrees(n, v.publishedParams()), v.name() + ": " + n + " vs " + v.publishedParams());
                m.reparameterize();
                assertEquals(TORCH_DEPLOY_COUNTS.get(v.name()), m.numParameters(), v.name() + " re-parameterized");
            }
        }
        assertTrue(ModelRegistry.agreesWithPublished(TORCH_COUNTS.get("replknet_31b"), "79.9M"));
    }

    /**
     * AdamW.step over params in chunks of about maxElements, each chunk's gradients and moments
     * freed once it is updated. AdamW updates every parameter on its own, so this is the same
     * step as one optimizer over all of them; it keeps replknet_xl (335M parameters) at
     * parameters + gradients + one chunk's moments instead of 4x the parameters.
     */
    static void adamWStepInChunks(List<Tensor> params, long maxElements) {
        List<Tensor> chunk = new ArrayList<>();
        long n = 0;
        for (int i = 0; i < params.size(); i++) {
            chunk.add(params.get(i));
            n += params.get(i).numel();
            if (n >= maxElements || i == params.size() - 1) {
                AdamW opt = new AdamW(chunk, 1e-3, 0.05);
                opt.step();
                opt.stateDict().tensors().values().forEach(Tensor::close);
                opt.zeroGrad();
                chunk = new ArrayList<>();
                n = 0;
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"replknet_31b", "replknet_31l", "replknet_xl"})
    void oneAdamWStepAt32x32(String name) {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        try (Scope s = Scope.open(); ImageClassifier m = ModelRegistry.create(name, ModelOptions.defaults().withImgSize(32))) {
            Generator gen = new Generator(3);
            Tensor x = Tensor.randn(gen, DType.F32, 2, 3, 32, 32);
            Tensor labels = Tensor.fromLongs(new long[] {1, 999}, 2);
            m.train();
            long t0 = System.nanoTime(), c0 = RepLKNetTimingTest.cpuNanos();
            Tensor logits = m.forward(x);
            assertArrayEquals(new int[] {2, 1000}, logits.shape());
            Tensor loss = crossEntropy(logits, labels);
            assertTrue(Double.isFinite(loss.item()), name + ": loss " + loss.item());
            loss.backward();
            Tensor w = m.stateDict().get("stages.0.blocks.0.large_kernel.lkb_origin.conv.weight");
            float before = w.toFloats()[0];
            int nonZero = 0;
            for (var e : m.namedParameters().entrySet()) {
                Tensor gr = e.getValue().grad();
                assertNotNull(gr, name + ": " + e.getKey() + " has no gradient");
                double sq = Reductions.sum(gr.mul(gr)).item();
                assertTrue(Double.isFinite(sq), name + ": " + e.getKey() + " has a non-finite gradient");
                // zeroInTraining parameters: 0 up to rounding (see there)
                if (!zeroInTraining(e.getKey())) {
                    assertTrue(sq > 0, name + ": " + e.getKey() + " has a zero gradient");
                    nonZero++;
                }
            }
            assertTrue(nonZero > 0.8 * m.namedParameters().size());
            adamWStepInChunks(m.trainableParameters(), 1L << 25);
            assertTrue(w.toFloats()[0] != before, name + ": AdamW did not move the weights");
            System.out.printf("%s: one AdamW step at 2x3x32x32: %.1f s wall, %.1f s CPU%n", name, (System.nanoTime() - t0) / 1e9,
                    (RepLKNetTimingTest.cpuNanos() - c0) / 1e9);
        }
    }

    @Test
    void smallInputsChannelsAndClassifierReset() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open()) {
            ModelOptions gray = ModelOptions.defaults().withInChannels(1).withNumClasses(10).withImgSize(28);
            RepLKNet plain = new RepLKNet(tiny("tiny"), gray);
            assertArrayEquals(new int[] {2, 32, 1, 1}, plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 32, 1, 1}, plain.forwardFeatures(Tensor.zeros(2, 1, 32, 32)).shape());
            RepLKNet small = new RepLKNet(tiny("tiny"), gray.with("small_input_stem", true));
            assertArrayEquals(new int[] {2, 32, 4, 4}, small.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 32, 4, 4}, small.forwardFeatures(Tensor.zeros(2, 1, 32, 32)).shape());
            assertEquals(plain.numParameters(), small.numParameters(), "the small stem keeps the weights' shapes");
            assertArrayEquals(new int[] {2, 10}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            small.resetClassifier(3);
            assertEquals(3, small.numClasses());
            assertArrayEquals(new int[] {2, 3}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            small.resetClassifier(0);
            assertArrayEquals(new int[] {2, 32}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 32}, plain.forwardHead(plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)), true).shape());
            plain.fuseBatchNorms();
            assertThrows(IllegalStateException.class, () -> plain.resetClassifier(5));
            plain.close();
            small.close();
        }
    }

    @Test
    void macsAt224MatchTheTorchCount() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        // conv + linear MACs of one 224x224 image, counted with forward hooks on the PyTorch
        // reference of gen_model_replknet.py; the paper gives 15.3G FLOPs
        try (ImageClassifier m = ModelRegistry.create("replknet_31b")) {
            assertEquals(15_431_298_048L, MacCounter.count(m, 1, 3, 224, 224));
        }
    }

    @Test
    void badConfigurationsAreRefused() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        assertThrows(IllegalArgumentException.class,
                () -> new RepLKNet.Config("x", new int[] {7, 8}, new int[] {1, 1}, new int[] {8, 16}, 3, 1, 4));
        assertThrows(IllegalArgumentException.class,
                () -> new RepLKNet.Config("x", new int[] {7}, new int[] {1, 1}, new int[] {8, 16}, 3, 1, 4));
        assertThrows(IllegalArgumentException.class, () -> new RepLKNet(
                new RepLKNet.Config("x", new int[] {3, 3}, new int[] {1, 1}, new int[] {8, 16}, 5, 1, 4), TEN));
        assertThrows(IllegalArgumentException.class, () -> ModelRegistry.create("replknet_31x"));
    }
}
