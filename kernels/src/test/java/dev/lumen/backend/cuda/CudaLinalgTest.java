package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.Cublas;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CudaLinalg (cuBLAS) against the CPU backend's matmul in F64 on the same inputs: odd shapes,
 * transposed and strided views of every operand, broadcast batch dims (stride 0), batch dims
 * that cannot merge, accumulate, and every dtype. Outputs start as NaN, so an element that is
 * not written, or read when it should not be, fails.
 */
class CudaLinalgTest {
    static final Device CUDA = Device.cuda(0);

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    /**
     * Bound on |cuda - reference| per element, relative to sum_k |a_ik b_kj| (+ |out| when
     * accumulating), which scales every rounding error below.
     */
    static double tolerance(DType t, boolean tf32) {
        return switch (t) {
            // Products and sums in double, k <= 70 terms: ~k * 2^-53.
            case F64 -> 1e-13;
            // FP32 accumulation over k <= 70 terms in an order the CPU does not share: ~k * 2^-24 = 4e-6.
            // TF32 rounds each input to an 11-bit significand: each product is off by up to 2 * 2^-11.
            case F32 -> tf32 ? 2e-3 : 1e-5;
            // The inputs are exact in both; the FP32 sum is rounded once to an 11-bit significand (2^-11).
            case F16 -> 1e-3;
            // As F16 with an 8-bit significand: 2^-8 = 3.9e-3.
            case BF16 -> 8e-3;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    /** The three operands of one product, device views, and the tensor out views (to check what lies outside it). */
    record Operands(Tensor a, Tensor b, Tensor out, Tensor outBase) {}

    /** A geometry: builds device operands of a dtype; out's base is filled with NaN. */
    record Geometry(String name, Function<DType, Operands> make) {
        @Override public String toString() { return name; }
    }

    static Tensor random(DType t, int... shape) {
        long seed = 17 + 31L * Arrays.hashCode(shape) + t.ordinal();
        return Tensor.randn(new Generator(seed), DType.F64, shape).to(t).to(CUDA);
    }

    static Tensor nan(DType t, int... shape) { return Tensor.full(Double.NaN, t, CUDA, shape); }

    static Operands plainOut(Tensor a, Tensor b, DType t) {
        int r = a.dim();
        int[] os = a.shape();
        os[r - 1] = b.shape(r - 1);
        Tensor out = nan(t, os);
        return new Operands(a, b, out, out);
    }

    static List<Geometry> geometries() {
        List<Geometry> g = new ArrayList<>();
        g.add(new Geometry("row-major 7x5 @ 5x3", t -> plainOut(random(t, 7, 5), random(t, 5, 3), t)));
        g.add(new Geometry("transposed a and b, 13x17 @ 17x9",
                t -> plainOut(random(t, 17, 13).transpose(0, 1), random(t, 9, 17).transpose(0, 1), t)));
        g.add(new Geometry("transposed out, 11x6 @ 6x15", t -> {
            Tensor base = nan(t, 15, 11);
            return new Operands(random(t, 11, 6), random(t, 15, 6).transpose(0, 1), base.transpose(0, 1), base);
        }));
        g.add(new Geometry("out strided in both dims (scratch and copy back)", t -> {
            Tensor base = nan(t, 10, 14);
            Tensor out = base.slice(0, 1, 10, 2).slice(1, 0, 13, 2);  // [5, 7], strides (28, 2)
            return new Operands(random(t, 5, 4), random(t, 4, 7), out, base);
        }));
        g.add(new Geometry("a strided in both dims (copied)", t -> {
            Tensor a = random(t, 12, 9).slice(0, 0, 12, 2).slice(1, 1, 9, 2);  // [6, 4]
            return plainOut(a, random(t, 4, 5), t);
        }));
        g.add(new Geometry("padded leading dims (narrowed columns)", t -> {
            Tensor a = random(t, 9, 20).narrow(1, 3, 11);
            Tensor b = random(t, 11, 30).narrow(1, 2, 8);
            Tensor base = nan(t, 9, 12);
            return new Operands(a, b, base.narrow(1, 1, 8), base);
        }));
        g.add(new Geometry("vectors: 1x33 @ 33x1", t -> plainOut(random(t, 1, 33), random(t, 33, 1), t)));
        g.add(new Geometry("column of a transposed row, 19x1 @ 1x4",
                t -> plainOut(random(t, 1, 19).transpose(0, 1), random(t, 1, 4), t)));
        g.add(new Geometry("batch [3,4] with b broadcast (stride 0, folds into one GEMM)", t -> {
            Tensor b = random(t, 6, 5).unsqueeze(0).unsqueeze(0).expand(3, 4, 6, 5);
            return plainOut(random(t, 3, 4, 7, 6), b, t);
        }));
        g.add(new Geometry("batch 5 with a broadcast and transposed b", t -> {
            Tensor a = random(t, 8, 3).unsqueeze(0).expand(5, 8, 3);
            Tensor b = random(t, 5, 9, 3).transpose(1, 2);
            return plainOut(a, b, t);
        }));
        g.add(new Geometry("batch [2,3] from permuted dims (a loop of strided batches)", t -> {
            Tensor a = random(t, 3, 2, 5, 7).permute(1, 0, 2, 3);
            Tensor b = random(t, 2, 3, 7, 4);
            return plainOut(a, b, t);
        }));
        g.add(new Geometry("batch [2,1,3] into a transposed out with size-1 dims",
                t -> {
                    Tensor base = nan(t, 2, 1, 3, 6, 5);
                    Tensor out = base.transpose(3, 4);
                    return new Operands(random(t, 2, 1, 3, 5, 10), random(t, 2, 1, 3, 10, 6), out, base);
                }));
        g.add(new Geometry("batch 4 of 33x70 @ 70x31", t -> plainOut(random(t, 4, 33, 70), random(t, 4, 70, 31), t)));
        g.add(new Geometry("k = 0", t -> plainOut(random(t, 4, 0), random(t, 0, 3), t)));
        return g;
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (DType t : new DType[] {DType.F32, DType.F64, DType.F16, DType.BF16}) {
            for (Geometry g : geometries()) {
                out.add(Arguments.of(t, g, false));
                out.add(Arguments.of(t, g, true));
            }
        }
        return out.stream();
    }

    static Tensor hostF64(Tensor x) { return x.to(Device.CPU).to(DType.F64).contiguous(); }

    /** Runs CudaLinalg on the operands and compares with CpuBackend's F64 matmul. */
    static void check(Operands o, DType t, boolean accumulate, boolean tf32, String what) {
        Tensor out0 = null;
        if (accumulate) {
            out0 = Tensor.randn(new Generator(99), DType.F64, o.out().shape()).to(t);
            CudaBackend.get().copy(out0, o.out());  // a host-to-device transfer into the view
        }
        Tensor a = hostF64(o.a()), b = hostF64(o.b());
        Tensor want = accumulate ? hostF64(out0) : Tensor.zeros(DType.F64, Device.CPU, o.out().shape());
        Backends.cpu().linalg().matmul(a, b, want, accumulate);
        Tensor mag = accumulate ? Elementwise.abs(hostF64(out0)) : Tensor.zeros(DType.F64, Device.CPU, o.out().shape());
        Backends.cpu().linalg().matmul(Elementwise.abs(a), Elementwise.abs(b), mag, true);

        Backends.of(CUDA).linalg().matmul(o.a(), o.b(), o.out(), accumulate);

        double[] got = hostF64(o.out()).toDoubles(), w = want.toDoubles(), s = mag.toDoubles();
        double tol = tolerance(t, tf32);
        for (int i = 0; i < got.length; i++) {
            double err = Math.abs(got[i] - w[i]);
            if (!(err <= tol * s[i] + 1e-300)) {
                throw new AssertionError(what + ": element " + i + " = " + got[i] + ", want " + w[i] + " (error " + err
                        + " > " + tol + " * " + s[i] + ")");
            }
        }
        // Elements of out's storage outside the view were NaN and must still be.
        if (o.outBase() != o.out()) {
            long finite = Arrays.stream(hostF64(o.outBase()).toDoubles()).filter(v -> !Double.isNaN(v)).count();
            assertEquals(o.out().numel(), finite, what + ": elements outside out's view were written");
        }
    }

    @ParameterizedTest(name = "{0} {1} accumulate={2}")
    @MethodSource("cases")
    void matmulMatchesCpuBackend(DType t, Geometry g, boolean accumulate) {
        try (Scope s = Scope.open()) {
            check(g.make().apply(t), t, accumulate, false, t + " " + g + (accumulate ? " +=" : ""));
        }
    }

    @Test
    void f32UsesTf32OnlyWhenAllowed() {
        boolean before = Cublas.tf32Allowed();
        try (Scope s = Scope.open()) {
            Cublas.allowTf32(true);
            Geometry g = geometries().get(1);
            check(g.make().apply(DType.F32), DType.F32, false, true, "F32 with TF32 allowed");
            // 1 + 2^-20 needs 20 significand bits; TF32 keeps 10. The emulator always rounds
            // (a GPU may pick a non-tensor-core kernel for so small a product).
            if (CudaBackend.get().driver().isEmulated()) {
                Tensor a = Tensor.full(1 + Math.scalb(1.0, -20), DType.F32, CUDA, 1, 1);
                Tensor b = Tensor.full(1, DType.F32, CUDA, 1, 1);
                Tensor out = nan(DType.F32, 1, 1);
                Backends.of(CUDA).linalg().matmul(a, b, out, false);
                assertEquals(1.0, out.item(), "TF32 product");
                Cublas.allowTf32(false);
                Backends.of(CUDA).linalg().matmul(a, b, out, false);
                assertEquals(1 + Math.scalb(1.0, -20), out.item(), "FP32 product");
            }
        } finally {
            Cublas.allowTf32(before);
        }
    }

    @Test
    void backendUsesCudaLinalg() {
        assertInstanceOf(CudaLinalg.class, Backends.of(CUDA).linalg());
    }

    @Test
    void mismatchedShapesAndDtypesAreRejected() {
        try (Scope s = Scope.open()) {
            var linalg = Backends.of(CUDA).linalg();
            Tensor a = random(DType.F32, 3, 4), b = random(DType.F32, 5, 2);
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                    () -> linalg.matmul(a, b, nan(DType.F32, 3, 2), false));
            assertTrue(shape.getMessage().contains("shapes [3, 4] @ [5, 2]"), shape.getMessage());
            Tensor i = Tensor.zeros(DType.I32, CUDA, 4, 2);
            IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class,
                    () -> linalg.matmul(Tensor.zeros(DType.I32, CUDA, 3, 4), i, Tensor.zeros(DType.I32, CUDA, 3, 2), false));
            assertTrue(dtype.getMessage().contains("needs one of F32, F64, F16, BF16"), dtype.getMessage());
        }
    }
}
