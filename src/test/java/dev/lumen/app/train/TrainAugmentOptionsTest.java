package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.transform.AutoAugment;
import dev.lumen.app.data.transform.CenterCrop;
import dev.lumen.app.data.transform.ColorJitter;
import dev.lumen.app.data.transform.Compose;
import dev.lumen.app.data.transform.Interpolation;
import dev.lumen.app.data.transform.Normalize;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.data.transform.RandAugment;
import dev.lumen.app.data.transform.RandomCrop;
import dev.lumen.app.data.transform.RandomErasing;
import dev.lumen.app.data.transform.RandomHorizontalFlip;
import dev.lumen.app.data.transform.RandomResizedCrop;
import dev.lumen.app.data.transform.RandomVerticalFlip;
import dev.lumen.app.data.transform.Resize;
import dev.lumen.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** timm's data-augmentation options of lumen train: their parsing, the pipelines they build, their errors, and a run with them. */
class TrainAugmentOptionsTest {
    @TempDir Path tmp;

    private static final float[] MEAN = Normalize.IMAGENET_MEAN, STD = Normalize.IMAGENET_STD;

    private static TrainConfig parse(String... args) {
        TrainConfig c = new TrainConfig();
        new CommandLine(c).parseArgs(args);
        return c;
    }

    @Test
    void defaultsBuildThePipelinesTheyAlwaysBuilt() {
        TrainConfig c = parse();
        for (int size : new int[] {28, 224}) {
            Pipelines.Options before = Pipelines.Options.defaults(size, MEAN, STD), now = TrainPipelines.options(c, size, MEAN, STD);
            assertEquals(Pipelines.train(before).toString(), Pipelines.train(now).toString());
            assertEquals(Pipelines.eval(before).toString(), Pipelines.eval(now).toString());
        }
        assertEquals(3, parse("-j", "3").workers); // timm's short name
        List<?> photo = Pipelines.train(TrainPipelines.options(c, 224, MEAN, STD)).steps();
        assertEquals(List.of(RandomResizedCrop.square(224), new RandomHorizontalFlip(0.5)), photo.subList(0, 2));
    }

    @Test
    void timmRecipeOptionsBuildTimmsPipelineInTimmsOrder() {
        TrainConfig c = parse("--aa", "rand-m9-mstd0.5-inc1", "--reprob", "0.25", "--remode", "const", "--recount", "3", "--color-jitter", "0.4",
                "--hflip", "0.3", "--vflip", "0.2", "--scale", "0.35", "1", "--ratio", "0.8", "1.25", "--crop-pct", "0.9",
                "--interpolation", "bicubic", "--train-interpolation", "random");
        Pipelines.Options o = TrainPipelines.options(c, 224, MEAN, STD);
        List<?> t = Pipelines.train(o).steps();
        assertEquals(new RandomResizedCrop(224, 224, 0.35, 1, 0.8, 1.25, Interpolation.RANDOM), t.get(0));
        assertEquals(new RandomHorizontalFlip(0.3), t.get(1));
        assertEquals(new RandomVerticalFlip(0.2), t.get(2));
        RandAugment ra = assertInstanceOf(RandAugment.class, t.get(3)); // replaces ColorJitter, as timm
        assertEquals(2, ra.layers());
        assertEquals(9, ra.ops().getFirst().magnitude());
        assertEquals(0.5, ra.ops().getFirst().hp().magnitudeStd());
        assertEquals(Interpolation.RANDOM, ra.ops().getFirst().hp().interpolation());
        assertEquals(100, ra.ops().getFirst().hp().translateConst());
        assertEquals("SharpnessIncreasing", ra.ops().get(10).kind().name());
        assertInstanceOf(Normalize.class, t.get(4));
        assertEquals(RandomErasing.of(0.25, RandomErasing.Mode.CONST, 3), t.get(5));
        RandomErasing re = (RandomErasing) t.get(5);
        assertEquals(1, re.minCount()); // timm: a count uniform in [1, --recount]
        assertEquals(3, re.maxCount());
        assertEquals(6, t.size());
        List<?> e = Pipelines.eval(o).steps();
        assertEquals(Resize.shorterSide(248).with(Interpolation.BICUBIC), e.get(0)); // floor(224 / 0.9)
        assertEquals(CenterCrop.square(224), e.get(1));

        Pipelines.Options cj = TrainPipelines.options(parse("--color-jitter", "0.1,0.2,0.3,0.05"), 224, MEAN, STD);
        assertEquals(new ColorJitter(0.1, 0.2, 0.3, 0.05), Pipelines.train(cj).steps().get(2));
        Pipelines.Options one = TrainPipelines.options(parse("--color-jitter", "0.4", "--aa", "original"), 224, MEAN, STD);
        assertInstanceOf(AutoAugment.class, Pipelines.train(one).steps().get(2));
        assertTrue(Pipelines.train(one).steps().stream().noneMatch(s -> s instanceof ColorJitter));
    }

    @Test
    void scaleOrRatioSwitchesSmallImagesToRandomResizedCrop() {
        Compose plain = Pipelines.train(TrainPipelines.options(parse(), 28, new float[] {0.3f}, new float[] {0.3f}));
        assertInstanceOf(RandomCrop.class, plain.steps().get(1));
        Compose rrc = Pipelines.train(TrainPipelines.options(parse("--scale", "0.5", "1"), 28, new float[] {0.3f}, new float[] {0.3f}));
        assertEquals(new RandomResizedCrop(28, 28, 0.5, 1, 3.0 / 4, 4.0 / 3), rrc.steps().get(0));
        Compose eval = Pipelines.eval(TrainPipelines.options(parse("--scale", "0.5", "1"), 28, new float[] {0.3f}, new float[] {0.3f}));
        assertEquals(Resize.to(28, 28), eval.steps().get(0)); // small-image eval unchanged
        TrainException both = assertThrows(TrainException.class,
                () -> TrainPipelines.options(parse("--scale", "0.5", "1", "--crop-padding", "2"), 28, new float[] {0.3f}, new float[] {0.3f}));
        assertTrue(both.getMessage().contains("--crop-padding"), both.getMessage());
    }

    @Test
    void badValuesAreOneLineErrorsNamingTheOption() {
        Map<String[], String> cases = Map.of(
                new String[] {"--aa", "rand-m9-q1"}, "--aa 'rand-m9-q1': bad section 'q1'",
                new String[] {"--aa", "v3"}, "unknown policy 'v3'",
                new String[] {"--remode", "zeros"}, "--remode must be const, rand or pixel, got 'zeros'",
                new String[] {"--recount", "0"}, "--recount must be >= 1",
                new String[] {"--reprob", "1.5"}, "--reprob must be in [0, 1]",
                new String[] {"--hflip", "-0.1"}, "--hflip must be in [0, 1]",
                new String[] {"--color-jitter", "0.1,0.2"}, "--color-jitter takes 1, 3 or 4 values",
                new String[] {"--scale", "0.5", "0.2"}, "--scale must be MIN MAX",
                new String[] {"--crop-pct", "1.2"}, "--crop-pct must be in (0, 1]",
                new String[] {"--interpolation", "random"}, "--interpolation random is for training only");
        for (Map.Entry<String[], String> e : cases.entrySet()) {
            TrainException x = assertThrows(TrainException.class, () -> TrainPipelines.validate(parse(e.getKey())), String.join(" ", e.getKey()));
            assertTrue(x.getMessage().startsWith(e.getValue()) || x.getMessage().contains(e.getValue()), x.getMessage());
        }
        TrainException lanczos = assertThrows(TrainException.class, () -> TrainPipelines.validate(parse("--train-interpolation", "lanczos")));
        assertEquals("--train-interpolation must be nearest, bilinear, bicubic or random, got 'lanczos'", lanczos.getMessage());
    }

    @Test
    void aRunWithTheSeedsRecipeAugmentationsTrainsAndRecordsThem() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 4, 2);
        Path run = tmp.resolve("run");
        List<String> args = TrainFixtures.tinyArgs(data, run, 1);
        args.addAll(List.of("--aa", "rand-m9-mstd0.5-inc1", "--reprob", "0.25", "--remode", "pixel", "--color-jitter", "0.4", "--vflip", "0.5",
                "--scale", "0.5", "1.0", "--ratio", "0.75", "1.3333", "--train-interpolation", "random", "--interpolation", "bicubic",
                "--crop-pct", "0.9"));
        TrainFixtures.Run r = TrainFixtures.lumenTrain(args);
        assertEquals(0, r.code(), r.err());
        Map<?, ?> config = (Map<?, ?>) Json.parse(Files.readString(run.resolve("config.json")));
        assertEquals("rand-m9-mstd0.5-inc1", config.get("aa"));
        assertEquals(0.25, ((Number) config.get("reprob")).doubleValue());
        assertEquals(List.of(0.5, 1.0), ((List<?>) config.get("scale")).stream().map(v -> ((Number) v).doubleValue()).toList());
        assertEquals("random", config.get("train-interpolation"));
        assertEquals(0.9, ((Number) config.get("crop-pct")).doubleValue());

        TrainFixtures.Run bad = TrainFixtures.lumenTrain(List.of("--data", data.toString(), "--aa", "rand-m9-zz", "--quiet"));
        assertEquals(1, bad.code());
        assertEquals("lumen train: --aa 'rand-m9-zz': bad section 'zz': a section is a key and a number, e.g. m9", bad.err().strip());
    }
}
