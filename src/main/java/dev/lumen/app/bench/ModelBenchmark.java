package dev.lumen.app.bench;

import dev.lumen.app.train.Amp;
import dev.lumen.app.train.GradScaler;
import dev.lumen.autograd.GradMode;
import dev.lumen.memory.CachingAllocator;
import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * One model on one synthetic batch, stepped as timm's benchmark.py steps it. A training step is
 * forward (under the --amp autocast), cross-entropy, backward (loss-scaled for f16), AdamW step
 * and zero_grad, ending in one host read of the loss, as lumen train's step does; an inference
 * step is the eval-mode forward without autograd. Each step runs in its own scope, so nothing
 * of it outlives the step.
 */
public final class ModelBenchmark implements AutoCloseable {
    /** What to build and how to step it. */
    public record Spec(String model, BenchMode mode, int batch, int imgSize, int channels, int numClasses, Amp amp, Device device) {
        public Spec {
            if (batch < 1) throw new IllegalArgumentException("--batch-size must be >= 1, got " + batch);
            if (imgSize < 1) throw new IllegalArgumentException("--img-size must be >= 1, got " + imgSize);
            if (channels < 1) throw new IllegalArgumentException("--channels must be >= 1, got " + channels);
            if (numClasses < 1) throw new IllegalArgumentException("--num-classes must be >= 1, got " + numClasses);
        }

        /** The CSV's dtype column: float32, or amp_bfloat16 / amp_float16 as timm's --amp-dtype names them. */
        public String dtypeLabel() {
            return switch (amp) {
                case OFF -> "float32";
                case BF16 -> "amp_bfloat16";
                case F16 -> "amp_float16";
            };
        }
    }

    private final Spec spec;
    private final ImageClassifier model;
    private final AdamW optimizer;
    private final GradScaler scaler;
    private final Tensor images, labels;

    public ModelBenchmark(Spec spec) {
        this.spec = spec;
        Generator.global().manualSeed(0);
        ModelOptions options = ModelOptions.builder().numClasses(spec.numClasses()).inChannels(spec.channels()).imgSize(spec.imgSize()).build();
        try {
            model = ModelRegistry.create(spec.model(), options);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--model " + spec.model() + ": " + e.getMessage(), e);
        }
        if (!spec.device().equals(Device.CPU)) model.to(spec.device());
        boolean train = spec.mode() == BenchMode.TRAIN;
        if (train) model.train(); else model.eval();
        optimizer = train ? new AdamW(model.parameters(), 1e-3, 0.05) : null;
        scaler = train && spec.amp() == Amp.F16 ? new GradScaler() : null;
        long[] targets = new long[spec.batch()];
        for (int i = 0; i < targets.length; i++) targets[i] = i % spec.numClasses();
        images = Scope.detachFromScopes(Tensor.randn(new Generator(1), DType.F32, spec.batch(), spec.channels(), spec.imgSize(), spec.imgSize())
                .to(spec.device()));
        labels = Scope.detachFromScopes(Tensor.fromLongs(targets, spec.batch()).to(spec.device()));
    }

    public Spec spec() { return spec; }

    public long parameterCount() { return model.numParameters(); }

    /** Runs one step and returns its wall time in milliseconds. */
    public double step() {
        long t0 = System.nanoTime();
        if (spec.mode() == BenchMode.TRAIN) trainStep(); else inferenceStep();
        return (System.nanoTime() - t0) / 1e6;
    }

    private void trainStep() {
        try (Scope s = Scope.open()) {
            Tensor loss;
            try (var ac = spec.amp().autocast()) {
                loss = Losses.crossEntropy(model.forward(images), labels);
            }
            if (scaler == null) {
                loss.backward();
                double v = loss.item(); // the step's one host wait, as lumen train's
                if (!Double.isFinite(v)) throw new IllegalStateException(spec.model() + ": loss is " + v + " in the benchmark step");
                optimizer.step();
            } else {
                scaler.scale(loss).backward();
                double v = loss.detach().to(DType.F64).add(scaler.unscale(optimizer)).item();
                scaler.foundInf(!Double.isFinite(v));
                scaler.step(optimizer);
                scaler.update();
            }
            optimizer.zeroGrad();
        }
    }

    private void inferenceStep() {
        try (Scope s = Scope.open(); GradMode g = GradMode.noGrad(); var ac = spec.amp().autocast()) {
            Tensor out = model.forward(images);
            // A device runs ahead of the host: wait for the result, as torch.cuda.synchronize() does in timm's benchmark.
            if (!spec.device().equals(Device.CPU)) out.sum().item();
        }
    }

    /** The most host bytes that tensors held at once in this process so far, in MiB (NaN on a GPU, whose tensors are not host memory). */
    public double peakLiveMib() {
        return spec.device().equals(Device.CPU) ? CachingAllocator.host().peakLiveBytes() / 1048576.0 : Double.NaN;
    }

    @Override
    public void close() {
        images.close();
        labels.close();
        if (optimizer != null) for (Tensor t : optimizer.stateDict().tensors().values()) t.close();
        for (Tensor t : model.stateDict().values()) t.close();
        for (Tensor p : model.parameters()) p.close();
    }
}
