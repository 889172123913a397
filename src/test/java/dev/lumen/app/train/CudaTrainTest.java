package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.cuda.CallCounts;
import dev.lumen.cuda.CudaException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Assumptions;

/**
 * lumen train --device cuda end to end (under the emulated driver in CI, cuBLAS and cuDNN
 * emulated too; against the real ones under make gpu-test): the same losses as --device cpu,
 * the same run folder, a checkpoint that resumes on the CPU, and what a GPU profile of a steady
 * step would show.
 */
class CudaTrainTest {
    @TempDir static Path tmp;
    static Path data;

    @BeforeAll
    static void cudaAndData() throws IOException {
        String why = Backends.cudaStatus();
        if (why != null && Boolean.getBoolean("lumen.cuda.required")) throw new CudaException(why, -1);
        Assumptions.assumeTrue(why == null, why);
        data = TrainFixtures.folderDataset(tmp.resolve("data"), 8, 4);
    }

    static final class Records implements TrainListener {
        final List<EpochRecord> epochs = new ArrayList<>();
        final List<Double> losses = new ArrayList<>();

        @Override
        public void onStep(long globalStep, double loss) { losses.add(loss); }

        @Override
        public void onEpochEnd(EpochRecord r, List<EpochRecord> history) { epochs.add(r); }
    }

    /** tinyArgs with option set to value (replaced where tinyArgs has it, else added). */
    static List<String> with(List<String> args, String option, String value) {
        int i = args.indexOf(option);
        if (i >= 0) args.set(i + 1, value);
        else args.addAll(List.of(option, value));
        return args;
    }

    private static Records train(Path out, String device, int epochs) {
        List<String> args = with(TrainFixtures.tinyArgs(data, out, epochs), "--device", device);
        Records r = new Records();
        TrainFixtures.Run run = TrainFixtures.lumenTrain(args, r);
        assertEquals(0, run.code(), device + ": " + run.err());
        return r;
    }

    private static Set<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("events.out.tfevents"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }

    @Test
    void trainsLikeTheCpuAndResumesOnTheCpu() throws IOException {
        Records cpu = train(tmp.resolve("cpu"), "cpu", 2);
        Records cuda = train(tmp.resolve("cuda"), "cuda", 2);
        assertEquals(cpu.losses.size(), cuda.losses.size());
        // Same initial weights (drawn on the host), batches and augmentation: the first updates
        // differ only by the order of float sums (cuBLAS/cuDNN tiles, device reductions), ~1e-6
        // relative. Later this tiny BatchNorm net on 8x8 images is chaotic (AdamW divides by
        // sqrt(v), batches of 4): rounding differences grow to percent level within two epochs,
        // so only the first three updates are compared tightly.
        for (int i = 0; i < 3; i++) {
            assertEquals(cpu.losses.get(i), cuda.losses.get(i), 1e-4 * Math.abs(cpu.losses.get(i)), "loss of update " + (i + 1));
        }
        for (EpochRecord r : cuda.epochs) assertTrue(Double.isFinite(r.trainLoss()) && Double.isFinite(r.valLoss()), "finite losses: " + r);
        assertEquals(files(tmp.resolve("cpu")), files(tmp.resolve("cuda")), "the same run folder");
        Path resumed = tmp.resolve("cuda");
        List<String> args = with(TrainFixtures.tinyArgs(data, resumed, 3), "--device", "cpu");
        args.addAll(List.of("--resume", resumed.resolve("last.safetensors").toString()));
        Records r = new Records();
        TrainFixtures.Run run = TrainFixtures.lumenTrain(args, r);
        assertEquals(0, run.code(), "a cuda checkpoint resumes on the cpu: " + run.err());
        assertEquals(1, r.epochs.size(), "one more epoch");
        assertEquals(3, r.epochs.get(0).epoch());

        // And the other way: a CPU run's checkpoint resumes on cuda.
        Path fromCpu = tmp.resolve("cpu");
        List<String> back = with(TrainFixtures.tinyArgs(data, fromCpu, 3), "--device", "cuda");
        back.addAll(List.of("--resume", fromCpu.resolve("last.safetensors").toString()));
        Records rc = new Records();
        TrainFixtures.Run runBack = TrainFixtures.lumenTrain(back, rc);
        assertEquals(0, runBack.code(), "a cpu checkpoint resumes on cuda: " + runBack.err());
        assertEquals(3, rc.epochs.get(0).epoch());

        // eval on either device reports the same accuracy for the same weights.
        String ck = tmp.resolve("cuda").resolve("last.safetensors").toString();
        String onCpu = cli("eval", "--checkpoint", ck, "--device", "cpu", "--workers", "0", "--output", tmp.resolve("eval-cpu").toString());
        String onCuda = cli("eval", "--checkpoint", ck, "--device", "cuda", "--workers", "0", "--output", tmp.resolve("eval-cuda").toString());
        assertEquals(onCpu.lines().findFirst().orElseThrow(), onCuda.lines().findFirst().orElseThrow(), "eval's summary line on cpu and cuda");
        String predicted = cli("predict", "--checkpoint", ck, "--device", "cuda", "--topk", "1",
                data.resolve("val").resolve(TrainFixtures.CLASSES[0]).resolve("img00.png").toString());
        assertTrue(predicted.contains("img00.png"), predicted);
    }

    /**
     * --device cuda:1 trains on the second device: the same losses, bit for bit, as on cuda:0 (the
     * same kernels on the same inputs), with every allocation on cuda:1; a missing ordinal is a
     * one-line error naming how many devices there are.
     */
    @Test
    void trainsOnTheSecondDevice() {
        int devices = dev.lumen.cuda.CudaContext.deviceCount();
        if (Boolean.getBoolean("lumen.cuda.required") && CudaBackend.get().driver().isEmulated()) {
            assertTrue(devices >= 2, "the build runs the emulated driver with LUMEN_EMU_DEVICES=2, it reports " + devices);
        }
        Assumptions.assumeTrue(devices >= 2, "one CUDA device here");
        Records first = train(tmp.resolve("cuda0"), "cuda:0", 1);
        long allocationsOn0 = CudaBackend.of(0).driverAllocations();
        Records second = train(tmp.resolve("cuda1"), "cuda:1", 1);
        assertEquals(first.losses, second.losses, "cuda:0 and cuda:1 compute the same bits");
        assertEquals(allocationsOn0, CudaBackend.of(0).driverAllocations(), "a cuda:1 run allocated on cuda:0");
        assertTrue(CudaBackend.of(1).driverAllocations() > 0, "nothing allocated on cuda:1");

        List<String> args = with(TrainFixtures.tinyArgs(data, tmp.resolve("cuda9"), 1), "--device", "cuda:9");
        TrainFixtures.Run run = TrainFixtures.lumenTrain(args, new Records());
        assertTrue(run.code() != 0, "cuda:9 trained");
        assertTrue(run.err().contains("--device cuda:9: CUDA backend unavailable: cuda:9 requested but the driver reports "
                + devices + " devices"), run.err());
        assertEquals(1, run.err().strip().lines().count(), "one line: " + run.err());
    }

    /** Runs a lumen subcommand in-process; returns its standard output, failing on a non-zero exit. */
    private static String cli(String... args) {
        java.io.StringWriter out = new java.io.StringWriter(), err = new java.io.StringWriter();
        picocli.CommandLine cl = new picocli.CommandLine(new dev.lumen.app.LumenCli());
        cl.setOut(new java.io.PrintWriter(out, true));
        cl.setErr(new java.io.PrintWriter(err, true));
        assertEquals(0, cl.execute(args), String.join(" ", args) + ": " + err);
        return out.toString();
    }

    /** Counts driver calls between consecutive updates of one epoch, after a warm-up epoch. */
    static final class StepProfile implements TrainListener {
        final List<CallCounts> perStep = new ArrayList<>();
        final List<Long> liveBytes = new ArrayList<>();
        int epochsDone;
        CallCounts last;

        @Override
        public void onStep(long globalStep, double loss) {
            CudaBackend b = CudaBackend.get();
            CallCounts now = b.driver().callCounts();
            if (epochsDone >= 1 && last != null) {
                perStep.add(now.since(last));
                liveBytes.add(b.liveBytes());
            }
            last = now;
        }

        @Override
        public void onEpochEnd(EpochRecord r, List<EpochRecord> history) {
            epochsDone++;
            last = null;   // validation and checkpoints lie between epochs: count steps only
        }
    }

    @Test
    void aSteadyStepAllocatesNothingAndWaitsOnce() {
        Assumptions.assumeTrue(CudaBackend.get().driver().isEmulated(), "call counts come from the emulated driver");
        StepProfile p = new StepProfile();
        List<String> args = with(with(TrainFixtures.tinyArgs(data, tmp.resolve("profile"), 3), "--device", "cuda"), "-b", "2");
        TrainFixtures.Run run = TrainFixtures.lumenTrain(args, p);
        assertEquals(0, run.code(), run.err());
        assertTrue(p.perStep.size() >= 10, "steady steps measured: " + p.perStep.size());
        for (CallCounts c : p.perStep) {
            assertEquals(0, c.allocations(), "no cuMemAlloc in a steady step: " + c);
            assertEquals(0, c.frees(), "no cuMemFree in a steady step: " + c);
            assertTrue(c.hostWaits() <= 1, "at most one host wait per step: " + c);
        }
        // The backend is shared by the whole test JVM, so tensors an earlier test left to the GC may be
        // freed during this run: live bytes may fall, but a step that leaks makes them rise.
        for (int i = 1; i < p.liveBytes.size(); i++) {
            assertTrue(p.liveBytes.get(i) <= p.liveBytes.get(i - 1), "live device bytes rose at steady step " + i + ": " + p.liveBytes);
        }
        System.out.println("cuda step profile (resnet_micro, batch 2): " + p.perStep.get(p.perStep.size() - 1));
    }
}
