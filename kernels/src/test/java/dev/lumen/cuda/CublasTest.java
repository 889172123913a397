package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The cuBLAS binding on raw device buffers, in cuBLAS's own column-major terms, against a
 * double-precision loop: every transpose pair, leading dimensions larger than the rows, strided
 * batches with a shared (stride 0) operand, beta 0 over a NaN-poisoned C, and the errors.
 */
class CublasTest {

    private static Cublas cublas() {
        CudaTestSupport.context();
        try {
            return Cublas.get();
        } catch (CudaException e) {
            if (Boolean.getBoolean("lumen.cuda.required")) throw e;
            org.junit.jupiter.api.Assumptions.abort(e.getMessage());
            throw e;
        }
    }

    /** The storage of one cudaDataType, with its bytes per element and its rounding. */
    enum Type {
        F32(Cublas.R_32F, 4), F64(Cublas.R_64F, 8), F16(Cublas.R_16F, 2), BF16(Cublas.R_16BF, 2);
        final int cuda, bytes;

        Type(int cuda, int bytes) { this.cuda = cuda; this.bytes = bytes; }

        double round(double v) {
            return switch (this) {
                case F32 -> (float) v;
                case F64 -> v;
                case F16 -> Float.float16ToFloat(Float.floatToFloat16((float) v));
                case BF16 -> Float.intBitsToFloat((bf16((float) v) & 0xffff) << 16);
            };
        }

        void put(MemorySegment s, long i, double v) {
            switch (this) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
                case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16((float) v));
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, bf16((float) v));
            }
        }

        double get(MemorySegment s, long i) {
            return switch (this) {
                case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                case F64 -> s.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                case F16 -> Float.float16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
                case BF16 -> Float.intBitsToFloat((s.getAtIndex(ValueLayout.JAVA_SHORT, i) & 0xffff) << 16);
            };
        }

        private static short bf16(float f) {
            int u = Float.floatToRawIntBits(f);
            return (short) ((u + 0x7fff + ((u >> 16) & 1)) >>> 16);
        }

        // Relative to the sum of |products|: f32 and f64 differ from the double loop only by
        // their own accumulation (k <= 70 terms, ~k * 2^-24); f16 and bf16 outputs are rounded
        // once to an 11- or 8-bit mantissa (2^-11, 2^-8), which dominates.
        double tolerance() {
            return switch (this) {
                case F32 -> 1e-5;
                case F64 -> 1e-12;
                case F16 -> 1e-3;
                case BF16 -> 8e-3;
            };
        }

        int compute() { return this == F64 ? Cublas.COMPUTE_64F_PEDANTIC : this == F32 ? Cublas.COMPUTE_32F_PEDANTIC : Cublas.COMPUTE_32F; }
    }

    private static double[] random(Random r, int n, Type t) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = t.round(r.nextDouble() * 2 - 1);
        return v;
    }

    private static DeviceBuffer upload(CudaContext ctx, double[] v, Type t) {
        DeviceBuffer b = ctx.allocate((long) v.length * t.bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(b.byteSize(), 8);
            for (int i = 0; i < v.length; i++) t.put(h, i, v[i]);
            b.copyFrom(h);
        }
        return b;
    }

    private static double[] download(DeviceBuffer b, int n, Type t) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(b.byteSize(), 8);
            b.copyTo(h);
            double[] v = new double[n];
            for (int i = 0; i < n; i++) v[i] = t.get(h, i);
            return v;
        }
    }

    /** op(X)[i][j] of a column-major matrix with leading dimension ld. */
    private static double op(double[] x, long base, boolean trans, int i, int j, int ld) {
        return trans ? x[(int) (base + j + (long) i * ld)] : x[(int) (base + i + (long) j * ld)];
    }

    @ParameterizedTest(name = "{0}{1} m{2} n{3} k{4} batch{5} {6} beta{7}")
    @CsvSource({
        "N, N, 7, 5, 3, 1, F32, 0",
        "T, N, 13, 1, 17, 1, F32, 1",
        "N, T, 1, 9, 4, 1, F32, 0",
        "T, T, 33, 31, 70, 1, F32, 0.5",
        "N, N, 19, 23, 1, 3, F32, 0",
        "T, N, 8, 6, 5, 4, F64, 1",
        "N, T, 17, 9, 33, 2, F16, 0",
        "T, T, 9, 17, 40, 3, BF16, 1",
        "N, N, 5, 4, 0, 2, F32, 1",
    })
    void gemmMatchesDoubleLoop(String ta, String tb, int m, int n, int k, int batch, Type t, double beta) {
        Cublas blas = cublas();
        CudaContext ctx = CudaTestSupport.context();
        boolean tA = ta.equals("T"), tB = tb.equals("T");
        // Leading dimensions larger than the rows, so a mix-up of ld and rows shows up.
        int lda = (tA ? k : m) + 2, ldb = (tB ? n : k) + 1, ldc = m + 3;
        long sA = (long) lda * (tA ? m : k) + 5, sC = (long) ldc * n + 1;
        long sB = 0;  // one B shared by every batch entry, as a broadcast weight is
        Random r = new Random(m * 131L + n * 17L + k);
        double[] a = random(r, (int) (sA * batch), t), b = random(r, ldb * (tB ? k : n), t);
        double[] c0 = random(r, (int) (sC * batch), t);
        double alpha = 1.25;
        try (DeviceBuffer da = upload(ctx, a, t); DeviceBuffer db = upload(ctx, b, t); DeviceBuffer dc = upload(ctx, c0, t)) {
            if (beta == 0) dc.fillBytes(0xff);  // beta 0: C must be written without being read
            int opA = tA ? Cublas.OP_T : Cublas.OP_N, opB = tB ? Cublas.OP_T : Cublas.OP_N;
            if (batch == 1) {
                blas.gemmEx(opA, opB, m, n, k, alpha, da.pointer(), t.cuda, lda, db.pointer(), t.cuda, ldb, beta,
                        dc.pointer(), t.cuda, ldc, t.compute());
            } else {
                blas.gemmStridedBatchedEx(opA, opB, m, n, k, alpha, da.pointer(), t.cuda, lda, sA, db.pointer(), t.cuda,
                        ldb, sB, beta, dc.pointer(), t.cuda, ldc, sC, batch, t.compute());
            }
            double[] c = download(dc, c0.length, t);
            for (int s = 0; s < batch; s++) {
                for (int j = 0; j < n; j++) {
                    for (int i = 0; i < m; i++) {
                        double dot = 0, mag = 0;
                        for (int p = 0; p < k; p++) {
                            double prod = op(a, s * sA, tA, i, p, lda) * op(b, s * sB, tB, p, j, ldb);
                            dot += prod;
                            mag += Math.abs(prod);
                        }
                        long ci = s * sC + i + (long) j * ldc;
                        double old = c0[(int) ci];
                        double want = alpha * dot + (beta == 0 ? 0 : beta * old);
                        double scale = alpha * mag + Math.abs(beta * old) + 1e-30;
                        double err = Math.abs(c[(int) ci] - want) / Math.max(scale, Math.abs(want));
                        assertTrue(err <= t.tolerance(), "C[" + s + "][" + i + "," + j + "] = " + c[(int) ci] + ", want " + want);
                    }
                }
                // Rows between m and ldc are padding, not part of C: they keep their old values.
                if (beta != 0) {
                    for (int j = 0; j < n; j++) {
                        for (int i = m; i < ldc && s * sC + i + (long) j * ldc < c.length; i++) {
                            long ci = s * sC + i + (long) j * ldc;
                            assertEquals(c0[(int) ci], c[(int) ci], "padding C[" + s + "][" + i + "," + j + "] was written");
                        }
                    }
                }
            }
        }
    }

    @Test
    void handleIsPedanticAndReportsItsVersion() {
        Cublas blas = cublas();
        assertEquals(Cublas.PEDANTIC_MATH, blas.mathMode());
        assertTrue(blas.version() >= 120000, blas.describe());
        assertTrue(blas.describe().startsWith("cuBLAS 1"), blas.describe());
    }

    @Test
    void f32StaysIeeeUnlessTf32IsAllowed() {
        Cublas blas = cublas();
        CudaContext ctx = CudaTestSupport.context();
        boolean before = Cublas.tf32Allowed();
        // 1 + 2^-20 needs 20 mantissa bits; TF32 keeps 10, so it rounds to 1.
        double[] one = {1 + Math.scalb(1.0, -20)};
        try (DeviceBuffer a = upload(ctx, one, Type.F32); DeviceBuffer b = upload(ctx, new double[] {1}, Type.F32);
             DeviceBuffer c = ctx.allocate(4)) {
            Cublas.allowTf32(false);
            assertEquals(Cublas.COMPUTE_32F_PEDANTIC, Cublas.f32ComputeType());
            blas.gemmEx(Cublas.OP_N, Cublas.OP_N, 1, 1, 1, 1, a.pointer(), Cublas.R_32F, 1, b.pointer(), Cublas.R_32F, 1, 0,
                    c.pointer(), Cublas.R_32F, 1, Cublas.f32ComputeType());
            assertEquals(one[0], download(c, 1, Type.F32)[0], "FP32 product without TF32");
            Cublas.allowTf32(true);
            assertEquals(Cublas.COMPUTE_32F_FAST_TF32, Cublas.f32ComputeType());
            blas.gemmEx(Cublas.OP_N, Cublas.OP_N, 1, 1, 1, 1, a.pointer(), Cublas.R_32F, 1, b.pointer(), Cublas.R_32F, 1, 0,
                    c.pointer(), Cublas.R_32F, 1, Cublas.f32ComputeType());
            double got = download(c, 1, Type.F32)[0];
            // The emulator always rounds to TF32; a GPU may pick a non-tensor-core kernel for 1x1x1.
            if (ctx.driver().isEmulated()) assertEquals(1.0, got, "TF32 product");
            else assertEquals(1.0, got, Math.scalb(1.0, -10));
        } finally {
            Cublas.allowTf32(before);
        }
    }

    @Test
    void badArgumentsNameTheCallAndStatus() {
        Cublas blas = cublas();
        CudaContext ctx = CudaTestSupport.context();
        try (DeviceBuffer buf = ctx.allocate(4096)) {
            long p = buf.pointer();
            CublasException ld = assertThrows(CublasException.class, () -> blas.gemmEx(Cublas.OP_N, Cublas.OP_N, 8, 2, 2, 1,
                    p, Cublas.R_32F, 7, p, Cublas.R_32F, 2, 0, p, Cublas.R_32F, 8, Cublas.COMPUTE_32F));
            assertTrue(ld.getMessage().startsWith("cublasGemmEx(NN, m=8, n=2, k=2, lda=7"), ld.getMessage());
            assertTrue(ld.getMessage().contains("failed: CUBLAS_STATUS_INVALID_VALUE"), ld.getMessage());
            assertEquals(7, ld.status());

            CublasException combo = assertThrows(CublasException.class, () -> blas.gemmStridedBatchedEx(Cublas.OP_N,
                    Cublas.OP_T, 2, 2, 2, 1, p, Cublas.R_64F, 2, 4, p, Cublas.R_64F, 2, 4, 0, p, Cublas.R_64F, 2, 4, 2,
                    Cublas.COMPUTE_32F));
            assertTrue(combo.getMessage().startsWith("cublasGemmStridedBatchedEx(NT"), combo.getMessage());
            assertTrue(combo.getMessage().contains("CUBLAS_STATUS_NOT_SUPPORTED"), combo.getMessage());
        }
    }

    @Test
    void missingNamedLibraryIsAOneLineReason() {
        CudaException e = assertThrows(CudaException.class, () -> NvidiaLibrary.CUBLAS.named("/nonexistent/libcublas.so.13"));
        assertEquals("cuBLAS unavailable: /nonexistent/libcublas.so.13 not found (named by lumen.cublas.library or "
                + "LUMEN_CUBLAS_LIBRARY)", e.getMessage());
    }

    @Test
    void missingSonameListsWhereItLooked() {
        Path dir = Path.of("/nonexistent/site-packages/nvidia/cu13/lib");
        CudaException e = assertThrows(CudaException.class,
                () -> NvidiaLibrary.CUBLAS.bySoname(List.of("libcublas.so.98", "libcublas.so.97"), List.of(dir)));
        String m = e.getMessage();
        assertTrue(m.startsWith("cuBLAS unavailable: libcublas.so.98 not found (looked in the dynamic loader's path (LD_LIBRARY_PATH="), m);
        assertTrue(m.contains(dir.toString()) && m.endsWith("; also tried libcublas.so.97)"), m);
        assertTrue(!m.contains("\n"), "one line: " + m);
    }

    @Test
    void missingEmulatedCublasPointsAtTheBuild() {
        CudaException e = assertThrows(CudaException.class,
                () -> NvidiaLibrary.CUBLAS.besideEmulatedDriver("/nonexistent/emu/libcuda_emu.so"));
        assertEquals("cuBLAS unavailable: libcublas_emu.so not found (looked in /nonexistent/emu, the emulated driver's "
                + "folder; `make kernels` builds it)", e.getMessage());
    }
}
