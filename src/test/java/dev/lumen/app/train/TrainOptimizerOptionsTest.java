package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.io.Json;
import dev.lumen.optim.AdaBelief;
import dev.lumen.optim.AdamW;
import dev.lumen.optim.Lamb;
import dev.lumen.optim.Optimizer;
import dev.lumen.optim.ParamGroup;
import dev.lumen.optim.RMSpropTF;
import dev.lumen.optim.SGD;
import dev.lumen.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The optimizer, lr, schedule, clipping and accumulation options of lumen train: timm's names, defaults and meanings. */
class TrainOptimizerOptionsTest {
    private static TrainConfig parse(String... args) { return CommandLine.populateCommand(new TrainConfig(), args); }

    /** args with option set to values, replacing the value tinyArgs gave it. */
    private static List<String> with(List<String> args, String option, String... values) {
        int i = args.indexOf(option);
        if (i >= 0) args.remove(i + 1);
        else args.add(i = args.size(), option);
        args.addAll(i + 1, List.of(values));
        return args;
    }

    private static List<ParamGroup> groups() { return List.of(ParamGroup.of(List.of(Tensor.zeros(2).requiresGrad(true)))); }

    @Test
    void defaultsAreTimms() {
        TrainConfig c = parse();
        assertEquals("sgd", c.opt);
        assertEquals(0.1, c.lrBase);
        assertEquals(256, c.lrBaseSize);
        assertEquals(5, c.warmupEpochs);
        assertEquals(90, c.decayEpochs);
        assertEquals(0, c.cooldownEpochs);
        assertEquals(1e-5, c.warmupLr);
        assertEquals(0, c.minLr);
        assertEquals("norm", c.clipMode);
        assertEquals(1, c.gradAccumSteps);
    }

    @Test
    void parsesTheTimmSpellings() {
        TrainConfig c = parse("--opt", "lamb", "--opt-eps", "1e-7", "--opt-betas", "0.8", "0.95", "--lr-base", "5e-4", "--lr-base-size", "512",
                "--lr-base-scale", "linear", "--sched", "multistep", "--decay-milestones", "30,60", "--cooldown-epochs", "3", "--clip-grad", "0.02",
                "--clip-mode", "agc", "--grad-accum-steps", "4");
        assertEquals(1e-7, c.optEps);
        assertArrayEquals(new double[] {0.8, 0.95}, c.optBetas);
        assertEquals(5e-4, c.lrBase);
        assertEquals(512, c.lrBaseSize);
        assertEquals("linear", c.lrBaseScale);
        assertArrayEquals(new double[] {30, 60}, c.decayMilestones);
        assertEquals(3, c.cooldownEpochs);
        assertEquals("agc", c.clipMode);
        assertEquals(4, c.gradAccumSteps);
        // The new options round-trip through config.json (a resumed run reads them back).
        TrainConfig back = TrainConfig.fromMap(c.toMap());
        assertArrayEquals(c.optBetas, back.optBetas);
        assertArrayEquals(c.decayMilestones, back.decayMilestones);
        assertEquals(4, back.gradAccumSteps);
    }

    @Test
    void configsFromBeforeTimmsNamesResumeWithTheSameOptimizer() {
        Map<String, Object> old = new java.util.LinkedHashMap<>(parse().toMap());
        old.put("nesterov", false);
        assertEquals("momentum", TrainConfig.fromMap(old).opt);
        old.put("nesterov", true);
        assertEquals("sgd", TrainConfig.fromMap(old).opt);
    }

    @Test
    void lrFromLrBaseFollowsTimmsRule() {
        // sgd, momentum, lars, rmsprop: linear in the global batch; 'ada' names and lamb: square root.
        assertEquals(0.05, OptimizerFactory.baseLr("sgd", 0.1, 256, null, 128, 1), 1e-15);
        assertEquals(0.1, OptimizerFactory.baseLr("lars", 0.1, 256, null, 128, 2), 1e-15);
        assertEquals(0.1 * Math.sqrt(0.5), OptimizerFactory.baseLr("adamw", 0.1, 256, null, 128, 1), 1e-15);
        assertEquals(0.1 * Math.sqrt(2), OptimizerFactory.baseLr("lamb", 0.1, 256, null, 128, 4), 1e-15);
        assertEquals(0.1 * 0.5, OptimizerFactory.baseLr("adamw", 0.1, 256, "linear", 128, 1), 1e-15);
        assertEquals(1e-3 * Math.sqrt(0.25), OptimizerFactory.baseLr("sgd", 1e-3, 512, "sqrt", 128, 1), 1e-15);
    }

    @Test
    void eachNameBuildsTimmsOptimizer() {
        Optimizer sgd = OptimizerFactory.create("sgd", groups(), 0.1, 0.9, null, null);
        assertInstanceOf(SGD.class, sgd);
        assertEquals(true, sgd.paramGroups().get(0).getBoolean("nesterov"));
        assertEquals(false, OptimizerFactory.create("momentum", groups(), 0.1, 0.9, null, null).paramGroups().get(0).getBoolean("nesterov"));
        Optimizer adamw = OptimizerFactory.create("adamw", groups(), 0.1, 0.9, 1e-6, new double[] {0.8, 0.9});
        assertInstanceOf(AdamW.class, adamw);
        assertEquals(1e-6, adamw.paramGroups().get(0).getDouble("eps"));
        assertEquals(0.8, adamw.paramGroups().get(0).getDouble("beta1"));
        assertEquals(1e-6, OptimizerFactory.create("lamb", groups(), 0.1, 0.9, null, null).paramGroups().get(0).getDouble("eps"));
        assertInstanceOf(Lamb.class, OptimizerFactory.create("lamb", groups(), 0.1, 0.9, null, null));
        assertEquals(1e-16, OptimizerFactory.create("adabelief", groups(), 0.1, 0.9, null, null).paramGroups().get(0).getDouble("eps"));
        assertInstanceOf(AdaBelief.class, OptimizerFactory.create("adabelief", groups(), 0.1, 0.9, null, null));
        Optimizer tf = OptimizerFactory.create("rmsproptf", groups(), 0.1, 0.8, null, null);
        assertInstanceOf(RMSpropTF.class, tf);
        assertEquals(0.8, tf.paramGroups().get(0).getDouble("momentum"));
        assertEquals(0.9, tf.paramGroups().get(0).getDouble("alpha"));
        for (String n : OptimizerFactory.NAMES) assertEquals(0.1, OptimizerFactory.create(n, groups(), 0.1, 0.9, null, null).paramGroups().get(0).lr());
    }

    @Test
    void badValuesAreOneLineErrorsNamingTheOption(@TempDir Path dir) throws Exception {
        Path data = TrainFixtures.folderDataset(dir.resolve("data"), 4, 2);
        String[][] cases = {
                {"--opt", "adamax", "--opt must be one of sgd, momentum, adam"},
                {"--lr-base-scale", "cubic", "--lr-base-scale must be linear or sqrt"},
                {"--clip-mode", "max", "--clip-mode must be norm, value or agc"},
                {"--grad-accum-steps", "0", "--grad-accum-steps must be >= 1"},
                {"--decay-milestones", "60,30", "--decay-milestones must be ascending"},
                {"--opt-betas", "0.9 1.5", "--opt-betas must be in [0, 1)"},
                {"--opt", "sgd --momentum 0", "--opt sgd is Nesterov SGD (as timm) and needs --momentum > 0"},
        };
        for (String[] c : cases) {
            TrainFixtures.Run r = TrainFixtures.lumenTrain(with(TrainFixtures.tinyArgs(data, dir.resolve("out"), 1), c[0], c[1].split(" ")));
            assertEquals(1, r.code(), c[0]);
            assertTrue(r.err().startsWith("lumen train: " + c[2]), r.err());
        }
        List<String> a = with(TrainFixtures.tinyArgs(data, dir.resolve("out"), 1), "--opt", "sgd");
        assertTrue(TrainFixtures.lumenTrain(with(a, "--opt-betas", "0.9", "0.99")).err().contains("--opt-betas: --opt sgd has no betas"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void gradAccumulationCooldownAndLrBaseInATinyRun(@TempDir Path dir) throws Exception {
        Path data = TrainFixtures.folderDataset(dir.resolve("data"), 4, 2);
        Path out = dir.resolve("run");
        List<String> a = TrainFixtures.tinyArgs(data, out, 1);
        int lr = a.indexOf("--lr");
        a.remove(lr + 1);
        a.remove(lr);
        // 3 micro-batches of 4 per epoch, 2 per update: updates after micro-batches 2 and 3; one cooldown epoch after --epochs 1.
        with(a, "--opt", "lamb");
        a.addAll(List.of("--grad-accum-steps", "2", "--cooldown-epochs", "1", "--min-lr", "1e-4", "--clip-grad", "0.01", "--clip-mode", "agc"));
        TrainFixtures.Run r = TrainFixtures.lumenTrain(a);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("epoch 2/2"), r.out());
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(out.resolve("last.safetensors"))) {
            assertEquals(4L, ((Number) l.info().get("global_step")).longValue());
        }
        Map<String, Object> cfg = (Map<String, Object>) Json.parse(Files.readString(out.resolve("config.json")));
        // timm: 0.1 x sqrt(4 x 2 / 256) for lamb; config.json says how the lr was made and lamb's own eps and betas.
        assertEquals(0.1 * Math.sqrt(8.0 / 256), ((Number) cfg.get("lr")).doubleValue(), 1e-15);
        assertEquals("sqrt", cfg.get("lr-base-scale"));
        assertEquals(1e-6, ((Number) cfg.get("opt-eps")).doubleValue());
        assertEquals(List.of(0.9, 0.999), cfg.get("opt-betas"));
        // The cooldown epoch runs at the cosine floor.
        List<String> csv = Files.readAllLines(out.resolve("metrics.csv"));
        String[] head = csv.get(0).split(",");
        int lrCol = List.of(head).indexOf("lr");
        assertEquals(1e-4, Double.parseDouble(csv.get(2).split(",")[lrCol]), 1e-12);
    }

    @Test
    @SuppressWarnings("unchecked")
    void layerDecayScalesEachBlocksLr(@TempDir Path dir) throws Exception {
        Path data = TrainFixtures.folderDataset(dir.resolve("data"), 4, 2);
        Path out = dir.resolve("run");
        List<String> a = with(TrainFixtures.tinyArgs(data, out, 1), "--warmup-epochs", "0");
        a.addAll(List.of("--layer-decay", "0.5", "--sched", "step"));
        TrainFixtures.Run r = TrainFixtures.lumenTrain(a);
        assertEquals(0, r.code(), r.err());
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(out.resolve("last.safetensors"))) {
            // resnet_micro: the stem, four one-block stages, the head: 6 layers, lr x 0.5^5 ... 1, each with and without decay.
            java.util.TreeSet<Double> lrs = new java.util.TreeSet<>();
            for (Object g : (List<Object>) l.optimizer().meta().get("param_groups")) lrs.add(((Number) ((Map<String, Object>) g).get("lr")).doubleValue());
            assertEquals(List.of(0.01 / 32, 0.01 / 16, 0.01 / 8, 0.01 / 4, 0.01 / 2, 0.01), List.copyOf(lrs));
        }
        // The epoch line shows the schedule's (the head's) lr.
        assertTrue(r.out().contains("lr 1.000e-02"), r.out());
    }
}
