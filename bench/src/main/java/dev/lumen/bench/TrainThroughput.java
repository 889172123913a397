package dev.lumen.bench;

import dev.lumen.app.bench.BenchMode;
import dev.lumen.app.bench.ModelBenchmark;
import dev.lumen.app.train.Amp;
import dev.lumen.backend.cuda.CudaBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Training throughput on cuda:0, images per second per model: the training step of `lumen
 * benchmark` ({@link ModelBenchmark}: forward under the --amp autocast, cross-entropy, backward,
 * loss-scaled for f16, AdamW, one host read of the loss) on one synthetic batch, repeated: warm-up
 * steps, then timed steps with the device synchronized before the clock starts and after it
 * stops. bench/peers/train_throughput_peer.py prints the same table for PyTorch.
 *
 * <p>Under the emulated driver it runs one tiny step per model (batch 2, 32x32) as a smoke check
 * and says so: the figures then measure the CPU emulation, not a GPU.
 *
 * <p>Usage: TrainThroughput [--models a,b,...] [--batch 64] [--img 224] [--amp bf16|off]
 * [--warmup 10] [--steps 30]
 */
public final class TrainThroughput {
    static final List<String> MODELS = List.of("resnet50", "vit_small_patch16_224", "volo_d1", "rcvit_xs", "vmamba_tiny", "replknet_31b");

    record Options(List<String> models, int batch, int img, Amp amp, int warmup, int steps) {
        static Options parse(String[] args, boolean emulated) {
            List<String> models = MODELS;
            int batch = emulated ? 2 : 64, img = emulated ? 32 : 224, warmup = emulated ? 0 : 10, steps = emulated ? 1 : 30;
            Amp amp = Amp.BF16;
            for (int i = 0; i < args.length; i++) {
                String v = i + 1 < args.length ? args[i + 1] : null;
                if (v == null) throw new IllegalArgumentException(args[i] + " needs a value");
                switch (args[i]) {
                    case "--models" -> models = List.of(v.split(","));
                    case "--batch" -> batch = Integer.parseInt(v);
                    case "--img" -> img = Integer.parseInt(v);
                    case "--amp" -> amp = Amp.parse(v);
                    case "--warmup" -> warmup = Integer.parseInt(v);
                    case "--steps" -> steps = Integer.parseInt(v);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]
                            + " (use --models, --batch, --img, --amp, --warmup, --steps)");
                }
                i++;
            }
            if (batch < 1 || img < 1 || warmup < 0 || steps < 1) throw new IllegalArgumentException("--batch, --img and --steps must be >= 1, --warmup >= 0");
            return new Options(models, batch, img, amp, warmup, steps);
        }
    }

    /** One model's figure: images per second over the timed steps, and under the emulated driver the driver calls of one step. */
    record Result(String model, double imagesPerSecond, double msPerStep, String profile) {}

    static Result measure(String name, Options o) {
        var spec = new ModelBenchmark.Spec(name, BenchMode.TRAIN, o.batch(), o.img(), 3, 1000, o.amp(), BenchDevice.GPU);
        try (ModelBenchmark run = new ModelBenchmark(spec)) {
            CudaBackend backend = CudaBackend.get();
            for (int i = 0; i < o.warmup(); i++) run.step();
            backend.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < o.steps(); i++) run.step();
            backend.synchronize();
            double seconds = (System.nanoTime() - t0) / 1e9;
            String profile = null;
            if (backend.driver().isEmulated()) {
                // What a GPU profile of one steady step shows: the driver calls of one more step.
                var before = backend.driver().callCounts();
                run.step();
                var d = backend.driver().callCounts().since(before);
                profile = d.launches() + " launches, " + d.hostWaits() + " host waits, " + d.allocations() + " cuMemAlloc, "
                        + d.copiesHtoD() + " HtoD / " + d.copiesDtoH() + " DtoH / " + d.copiesDtoD() + " DtoD copies, " + d.memsets() + " memsets";
            }
            return new Result(name, o.batch() * o.steps() / seconds, 1000 * seconds / o.steps(), profile);
        }
    }

    public static void main(String[] args) {
        String why = dev.lumen.backend.Backends.cudaStatus();
        if (why != null) {
            System.err.println("bench-train: " + why);
            System.exit(1);
        }
        boolean emulated = BenchDevice.emulated();
        Options o;
        try {
            o = Options.parse(args, emulated);
        } catch (IllegalArgumentException e) {
            System.err.println("bench-train: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.out.println("lumen training throughput on " + CudaBackend.get().context().describe() + ": batch " + o.batch() + ", "
                + o.img() + "x" + o.img() + ", amp " + o.amp().name().toLowerCase(Locale.ROOT) + ", synthetic data, " + o.warmup()
                + " warm-up + " + o.steps() + " timed steps");
        if (emulated) System.out.println(BenchDevice.EMULATED_NOTE + ": one tiny step per model");
        List<Result> results = new ArrayList<>();
        int failures = 0;
        System.out.println(String.format(Locale.ROOT, "%-24s %12s %10s", "model", "images/s", "ms/step"));
        for (String m : o.models()) {
            try {
                Result r = measure(m, o);
                results.add(r);
                System.out.println(String.format(Locale.ROOT, "%-24s %12.1f %10.1f", r.model(), r.imagesPerSecond(), r.msPerStep())
                        + (r.profile() == null ? "" : "  one step: " + r.profile()));
            } catch (RuntimeException e) {
                failures++;
                System.out.println(String.format(Locale.ROOT, "%-24s %12s %10s  %s", m, "failed", "-", e));
            }
            System.out.flush();
        }
        if (failures > 0) System.exit(1);
    }
}
