package dev.lumen.models.casvit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CasViTTest extends DeviceTest {

    /** The tiny configuration of tools/golden/gen_model_casvit.py: widths [8, 12, 16, 20], one block per stage. */
    static final CasViT.Config TINY = new CasViT.Config("tiny_rcvit", new int[] {1, 1, 1, 1}, new int[] {8, 12, 16, 20}, 4);

    /** The golden's cases: "rgb" (3 channels, published stem), "gray" (1 channel, small-input stem). */
    static ModelOptions tinyOptions(String c) {
        ModelOptions o = ModelOptions.defaults().withNumClasses(10);
        return c.equals("rgb") ? o : o.withInChannels(1).with("small_input_stem", true);
    }

    /** F.cross_entropy with mean reduction: -mean(log_softmax(logits)[i, label_i]). */
    static Tensor crossEntropy(Tensor logits, Tensor labels) {
        Tensor picked = Indexing.gather(Softmax.logSoftmax(logits, 1), 1, labels.reshape(-1, 1));
        return Reductions.mean(picked).neg();
    }

    /**
     * Parameters whose gradient is exactly zero in a training-mode step, so both PyTorch and
     * Lumen give round-off there: a bias right before a training-mode BatchNorm (which subtracts
     * the batch mean), and in the last stage every per-channel constant added to the residual
     * stream (the final norm, each block's norm1 and local-perception BN remove it) and the
     * last embedding's BN bias.
     */
    static boolean structurallyZeroGrad(String key) {
        if (key.equals("patch_embed.0.bias") || key.equals("patch_embed.3.bias")) return true;
        if (key.matches("network\\.[135]\\.proj\\.bias") || key.equals("network.5.norm.bias")) return true;
        if (key.matches(".*\\.local_perception\\.network\\.0\\.bias") || key.matches(".*\\.oper_[qk]\\.0\\.block\\.0\\.bias")) return true;
        return key.matches("network\\.6\\.\\d+\\.(local_perception\\.network\\.4|attn\\.proj|mlp\\.fc2)\\.bias");
    }

    static Map<String, Tensor> prefixed(Golden g, Map<String, Tensor> names, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String k : names.keySet()) if (g.has(prefix + k)) out.put(k, g.get(prefix + k));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"rgb", "gray"})
    void tinyMatchesPyTorchForwardLossAndEveryGradient(String c) {
        Golden g = Golden.load("model_casvit");
        String fam = "model_casvit";
        try (Scope s = Scope.open(); CasViT m = new CasViT(TINY, tinyOptions(c))) {
            Map<String, Tensor> own = m.stateDict();
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, prefixed(g, own, c + ".w."), true, false);
            assertTrue(r.isClean(), r.toString());
            m.to(device);
            m.train();
            Tensor x = g.get(c + ".x").to(device), labels = g.get(c + ".labels").to(device);
            CasViT.Heads heads = m.forwardHeads(x);
            Tensor loss = crossEntropy(heads.head(), labels).add(crossEntropy(heads.distHead(), labels)).mul(0.5);
            Golden.assertClose(fam, c + ".logits", heads.head(), g.get(c + ".logits"), 1e-4);
            Golden.assertClose(fam, c + ".dist_logits", heads.distHead(), g.get(c + ".dist_logits"), 1e-4);
            Golden.assertClose(fam, c + ".loss", loss, g.get(c + ".loss"), 1e-4);
            loss.backward();
            int checked = 0, zeros = 0;
            for (var e : m.namedParameters().entrySet()) {
                Tensor got = e.getValue().grad(), want = g.get(c + ".g." + e.getKey());
                assertNotNull(got, e.getKey() + " has no gradient");
                if (structurallyZeroGrad(e.getKey())) {
                    // round-off on both sides: compare absolutely (the other gradients are of order 0.01 to 1)
                    assertTrue(TrainStepCheck.maxAbs(want) < 1e-6, e.getKey() + ": PyTorch's gradient " + TrainStepCheck.maxAbs(want) + " is not round-off");
                    assertTrue(TrainStepCheck.maxAbs(got) < 1e-5, e.getKey() + ": gradient " + TrainStepCheck.maxAbs(got) + " should be round-off");
                    zeros++;
                } else {
                    Golden.assertClose(fam, c + ".grad." + e.getKey(), got, want, 1e-3);
                }
                checked++;
            }
            assertEquals(m.namedParameters().size(), checked);
            assertEquals(2 + 3 + 4 * 3 + 1 + 3, zeros, "structurally zero gradients");
            // running statistics (the fused gates' BatchNorms included) and batch counters after the training step
            Map<String, Tensor> after = m.stateDict();
            int stats = 0;
            for (var e : prefixed(g, after, c + ".w_after.").entrySet()) {
                Golden.assertClose(fam, c + ".after." + e.getKey(), after.get(e.getKey()).to(DType.F64), e.getValue().to(DType.F64), 1e-5);
                stats++;
            }
            assertEquals(26 * 3, stats, "running_mean, running_var and num_batches_tracked of the 26 BatchNorms");
            m.eval();
            Golden.assertClose(fam, c + ".eval_logits", m.forward(x), g.get(c + ".eval_logits"), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rgb", "gray"})
    void torchSavedWeightsLoadThroughTheUnpickler(String c) throws IOException, URISyntaxException {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load("model_casvit");
        Path pth = Path.of(getClass().getResource("/golden/model_casvit_" + c + ".pth").toURI());
        Map<String, Tensor> state = Checkpoints.load(pth);
        try (Scope s = Scope.open(); CasViT m = new CasViT(TINY, tinyOptions(c))) {
            assertEquals(m.stateDict().keySet(), state.keySet());
            for (var e : state.entrySet()) {
                assertArrayEquals(g.get(c + ".w." + e.getKey()).toDoubles(), e.getValue().toDoubles(), 0, e.getKey());
            }
            assertTrue(Checkpoints.loadInto(m, state, true, false).isClean());
            m.train();
            Golden.assertClose("model_casvit", c + ".pth_logits", m.forwardHeads(g.get(c + ".x")).head(), g.get(c + ".logits"), 1e-4);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    @Test
    void fusedMixerAgreesWithTheModulesOneByOne() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load("model_casvit");
        try (Scope s = Scope.open(); CasViT fused = new CasViT(TINY, tinyOptions("rgb"));
             CasViT plain = new CasViT(TINY, tinyOptions("rgb").with("fused_attention", false))) {
            Map<String, Tensor> w = prefixed(g, fused.stateDict(), "rgb.w.");
            fused.loadStateDict(w, true);
            plain.loadStateDict(w, true);
            Tensor x = g.get("rgb.x"), labels = g.get("rgb.labels");
            Tensor a = fused.forward(x), b = plain.forward(x);
            Golden.assertClose("model_casvit", "fused_vs_plain.train", a, b, 1e-4);
            crossEntropy(a, labels).backward();
            crossEntropy(b, labels).backward();
            Tensor ga = fused.stateDict().get("network.0.0.attn.oper_q.0.block.0.weight");
            Map<String, Tensor> pa = fused.namedParameters(), pb = plain.namedParameters();
            for (String k : pa.keySet()) {
                if (!structurallyZeroGrad(k)) Golden.assertClose("model_casvit", "fused_vs_plain.grad." + k, pa.get(k).grad(), pb.get(k).grad(), 1e-3);
            }
            assertNotNull(ga);
            for (var e : plain.stateDict().entrySet()) {
                if (e.getKey().contains("running")) {
                    Golden.assertClose("model_casvit", "fused_vs_plain." + e.getKey(), fused.stateDict().get(e.getKey()), e.getValue(), 1e-5);
                }
            }
            fused.eval();
            plain.eval();
            Golden.assertClose("model_casvit", "fused_vs_plain.eval", fused.forward(x), plain.forward(x), 1e-4);
        }
    }

    /** Exact counts of the PyTorch reference in gen_model_casvit.py (official architecture, distillation head included). */
    static final Map<String, Long> TORCH_COUNTS = Map.of(
            "rcvit_xs", 3_200_700L, "rcvit_s", 5_764_224L, "rcvit_m", 12_421_520L, "rcvit_t", 21_763_120L);

    @Test
    void parameterCountsMatchThePublishedOnes() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        CasViTFamily fam = new CasViTFamily();
        assertEquals(4, fam.variants().size());
        for (var v : fam.variants()) {
            try (ImageClassifier m = ModelRegistry.create(v.name())) {
                long n = m.numParameters();
                assertEquals(TORCH_COUNTS.get(v.name()), n, v.name());
                assertTrue(ModelRegistry.agreesWithPublished(n, v.publishedParams()), v.name() + ": " + n + " vs " + v.publishedParams());
            }
        }
        try (ImageClassifier m = ModelRegistry.create("rcvit_xs", ModelOptions.defaults().with("distillation", false))) {
            assertEquals(3_200_700L - 220 * 1000 - 1000, m.numParameters(), "without dist_head");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rcvit_xs", "rcvit_s", "rcvit_m", "rcvit_t"})
    void oneAdamWStepAt32x32(String name) {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        try (Scope s = Scope.open(); ImageClassifier m = ModelRegistry.create(name, ModelOptions.defaults().withImgSize(32))) {
            TrainStepCheck.oneAdamWStep(name, m, "network.0.0.attn.qkv.weight", CasViTTest::structurallyZeroGrad);
        }
    }

    @Test
    void smallGrayInputsDistillationSwitchAndClassifierReset() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open()) {
            ModelOptions gray = ModelOptions.defaults().withInChannels(1).withNumClasses(10).withImgSize(28);
            CasViT plain = new CasViT(TINY, gray);
            assertArrayEquals(new int[] {2, 20, 1, 1}, plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            CasViT small = new CasViT(TINY, gray.with("small_input_stem", true));
            assertTrue(small.smallInputStem());
            assertArrayEquals(new int[] {2, 20, 2, 2}, small.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 20, 2, 2}, small.forwardFeatures(Tensor.zeros(2, 1, 32, 32)).shape());
            assertEquals(plain.numParameters(), small.numParameters(), "the small stem keeps the weights' shapes");
            assertEquals(java.util.List.of("head", "dist_head"), small.headPrefixes());
            assertTrue(small.isHeadKey("dist_head.weight"));
            // the eval output is the mean of the two heads
            small.eval();
            Tensor x = Tensor.randn(new Generator(5), DType.F32, 2, 1, 28, 28);
            CasViT.Heads h = small.forwardHeads(x);
            Golden.assertClose("model_casvit", "mean_of_heads", small.forward(x), h.head().add(h.distHead()).mul(0.5), 1e-6);
            small.resetClassifier(3);
            assertEquals(3, small.numClasses());
            assertArrayEquals(new int[] {2, 3}, small.forward(x).shape());
            assertArrayEquals(new int[] {3, 20}, small.stateDict().get("dist_head.weight").shape());
            small.resetClassifier(0);
            assertArrayEquals(new int[] {2, 20}, small.forward(x).shape());
            assertThrows(IllegalStateException.class, () -> small.forwardHeads(x));
            assertArrayEquals(new int[] {2, 20}, plain.forwardHead(plain.forwardFeatures(x), true).shape());
            CasViT single = new CasViT(TINY, gray.with("distillation", false));
            assertFalse(single.stateDict().keySet().stream().anyMatch(k -> k.startsWith("dist_head")));
            assertEquals(java.util.List.of("head"), single.headPrefixes());
            assertThrows(IllegalStateException.class, () -> single.forwardHeads(x));
            assertArrayEquals(new int[] {2, 10}, single.forward(x).shape());
            plain.close();
            small.close();
            single.close();
        }
    }

    @Test
    void officialParameterNames() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (CasViT m = new CasViT(TINY, ModelOptions.defaults())) {
            var keys = m.stateDict().keySet();
            for (String k : new String[] {"patch_embed.0.weight", "patch_embed.1.running_var", "patch_embed.3.bias", "patch_embed.4.weight",
                    "network.0.0.local_perception.network.0.weight", "network.0.0.local_perception.network.1.running_mean",
                    "network.0.0.local_perception.network.2.weight", "network.0.0.local_perception.network.4.bias",
                    "network.0.0.norm1.weight", "network.0.0.attn.qkv.weight", "network.0.0.attn.oper_q.0.block.0.bias",
                    "network.0.0.attn.oper_q.0.block.1.num_batches_tracked", "network.0.0.attn.oper_k.0.block.3.weight",
                    "network.0.0.attn.oper_k.1.block.1.weight", "network.0.0.attn.dwc.bias", "network.0.0.attn.proj.weight",
                    "network.0.0.norm2.bias", "network.0.0.mlp.fc1.weight", "network.0.0.mlp.fc2.bias", "network.1.proj.weight",
                    "network.1.norm.running_var", "network.6.0.mlp.fc2.weight", "norm.weight", "head.weight", "dist_head.bias"}) {
                assertTrue(keys.contains(k), k + " missing");
            }
            assertFalse(keys.contains("network.0.0.attn.qkv.bias"), "qkv has no bias (attn_bias=False)");
            assertFalse(keys.contains("network.0.0.attn.oper_q.0.block.3.bias"));
            assertEquals(0.0, Reductions.sum(m.stateDict().get("head.bias").mul(m.stateDict().get("head.bias"))).item(), "head bias starts at 0");
        }
    }

    @Test
    void macsAt224MatchTheTorchCount() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        // conv + linear MACs of one 224x224 image (both heads), counted with forward hooks on the PyTorch reference
        Map<String, Long> torch = Map.of("rcvit_xs", 547_004_968L, "rcvit_s", 912_248_576L);
        for (var e : torch.entrySet()) {
            try (ImageClassifier m = ModelRegistry.create(e.getKey())) {
                assertEquals(e.getValue(), MacCounter.count(m, 1, 3, 224, 224), e.getKey());
            }
        }
    }
}
