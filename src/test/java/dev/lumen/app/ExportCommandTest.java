package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.report.CheckpointModel;
import dev.lumen.app.report.EvalFixtures;
import dev.lumen.io.Json;
import dev.lumen.io.Safetensors;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.ImageClassifier;
import dev.lumen.tensor.Tensor;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** lumen export: a plain state dict under the model's own names, of the model's or the EMA's weights, that loads strictly. */
class ExportCommandTest {
    @TempDir Path tmp;

    private record Run(int code, String out, String err) {}

    private static Run export(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new ExportCommand());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void modelAndEmaWeightsUnderPlainNames() throws Exception {
        Path ck = tmp.resolve("run/last.safetensors");
        Files.createDirectories(ck.getParent());
        Map<String, Tensor> raw, avg;
        try (ImageClassifier a = EvalFixtures.model(3, 1); ImageClassifier b = EvalFixtures.model(3, 2)) {
            raw = copy(a.stateDict());
            avg = copy(b.stateDict());
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        raw.forEach((k, v) -> tensors.put("model." + k, v));
        avg.forEach((k, v) -> tensors.put("ema." + k, v));
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("config", EvalFixtures.config(tmp));
        Safetensors.write(ck, tensors, Map.of("format", "lumen-train", CheckpointModel.TRAIN_META_KEY, Json.write(info, false)));

        Path model = tmp.resolve("out/model.safetensors"), ema = tmp.resolve("out/ema.safetensors");
        Run r = export("--checkpoint", tmp.resolve("run").toString(), "--output", model.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(model weights)"), r.out());
        Run e = export("--checkpoint", ck.toString(), "--ema", "--output", ema.toString());
        assertEquals(0, e.code(), e.err());
        assertTrue(e.out().contains("(EMA weights)"), e.out());

        for (var pair : Map.of(model, raw, ema, avg).entrySet()) {
            Safetensors.Contents c = Safetensors.read(pair.getKey());
            assertEquals(pair.getValue().keySet(), c.tensors().keySet(), "the model's own names, no prefix");
            for (String k : pair.getValue().keySet()) {
                assertArrayEquals(pair.getValue().get(k).toDoubles(), c.tensors().get(k).toDoubles(), 0, k);
            }
            assertEquals("pt", c.metadata().get("format"));
            // Loads strictly into a fresh model of the same name.
            try (ImageClassifier fresh = EvalFixtures.model(3, 9)) {
                assertTrue(Checkpoints.loadInto(fresh, c.tensors(), true, false).isClean());
            }
            c.tensors().values().forEach(Tensor::close);
        }
    }

    @Test
    void oneLineErrors() throws Exception {
        Path ck = tmp.resolve("plain.safetensors");
        try (ImageClassifier a = EvalFixtures.model(3, 1)) {
            EvalFixtures.trainCheckpoint(a, ck, EvalFixtures.config(tmp));
        }
        Run noEma = export("--checkpoint", ck.toString(), "--ema", "--output", tmp.resolve("x.safetensors").toString());
        assertEquals(1, noEma.code());
        assertEquals("lumen export: " + ck + ": --ema, but the checkpoint kept no EMA weights\n", noEma.err().replace("\r", ""));
        Run pth = export("--checkpoint", ck.toString(), "--output", tmp.resolve("x.pth").toString());
        assertEquals(1, pth.code());
        assertTrue(pth.err().startsWith("lumen export: --output " + tmp.resolve("x.pth") + ": the file must end in .safetensors"), pth.err());
    }

    private static Map<String, Tensor> copy(Map<String, Tensor> state) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        state.forEach((k, v) -> out.put(k, dev.lumen.memory.Scope.detachFromScopes(v.copy())));
        return out;
    }
}
