package dev.lumen.backend.cuda;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.CudaException;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

/** Shared by the cuDNN-backed kernel tests: the CUDA gate, random inputs, poisoned outputs and the error measure. */
final class DeviceCheck {
    static final Device CUDA = Device.cuda(0);

    private DeviceCheck() {}

    /** Skips with the reason where CUDA is unavailable, unless the build requires it (then fails). */
    static void requireCuda() {
        String why = Backends.cudaStatus();
        if (why != null && Boolean.getBoolean("lumen.cuda.required")) throw new CudaException(why, -1);
        Assumptions.assumeTrue(why == null, why);
    }

    /** Normal values rounded to dtype, on the CPU (so the reference sees exactly the device's inputs). */
    static Tensor random(long seed, DType t, int... shape) { return Tensor.randn(new Generator(seed), DType.F64, shape).to(t); }

    /** A device tensor of NaN: a kernel that leaves any element unwritten fails the comparison. */
    static Tensor poisoned(DType t, int... shape) { return Tensor.full(Double.NaN, t, CUDA, shape); }

    /** ||a - b|| / ||b|| with a brought to the host; NaN anywhere makes it NaN (a failure). */
    static double relativeError(Tensor device, Tensor reference) {
        double[] a = device.to(Device.CPU).toDoubles(), b = reference.to(DType.F64).toDoubles();
        if (a.length != b.length) throw new AssertionError(a.length + " values against " + b.length);
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - b[i];
            num += d * d;
            den += b[i] * b[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /**
     * Per-dtype tolerance of a relative error against an F64 reference fed the same (rounded)
     * inputs. F64: only summation order differs. F32: one rounding of each output plus float
     * accumulation over up to a few hundred terms (~sqrt(K) * 2^-24). F16: outputs round to an
     * 11-bit mantissa (2^-11 = 4.9e-4 per value). BF16: an 8-bit mantissa (2^-8 = 3.9e-3 per
     * value; the norm-wise error is about a third of that).
     */
    static double tolerance(DType t) {
        return switch (t) {
            case F64 -> 1e-12;
            case F32 -> 1e-5;
            case F16 -> 3e-3;
            case BF16 -> 1e-2;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }
}
