package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.io.Json;
import dev.lumen.optim.ParamGroup;
import dev.lumen.optim.ParamGroups;
import dev.lumen.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * --layer-decay's grouping: each family's matcher numbers the layers as timm's group_matcher
 * does, and ParamGroups.withLayerDecay gives every parameter timm's lr_scale and weight decay
 * (golden: tools/golden/timm_gen_layer_decay.py, timm 1.0 on its own models).
 */
class GroupMatcherTest {
    /** Names timm's models leave out of weight decay (their no_weight_decay()); Lumen's trainer passes the same. */
    private static final List<String> NO_DECAY = List.of("pos_embed", "cls_token", "dist_token");

    @SuppressWarnings("unchecked")
    private static Map<String, List<Number>> golden(String timmName) throws Exception {
        try (var in = GroupMatcherTest.class.getResourceAsStream("/golden/layer_decay.json")) {
            Map<String, Object> all = (Map<String, Object>) Json.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            return (Map<String, List<Number>>) all.get(timmName);
        }
    }

    private static void matchesTimm(String lumenName, String timmName) throws Exception {
        Map<String, List<Number>> g = golden(timmName);
        ImageClassifier m = ModelRegistry.create(lumenName, ModelOptions.builder().numClasses(10).build());
        Map<String, Tensor> params = m.namedParameters();
        assertEquals(new TreeSet<>(g.keySet()), new TreeSet<>(params.keySet()), lumenName + " has timm's parameter names");
        Map<String, Integer> layers = m.groupMatcher().layerIds(params.keySet());
        for (var e : g.entrySet()) assertEquals(e.getValue().get(0).intValue(), layers.get(e.getKey()), lumenName + " layer of " + e.getKey());
        List<ParamGroup> groups = ParamGroups.withLayerDecay(params, layers, 0.05, 0.75, NO_DECAY);
        Map<Tensor, ParamGroup> groupOf = new IdentityHashMap<>();
        for (ParamGroup pg : groups) for (Tensor p : pg.params()) groupOf.put(p, pg);
        for (var e : g.entrySet()) {
            ParamGroup pg = groupOf.get(params.get(e.getKey()));
            assertEquals(e.getValue().get(1).doubleValue(), pg.lrScale(), 1e-12, "lr_scale of " + e.getKey());
            assertEquals(e.getValue().get(2).doubleValue(), pg.weightDecay(), 0, "weight_decay of " + e.getKey());
        }
    }

    @Test void vitAsTimm() throws Exception { matchesTimm("vit_tiny_patch16_224", "vit_tiny_patch16_224"); }

    @Test void resnetAsTimm() throws Exception { matchesTimm("resnet50", "resnet50"); }

    @Test void voloAsTimm() throws Exception { matchesTimm("volo_d1", "volo_d1_224"); }

    /** Families timm lacks: the stem is layer 0, layers never decrease along the blocks, the head is alone in the last layer. */
    private static void stemBlocksHead(String name, String stemParam, String firstBlockParam, String lastBlockParam, int expectedLayers) {
        ImageClassifier m = ModelRegistry.create(name, ModelOptions.builder().numClasses(10).build());
        Map<String, Integer> layers = m.groupMatcher().layerIds(m.namedParameters().keySet());
        int last = layers.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
        assertEquals(expectedLayers, last + 1, name + " layers: stem, one per block, head");
        assertEquals(0, layers.get(stemParam), stemParam);
        assertEquals(1, layers.get(firstBlockParam), firstBlockParam);
        assertEquals(last - 1, layers.get(lastBlockParam), lastBlockParam);
        for (var e : layers.entrySet()) {
            boolean head = m.isHeadKey(e.getKey());
            assertTrue(head == (e.getValue() == last), e.getKey() + " in layer " + e.getValue() + " of " + last);
        }
    }

    // vmamba_tiny: depths 2, 2, 8, 2 (14 blocks); the downsamples and the final norm join the block before them.
    @Test void vmamba() { stemBlocksHead("vmamba_tiny", "patch_embed.0.weight", "layers.0.blocks.0.norm.weight", "classifier.norm.weight", 16); }

    // rcvit_xs: depths 2, 2, 4, 2 (10 blocks) and 3 downsampling embeddings between stages, each its own layer.
    @Test void casvit() { stemBlocksHead("rcvit_xs", "patch_embed.0.weight", "network.0.0.norm1.weight", "norm.weight", 15); }

    // replknet_31b: depths 2, 2, 18, 2, each a RepLK block and a ConvFFN block in stages.N.blocks (48 entries, as the
    // official code lists them); transitions and the final norm join the block before them.
    @Test void replknet() { stemBlocksHead("replknet_31b", "stem.0.conv.weight", "stages.0.blocks.0.large_kernel.lkb_origin.conv.weight", "norm.weight", 50); }
}
