package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.io.Safetensors;
import dev.lumen.nn.Linear;
import dev.lumen.optim.AdamW;
import dev.lumen.optim.CosineLR;
import dev.lumen.optim.ModelEma;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TrainCheckpoint writes every state and reads it back unchanged. */
class TrainCheckpointTest {
    @TempDir Path tmp;

    @Test
    void roundTripOfModelOptimizerSchedulerEmaAndInfo() throws IOException {
        Linear m = new Linear(3, 2, true, new Generator(1));
        AdamW opt = new AdamW(m.parameters(), 0.01, 0.05);
        CosineLR sched = new CosineLR(opt, 10, 1e-4, 2, 1e-5, false, false);
        ModelEma ema = new ModelEma(m.stateDict(), 0.9);
        m.forward(Tensor.fromFloats(new float[] {1, 2, 3}, 1, 3)).sum().backward();
        opt.step();
        sched.stepUpdate(1);
        ema.update(m.stateDict());
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("epoch", 3);
        info.put("rng", Map.of("global", List.of(5L, 99L)));
        Path file = tmp.resolve("last.safetensors");
        TrainCheckpoint.save(file, m.stateDict(), opt.stateDict(), sched.stateDict(), ema.stateDict(), info);
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of("last.safetensors"), s.map(p -> p.getFileName().toString()).toList(), "no temporary file left");
        }
        assertTrue(TrainCheckpoint.isTrainCheckpoint(file));

        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(file)) {
            assertArrayEquals(m.weight().toFloats(), l.model().get("weight").toFloats());
            assertEquals("AdamW", l.optimizer().meta().get("type"));
            AdamW opt2 = new AdamW(new Linear(3, 2, true, new Generator(2)).parameters(), 0.5, 0.0);
            opt2.loadStateDict(l.optimizer());
            assertEquals(opt.paramGroups().get(0).lr(), opt2.paramGroups().get(0).lr());
            assertArrayEquals(opt.stateDict().tensors().get("state.0.exp_avg").toFloats(), opt2.stateDict().tensors().get("state.0.exp_avg").toFloats());
            assertEquals(sched.stateDict().meta(), l.scheduler().meta());
            assertArrayEquals(ema.ema().get("bias").toFloats(), l.ema().tensors().get("ema.bias").toFloats());
            assertEquals(3L, l.info().get("epoch"));
            assertEquals(List.of(5L, 99L), ((Map<?, ?>) l.info().get("rng")).get("global"));
        }
        Map<String, Tensor> plainEma = TrainCheckpoint.readModelState(file, true);
        assertArrayEquals(ema.ema().get("weight").toFloats(), plainEma.get("weight").toFloats());
        assertEquals(m.stateDict().keySet(), TrainCheckpoint.readModelState(file, false).keySet());

        // Without an EMA, and a plain weights file is not a training checkpoint.
        TrainCheckpoint.save(file, m.stateDict(), opt.stateDict(), sched.stateDict(), null, info);
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(file)) {
            assertNull(l.ema());
        }
        Path plain = tmp.resolve("plain.safetensors");
        Safetensors.write(plain, m.stateDict(), Map.of());
        assertFalse(TrainCheckpoint.isTrainCheckpoint(plain));
        IOException e = assertThrows(IOException.class, () -> TrainCheckpoint.load(plain));
        assertTrue(e.getMessage().contains("not a lumen training checkpoint"), e.getMessage());
    }

    @Test
    void configRoundTripsThroughItsMap() {
        TrainConfig c = new TrainConfig();
        c.lr = 0.003;
        c.cutmixMinmax = new double[] {0.2, 0.8};
        c.output = Path.of("runs/x");
        c.amp = "bf16";
        TrainConfig d = TrainConfig.fromMap(c.toMap());
        assertEquals(c.toMap(), d.toMap());
        assertEquals("batch-size", TrainConfig.keyOf("-b"));
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.fromMap(Map.of("no-such-option", 1)));
    }
}
