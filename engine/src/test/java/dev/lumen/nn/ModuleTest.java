package dev.lumen.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Registration, naming, state dicts, freezing and modes of Module, on small hand-made modules. */
class ModuleTest extends DeviceTest {
    /** weight [2, 3], bias [2], a persistent buffer and a non-persistent one. */
    static final class Leaf extends Module {
        Leaf(Generator g) {
            registerParameter("weight", Tensor.randn(g, DType.F32, 2, 3));
            registerParameter("bias", Tensor.randn(g, DType.F32, 2));
            registerBuffer("running", Tensor.zeros(2));
            registerBuffer("count", Tensor.zeros(DType.I64, Device.CPU));
            registerBuffer("index", Tensor.arange(4), false);
        }

        Tensor weight() { return param("weight"); }
    }

    /** scale [1], blocks (two Leafs), head (a Leaf). */
    static final class Tree extends Module {
        final ModuleList<Leaf> blocks;
        final Leaf head;

        Tree(long seed) {
            Generator g = new Generator(seed);
            registerParameter("scale", Tensor.ones(1));
            blocks = registerModule("blocks", new ModuleList<Leaf>().add(new Leaf(g)).add(new Leaf(g)));
            head = registerModule("head", new Leaf(g));
        }
    }

    /** A Tree moved to this test's device. */
    private Tree tree(long seed) {
        Tree t = new Tree(seed);
        t.to(device);
        return t;
    }

    @Test
    void toDeviceMovesEveryParameterAndBuffer() {
        Tree t = tree(15);
        for (var e : t.stateDict().entrySet()) assertEquals(device, e.getValue().device(), e.getKey());
        assertEquals(device, t.head.weight().device());
        assertTrue(t.head.weight().requiresGrad(), "moved parameters stay trainable");
        assertTrue(t.head.weight().isLeaf(), "moved parameters are leaves");
    }

    @Test
    void namesFollowPyTorchOrder() {
        Tree t = tree(1);
        assertEquals(List.of("scale", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias", "head.weight", "head.bias"),
                new ArrayList<>(t.namedParameters().keySet()));
        assertEquals(List.of("scale", "blocks.0.weight", "blocks.0.bias", "blocks.0.running", "blocks.0.count",
                "blocks.1.weight", "blocks.1.bias", "blocks.1.running", "blocks.1.count",
                "head.weight", "head.bias", "head.running", "head.count"), new ArrayList<>(t.stateDict().keySet()));
        assertTrue(t.namedBuffers().containsKey("head.index"), "non-persistent buffers are still buffers");
        assertEquals(List.of("", "blocks", "blocks.0", "blocks.1", "head"), new ArrayList<>(t.namedModules().keySet()));
        assertEquals(1 + 3 * (6 + 2), t.numParameters());
        assertSame(t.head, t.child("head"));
        assertThrows(IllegalArgumentException.class, () -> t.child("tail"));
    }

    @Test
    void registrationRejectsDuplicatesAndDots() {
        Module m = new Module() {};
        m.registerParameter("w", on(Tensor.zeros(2)));
        assertThrows(IllegalArgumentException.class, () -> m.registerBuffer("w", on(Tensor.zeros(2))));
        assertThrows(IllegalArgumentException.class, () -> m.registerParameter("a.b", on(Tensor.zeros(2))));
        assertThrows(IllegalArgumentException.class, () -> m.registerParameter("i", on(Tensor.arange(3))));
    }

    @Test
    void sharedParameterIsListedOnce() {
        Module a = new Module() {};
        Tensor w = a.registerParameter("w", on(Tensor.zeros(3)));
        Module b = new Module() {};
        b.registerModule("x", a);
        b.registerModule("y", a);
        assertEquals(List.of("x.w"), new ArrayList<>(b.namedParameters().keySet()));
        assertEquals(List.of("x.w", "y.w"), new ArrayList<>(b.stateDict().keySet()));
        assertSame(w, b.parameters().get(0));
    }

    @Test
    void parametersOutliveTheScopeTheModuleWasBuiltIn() {
        Tree t;
        try (Scope s = Scope.open()) {
            t = tree(2);
            Tensor scratch = on(Tensor.zeros(3));
            assertFalse(scratch.isClosed());
        }
        for (Tensor p : t.parameters()) {
            assertFalse(p.isClosed());
            assertTrue(p.requiresGrad());
        }
        for (Tensor b : t.namedBuffers().values()) assertFalse(b.isClosed());
        assertEquals(6, t.head.weight().toFloats().length);
        t.close();
        assertTrue(t.head.weight().isClosed());
    }

    @Test
    void stateDictValuesShareStorageWithTheModule() {
        Tree t = tree(3);
        Tensor view = t.stateDict().get("head.bias");
        assertFalse(view.requiresGrad(), "state dict values are detached");
        Init.constant(view, 4);
        assertArrayEquals(new float[] {4, 4}, t.head.param("bias").toFloats());
    }

    @Test
    void loadStateDictCopiesByNameAndConvertsDtype() {
        Tree src = tree(4), dst = tree(5);
        Map<String, Tensor> state = new LinkedHashMap<>(src.stateDict());
        state.put("head.weight", state.get("head.weight").to(DType.F16));
        Module.LoadResult r = dst.loadStateDict(state, true);
        assertTrue(r.isClean());
        for (var e : src.stateDict().entrySet()) {
            if (e.getKey().equals("head.weight")) continue;
            assertArrayEquals(e.getValue().toDoubles(), dst.stateDict().get(e.getKey()).toDoubles(), 0, e.getKey());
        }
        // The F16 weights were rounded to half precision and widened back into the F32 parameter.
        assertEquals(DType.F32, dst.head.weight().dtype());
        assertArrayEquals(src.head.weight().toFloats(), dst.head.weight().toFloats(), 2e-3f);
        assertTrue(dst.head.weight().requiresGrad());
    }

    @Test
    void strictLoadingNamesMissingUnexpectedAndMismatchedKeys() {
        Tree dst = tree(6);
        float[] before = dst.head.weight().toFloats();
        Map<String, Tensor> state = new LinkedHashMap<>(tree(7).stateDict());
        state.remove("blocks.1.bias");
        state.put("head.extra", on(Tensor.zeros(1)));
        state.put("head.weight", on(Tensor.zeros(3, 2)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dst.loadStateDict(state, true));
        String msg = e.getMessage();
        assertTrue(msg.contains("blocks.1.bias") && msg.contains("head.extra") && msg.contains("head.weight"), msg);
        assertTrue(msg.contains("[2, 3]") && msg.contains("[3, 2]"), msg);
        assertArrayEquals(before, dst.head.weight().toFloats(), "strict failure copies nothing");

        Module.LoadResult r = dst.loadStateDict(state, false);
        assertEquals(List.of("blocks.1.bias"), r.missingKeys());
        assertEquals(List.of("head.extra"), r.unexpectedKeys());
        assertEquals(1, r.shapeMismatches().size());
        assertEquals("head.weight", r.shapeMismatches().get(0).key());
        assertArrayEquals(new int[] {2, 3}, r.shapeMismatches().get(0).expected());
        assertArrayEquals(before, dst.head.weight().toFloats(), "a mismatched key is skipped");
        assertArrayEquals(state.get("head.bias").toFloats(), dst.head.param("bias").toFloats(), "matching keys load");
    }

    @Test
    void safetensorsRoundTrip(@TempDir Path dir) throws Exception {
        Tree src = tree(8), dst = tree(9);
        Init.constant(src.head.buffer("running"), 2.5);
        Init.constant(src.head.buffer("count"), 17);
        Path file = dir.resolve("tree.safetensors");
        StateDicts.save(src, file, Map.of("arch", "tree"));
        assertTrue(Files.size(file) > 0);
        var contents = dev.lumen.io.Safetensors.read(file);
        assertEquals(src.stateDict().keySet(), contents.tensors().keySet());
        assertEquals("tree", contents.metadata().get("arch"));
        assertTrue(StateDicts.load(dst, file, true).isClean());
        for (var e : src.stateDict().entrySet()) {
            assertArrayEquals(e.getValue().toDoubles(), dst.stateDict().get(e.getKey()).toDoubles(), 0, e.getKey());
        }
        assertEquals(17, dst.head.buffer("count").item());
    }

    @Test
    void freezeByGlobAndRegex() {
        Tree t = tree(10);
        assertEquals(2, t.freeze("head.*"));
        assertFalse(t.head.weight().requiresGrad());
        assertTrue(t.blocks.get(0).weight().requiresGrad());
        assertEquals(1 + 2 * 8, t.numParameters(true));

        assertEquals(7, t.freeze("*"));
        assertEquals(2, t.unfreeze("head.*"));
        assertEquals(List.of(t.head.weight(), t.head.param("bias")), t.trainableParameters());

        t.unfreeze("*");
        assertEquals(2, t.freeze("blocks.?.bias"));
        assertFalse(t.blocks.get(1).param("bias").requiresGrad());
        t.unfreeze("*");
        // Everything but the head, as a regular expression.
        assertEquals(5, t.freeze(Pattern.compile("(?!head\\.).*")));
        assertEquals(List.of(t.head.weight(), t.head.param("bias")), t.trainableParameters());
        assertEquals(0, t.freeze("nothing.*"));
    }

    @Test
    void trainAndEvalAreRecursive() {
        Tree t = tree(11);
        assertTrue(t.isTraining());
        t.eval();
        for (Module m : t.namedModules().values()) assertFalse(m.isTraining());
        t.blocks.train();
        assertTrue(t.blocks.get(1).isTraining());
        assertFalse(t.head.isTraining());
        t.train();
        for (Module m : t.namedModules().values()) assertTrue(m.isTraining());
    }

    @Test
    void applyVisitsChildrenBeforeParents() {
        Tree t = tree(12);
        List<Module> seen = new ArrayList<>();
        t.apply(seen::add);
        assertEquals(List.of(t.blocks.get(0), t.blocks.get(1), t.blocks, t.head, t), seen);
    }

    @Test
    void zeroGradDropsGradients() {
        Tree t = tree(13);
        try (Scope s = Scope.open()) {
            t.head.weight().mul(t.head.weight()).sum().backward();
        }
        assertNotNull(t.head.weight().grad());
        assertFalse(t.head.weight().grad().isClosed(), "gradients live outside the step's scope");
        t.zeroGrad();
        assertNull(t.head.weight().grad());
    }

    @Test
    void toDtypeConvertsFloatingTensorsAndKeepsFlags() {
        Tree t = tree(14);
        float[] w = t.head.weight().toFloats();
        t.freeze("head.bias");
        t.to(DType.F64);
        assertEquals(DType.F64, t.head.weight().dtype());
        assertEquals(DType.F64, t.head.buffer("running").dtype());
        assertEquals(DType.I64, t.head.buffer("count").dtype());
        assertTrue(t.head.weight().requiresGrad());
        assertFalse(t.head.param("bias").requiresGrad());
        double[] back = t.head.weight().toDoubles();
        for (int i = 0; i < w.length; i++) assertEquals(w[i], back[i], 0);
        assertSame(t, t.to(device));
        assertThrows(IllegalArgumentException.class, () -> t.to(DType.I32));
    }

    @Test
    void sequentialChainsLayersAndRejectsOthers() {
        Sequential s = new Sequential(new Identity(), new Flatten());
        try (Scope sc = Scope.open()) {
            assertArrayEquals(new int[] {2, 12}, s.forward(on(Tensor.zeros(2, 3, 4))).shape());
        }
        assertEquals(List.of("", "0", "1"), new ArrayList<>(s.namedModules().keySet()));
        assertThrows(IllegalArgumentException.class, () -> s.add(new Tree(1)));
    }
}
