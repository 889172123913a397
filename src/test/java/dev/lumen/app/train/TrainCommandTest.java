package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.io.Json;
import dev.lumen.io.Safetensors;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** lumen train end to end on a tiny generated folder dataset, and its one-line errors. */
class TrainCommandTest {
    @TempDir Path tmp;

    @Test
    void twoEpochsWriteEveryArtifact() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 6, 3);
        Path run = tmp.resolve("run");
        List<EpochRecord> seen = new ArrayList<>();
        TrainResult[] result = new TrainResult[1];
        List<String> args = TrainFixtures.tinyArgs(data, run, 2);
        args.addAll(List.of("--model-ema", "--model-ema-decay", "0.9", "--mixup", "0.2", "--cutmix", "1.0", "--clip-grad", "5",
                "--eval-metric", "loss"));
        TrainFixtures.Run r = TrainFixtures.lumenTrain(args, new TrainListener() {
            @Override
            public void onEpochEnd(EpochRecord record, List<EpochRecord> history) { seen.add(record); }

            @Override
            public void onFinish(TrainResult res) { result[0] = res; }
        });
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals("run folder: " + run, lines[lines.length - 2]);
        assertTrue(lines[lines.length - 1].matches("final val top-1: \\d+\\.\\d\\d% loss \\d+\\.\\d{4} \\(EMA weights\\); best EMA loss \\d+\\.\\d{4} at epoch [12]"),
                lines[lines.length - 1]);
        assertTrue(r.out().contains("epoch 2/2  train loss"), r.out());

        Map<?, ?> config = (Map<?, ?>) Json.parse(Files.readString(run.resolve("config.json")));
        assertEquals(TrainConfig.keys(), new ArrayList<>(config.keySet().stream().map(String::valueOf).toList()));
        assertEquals(0.01, ((Number) config.get("lr")).doubleValue());
        assertEquals(1L, config.get("in-chans"));
        assertEquals(3L, config.get("num-classes"));
        assertEquals(run.toString(), config.get("output"));
        assertEquals("folder", config.get("dataset"), "the data is --data's folder");
        assertTrue(config.get("crop-padding") instanceof Number, "crop-padding resolved: " + config.get("crop-padding"));
        assertEquals(true, config.get("model-ema-warmup"));
        assertEquals("loss", config.get("eval-metric"));

        List<String> csv = Files.readAllLines(run.resolve("metrics.csv"));
        assertEquals(3, csv.size(), csv.toString());
        assertEquals(EpochRecord.CSV_HEADER, csv.get(0));
        assertTrue(csv.get(2).startsWith("2,"), csv.get(2));
        assertEquals(12, csv.get(1).split(",", -1).length);

        try (Stream<Path> s = Files.list(run)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            assertTrue(names.stream().anyMatch(n -> n.startsWith("events.out.tfevents.")), names.toString());
            assertTrue(names.containsAll(List.of("best.safetensors", "last.safetensors", "ema.safetensors", "config.json", "metrics.csv",
                    "curves.png", "report.md", "report.json")), names.toString());
            assertFalse(names.stream().anyMatch(n -> n.endsWith(".tmp")), names.toString());
        }
        String report = Files.readString(run.resolve("report.md"));
        assertTrue(report.contains("## Per-class metrics") && report.contains("## Confusion matrix"), report);
        for (String c : TrainFixtures.CLASSES) assertTrue(report.contains(c), "report.md names class " + c);
        assertNotNull(javax.imageio.ImageIO.read(run.resolve("curves.png").toFile()), "curves.png decodes");
        Path events = Files.list(run).filter(p -> p.getFileName().toString().startsWith("events")).findFirst().orElseThrow();
        assertTrue(Files.size(events) > 200, "event file holds the scalars");

        assertEquals(2, seen.size());
        assertTrue(seen.get(1).hasEma());
        assertNotNull(result[0]);
        Predictions p = result[0].predictions();
        assertEquals(9, p.size());
        assertEquals(List.of(TrainFixtures.CLASSES), p.classNames());
        assertEquals(result[0].finalTop1(), p.top1(), 1e-9);
        reportsNameTheirWeights(run, data, result[0]);
        for (int i = 0; i < p.size(); i++) {
            double sum = 0;
            for (int c = 0; c < 3; c++) sum += p.probability(i, c);
            assertEquals(1.0, sum, 1e-5);
        }
        // The EMA file holds plain model keys, loadable as weights.
        Safetensors.Contents ema = Safetensors.read(run.resolve("ema.safetensors"));
        assertTrue(ema.tensors().containsKey("fc.weight"), ema.tensors().keySet().toString());
        ema.tensors().values().forEach(Tensor::close);
    }

    /** Every number of report.md/report.json is the EMA's of the last epoch, and says so; best is by the EMA's loss. */
    private static void reportsNameTheirWeights(Path run, Path data, TrainResult res) throws IOException {
        EpochRecord last = res.history().get(res.history().size() - 1);
        assertTrue(res.emaWeights());
        assertEquals(last.emaValTop1(), res.finalTop1(), 1e-9);
        assertEquals(last.emaValLoss(), res.finalLoss(), 1e-9);
        EpochRecord best = res.history().stream().min(java.util.Comparator.comparingDouble(EpochRecord::emaValLoss)).orElseThrow();
        assertEquals(best.epoch(), res.bestEpoch());
        assertEquals(best.emaValLoss(), res.bestMetric(), 0);

        String md = Files.readString(run.resolve("report.md"));
        assertTrue(md.contains("| Dataset | " + data + " (val) |"), md);
        assertTrue(md.contains("| Weights | EMA weights after epoch 2 (ema.safetensors; decay 0.9 with timm's warmup) |"), md);
        assertTrue(md.contains(String.format(java.util.Locale.ROOT, "| Top-1 | %.2f%% |", last.emaValTop1())), md);
        assertTrue(md.contains(String.format(java.util.Locale.ROOT, "| Loss | %.4f |", last.emaValLoss())), md);
        assertFalse(md.contains("null"), md);
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(run.resolve("report.json")));
        assertEquals(last.emaValLoss(), ((Number) json.get("loss")).doubleValue(), 1e-9);
        assertTrue(String.valueOf(json.get("weights")).startsWith("EMA weights"), json.toString());
    }

    private TrainFixtures.Run fails(List<String> args) {
        TrainFixtures.Run r = TrainFixtures.lumenTrain(args);
        assertEquals(1, r.code(), r.out() + r.err());
        assertEquals(1, r.err().strip().split("\n").length, "one line: " + r.err());
        assertTrue(r.err().startsWith("lumen train: "), r.err());
        return r;
    }

    @Test
    void missingFolderEmptyClassAndUnknownModel() throws IOException {
        Path missing = tmp.resolve("nowhere");
        assertTrue(fails(TrainFixtures.tinyArgs(missing, tmp.resolve("o1"), 1)).err().contains("--data " + missing + ": no such folder"));

        Path noVal = Files.createDirectories(tmp.resolve("noval/train/a"));
        assertTrue(fails(TrainFixtures.tinyArgs(noVal.getParent().getParent(), tmp.resolve("o2"), 1)).err().contains("no val/ folder"));

        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        Path empty = Files.createDirectories(data.resolve("train/zzz_empty"));
        String err = fails(TrainFixtures.tinyArgs(data, tmp.resolve("o3"), 1)).err();
        assertTrue(err.contains(empty + ": class folder has no images"), err);
        Files.delete(empty);

        List<String> args = TrainFixtures.tinyArgs(data, tmp.resolve("o4"), 1);
        args.set(args.indexOf("resnet_micro"), "resnet_mikro");
        err = fails(args).err();
        assertTrue(err.contains("unknown model 'resnet_mikro'; did you mean resnet_micro"), err);

        args = TrainFixtures.tinyArgs(data, tmp.resolve("o5"), 1);
        args.addAll(List.of("--crop-padding", "-2"));
        err = fails(args).err();
        assertTrue(err.contains("--crop-padding must be >= 0, got -2"), err);
    }

    @Test
    void cudaWithoutBackendIsAnErrorNotAFallback() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        List<String> args = TrainFixtures.tinyArgs(data, tmp.resolve("o"), 1);
        args.addAll(List.of("--device", "cuda"));
        String status;
        try {
            status = dev.lumen.backend.Backends.cudaStatus();
        } catch (java.util.ServiceConfigurationError e) {
            status = e.getMessage();
        }
        if (status == null) return; // a machine with a GPU: nothing to refuse
        String err = fails(args).err();
        assertTrue(err.contains("--device cuda: CUDA backend unavailable"), err);
        assertFalse(Files.exists(tmp.resolve("o/last.safetensors")));
    }

    @Test
    void pretrainedWithOtherShapesNamesTheKeysAndOtherClassCountDropsTheHead() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        Path first = tmp.resolve("first");
        TrainFixtures.Run ok = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, first, 1));
        assertEquals(0, ok.code(), ok.err());

        // Same model, 5 classes: the 3-class head is dropped and reported.
        List<String> args = TrainFixtures.tinyArgs(data, tmp.resolve("second"), 1);
        args.addAll(List.of("--pretrained", first.resolve("last.safetensors").toString(), "--num-classes", "5", "--freeze", "*,!fc.*"));
        TrainFixtures.Run r = TrainFixtures.lumenTrain(args);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("pretrained: classifier [fc.weight, fc.bias] not loaded"), r.out());
        assertTrue(r.out().matches("(?s).*freeze: \\d+ of \\d+ parameter tensors frozen.*"), r.out());

        // Another model: the first mismatching keys are named.
        args = TrainFixtures.tinyArgs(data, tmp.resolve("third"), 1);
        args.set(args.indexOf("resnet_micro"), "resnet_fmnist");
        args.addAll(List.of("--pretrained", first.resolve("last.safetensors").toString()));
        String err = fails(args).err();
        assertTrue(err.contains("the weights do not fit resnet_fmnist") && err.contains("shape mismatches [layer1.0.conv1.weight: module [16, 16, 1, 1], state [8, 16, 1, 1]"), err);
    }
}
