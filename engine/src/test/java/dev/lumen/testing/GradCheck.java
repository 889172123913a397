package dev.lumen.testing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
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

    /** Checks fn at inputs (converted to F64); integer inputs are passed through unchanged. */
    public static void check(String what, Function<Tensor[], Tensor> fn, Tensor... inputs) {
        check(what, fn, EPS, TOL, inputs);
    }

    public static void check(String what, Function<Tensor[], Tensor> fn, double eps, double tol, Tensor... inputs) {
        try (Scope s = Scope.open()) {
            Tensor[] xs = new Tensor[inputs.length];
            for (int i = 0; i < xs.length; i++) {
                Tensor in = inputs[i];
                xs[i] = in.dtype().isFloating() ? in.detach().to(DType.F64).copy().requiresGrad(true) : in;
            }
            Tensor out = fn.apply(xs);
            Tensor proj = Tensor.randn(new Generator(77), DType.F64, out.shape());
            double[] projV = proj.toDoubles();
            out.mul(proj).sum().backward();
            for (int i = 0; i < xs.length; i++) {
                Tensor x = xs[i];
                if (!x.requiresGrad()) continue;
                if (x.grad() == null) fail(what + ": input " + i + " got no gradient");
                double[] analytic = x.grad().toDoubles();
                MemorySegment seg = x.storage().segment();
                long n = x.numel();
                double maxErr = 0, scale = 1e-3;
                for (double a : analytic) scale = Math.max(scale, Math.abs(a));
                for (long e = 0; e < n; e++) {
                    long at = x.offset() + e;
                    double orig = HostAccess.get(seg, DType.F64, at);
                    HostAccess.set(seg, DType.F64, at, orig + eps);
                    double fp = projected(fn, xs, projV);
                    HostAccess.set(seg, DType.F64, at, orig - eps);
                    double fm = projected(fn, xs, projV);
                    HostAccess.set(seg, DType.F64, at, orig);
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

    private static double projected(Function<Tensor[], Tensor> fn, Tensor[] xs, double[] proj) {
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            double[] v = fn.apply(xs).toDoubles();
            double acc = 0;
            for (int i = 0; i < v.length; i++) acc += v[i] * proj[i];
            return acc;
        }
    }
}
