package dev.lumen.models.vmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.MacCounter;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.models.TrainStepCheck;
import dev.lumen.ops.Indexing;
import dev.lumen.ops.Reductions;
import dev.lumen.ops.Softmax;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VMambaTest extends DeviceTest {
    private static final String FAMILY = "model_vmamba";

    /** The tiny configurations of tools/golden/gen_model_vmamba.py: dims 4, depths [1, 1, 1, 1]. */
    static VMamba.Config tiny(String c) {
        int[] depths = {1, 1, 1, 1};
        return switch (c) {
            case "s1" -> VMamba.Config.v2("tiny_s1", "-", 4, depths, 1, 1.0, 4.0);
            case "s4" -> VMamba.Config.v2("tiny_s4", "-", 4, depths, 4, 2.0, 4.0);
            case "v0" -> VMamba.Config.v0("tiny_v0", "-", 4, depths, 16, 2.0);
            default -> throw new IllegalArgumentException(c);
        };
    }

    /** F.cross_entropy with mean reduction. */
    static Tensor crossEntropy(Tensor logits, Tensor labels) {
        return Reductions.mean(Indexing.gather(Softmax.logSoftmax(logits, 1), 1, labels.reshape(-1, 1))).neg();
    }

    static Map<String, Tensor> prefixed(Golden g, Map<String, Tensor> names, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String k : names.keySet()) if (g.has(prefix + k)) out.put(k, g.get(prefix + k));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"s1", "s4", "v0"})
    void tinyMatchesPyTorchForwardLossAndEveryGradient(String c) {
        Golden g = Golden.load(FAMILY);
        try (Scope s = Scope.open(); VMamba m = new VMamba(tiny(c), ModelOptions.defaults().withNumClasses(10))) {
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, prefixed(g, m.stateDict(), c + ".w."), true, false);
            assertTrue(r.isClean(), r.toString());
            m.to(device);
            m.train();
            Tensor logits = m.forward(g.get(c + ".x").to(device));
            Tensor loss = crossEntropy(logits, g.get(c + ".labels").to(device));
            Golden.assertClose(FAMILY, c + ".logits", logits, g.get(c + ".logits"), 1e-4);
            Golden.assertClose(FAMILY, c + ".loss", loss, g.get(c + ".loss"), 1e-4);
            loss.backward();
            int checked = 0;
            for (var e : m.namedParameters().entrySet()) {
                assertNotNull(e.getValue().grad(), e.getKey() + " has no gradient");
                Golden.assertClose(FAMILY, c + ".grad." + e.getKey(), e.getValue().grad(), g.get(c + ".g." + e.getKey()), 1e-3);
                checked++;
            }
            assertEquals(prefixed(g, m.stateDict(), c + ".g.").size(), checked, "every golden gradient has a parameter");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"s1", "s4", "v0"})
    void torchSavedWeightsLoadThroughTheUnpickler(String c) throws IOException, URISyntaxException {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAMILY);
        Path pth = Path.of(getClass().getResource("/golden/model_vmamba_" + c + ".pth").toURI());
        Map<String, Tensor> state = Checkpoints.load(pth);
        try (Scope s = Scope.open(); VMamba m = new VMamba(tiny(c), ModelOptions.defaults().withNumClasses(10))) {
            assertEquals(m.stateDict().keySet(), state.keySet());
            for (var e : state.entrySet()) {
                assertArrayEquals(g.get(c + ".w." + e.getKey()).toDoubles(), e.getValue().toDoubles(), 0, e.getKey());
            }
            assertTrue(Checkpoints.loadInto(m, state, true, false).isClean());
            Golden.assertClose(FAMILY, c + ".pth_logits", m.forward(g.get(c + ".x")), g.get(c + ".logits"), 1e-4);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** Exact counts of the PyTorch reference in gen_model_vmamba.py (1000 classes). */
    static final Map<String, Long> TORCH_COUNTS = Map.of(
            "vmamba_tiny", 30_249_064L, "vmamba_small", 50_147_752L, "vmamba_base", 88_557_800L,
            "vmamba_tiny_v0", 22_893_448L, "vmamba_small_v0", 44_417_416L, "vmamba_base_v0", 76_254_056L);

    /** The v0 counts of the official analyze/show/flops/flops.log: the models without classifier norm and head. */
    static final Map<String, Long> OFFICIAL_V0_BACKBONE = Map.of(
            "vmamba_tiny_v0", 22_122_912L, "vmamba_small_v0", 43_646_880L, "vmamba_base_v0", 75_227_008L);

    /** The count equals the PyTorch reference's and rounds to the published one (v0: without the classifier). */
    static void assertPublishedCount(String name, ImageClassifier m) {
        String published = new VMambaFamily().variants().stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow().publishedParams();
        long n = m.numParameters();
        assertEquals(TORCH_COUNTS.get(name), n, name);
        long classifier = m.namedParameters().entrySet().stream().filter(e -> e.getKey().startsWith("classifier."))
                .mapToLong(e -> e.getValue().numel()).sum();
        long counted = name.endsWith("_v0") ? n - classifier : n;
        if (name.endsWith("_v0")) assertEquals(OFFICIAL_V0_BACKBONE.get(name), counted, name);
        assertTrue(ModelRegistry.agreesWithPublished(counted, published), name + ": " + counted + " vs " + published);
    }

    /**
     * At 32x32 with the published stride-4 stem the last stage is 1x1, where the scan takes a
     * single step from a zero state, so its A (A_logs) gets an exactly zero gradient; with
     * stem_stride 2 the stages see 16, 8, 4 and 2, and every parameter gets a gradient. The
     * parameter count (which the stem stride leaves alone) is checked on the same build, as
     * building the six variants (300M parameters) is a large part of this family's test time.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vmamba_tiny", "vmamba_small", "vmamba_base", "vmamba_tiny_v0", "vmamba_small_v0", "vmamba_base_v0"})
    void parameterCountAndOneAdamWStepAt32x32(String name) {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        ModelOptions o = ModelOptions.defaults().withImgSize(32).with("stem_stride", 2);
        try (Scope s = Scope.open(); ImageClassifier m = ModelRegistry.create(name, o)) {
            assertPublishedCount(name, m);
            TrainStepCheck.oneAdamWStep(name, m, "layers.0.blocks.0.op.x_proj_weight");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"s1", "v0"})
    void smallInputsStemStrideChannelsAndClassifierReset(String c) {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open()) {
            ModelOptions gray = ModelOptions.defaults().withInChannels(1).withNumClasses(10).withImgSize(28);
            VMamba plain = new VMamba(tiny(c), gray);
            assertArrayEquals(new int[] {2, 32, 1, 1}, plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            VMamba half = new VMamba(tiny(c), gray.with("stem_stride", 2));
            assertArrayEquals(new int[] {2, 32, 2, 2}, half.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            VMamba small = new VMamba(tiny(c), gray.with("small_input_stem", true));
            assertArrayEquals(new int[] {2, 32, 4, 4}, small.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 32, 4, 4}, small.forwardFeatures(Tensor.zeros(2, 1, 32, 32)).shape());
            assertEquals(plain.numParameters(), small.numParameters(), "the stem stride keeps the weights' shapes");
            assertArrayEquals(new int[] {2, 10}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            small.resetClassifier(3);
            assertEquals(3, small.numClasses());
            assertArrayEquals(new int[] {2, 3}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            small.resetClassifier(0);
            assertArrayEquals(new int[] {2, 32}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 32}, plain.forwardHead(plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)), true).shape());
            assertThrows(IllegalArgumentException.class, () -> new VMamba(tiny(c), gray.with("stem_stride", 3)));
            plain.close();
            half.close();
            small.close();
        }
    }

    @Test
    void firstReleaseKeyNamesAndConvShapedLinearsConvert() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAMILY);
        try (Scope s = Scope.open(); VMamba m = new VMamba(tiny("v0"), ModelOptions.defaults().withNumClasses(10))) {
            Map<String, Tensor> legacy = new LinkedHashMap<>();
            for (var e : prefixed(g, m.stateDict(), "v0.w.").entrySet()) {
                String k = e.getKey().replace("patch_embed.0.", "patch_embed.proj.").replace("patch_embed.2.", "patch_embed.norm.")
                        .replaceFirst("^(layers\\.\\d+\\.blocks\\.\\d+\\.)norm\\.", "$1ln_1.")
                        .replaceFirst("^(layers\\.\\d+\\.blocks\\.\\d+\\.)op\\.", "$1self_attention.").replace("classifier.", "");
                Tensor t = e.getValue();
                if (k.endsWith("in_proj.weight")) t = t.view(t.shape(0), t.shape(1), 1, 1);
                legacy.put(k, t);
            }
            assertTrue(legacy.containsKey("layers.0.blocks.0.ln_1.weight") && legacy.containsKey("layers.0.blocks.0.self_attention.Ds")
                    && legacy.containsKey("patch_embed.norm.bias") && legacy.containsKey("norm.weight") && legacy.containsKey("head.weight"), legacy.keySet().toString());
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, VMamba.convertOfficial(legacy), true, false);
            assertTrue(r.isClean(), r.toString());
            Golden.assertClose(FAMILY, "v0.legacy_logits", m.forward(g.get("v0.x")), g.get("v0.logits"), 1e-4);
        }
    }

    @Test
    void macsAt224MatchTheTorchCountAndThePublishedFlops() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        // count_macs in gen_model_vmamba.py: convs, linears, the SS2D projections and the scan's formula;
        // the README gives 4.9G for VMamba-T[s1l8] (fvcore, which also counts the norms)
        try (ImageClassifier m = ModelRegistry.create("vmamba_tiny")) {
            long macs = MacCounter.count(m, 1, 3, 224, 224);
            assertEquals(4_875_843_072L, macs);
            assertEquals(4.9, Math.round(macs / 1e8) / 10.0);
        }
    }

    @Test
    void registryBuildsEveryVariantAndRejectsUnknownOnes() {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        for (String n : new String[] {"vmamba_tiny", "vmamba_small", "vmamba_base", "vmamba_tiny_v0", "vmamba_small_v0", "vmamba_base_v0"}) {
            assertTrue(ModelRegistry.contains(n), n);
        }
        assertThrows(IllegalArgumentException.class, () -> new VMambaFamily().create("vmamba_huge", ModelOptions.defaults()));
        assertEquals(6, new VMambaFamily().variants().size());
        try (VMamba m = new VMamba(tiny("s1"), ModelOptions.defaults())) {
            assertEquals(32, m.numFeatures());
            assertEquals(224, m.defaultImgSize());
            assertEquals("classifier.head", m.headPrefix());
            assertTrue(m.isHeadKey("classifier.head.weight"));
        }
    }
}
