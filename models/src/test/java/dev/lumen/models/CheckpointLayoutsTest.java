package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.models.casvit.CasViT;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The checkpoint layouts of the seeds' training scripts (tools/golden/gen_pth_layouts.py):
 * the argparse.Namespace and yacs CfgNode beside the weights unpickle as inert data, the
 * model's or the EMA's weights are taken and named, and CAS-ViT's head follows the keys.
 */
class CheckpointLayoutsTest {
    private static final Map<String, Tensor> EXPECTED;

    static {
        try {
            EXPECTED = Checkpoints.load(CheckpointsTest.resource("pth_layouts.safetensors"));
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void assertWeights(String prefix, Map<String, Tensor> actual) {
        List<String> names = EXPECTED.keySet().stream().filter(k -> k.startsWith(prefix)).map(k -> k.substring(prefix.length())).toList();
        assertEquals(names, List.copyOf(actual.keySet()));
        for (String n : names) {
            Tensor x = EXPECTED.get(prefix + n), a = actual.get(n);
            if (x.dtype() == DType.I64) assertArrayEquals(x.toLongs(), a.toLongs(), n);
            else assertArrayEquals(x.toDoubles(), a.toDoubles(), 0, n);
        }
    }

    private static void check(String file, String modelKey, String emaKey) throws Exception {
        Path p = CheckpointsTest.resource(file);
        Checkpoints.Weights model = Checkpoints.loadWeights(p, false);
        assertEquals("the '" + modelKey + "' entry", model.source(), file);
        assertWeights("model.", model.state());
        Checkpoints.Weights ema = Checkpoints.loadWeights(p, true);
        assertEquals(emaKey == null ? "the '" + modelKey + "' entry" : "the '" + emaKey + "' entry", ema.source(), file);
        assertWeights(emaKey == null ? "model." : "ema.", ema.state());
    }

    @Test
    void timmTrainPy() throws Exception { check("pth_layout_timm.pth", "state_dict", "state_dict_ema"); }

    @Test
    void replknetSaveModel() throws Exception { check("pth_layout_replknet.pth", "model", "model_ema"); }

    @Test
    void vmambaSaveCheckpointWithoutEma() throws Exception { check("pth_layout_vmamba.pth", "model", null); }

    @Test
    void configObjectsAreInertData() throws Exception {
        try (TorchPickle pk = TorchPickle.open(CheckpointsTest.resource("pth_layout_timm.pth"))) {
            Map<?, ?> root = (Map<?, ?>) pk.root();
            TorchPickle.PyObject args = (TorchPickle.PyObject) root.get("args");
            assertEquals("argparse.Namespace", args.type);
            assertEquals("rand-m9-mstd0.5-inc1", args.attributes.get("aa"));
            assertEquals(0.25, ((Number) args.attributes.get("reprob")).doubleValue());
        }
        try (TorchPickle pk = TorchPickle.open(CheckpointsTest.resource("pth_layout_vmamba.pth"))) {
            Map<?, ?> root = (Map<?, ?>) pk.root();
            TorchPickle.PyObject config = (TorchPickle.PyObject) root.get("config");
            assertEquals("yacs.config.CfgNode", config.type);
            TorchPickle.PyObject model = (TorchPickle.PyObject) config.get("MODEL");
            assertEquals("vssm", model.get("TYPE"));
            assertEquals(Set.of(), model.attributes.get("__deprecated_keys__"));
        }
    }

    @Test
    void casVitHeadFollowsTheKeys() {
        ModelOptions small = ModelOptions.defaults().withNumClasses(4).withImgSize(32);
        Map<String, Tensor> official;
        try (ImageClassifier plain = ModelRegistry.create("rcvit_xs", small.with("distillation", false))) {
            official = plain.stateDict();
            ModelOptions fitted = ModelRegistry.fitTo("rcvit_xs", official.keySet(), small);
            try (ImageClassifier m = ModelRegistry.create("rcvit_xs", fitted)) {
                assertTrue(!((CasViT) m).distillation());
                assertTrue(Checkpoints.loadInto(m, official, true, false).isClean());
            }
            Set<String> distilled = new java.util.HashSet<>(official.keySet());
            distilled.add("dist_head.weight");
            assertTrue((Boolean) ModelRegistry.fitTo("rcvit_xs", distilled, small).extra().get("distillation"));
            // An explicit choice wins over the keys.
            assertTrue((Boolean) ModelRegistry.fitTo("rcvit_xs", official.keySet(), small.with("distillation", true)).extra().get("distillation"));
        }
    }
}
