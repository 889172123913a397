package dev.lumen.models.vit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.CachingAllocator;
import dev.lumen.memory.Scope;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.MacCounter;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.ops.Losses;
import dev.lumen.ops.Reductions;
import dev.lumen.io.Safetensors;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VisionTransformerTest extends DeviceTest {
    private static final String FAM = "model_vit";

    /**
     * The host allocator keeps every freed block for reuse and never trims; after a 300M or
     * 632M model those blocks (GBs, in sizes the next variant does not use) would stay with the
     * process, so each test gives them back.
     */
    @AfterEach
    void releaseCachedMemory() { CachingAllocator.host().releaseCached(); }

    /** The tiny configurations of tools/golden/gen_model_vit.py. */
    static VisionTransformer tiny(String c, ModelOptions base) {
        return c.equals("vit")
                ? new VisionTransformer(new VisionTransformer.Config("tiny_vit", 4, 32, 2, 4, 4, true, 0, 16), base.withNumClasses(10))
                : new VisionTransformer(new VisionTransformer.Config("tiny_vit_rep", 4, 24, 3, 3, 4, true, 16, 18), base.withNumClasses(7));
    }

    static VisionTransformer tiny(String c) { return tiny(c, ModelOptions.defaults()); }

    /** The "<c>.w.*" tensors of the golden, all of them (so a name the model lacks would show). */
    static Map<String, Tensor> weights(Golden g, String c) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        String prefix = c + ".w.";
        for (String k : GOLDEN_KEYS) if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), g.get(k));
        return out;
    }

    private static final List<String> GOLDEN_KEYS = goldenKeys();

    private static List<String> goldenKeys() {
        try {
            Map<String, Tensor> all = Safetensors.read(resource("model_vit.safetensors")).tensors();
            List<String> keys = List.copyOf(all.keySet());
            all.values().forEach(Tensor::close);
            return keys;
        } catch (IOException | URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path resource(String name) throws URISyntaxException {
        return Path.of(VisionTransformerTest.class.getResource("/golden/" + name).toURI());
    }

    @ParameterizedTest
    @ValueSource(strings = {"vit", "vit_rep"})
    void tinyMatchesPyTorchForwardLossAndEveryGradient(String c) {
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); VisionTransformer m = tiny(c)) {
            Map<String, Tensor> w = weights(g, c);
            assertEquals(m.stateDict().keySet(), w.keySet(), "timm's parameter names, in state_dict order");
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, w, true, false);
            assertTrue(r.isClean(), r.toString());
            m.to(device);
            m.train();
            Tensor logits = m.forward(g.get(c + ".x").to(device));
            Tensor loss = Losses.crossEntropy(logits, g.get(c + ".labels").to(device));
            Golden.assertClose(FAM, c + ".logits", logits, g.get(c + ".logits"), 1e-4);
            Golden.assertClose(FAM, c + ".loss", loss, g.get(c + ".loss"), 1e-4);
            loss.backward();
            int checked = 0;
            for (var e : m.namedParameters().entrySet()) {
                assertNotNull(e.getValue().grad(), e.getKey() + " has no gradient");
                Golden.assertClose(FAM, c + ".grad." + e.getKey(), e.getValue().grad(), g.get(c + ".g." + e.getKey()), 1e-3);
                checked++;
            }
            assertEquals(w.size(), checked);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"vit", "vit_rep"})
    void torchSavedWeightsLoadThroughTheUnpickler(String c) throws IOException, URISyntaxException {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open(); VisionTransformer m = tiny(c)) {
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, resource("model_" + c + ".pth"), true, false);
            assertTrue(r.isClean(), r.toString());
            for (var e : m.stateDict().entrySet()) {
                assertArrayEquals(g.get(c + ".w." + e.getKey()).toFloats(), e.getValue().toFloats(), 0f, e.getKey());
            }
            m.train();
            Golden.assertClose(FAM, c + ".pth_logits", m.forward(g.get(c + ".x")), g.get(c + ".logits"), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pe_down_aa:2x2:true", "pe_up_aa:7x7:true", "pe_down:2x2:false", "pe_up:7x7:false",
            "pe14_2x2_aa:2x2:true", "pe14_3x5_aa:3x5:true", "pe14_3x5:3x5:false", "pe14_24x24_aa:24x24:true"})
    void positionEmbeddingResamplingMatchesTimm(String spec) {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        String[] p = spec.split(":");
        String[] hw = p[1].split("x");
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open()) {
            Tensor in = g.get(p[0] + ".in");
            int side = PositionEmbeddings.squareSide(in.shape(1) - 1, "test");
            Tensor out = PositionEmbeddings.resample(in, Integer.parseInt(hw[0]), Integer.parseInt(hw[1]), side, side, 1,
                    Boolean.parseBoolean(p[2]));
            Golden.assertClose(FAM, p[0], out, g.get(p[0] + ".out"), 1e-5);
            // the class token passes through untouched
            assertArrayEquals(in.narrow(1, 0, 1).toFloats(), out.narrow(1, 0, 1).toFloats(), 0f);
        }
    }

    @Test
    void resamplingTheSameGridIsTheIdentityAndBadShapesAreRefused() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open()) {
            Tensor pe = Tensor.randn(new Generator(1), DType.F32, 1, 17, 8);
            assertSame(pe, PositionEmbeddings.resample(pe, 4, 4, 4, 4, 1, true));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PositionEmbeddings.resample(pe, 2, 2, 3, 3, 1, true));
            assertTrue(e.getMessage().contains("3x3"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> PositionEmbeddings.squareSide(15, "pos_embed"));
        }
    }

    /** The 16x16 "vit" weights loaded into models built for 28x28 (7x7 grid) and 8x8 (2x2): pos_embed resampled as timm. */
    @ParameterizedTest
    @ValueSource(ints = {28, 8})
    void weightsForAnotherGridAreResampledWhenLoaded(int img) throws IOException, URISyntaxException {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        String c = "vit" + img;
        try (Scope s = Scope.open(); VisionTransformer m = tiny("vit", ModelOptions.defaults().withImgSize(img))) {
            assertArrayEquals(new int[] {img / 4, img / 4}, m.gridSize());
            Map<String, Tensor> w = weights(g, "vit");
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, w, true, false);
            assertTrue(r.isClean(), r.toString());
            assertArrayEquals(new int[] {1, 17, 32}, w.get("pos_embed").shape(), "the caller's state is left as it was");
            Golden.assertClose(FAM, c + ".pos_embed", m.posEmbed(), g.get(c + ".pos_embed"), 1e-5);
            m.eval();
            Golden.assertClose(FAM, c + ".logits", m.forward(g.get(c + ".x")), g.get(c + ".logits"), 1e-4);
        }
        // the same through a torch.save file
        try (Scope s = Scope.open(); VisionTransformer m = tiny("vit", ModelOptions.defaults().withImgSize(img))) {
            assertTrue(Checkpoints.loadInto(m, resource("model_vit.pth"), true, false).isClean());
            Golden.assertClose(FAM, c + ".pth_pos_embed", m.posEmbed(), g.get(c + ".pos_embed"), 1e-5);
        }
    }

    @Test
    void preLogitsOfAnOriginal21kCheckpointAreDroppedForAModelWithoutThem() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load(FAM);
        try (Scope s = Scope.open();
             VisionTransformer plain = tiny("vit_rep", ModelOptions.defaults().with("representation_size", 0));
             VisionTransformer rep = tiny("vit_rep")) {
            Map<String, Tensor> w = weights(g, "vit_rep");
            assertTrue(w.containsKey("pre_logits.fc.weight"));
            assertFalse(plain.adaptStateDict(w).containsKey("pre_logits.fc.weight"));
            assertTrue(rep.adaptStateDict(w).containsKey("pre_logits.fc.weight"));
            // the head reads 16 pre-logits features in the checkpoint, 24 tokens' width here: it is left out
            Checkpoints.LoadReport r = Checkpoints.loadInto(plain, w, false, true);
            assertTrue(r.missingKeys().isEmpty() && r.unexpectedKeys().isEmpty(), r.toString());
            assertEquals(List.of("head.weight", "head.bias"), r.droppedHead());
            assertEquals(24, plain.numFeatures());
            assertEquals(16, rep.numFeatures());
        }
    }

    /** Exact counts of the PyTorch reference in gen_model_vit.py (timm's architectures, 1000 classes, 224x224). */
    static final Map<String, Long> TORCH_COUNTS = Map.of(
            "vit_tiny_patch16_224", 5_717_416L, "vit_small_patch16_224", 22_050_664L, "vit_base_patch16_224", 86_567_656L,
            "vit_large_patch16_224", 304_326_632L, "vit_base_patch32_224", 88_224_232L, "vit_large_patch32_224", 306_535_400L,
            "vit_huge_patch14_224", 632_045_800L);

    /**
     * Every variant's count from its Config against PyTorch's and the published one; the
     * variants up to ViT-B are also built at 224x224 and counted. The large and huge ones are
     * built (at 32x32, where only pos_embed is smaller) by {@link #oneAdamWStepAt32x32}, which
     * checks the built count against the same formula.
     */
    @Test
    void parameterCountsMatchThePublishedOnes() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        VitFamily fam = new VitFamily();
        assertEquals(7, fam.variants().size());
        for (var v : fam.variants()) {
            VisionTransformer.Config c = ((VisionTransformer.Config) VisionTransformer.Config.presets().stream()
                    .filter(p -> p.name().equals(v.name())).findFirst().orElseThrow());
            int grid = 224 / c.patchSize();
            long n = c.countParameters(1000, 3, grid, grid);
            assertEquals(TORCH_COUNTS.get(v.name()), n, v.name());
            assertTrue(ModelRegistry.agreesWithPublished(n, v.publishedParams()), v.name() + ": " + n + " vs " + v.publishedParams());
            if (c.embedDim() <= 768) {
                try (ImageClassifier m = ModelRegistry.create(v.name())) {
                    assertEquals(n, m.numParameters(), v.name() + " built");
                }
            }
        }
    }

    /**
     * One training step at 32x32 (a 2x2 grid; 32 / 14 floors to 2 for the huge one), batch 2.
     * AdamW runs over chunks of the parameters, each chunk's moments freed once it is updated:
     * AdamW updates every parameter on its own, so this is the same step as one optimizer over
     * all of them, and it keeps vit_huge (632M parameters) at parameters + gradients (5 GB)
     * instead of four times the parameters.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224", "vit_large_patch16_224",
            "vit_base_patch32_224", "vit_large_patch32_224", "vit_huge_patch14_224"})
    void oneAdamWStepAt32x32(String name) {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        try (Scope s = Scope.open(); ImageClassifier m = ModelRegistry.create(name, ModelOptions.defaults().withImgSize(32))) {
            VisionTransformer vit = (VisionTransformer) m;
            int grid = 32 / vit.patchSize();
            assertArrayEquals(new int[] {grid, grid}, vit.gridSize());
            assertEquals(vit.config().countParameters(1000, 3, grid, grid), m.numParameters(), name);
            Generator gen = new Generator(3);
            Tensor x = Tensor.randn(gen, DType.F32, 2, 3, 32, 32);
            Tensor labels = Tensor.fromLongs(new long[] {1, 999}, 2);
            m.train();
            Tensor logits = m.forward(x);
            assertArrayEquals(new int[] {2, 1000}, logits.shape());
            Tensor loss = Losses.crossEntropy(logits, labels);
            assertTrue(Double.isFinite(loss.item()), name + ": loss " + loss.item());
            loss.backward();
            for (var e : m.namedParameters().entrySet()) {
                Tensor gr = e.getValue().grad();
                assertNotNull(gr, name + ": " + e.getKey() + " has no gradient");
                try (Scope each = Scope.open()) {
                    assertTrue(Reductions.sum(gr.mul(gr)).item() > 0, name + ": " + e.getKey() + " has a zero gradient");
                }
            }
            Tensor w = m.stateDict().get("blocks.0.attn.qkv.weight");
            float before = w.toFloats()[0];
            adamWStepInChunks(m.trainableParameters(), 32_000_000);
            assertTrue(w.toFloats()[0] != before, name + ": AdamW did not move the weights");
        }
    }

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

    @Test
    void tinyImagesWithAPatchOverrideChannelsAndClassifierReset() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open()) {
            ModelOptions gray = ModelOptions.defaults().withInChannels(1).withNumClasses(10).withImgSize(28);
            VisionTransformer p7 = (VisionTransformer) ModelRegistry.create("vit_tiny_patch16_224", gray.with("patch_size", 7));
            assertArrayEquals(new int[] {4, 4}, p7.gridSize());
            assertArrayEquals(new int[] {2, 17, 192}, p7.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {192, 1, 7, 7}, p7.stateDict().get("patch_embed.proj.weight").shape());
            VisionTransformer p16 = (VisionTransformer) ModelRegistry.create("vit_tiny_patch16_224", gray);
            assertArrayEquals(new int[] {1, 1}, p16.gridSize(), "28 / 16 floors to one patch, as a strided conv");
            assertArrayEquals(new int[] {2, 10}, p16.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p7.forward(Tensor.zeros(2, 1, 36, 36)));
            assertTrue(e.getMessage().contains("4x4 grid"), e.getMessage());
            assertArrayEquals(new int[] {2, 192}, p7.forwardHead(p7.forwardFeatures(Tensor.zeros(2, 1, 28, 28)), true).shape());
            p7.resetClassifier(3);
            assertEquals(3, p7.numClasses());
            assertArrayEquals(new int[] {2, 3}, p7.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            p7.resetClassifier(0);
            assertFalse(p7.stateDict().containsKey("head.weight"));
            assertArrayEquals(new int[] {2, 192}, p7.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            p7.close();
            p16.close();
        }
    }

    @Test
    void dropPathRisesLinearlyAndInitIsTimms() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open(); VisionTransformer m = tiny("vit", ModelOptions.defaults().withDropPathRate(0.3))) {
            assertArrayEquals(new double[] {0, 0.3}, m.dropPathRates(), 1e-12);
            Map<String, Tensor> sd = m.stateDict();
            for (String k : List.of("pos_embed", "cls_token", "blocks.0.attn.qkv.weight", "blocks.1.mlp.fc2.weight", "head.weight")) {
                double[] v = sd.get(k).toDoubles();
                double sq = 0, max = 0;
                for (double d : v) {
                    sq += d * d;
                    max = Math.max(max, Math.abs(d));
                }
                double std = Math.sqrt(sq / v.length);
                assertTrue(std > 0.012 && std < 0.028 && max <= 2, k + ": std " + std + ", max " + max);
            }
            for (String k : List.of("blocks.0.attn.qkv.bias", "blocks.1.mlp.fc1.bias", "head.bias", "norm.bias", "blocks.0.norm1.bias")) {
                assertEquals(0.0, Reductions.sum(sd.get(k).mul(sd.get(k))).item(), k);
            }
            assertEquals(32.0, Reductions.sum(sd.get("blocks.1.norm2.weight")).item(), 0, "LayerNorm weights start at one");
        }
        try (VisionTransformer deep = new VisionTransformer(new VisionTransformer.Config("d5", 4, 8, 5, 2, 4, true, 0, 8),
                ModelOptions.defaults().withDropPathRate(0.2))) {
            assertArrayEquals(new double[] {0, 0.05, 0.1, 0.15, 0.2}, deep.dropPathRates(), 1e-12);
        }
    }

    @Test
    void macsAt224CountConvLinearAndAttentionProducts() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (ImageClassifier m = ModelRegistry.create("vit_tiny_patch16_224")) {
            long d = 192, h = 768, n = 197, heads = 3, hd = 64;
            long block = n * d * 3 * d + 2 * heads * n * n * hd + n * d * d + 2 * n * d * h;
            long expected = 196 * d * 3 * 16 * 16 + 12 * block + d * 1000;
            assertEquals(expected, MacCounter.count(m, 1, 3, 224, 224));
        }
    }
}
