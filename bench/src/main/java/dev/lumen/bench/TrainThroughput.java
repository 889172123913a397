package dev.lumen.bench;

import dev.lumen.app.train.Amp;
import dev.lumen.app.train.GradScaler;
import dev.lumen.autograd.Autocast;
import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Training throughput on cuda:0, images per second per model: the step of `lumen train` (forward
 * under the --amp autocast, cross-entropy, loss-scaled backward, unscale, one host
 * read of loss and overflow flag, AdamW step or skip) on one synthetic batch, repeated: warm-up
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

    /** The model, its optimizer and scaler, and one synthetic batch on the device. */
    static final class Run implements AutoCloseable {
        final ImageClassifier model;
        final AdamW optimizer;
        final GradScaler scaler;
        final Amp amp;
        final Tensor images, labels;

        Run(String name, Options o) {
            Generator.global().manualSeed(0);
            model = ModelRegistry.create(name, ModelOptions.builder().numClasses(1000).imgSize(o.img()).build());
            model.to(BenchDevice.GPU);
            model.train();
            optimizer = new AdamW(model.parameters(), 1e-3, 0.05);
            amp = o.amp();
            scaler = amp.on() ? new GradScaler() : null;
            images = BenchDevice.randn(new Generator(1), DType.F32, 1, o.batch(), 3, o.img(), o.img());
            labels = Scope.detachFromScopes(Tensor.arange(0, o.batch(), 1, DType.I64).to(BenchDevice.GPU));
        }

        /** One training step; returns false if the scaler skipped the update (inf or NaN gradients). */
        boolean step() {
            try (Scope s = Scope.open()) {
                Tensor loss;
                try (Autocast ac = amp.autocast()) {
                    loss = Losses.crossEntropy(model.forward(images), labels);
                }
                (scaler != null ? scaler.scale(loss) : loss).backward();
                Tensor check = loss.detach().to(DType.F64);
                if (scaler != null) check = check.add(scaler.unscale(optimizer));
                double v = check.item();   // the step's one host wait, as lumen train's
                if (!Double.isFinite(v) && scaler == null) throw new IllegalStateException("loss is " + v);
                boolean stepped = true;
                if (scaler != null) {
                    scaler.foundInf(!Double.isFinite(v));
                    stepped = scaler.step(optimizer);
                    scaler.update();
                } else {
                    optimizer.step();
                }
                optimizer.zeroGrad();
                return stepped;
            }
        }

        @Override
        public void close() {
            BenchDevice.close(images, labels);
            for (Tensor t : optimizer.stateDict().tensors().values()) t.close();
            for (Tensor t : model.stateDict().values()) t.close();
            for (Tensor p : model.parameters()) p.close();
        }
    }

    static Result measure(String name, Options o) {
        try (Run run = new Run(name, o)) {
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
