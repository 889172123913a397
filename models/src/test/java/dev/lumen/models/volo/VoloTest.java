package dev.lumen.models.volo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.CachingAllocator;
import dev.lumen.memory.Scope;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.ops.Losses;
import dev.lumen.ops.Reductions;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VoloTest extends DeviceTest {
    static final String FAM = "model_volo";

    /** The tiny configuration of tools/golden/gen_model_volo.py (input 40x40, 10 classes). */
    static Volo.Config tiny() {
        return new Volo.Config("volo_tiny", new int[] {2, 1, 1, 1}, new int[] {16, 32, 32, 32}, new int[] {2, 2, 2, 2},
                new double[] {3, 3, 3, 3}, 8, 8, 2);
    }

    static ModelOptions tinyOptions() { return ModelOptions.defaults().withNumClasses(10).withImgSize(40); }

    static Map<String, Tensor> prefixed(Golden g, Map<String, Tensor> names, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String k : names.keySet()) if (g.has(prefix + k)) out.put(k, g.get(prefix + k));
        return out;
    }

    /** The golden's token-labeling loss: CE(cls, labels) + 0.5 * CE(every token's logits, its token label). */
    static Tensor denseLoss(Volo.Dense d, Tensor labels, Tensor tokenLabels) {
        int k = d.cls().shape(1);
        return Losses.crossEntropy(d.cls(), labels).add(Losses.crossEntropy(d.aux().reshape(-1, k), tokenLabels.reshape(-1)).mul(0.5));
    }

    static Volo loadedTiny(Golden g) {
        Volo m = new Volo(tiny(), tinyOptions());
        Checkpoints.LoadReport r = Checkpoints.loadInto(m, prefixed(g, m.stateDict(), "w."), true, false);
        assertTrue(r.isClean(), r.toString());
        return m;
    }

    @Test
    void tinyMatchesPyTorchLogitsLossEveryGradientAndEvalOutput() {
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); Volo m = loadedTiny(g)) {
            m.to(device);
            m.train();
            Volo.Dense d = m.forwardDense(g.get("x").to(device));
            Tensor loss = denseLoss(d, g.get("labels").to(device), g.get("token_labels").to(device));
            Golden.assertClose(FAM, "logits", d.cls(), g.get("logits"), 1e-4);
            Golden.assertClose(FAM, "aux", d.aux(), g.get("aux"), 1e-4);
            Golden.assertClose(FAM, "loss", loss, g.get("loss"), 1e-4);
            loss.backward();
            int checked = 0;
            for (var e : m.namedParameters().entrySet()) {
                assertNotNull(e.getValue().grad(), e.getKey() + " has no gradient");
                Golden.assertClose(FAM, "grad." + e.getKey(), e.getValue().grad(), g.get("g." + e.getKey()), 1e-3);
                checked++;
            }
            assertEquals(prefixed(g, m.namedParameters(), "g.").size(), checked, "the golden has a gradient for every parameter");
            Map<String, Tensor> after = m.stateDict();
            for (var e : prefixed(g, after, "w_after.").entrySet()) {
                Golden.assertClose(FAM, "after." + e.getKey(), after.get(e.getKey()).to(DType.F64), e.getValue().to(DType.F64), 1e-5);
            }
            // eval: x_cls + 0.5 * max over tokens of x_aux, with the updated running statistics
            m.eval();
            Golden.assertClose(FAM, "eval_logits", m.forward(g.get("x").to(device)), g.get("eval_logits"), 1e-4);
        }
    }

    @Test
    void mixTokenWithAFixedBoxMatchesPyTorch() {
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); Volo m = loadedTiny(g)) {
            m.to(device);
            m.train();
            Volo.Dense d = m.forwardDense(g.get("x").to(device), new TokenMix.Box(1, 0, 2, 2));
            Tensor loss = denseLoss(d, g.get("labels").to(device), g.get("token_labels").to(device));
            Golden.assertClose(FAM, "mix.logits", d.cls(), g.get("mix.logits"), 1e-4);
            Golden.assertClose(FAM, "mix.aux", d.aux(), g.get("mix.aux"), 1e-4);
            Golden.assertClose(FAM, "mix.loss", loss, g.get("mix.loss"), 1e-4);
            loss.backward();
            for (var e : m.namedParameters().entrySet()) {
                Golden.assertClose(FAM, "mix.grad." + e.getKey(), e.getValue().grad(), g.get("mix.g." + e.getKey()), 1e-3);
            }
        }
    }

    @Test
    void torchSavedWeightsLoadThroughTheUnpickler() throws IOException, URISyntaxException {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        Path pth = Path.of(getClass().getResource("/golden/model_volo.pth").toURI());
        Map<String, Tensor> state = Checkpoints.load(pth);
        try (Scope s = Scope.open(); Volo m = new Volo(tiny(), tinyOptions())) {
            assertEquals(m.stateDict().keySet(), state.keySet());
            for (var e : state.entrySet()) assertArrayEquals(g.get("w." + e.getKey()).toDoubles(), e.getValue().toDoubles(), 0, e.getKey());
            assertTrue(Checkpoints.loadInto(m, state, true, false).isClean());
            m.train();
            Golden.assertClose(FAM, "pth_logits", m.forwardDense(g.get("x")).cls(), g.get("logits"), 1e-4);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** Exact counts of the PyTorch reference in gen_model_volo.py at 224 (equal to timm's volo_dN_224). */
    static final Map<String, Long> TORCH_COUNTS = Map.of(
            "volo_d1", 26_632_040L, "volo_d2", 58_678_336L, "volo_d3", 86_325_072L, "volo_d4", 192_961_520L, "volo_d5", 295_455_584L);

    /**
     * Each published variant is built once, at its default 224 (so its parameter count is the
     * published one), and trained for one AdamW step on 32x32 images, batch 2: the 14x14
     * pos_embed is resized to the 2x2 token grid on the way, and the gradient flows back
     * through the resize. Memory: D5 needs ~4.7 GB off-heap (weights, gradients, AdamW moments).
     */
    @ParameterizedTest
    @ValueSource(strings = {"volo_d1", "volo_d2", "volo_d3", "volo_d4", "volo_d5"})
    void publishedParameterCountAndOneAdamWStepAt32x32(String name) {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        long t0 = System.nanoTime();
        try (Scope s = Scope.open(); ImageClassifier m = ModelRegistry.create(name)) {
            long n = m.numParameters();
            assertEquals(TORCH_COUNTS.get(name), n, name);
            String published = ModelRegistry.entry(name).variant().publishedParams();
            assertTrue(ModelRegistry.agreesWithPublished(n, published), name + ": " + n + " vs " + published);
            if (name.equals("volo_d5")) {
                // the paper's 296M for D5 is the 512x512 model: a 32x32 pos_embed instead of 14x14
                assertTrue(ModelRegistry.agreesWithPublished(n + (32 * 32 - 14 * 14) * 768L, "296M"));
            }
            Generator gen = new Generator(3);
            Tensor x = Tensor.randn(gen, DType.F32, 2, 3, 32, 32);
            Tensor labels = Tensor.fromLongs(new long[] {1, 999}, 2);
            AdamW opt = new AdamW(m.trainableParameters(), 1e-3, 0.05);
            m.train();
            Tensor logits = m.forward(x);
            assertArrayEquals(new int[] {2, 1000}, logits.shape());
            Tensor loss = Losses.crossEntropy(logits, labels);
            assertTrue(Double.isFinite(loss.item()), name + ": loss " + loss.item());
            // inner scopes free the backward's and the checks' temporaries at once (a D5 gradient set is 1.2 GB)
            try (Scope b = Scope.open()) {
                loss.backward();
            }
            for (var e : m.namedParameters().entrySet()) {
                Tensor gr = e.getValue().grad();
                assertNotNull(gr, name + ": " + e.getKey() + " has no gradient");
                try (Scope c = Scope.open()) {
                    assertTrue(Reductions.sum(gr.mul(gr)).item() > 0, name + ": " + e.getKey() + " has a zero gradient");
                }
            }
            Tensor w = m.namedParameters().get("network.0.0.attn.attn.weight");
            float before = w.toFloats()[0];
            opt.step();
            assertTrue(w.toFloats()[0] != before, name + ": AdamW did not move the weights");
        }
        System.out.printf("%s: count and AdamW step in %.1f s, allocator peak %d MB%n", name, (System.nanoTime() - t0) / 1e9,
                CachingAllocator.host().peakLiveBytes() >> 20);
    }

    /** The big variants leave gigabytes in the allocator's cache; hand them back between tests. */
    @AfterEach
    void releaseCachedMemory() { CachingAllocator.host().releaseCached(); }

    @Test
    void smallInputsStemOptionsChannelsAndClassifierReset() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open()) {
            ModelOptions gray = ModelOptions.defaults().withInChannels(1).withNumClasses(10).withImgSize(28);
            Volo plain = new Volo(tiny(), gray);
            assertArrayEquals(new int[] {1, 1}, plain.tokenGrid());
            assertArrayEquals(new int[] {2, 2, 32}, plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            Volo small = new Volo(tiny(), gray.with("small_input_stem", true));
            assertArrayEquals(new int[] {3, 3}, small.tokenGrid());
            assertArrayEquals(new int[] {2, 10, 32}, small.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            assertEquals(plain.numParameters() + (9 - 1) * 32, small.numParameters(), "only pos_embed grows");
            assertArrayEquals(new int[] {2, 10}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            // another input size than configured: pos_embed is resized on the fly
            assertArrayEquals(new int[] {2, 17, 32}, small.forwardFeatures(Tensor.zeros(2, 1, 32, 32)).shape());
            Volo patch4 = new Volo(tiny(), gray.withImgSize(32).with("patch_size", 4));
            assertArrayEquals(new int[] {4, 4}, patch4.tokenGrid());
            assertArrayEquals(new int[] {16, 8, 2, 2}, patch4.stateDict().get("patch_embed.proj.weight").shape());
            small.resetClassifier(3);
            assertEquals(3, small.numClasses());
            assertArrayEquals(new int[] {3, 32}, small.stateDict().get("aux_head.weight").shape());
            assertArrayEquals(new int[] {2, 3}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            small.resetClassifier(0);
            assertArrayEquals(new int[] {2, 32}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 32}, plain.forwardHead(plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)), true).shape());
            for (Volo m : new Volo[] {plain, small, patch4}) m.close();
            IllegalArgumentException tooSmall = assertThrows(IllegalArgumentException.class, () -> new Volo(tiny(), gray.withImgSize(12)));
            assertTrue(tooSmall.getMessage().contains("small_input_stem"), tooSmall.getMessage());
        }
    }

    @Test
    void returnDenseOffDropsTheAuxHeadAndForwardIsTheClassHead() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); Volo dense = loadedTiny(g); Volo plain = new Volo(tiny(), tinyOptions().with("return_dense", false))) {
            assertFalse(plain.stateDict().containsKey("aux_head.weight"));
            assertEquals(dense.numParameters() - 32 * 10 - 10, plain.numParameters());
            Checkpoints.LoadReport r = Checkpoints.loadInto(plain, prefixed(g, dense.stateDict(), "w."), false, false);
            assertEquals(java.util.List.of("aux_head.weight", "aux_head.bias"), r.unexpectedKeys());
            dense.eval();
            plain.eval();
            Tensor x = g.get("x");
            Golden.assertClose(FAM, "cls_only", plain.forward(x), dense.forwardDense(x).cls(), 1e-6);
            assertThrows(IllegalStateException.class, () -> plain.forwardDense(x));
            assertEquals(java.util.List.of("head", "aux_head"), dense.headPrefixes());
        }
    }

    @Test
    void mixTokenSamplesTheOfficialBoxOnlyWhenTraining() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        // lam = 1 leaves no box; lam = 0 covers the grid around the center
        Generator gen = new Generator(11);
        assertTrue(TokenMix.randomBox(gen, 1.0, 7, 7).isEmpty());
        TokenMix.Box full = TokenMix.randomBox(gen, 0.0, 8, 8);
        assertTrue(full.x2() - full.x1() <= 8 && full.y2() - full.y1() <= 8 && full.x1() >= 0 && full.y2() <= 8);
        for (int i = 0; i < 200; i++) {
            TokenMix.Box b = TokenMix.randomBox(gen, 0.75, 14, 14);
            // cut side int(14 * sqrt(0.25)) = 7, clipped: half-sides 3 around the center
            assertTrue(b.x2() - b.x1() <= 6 && b.y2() - b.y1() <= 6, b.toString());
        }
        try (Scope s = Scope.open(); Volo m = new Volo(tiny(), tinyOptions().with("mix_token", true), new Generator(5))) {
            Tensor x = Tensor.randn(new Generator(1), DType.F32, 2, 3, 40, 40);
            m.eval();
            assertEquals(null, m.forwardDense(x).box());
            m.train();
            Volo.Dense d = m.forwardDense(x);
            assertNotNull(d.box());
            assertArrayEquals(new int[] {2, 4, 10}, d.aux().shape());
            // mixing the batch with itself in reverse twice is the identity: a box on a batch of one changes nothing
            Tensor one = x.narrow(0, 0, 1);
            m.eval();
            Tensor base = m.forwardDense(one, null).aux();
            Golden.assertClose(FAM, "mix_single", m.forwardDense(one, new TokenMix.Box(0, 0, 2, 2)).aux(), base, 1e-6);
        }
        assertThrows(IllegalArgumentException.class, () -> new Volo(tiny(), tinyOptions().with("mix_token", true).with("return_dense", false)));
    }
}
