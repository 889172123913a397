package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelRegistryTest {

    /** A family of made-up variants that all build the tiny classifier. */
    record FakeFamily(String name, List<String> names) implements ModelFamily {
        @Override
        public List<Variant> variants() { return names.stream().map(n -> new Variant(n, 16, "0.0003M")).toList(); }

        @Override
        public ImageClassifier create(String variant, ModelOptions o) { return new TinyClassifier(o.inChannels(), 4, 1, o.numClasses()); }
    }

    private static final List<String> VIT = List.of("vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224",
            "vit_large_patch16_224", "vit_base_patch32_224", "vit_large_patch32_224", "vit_huge_patch14_224");

    @Test
    void unknownNameSuggestsTheNearest() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> { throw ModelRegistry.unknown("vit_bse_patch16_224", VIT); });
        assertEquals("unknown model 'vit_bse_patch16_224'; did you mean vit_base_patch16_224, vit_base_patch32_224?", e.getMessage());
        assertEquals(List.of("resnet50"), ModelRegistry.nearest("resnet05", List.of("resnet50", "res2net50_26w_4s", "volo_d1")));
        assertTrue(ModelRegistry.nearest("completely_different_thing", VIT).isEmpty());
        assertTrue(ModelRegistry.unknown("xyz", List.of("volo_d1")).getMessage().contains("`lumen models` lists them"));
    }

    @Test
    void editDistance() {
        assertEquals(0, ModelRegistry.editDistance("volo_d1", "volo_d1"));
        assertEquals(1, ModelRegistry.editDistance("volo_d1", "volo_d2"));
        assertEquals(3, ModelRegistry.editDistance("kitten", "sitting"));
        assertEquals(7, ModelRegistry.editDistance("", "resnet5"));
    }

    @Test
    void discoverListsEveryVariantAndRejectsDuplicates() {
        var a = new FakeFamily("a", List.of("m1", "m2"));
        var b = new FakeFamily("b", List.of("m3"));
        Map<String, ModelRegistry.Entry> all = ModelRegistry.discover(List.of(a, b));
        assertEquals(List.of("m1", "m2", "m3"), List.copyOf(all.keySet()));
        assertSame(b, all.get("m3").family());
        IllegalStateException dup = assertThrows(IllegalStateException.class,
                () -> ModelRegistry.discover(List.of(a, new FakeFamily("c", List.of("m2")))));
        assertTrue(dup.getMessage().contains("'m2'") && dup.getMessage().contains("a and c"), dup.getMessage());
    }

    @Test
    void serviceRegistryAnswersUnknownNames() {
        // whatever families are on the class path, a nonsense name fails with the registry's message
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelRegistry.create("no_such_model_xyz"));
        assertTrue(e.getMessage().startsWith("unknown model 'no_such_model_xyz'"), e.getMessage());
        assertEquals(ModelRegistry.names().size(), ModelRegistry.entries().size());
    }

    @Test
    void publishedCountsRoundToTheirPrecision() {
        assertTrue(ModelRegistry.agreesWithPublished(25_557_032, "25.56M"));
        assertFalse(ModelRegistry.agreesWithPublished(25_547_032, "25.56M"));
        assertTrue(ModelRegistry.agreesWithPublished(25_699_000, "25.7M"));
        assertTrue(ModelRegistry.agreesWithPublished(295_500_000, "296M"));
        assertFalse(ModelRegistry.agreesWithPublished(297_000_000, "296M"));
        assertEquals("25.56M", ModelRegistry.formatParams(25_557_032));
        assertThrows(IllegalArgumentException.class, () -> new ModelFamily.Variant("x", 224, "many"));
    }

    @Test
    void optionsWithersAndSwitches() {
        ModelOptions o = ModelOptions.defaults().withNumClasses(10).withInChannels(1).withImgSize(28).with("small_input_stem", true);
        assertEquals(10, o.numClasses());
        assertEquals(1, o.inChannels());
        assertEquals(28, o.imgSizeOr(224));
        assertEquals(224, ModelOptions.defaults().imgSizeOr(224));
        assertTrue(o.flag("small_input_stem", false));
        assertFalse(o.flag("return_dense", false));
        ModelOptions b = ModelOptions.builder().dropPathRate(0.1).option("depth", "3").build();
        assertEquals(0.1, b.dropPathRate());
        assertEquals(3, b.intOption("depth", 0));
        assertThrows(IllegalArgumentException.class, () -> ModelOptions.defaults().withDropRate(1.5));
        assertThrows(IllegalArgumentException.class, () -> o.with("x", "maybe").flag("x", false));
    }

    @Test
    void resetClassifierReplacesTheHead() {
        try (TinyClassifier m = new TinyClassifier(3, 6, 1, 5)) {
            assertEquals(List.of(5, 6), List.of(m.stateDict().get("fc.weight").shape(0), m.stateDict().get("fc.weight").shape(1)));
            m.resetClassifier(9);
            assertEquals(9, m.numClasses());
            assertEquals(9, m.stateDict().get("fc.weight").shape(0));
            assertEquals(List.of("stem.weight", "stem.bias", "fc.weight", "fc.bias"), List.copyOf(m.stateDict().keySet()));
            assertTrue(m.isHeadKey("fc.bias") && !m.isHeadKey("fcx.bias") && !m.isHeadKey("stem.weight"));
        }
    }
}
