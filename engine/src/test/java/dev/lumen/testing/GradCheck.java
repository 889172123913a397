package dev.lumen.testing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.function.Function;

/**
 * Finite-difference gradient check in f64, as torch.autograd.gradcheck: the op's output is
 * reduced to a scalar by a fixed random projection, and every input element is nudged by
 * +-eps. Central differences in double have error ~eps^2 * f''' + rounding/eps, so with
 * eps = 1e-6 both terms sit near 1e-10 relative, far below the 1e-6 tolerance.
 */
public final class GradCheck {
    private GradCheck() {}

    public static final double EPS = 1e-6;
    public static final double TOL = 1e-6;

    /** Checks fn at inputs (converted to F64) on the CPU. */
    public static void check(String what, Function<Tensor[], Tensor> fn, Tensor... inputs) {
        check(Device.CPU, what, fn, EPS, TOL, inputs);
    }

    /** Checks fn at inputs (converted to F64, moved to device); integer inputs are moved unchanged. */
    public static void check(Device device, String what, Function<Tensor[], Tensor> fn, Tensor... inputs) {
        check(device, what, fn, EPS, TOL, inputs);
    }

    public static void check(String what, Function<Tensor[], Tensor> fn, double eps, double tol, Tensor... inputs) {
        check(Device.CPU, what, fn, eps, tol, inputs);
    }

    /**
     * Each floating input has a host copy in F64 that is nudged; on another device the nudged
     * copy is transferred into the device input before each evaluation (on the CPU the two
     * are one tensor).
     */
    public static void check(Device device, String what, Function<Tensor[], Tensor> fn, double eps, double tol, Tensor... inputs) {
        try (Scope s = Scope.open()) {
            Tensor[] xs = new Tensor[inputs.length], hosts = new Tensor[inputs.length];
            for (int i = 0; i < xs.length; i++) {
                Tensor in = inputs[i];
                if (!in.dtype().isFloating()) {
                    xs[i] = in.to(device);
                    continue;
                }
                hosts[i] = in.detach().to(Device.CPU).to(DType.F64).copy();
                xs[i] = hosts[i].to(device).detach().requiresGrad(true);
            }
            Tensor out = fn.apply(xs);
            Tensor proj = Tensor.randn(new Generator(77), DType.F64, out.shape());
            double[] projV = proj.toDoubles();
            out.mul(proj.to(out.device())).sum().backward();
            for (int i = 0; i < xs.length; i++) {
                Tensor x = xs[i], host = hosts[i];
                if (host == null) continue;
                if (x.grad() == null) fail(what + ": input " + i + " got no gradient");
                double[] analytic = x.grad().toDoubles();
                MemorySegment seg = host.storage().segment();
                long n = host.numel();
                double maxErr = 0, scale = 1e-3;
                for (double a : analytic) scale = Math.max(scale, Math.abs(a));
                for (long e = 0; e < n; e++) {
                    long at = host.offset() + e;
                    double orig = HostAccess.get(seg, DType.F64, at);
                    HostAccess.set(seg, DType.F64, at, orig + eps);
                    double fp = projected(fn, xs, host, x, projV);
                    HostAccess.set(seg, DType.F64, at, orig - eps);
                    double fm = projected(fn, xs, host, x, projV);
                    HostAccess.set(seg, DType.F64, at, orig);
                    sync(host, x);
                    double numeric = (fp - fm) / (2 * eps);
                    double err = Math.abs(numeric - analytic[(int) e]) / scale;
                    if (err > maxErr) maxErr = err;
                    if (err > tol) {
                        fail(what + ": d/d(input " + i + ")[" + e + "] analytic " + analytic[(int) e] + " vs numeric " + numeric
                                + " (error " + err + " relative to the largest gradient " + scale + ")");
                    }
                }
            }
        }
    }

    /** Brings the device input up to date with its nudged host copy. */
    private static void sync(Tensor host, Tensor x) {
        if (x.device().kind() != Device.Kind.CPU) x.backend().transfer(host, x);
    }

    private static double projected(Function<Tensor[], Tensor> fn, Tensor[] xs, Tensor host, Tensor x, double[] proj) {
        sync(host, x);
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            double[] v = fn.apply(xs).toDoubles();
            double acc = 0;
            for (int i = 0; i < v.length; i++) acc += v[i] * proj[i];
            return acc;
        }
    }
}
