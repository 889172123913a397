package dev.lumen.models.resnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.autograd.GradMode;
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
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ResNetTest extends DeviceTest {

    /** The tiny configurations of tools/golden/gen_model_resnet.py: stem 8, base planes 4, layers [1, 2, 1, 1]. */
    static ResNet.Config tiny(String name) {
        return name.equals("resnet")
                ? new ResNet.Config("tiny_resnet", new int[] {1, 2, 1, 1}, ResNet.Block.BOTTLENECK, 8, 4, 64, 1)
                : new ResNet.Config("tiny_res2net", new int[] {1, 2, 1, 1}, ResNet.Block.BOTTLE2NECK, 8, 4, 26, 4);
    }

    /** F.cross_entropy with mean reduction: -mean(log_softmax(logits)[i, label_i]). */
    static Tensor crossEntropy(Tensor logits, Tensor labels) {
        Tensor picked = Indexing.gather(Softmax.logSoftmax(logits, 1), 1, labels.reshape(-1, 1));
        return Reductions.mean(picked).neg();
    }

    static Map<String, Tensor> prefixed(Golden g, Map<String, Tensor> names, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String k : names.keySet()) if (g.has(prefix + k)) out.put(k, g.get(prefix + k));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet", "res2net"})
    void tinyMatchesPyTorchForwardLossAndEveryGradient(String c) {
        Golden g = Golden.load("model_resnet");
        String fam = "model_resnet";
        try (Scope s = Scope.open(); ResNet m = new ResNet(tiny(c), ModelOptions.defaults().withNumClasses(10))) {
            Map<String, Tensor> own = m.stateDict();
            Checkpoints.LoadReport r = Checkpoints.loadInto(m, prefixed(g, own, c + ".w."), true, false);
            assertTrue(r.isClean(), r.toString());
            m.to(device);
            m.train();
            Tensor logits = m.forward(g.get(c + ".x").to(device));
            Tensor loss = crossEntropy(logits, g.get(c + ".labels").to(device));
            Golden.assertClose(fam, c + ".logits", logits, g.get(c + ".logits"), 1e-4);
            Golden.assertClose(fam, c + ".loss", loss, g.get(c + ".loss"), 1e-4);
            loss.backward();
            int checked = 0;
            for (var e : m.namedParameters().entrySet()) {
                assertNotNull(e.getValue().grad(), e.getKey() + " has no gradient");
                Golden.assertClose(fam, c + ".grad." + e.getKey(), e.getValue().grad(), g.get(c + ".g." + e.getKey()), 1e-3);
                checked++;
            }
            assertEquals(m.namedParameters().size(), checked);
            // running statistics after the training-mode forward, then eval-mode logits with them
            Map<String, Tensor> after = m.stateDict();
            for (var e : prefixed(g, after, c + ".w_after.").entrySet()) {
                Golden.assertClose(fam, c + ".after." + e.getKey(), after.get(e.getKey()).to(DType.F64), e.getValue().to(DType.F64), 1e-5);
            }
            m.eval();
            Golden.assertClose(fam, c + ".eval_logits", m.forward(g.get(c + ".x").to(device)), g.get(c + ".eval_logits"), 1e-4);
            // Without grad (inference) every Conv + BN (+ ReLU) runs as one folded convolution where the backend has one (CPU, oneDNN).
            try (GradMode ng = GradMode.noGrad()) {
                Golden.assertClose(fam, c + ".eval_logits without grad", m.forward(g.get(c + ".x").to(device)), g.get(c + ".eval_logits"), 1e-4);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet", "res2net"})
    void torchSavedWeightsLoadThroughTheUnpickler(String c) throws IOException, URISyntaxException {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        Golden g = Golden.load("model_resnet");
        Path pth = Path.of(getClass().getResource("/golden/model_" + c + ".pth").toURI());
        Map<String, Tensor> state = Checkpoints.load(pth);
        try (Scope s = Scope.open(); ResNet m = new ResNet(tiny(c), ModelOptions.defaults().withNumClasses(10))) {
            assertEquals(m.stateDict().keySet(), state.keySet());
            for (var e : state.entrySet()) {
                Tensor want = g.get(c + ".w." + e.getKey());
                assertArrayEquals(want.toDoubles(), e.getValue().toDoubles(), 0, e.getKey());
            }
            assertTrue(Checkpoints.loadInto(m, state, true, false).isClean());
            m.train();
            Golden.assertClose("model_resnet", c + ".pth_logits", m.forward(g.get(c + ".x")), g.get(c + ".logits"), 1e-4);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** Exact counts of the PyTorch reference in gen_model_resnet.py (timm's architectures). */
    static final Map<String, Long> TORCH_COUNTS = Map.of(
            "res2net50_26w_4s", 25_699_120L, "res2net50_48w_2s", 25_287_304L, "res2net50_14w_8s", 25_059_816L,
            "res2net50_26w_6s", 37_051_448L, "res2net50_26w_8s", 48_403_776L, "res2net101_26w_4s", 45_206_688L,
            "resnet50", 25_557_032L);

    @Test
    void parameterCountsMatchThePublishedOnes() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        ResNetFamily fam = new ResNetFamily();
        assertEquals(7, fam.variants().size());
        for (var v : fam.variants()) {
            try (ImageClassifier m = ModelRegistry.create(v.name())) {
                long n = m.numParameters();
                assertEquals(TORCH_COUNTS.get(v.name()), n, v.name());
                assertTrue(ModelRegistry.agreesWithPublished(n, v.publishedParams()), v.name() + ": " + n + " vs " + v.publishedParams());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"res2net50_26w_4s", "res2net50_48w_2s", "res2net50_14w_8s", "res2net50_26w_6s", "res2net50_26w_8s",
            "res2net101_26w_4s", "resnet50"})
    void oneAdamWStepAt32x32(String name) {
        onlyOnCpu("full-size variants stay on the CPU: the emulated driver is too slow for them");
        try (Scope s = Scope.open(); ImageClassifier m = ModelRegistry.create(name, ModelOptions.defaults().withImgSize(32))) {
            TrainStepCheck.oneAdamWStep(name, m, "layer1.0.conv1.weight");
        }
    }

    @Test
    void smallInputsChannelsAndClassifierReset() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (Scope s = Scope.open()) {
            ModelOptions gray = ModelOptions.defaults().withInChannels(1).withNumClasses(10).withImgSize(28);
            ResNet plain = new ResNet(tiny("res2net"), gray);
            assertArrayEquals(new int[] {2, 128, 1, 1}, plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            ResNet small = new ResNet(tiny("res2net"), gray.with("small_input_stem", true));
            assertArrayEquals(new int[] {2, 128, 4, 4}, small.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape());
            assertEquals(plain.numParameters(), small.numParameters(), "the small stem keeps the weights' shapes");
            ResNet halved = new ResNet(tiny("res2net"), gray.with("small_input_stem", true).with("stem_stride", 2));
            assertArrayEquals(new int[] {2, 128, 2, 2}, halved.forwardFeatures(Tensor.zeros(2, 1, 28, 28)).shape(), "14x14 first stage");
            halved.close();
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> new ResNet(tiny("res2net"), gray.with("stem_stride", 3)));
            assertTrue(bad.getMessage().contains("stem_stride"), bad.getMessage());
            assertArrayEquals(new int[] {2, 10}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            small.resetClassifier(3);
            assertEquals(3, small.numClasses());
            assertArrayEquals(new int[] {2, 3}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            small.resetClassifier(0);
            assertArrayEquals(new int[] {2, 128}, small.forward(Tensor.zeros(2, 1, 28, 28)).shape());
            assertArrayEquals(new int[] {2, 128}, plain.forwardHead(plain.forwardFeatures(Tensor.zeros(2, 1, 28, 28)), true).shape());
            plain.close();
            small.close();
        }
    }

    @Test
    void zeroInitLastZeroesTheLastBnOfEveryBlock() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        try (ResNet m = new ResNet(tiny("res2net"), ModelOptions.defaults().with("zero_init_last", true))) {
            for (var e : m.stateDict().entrySet()) {
                if (e.getKey().endsWith("bn3.weight")) assertEquals(0.0, Reductions.sum(e.getValue().mul(e.getValue())).item(), e.getKey());
            }
            assertTrue(Reductions.sum(m.stateDict().get("bn1.weight")).item() > 0);
        }
    }

    @Test
    void macsAt224MatchTheTorchCount() {
        onlyOnCpu("runs on the CPU only; the tiny goldens cover this model on every device");
        // conv + linear MACs of one 224x224 image, counted with forward hooks on the PyTorch reference
        try (ImageClassifier m = ModelRegistry.create("resnet50")) {
            assertEquals(4_089_184_256L, MacCounter.count(m, 1, 3, 224, 224));
        }
        try (ImageClassifier m = ModelRegistry.create("res2net50_26w_4s")) {
            assertEquals(4_255_166_464L, MacCounter.count(m, 1, 3, 224, 224));
        }
    }
}
