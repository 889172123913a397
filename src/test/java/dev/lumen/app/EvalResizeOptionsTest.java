package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.app.data.transform.Interpolation;
import dev.lumen.app.data.transform.Normalize;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.data.transform.Resize;
import dev.lumen.app.report.CheckpointModel;
import dev.lumen.app.report.EvalFixtures;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** lumen eval / predict resize like the run's validation (its --crop-pct and --interpolation), unless told otherwise. */
class EvalResizeOptionsTest {
    @TempDir Path tmp;

    private static Resize firstResize(EvalResizeOptions o, CheckpointModel ck) {
        Pipelines.Options po = o.apply(Pipelines.Options.defaults(224, Normalize.IMAGENET_MEAN, Normalize.IMAGENET_STD), ck);
        return (Resize) Pipelines.eval(po).steps().getFirst();
    }

    private static EvalResizeOptions parse(String... args) {
        EvalResizeOptions o = new EvalResizeOptions();
        new CommandLine(o).parseArgs(args);
        return o;
    }

    @Test
    void theRunsSettingsUnlessTheCommandLineSaysOtherwise() throws Exception {
        Map<String, Object> config = EvalFixtures.config(tmp);
        config.put("crop-pct", 0.9);
        config.put("interpolation", "bicubic");
        Path withRun, plain;
        try (ImageClassifier m = ModelRegistry.create("resnet_micro", ModelOptions.defaults().withNumClasses(3))) {
            withRun = EvalFixtures.trainCheckpoint(m, tmp.resolve("run/last.safetensors"), config);
            plain = EvalFixtures.plainWeights(m, tmp.resolve("w.safetensors"));
        }
        try (CheckpointModel run = CheckpointModel.read(withRun, false); CheckpointModel weights = CheckpointModel.read(plain, false)) {
            assertEquals(Resize.shorterSide(248).with(Interpolation.BICUBIC), firstResize(parse(), run)); // floor(224 / 0.9)
            assertEquals(Resize.shorterSide(235).with(Interpolation.NEAREST), firstResize(parse("--crop-pct", "0.95", "--interpolation", "nearest"), run));
            assertEquals(Resize.shorterSide(256), firstResize(parse(), weights)); // timm's 0.875, bilinear
            assertEquals("--crop-pct must be in (0, 1], got 0.0",
                    assertThrows(IllegalArgumentException.class, () -> firstResize(parse("--crop-pct", "0"), weights)).getMessage());
            assertEquals("--interpolation must be nearest, bilinear, bicubic or random, got 'box'",
                    assertThrows(IllegalArgumentException.class, () -> firstResize(parse("--interpolation", "box"), weights)).getMessage());
        }
    }
}
