package dev.lumen.bench;

import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.backend.cpu.OneDnnConv;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * resnet50's convolution layers at batch 8 (224x224 input) on the CPU: the Java path (im2col +
 * OpenBLAS), oneDNN as Lumen runs it (plain layouts for 1x1 windows, the primitive's blocked
 * layouts with reorders per call for the others), and oneDNN with one rule for all: blocked, nchw. Forward, backward data and backward weights timed separately,
 * and the two backward passes as one call (backward);
 * inference is the folded Conv + BN + ReLU of eval mode (bias and a ReLU post-op in one
 * primitive; on the java path conv2d with bias, then ReLU: the steps it replaces).
 * Layer names: stage, then C-O, kernel, stride, map size.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class ConvCpuBench {
    public static final int BATCH = 8;

    @Param({"stem_3-64_k7s2_224", "s1_64-64_k1_56", "s1_64-64_k3_56", "s1_64-256_k1_56", "s1_256-64_k1_56",
        "s2_256-128_k1_56", "s2_128-128_k3s2_56", "s2_256-512_k1s2_56", "s2_128-512_k1_28", "s2_512-128_k1_28", "s2_128-128_k3_28",
        "s3_512-256_k1_28", "s3_256-256_k3s2_28", "s3_512-1024_k1s2_28", "s3_256-1024_k1_14", "s3_1024-256_k1_14", "s3_256-256_k3_14",
        "s4_1024-512_k1_14", "s4_512-512_k3s2_14", "s4_1024-2048_k1s2_14", "s4_512-2048_k1_7", "s4_2048-512_k1_7", "s4_512-512_k3_7"})
    public String layer;

    /** java, onednn (the default: plain layouts for 1x1, blocked for others), blocked or nchw (oneDNN with one layout for all). */
    @Param({"java", "onednn", "blocked", "nchw"})
    public String path;

    private Tensor x, w, bias, gy, y, gx, gw;
    private Window win;

    @Setup(Level.Trial)
    public void setup() {
        // "s2_128-128_k3s2_56": channels in-out, kernel k (3x3 pads 1, 7x7 pads 3), stride, input size.
        String[] p = layer.split("_");
        String[] io = p[1].split("-");
        int c = Integer.parseInt(io[0]), o = Integer.parseInt(io[1]), size = Integer.parseInt(p[3]);
        String[] ks = p[2].substring(1).split("s");
        int k = Integer.parseInt(ks[0]), stride = ks.length > 1 ? Integer.parseInt(ks[1]) : 1;
        win = new Window(k, k, stride, stride, k / 2, k / 2, 1, 1);
        int out = win.outH(size);
        Generator g = new Generator(1);
        x = Tensor.randn(g, DType.F32, BATCH, c, size, size);
        w = Tensor.randn(g, DType.F32, o, c, k, k).mul(0.05);
        bias = Tensor.randn(g, DType.F32, o);
        gy = Tensor.randn(g, DType.F32, BATCH, o, out, out);
        y = Tensor.empty(BATCH, o, out, out);
        gx = Tensor.empty(BATCH, c, size, size);
        gw = Tensor.empty(o, c, k, k);
        OneDnnConv.use(switch (path) {
            case "java" -> "off";
            case "onednn" -> "on";
            default -> path;
        });
    }

    @TearDown(Level.Trial)
    public void restore() { OneDnnConv.use("auto"); }

    private ConvKernels conv() { return x.backend().conv(); }

    @Benchmark
    public Tensor forward() {
        conv().conv2d(x, w, null, win, 1, y);
        return y;
    }

    @Benchmark
    public Tensor inference() {
        if (path.equals("java")) {
            conv().conv2d(x, w, bias, win, 1, y);
            x.backend().elementwise().unary(Unary.RELU, y, 0, 0, y);
        } else {
            conv().conv2dInference(x, w, bias, win, 1, true, y);
        }
        return y;
    }

    @Benchmark
    public Tensor backwardData() {
        conv().conv2dBackwardInput(gy, w, win, 1, gx);
        return gx;
    }

    @Benchmark
    public Tensor backwardWeights() {
        conv().conv2dBackwardWeight(gy, x, win, 1, gw);
        return gw;
    }

    /** Both backward passes in one call, as autograd runs them: on oneDNN's blocked layouts gradOut is reordered once for the two. */
    @Benchmark
    public Tensor backward() {
        conv().conv2dBackward(gy, x, w, win, 1, gx, gw);
        return gw;
    }
}
