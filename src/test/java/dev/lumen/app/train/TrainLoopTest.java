package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The loop's wiring: gradient clipping, EMA and loss scaling in a real update, and the NaN stop. */
class TrainLoopTest {
    @TempDir Path tmp;

    private static TrainConfig config(List<String> args) {
        TrainConfig c = new TrainConfig();
        new CommandLine(c).parseArgs(args.stream().filter(x -> !x.equals("--quiet")).toArray(String[]::new));
        return c;
    }

    private static Trainer trainer(TrainConfig c) {
        PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        return new Trainer(c, sink, sink, Progress.none());
    }

    /** The initial parameters of the run: the model built from the same seed and options. */
    private static Map<String, float[]> initialParams(long seed) {
        Generator.global().manualSeed(seed);
        try (ImageClassifier m = ModelRegistry.create("resnet_micro", ModelOptions.builder().numClasses(3).inChannels(1).imgSize(8).build())) {
            Map<String, float[]> out = new LinkedHashMap<>();
            m.namedParameters().forEach((k, v) -> out.put(k, v.toFloats()));
            return out;
        }
    }

    private static double deltaNorm(Map<String, float[]> before, Map<String, Tensor> after) {
        double s = 0;
        for (var e : before.entrySet()) {
            float[] a = e.getValue(), b = after.get(e.getKey()).toFloats();
            for (int i = 0; i < a.length; i++) s += (double) (b[i] - a[i]) * (b[i] - a[i]);
        }
        return Math.sqrt(s);
    }

    /** One plain SGD update (lr 1, no momentum or decay) on one batch of the tiny dataset. */
    private List<String> oneUpdate(Path data, Path out) {
        List<String> a = TrainFixtures.tinyArgs(data, out, 1);
        for (String[] kv : new String[][] {{"-b", "16"}, {"--opt", "momentum"}, {"--lr", "1.0"}, {"--weight-decay", "0"}, {"--warmup-epochs", "0"}}) {
            a.set(a.indexOf(kv[0]) + 1, kv[1]);
        }
        a.addAll(List.of("--momentum", "0", "--smoothing", "0"));
        return a;
    }

    @Test
    void clippingEmaAndLossScalingActInTheUpdate() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 3, 1);
        Map<String, float[]> init = initialParams(7);

        TrainResult free = trainer(config(oneUpdate(data, tmp.resolve("free")))).run();
        Map<String, Tensor> w0 = TrainCheckpoint.readModelState(free.runDir().resolve("last.safetensors"), false);
        double unclipped = deltaNorm(init, w0);
        assertTrue(unclipped > 0.05, "an lr-1 step moves the weights by the gradient norm: " + unclipped);

        List<String> a = oneUpdate(data, tmp.resolve("clipped"));
        a.addAll(List.of("--clip-grad", "0.01", "--model-ema", "--model-ema-decay", "0.25", "--amp", "bf16"));
        TrainResult r = trainer(config(a)).run();
        Path last = r.runDir().resolve("last.safetensors");
        Map<String, Tensor> w = TrainCheckpoint.readModelState(last, false), ema = TrainCheckpoint.readModelState(last, true);
        // One update of lr x the clipped gradient: its norm is the clip (torch's 1e-6 guard aside).
        assertEquals(0.01, deltaNorm(init, w), 1e-5);
        // timm's ModelEmaV3, as train.py steps it: the first update copies the updated weights (decay 0 at step 1)
        for (var e : init.entrySet()) {
            float[] w1 = w.get(e.getKey()).toFloats(), em = ema.get(e.getKey()).toFloats();
            assertArrayEquals(w1, em, 0f, e.getKey());
        }
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(last)) {
            Map<?, ?> scaler = (Map<?, ?>) l.info().get("scaler");
            assertEquals(65536.0, ((Number) scaler.get("scale")).doubleValue());
            assertEquals(1L, ((Number) scaler.get("_growth_tracker")).longValue());
            assertEquals(1L, ((Number) l.info().get("global_step")).longValue());
        }
    }

    @Test
    void nanLossStopsAndKeepsTheLastGoodCheckpoint() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 6, 1);
        Trainer t = trainer(config(TrainFixtures.tinyArgs(data, tmp.resolve("nan"), 3)));
        t.lossHook = (loss, step) -> step == 5 ? loss.mul(Double.NaN) : loss;
        TrainException e = assertThrows(TrainException.class, t::run);
        Path last = tmp.resolve("nan/last.safetensors");
        assertEquals("loss is NaN at epoch 2, step 2 of 4 (update 6); stopped; the last checkpoint with finite weights, " + last
                + " (epoch 1), is kept. Try a lower --lr, --clip-grad, or --warmup-epochs.", e.getMessage());
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(last)) {
            assertEquals(1L, ((Number) l.info().get("epoch")).longValue());
            for (Tensor v : l.model().values()) {
                if (!v.dtype().isFloating()) continue;
                for (float f : v.toFloats()) assertTrue(Float.isFinite(f));
            }
        }

        Trainer first = trainer(config(TrainFixtures.tinyArgs(data, tmp.resolve("nan0"), 3)));
        first.lossHook = (loss, step) -> loss.mul(Double.POSITIVE_INFINITY);
        assertTrue(assertThrows(TrainException.class, first::run).getMessage()
                .startsWith("loss is infinite at epoch 1, step 1 of 4 (update 1); stopped; no checkpoint was written"));
    }
}
