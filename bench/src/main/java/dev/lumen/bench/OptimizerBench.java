package dev.lumen.bench;

import dev.lumen.memory.Scope;
import dev.lumen.models.ModelRegistry;
import dev.lumen.optim.AdaBelief;
import dev.lumen.optim.AdamW;
import dev.lumen.optim.GradClip;
import dev.lumen.optim.Lamb;
import dev.lumen.optim.Lars;
import dev.lumen.optim.NAdam;
import dev.lumen.optim.Optimizer;
import dev.lumen.optim.ParamGroup;
import dev.lumen.optim.RAdam;
import dev.lumen.optim.RMSprop;
import dev.lumen.optim.SGD;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One optimizer step over resnet50's 161 parameter tensors (25.6M F32 elements, random
 * gradients) on the CPU, as the training loop runs it: AdamW, SGD with momentum, NAdam, RAdam,
 * RMSprop with momentum and AdaBelief (each one multi-tensor pass), LAMB (its global clip, then
 * norms and update) and LARS (norms, then update), all with weight decay; and the 2-norm
 * gradient clip before them, and AGC (timm's adaptive_clip_grad).
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class OptimizerBench {
    @Param({"adamw", "sgd", "nadam", "radam", "lamb", "lars", "rmsprop", "adabelief"})
    public String optimizer;

    private List<Tensor> params;
    private Optimizer opt;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        params = new ArrayList<>();
        try (Scope s = Scope.open()) {
            for (Tensor p : ModelRegistry.create("resnet50").parameters()) {
                Tensor fresh = Scope.detachFromScopes(Tensor.randn(g, DType.F32, p.shape()).mul(0.02));
                fresh.setGrad(Scope.detachFromScopes(Tensor.randn(g, DType.F32, p.shape())));
                params.add(fresh);
            }
        }
        List<ParamGroup> groups = List.of(ParamGroup.of(params).set("weight_decay", 0.05));
        opt = switch (optimizer) {
            case "adamw" -> new AdamW(params, 1e-3, 0.05);
            case "sgd" -> new SGD(params, 0.1, 0.9, 1e-4, false);
            case "nadam" -> new NAdam(groups, NAdam.defaults(1e-3, 0.9, 0.999, 1e-8, 0.05));
            case "radam" -> new RAdam(groups, RAdam.defaults(1e-3, 0.9, 0.999, 1e-8, 0.05));
            case "lamb" -> new Lamb(groups, Lamb.defaults(1e-3, 0.9, 0.999, 1e-6, 0.05), 1.0);
            case "lars" -> new Lars(groups, Lars.defaults(0.1, 0.9, 0.05, false, 1e-8));
            case "rmsprop" -> new RMSprop(groups, RMSprop.defaults(1e-3, 0.9, 1e-8, 0.05, 0.9));
            case "adabelief" -> new AdaBelief(groups, AdaBelief.defaults(1e-3, 0.9, 0.999, 1e-8, 0.05));
            default -> throw new IllegalArgumentException("OptimizerBench: no optimizer " + optimizer);
        };
    }

    @Benchmark
    public Tensor step() {
        opt.step();
        return params.get(0);
    }

    @Benchmark
    public double clipGradNorm() { return GradClip.clipGradNorm(params, 1e9); }

    /** Clip factor 0.01: from the first call on every unit sits at its cap, so each call measures and scales all of them. */
    @Benchmark
    public List<Tensor> adaptiveClipGrad() {
        GradClip.adaptiveClipGrad(params, 0.01, 1e-3);
        return params;
    }
}
