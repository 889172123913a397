package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.IndexKernels;
import dev.lumen.cuda.CallCounts;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * IndexKernels on the device against the CPU backend, compared bit for bit (the device adds in
 * the CPU's order and rounds each add to the dtype as it does): every op along every dim of an
 * odd 3-D shape, every dtype, I32 and I64 indices with duplicates, strided operands, poisoned
 * outputs; and for an index out of range, the CPU's IllegalArgumentException (same message) at
 * the next host read, with dst and the memory around it untouched, no host wait while indices are
 * in range, and ops that work again once the failure was reported.
 */
class CudaIndexingTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] DATA = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64};
    static final DType[] INDEX = {DType.I32, DType.I64};
    static final int[] SHAPE = {4, 5, 6};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static IndexKernels gpu() { return CudaBackend.get().indexing(); }

    static IndexKernels cpu() { return Backends.cpu().indexing(); }

    static Tensor random(long seed, DType t, int... shape) {
        return Tensor.randn(new Generator(seed), DType.F64, shape).mul(7.0).to(t);
    }

    /** Indices in [0, size) with repeats, of dtype t. */
    static Tensor indices(long seed, DType t, int size, int... shape) {
        double[] u = Tensor.rand(new Generator(seed), DType.F64, shape).toDoubles();
        long[] v = new long[u.length];
        for (int i = 0; i < u.length; i++) v[i] = (long) (u[i] * size);
        return Tensor.fromLongs(v, shape).to(t);
    }

    /** The same values on the device through a non-contiguous view (dims reversed in memory). */
    static Tensor strided(Tensor host) {
        int r = host.dim();
        int[] rev = new int[r];
        for (int i = 0; i < r; i++) rev[i] = r - 1 - i;
        return host.permute(rev).contiguous().to(CUDA).permute(rev);
    }

    static void assertSame(Tensor expect, Tensor got, String what) {
        assertArrayEquals(expect.toDoubles(), got.to(Device.CPU).toDoubles(), 0.0, what);
    }

    static int[] with(int[] shape, int dim, int size) {
        int[] s = shape.clone();
        s[dim] = size;
        return s;
    }

    @Test
    void indexSelectMatchesTheCpu() {
        for (DType t : DATA) {
            for (DType it : INDEX) {
                for (int dim = 0; dim < 3; dim++) {
                    try (Scope s = Scope.open()) {
                        Tensor x = random(1, t, SHAPE), idx = indices(2, it, SHAPE[dim], 7);
                        Tensor expect = Tensor.empty(t, Device.CPU, with(SHAPE, dim, 7));
                        cpu().indexSelect(x, dim, idx, expect);
                        Tensor got = Tensor.full(Double.NaN, t, CUDA, with(SHAPE, dim, 7));
                        gpu().indexSelect(strided(x), dim, idx.to(CUDA), got);
                        assertSame(expect, got, t + "/" + it + " dim " + dim);
                    }
                }
            }
        }
    }

    @Test
    void indexAddAccumulatesDuplicatesLikeTheCpu() {
        for (DType t : DATA) {
            for (DType it : INDEX) {
                for (int dim = 0; dim < 3; dim++) {
                    try (Scope s = Scope.open()) {
                        Tensor dst = random(3, t, SHAPE), src = random(4, t, with(SHAPE, dim, 9)), idx = indices(5, it, SHAPE[dim], 9);
                        Tensor expect = dst.copy();
                        cpu().indexAdd(expect, dim, idx, src);
                        Tensor got = strided(dst);
                        gpu().indexAdd(got, dim, idx.to(CUDA), strided(src));
                        assertSame(expect, got, t + "/" + it + " dim " + dim);
                    }
                }
            }
        }
    }

    @Test
    void gatherMatchesTheCpuWithAnIndexSmallerThanX() {
        for (DType t : DATA) {
            for (DType it : INDEX) {
                for (int dim = 0; dim < 3; dim++) {
                    try (Scope s = Scope.open()) {
                        int[] ishape = {3, 4, 5};
                        ishape[dim] = 7;
                        Tensor x = random(6, t, SHAPE), idx = indices(7, it, SHAPE[dim], ishape);
                        Tensor expect = Tensor.empty(t, Device.CPU, ishape);
                        cpu().gather(x, dim, idx, expect);
                        Tensor got = Tensor.full(Double.NaN, t, CUDA, ishape);
                        gpu().gather(strided(x), dim, strided(idx), got);
                        assertSame(expect, got, t + "/" + it + " dim " + dim);
                    }
                }
            }
        }
    }

    @Test
    void scatterAddAccumulatesDuplicatesLikeTheCpu() {
        for (DType t : DATA) {
            for (DType it : INDEX) {
                for (int dim = 0; dim < 3; dim++) {
                    try (Scope s = Scope.open()) {
                        int[] ishape = {3, 4, 5};
                        ishape[dim] = 8;
                        Tensor dst = random(8, t, SHAPE), src = random(9, t, with(new int[] {4, 5, 6}, dim, 9));
                        Tensor idx = indices(10, it, SHAPE[dim], ishape);
                        Tensor expect = dst.copy();
                        cpu().scatterAdd(expect, dim, idx, src);
                        Tensor got = strided(dst);
                        gpu().scatterAdd(got, dim, strided(idx), strided(src));
                        assertSame(expect, got, t + "/" + it + " dim " + dim);
                    }
                }
            }
        }
    }

    /**
     * Runs op on the CPU (which throws at the call) and on the device (which throws at the next
     * host read, here the read of dst): same message; the device's dst is untouched, and the
     * memory around it too.
     */
    static void assertSameDeferredError(Tensor deviceDst, Consumer<IndexKernels> op) {
        double[] before = deviceDst.to(Device.CPU).toDoubles();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> op.accept(cpu()));
        op.accept(gpu());
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> deviceDst.to(Device.CPU));
        assertEquals(e.getMessage(), g.getMessage());
        assertArrayEquals(before, deviceDst.to(Device.CPU).toDoubles(), 0.0, "dst is untouched");
    }

    @Test
    void anIndexOutOfRangeRaisesTheCpusMessageAtTheNextHostRead() {
        for (DType it : INDEX) {
            try (Scope s = Scope.open()) {
                Tensor x = random(11, DType.F32, SHAPE);
                Tensor bad = Tensor.fromLongs(new long[] {1, 0, 5, -1, 9}, 5).to(it);  // 5 is the first bad one for size 5
                Tensor xd = x.to(CUDA), badDev = bad.to(CUDA);
                // out is the middle of a larger buffer: the rows beside it must keep their NaN.
                Tensor whole = Tensor.full(Double.NaN, DType.F32, CUDA, 6, 5, 6), out = whole.narrow(0, 1, 4);
                Tensor outHost = Tensor.empty(DType.F32, Device.CPU, 4, 5, 6);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu().indexSelect(x, 1, bad, outHost));
                gpu().indexSelect(xd, 1, badDev, out);
                IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> out.to(Device.CPU));
                assertEquals(e.getMessage(), g.getMessage());
                assertEquals("indexSelect: index 5 is out of range for dim 1 of size 5", g.getMessage());
                double[] w = whole.to(Device.CPU).toDoubles();
                for (int k = 0; k < 30; k++) {
                    assertTrue(Double.isNaN(w[k]) && Double.isNaN(w[w.length - 1 - k]), "nothing written outside out, element " + k);
                }

                Tensor src = random(12, DType.F32, 4, 5, 6);
                Tensor dstHost = random(13, DType.F32, SHAPE), dstDev = dstHost.to(CUDA), srcDev = src.to(CUDA);
                assertSameDeferredError(dstDev, k -> {
                    boolean dev = k == gpu();
                    k.indexAdd(dev ? dstDev : dstHost, 1, dev ? badDev : bad, dev ? srcDev : src);
                });

                // Two bad values in one index tensor, read through a strided view: the first in logical order is named.
                Tensor idx3 = indices(14, it, 5, 4, 5, 6);
                double[] iv = idx3.toDoubles();
                iv[37] = -2;
                iv[80] = 5;
                Tensor bad3 = Tensor.fromDoubles(iv, it, 4, 5, 6), bad3Dev = strided(bad3);
                assertSameDeferredError(dstDev, k -> {
                    boolean dev = k == gpu();
                    k.scatterAdd(dev ? dstDev : dstHost, 1, dev ? bad3Dev : bad3, dev ? srcDev : src);
                });
                Tensor gout = Tensor.full(Double.NaN, DType.F32, CUDA, 4, 5, 6), goutHost = Tensor.empty(DType.F32, Device.CPU, 4, 5, 6);
                IllegalArgumentException ge = assertThrows(IllegalArgumentException.class, () -> cpu().gather(x, 1, bad3, goutHost));
                gpu().gather(xd, 1, bad3Dev, gout);
                IllegalArgumentException gg = assertThrows(IllegalArgumentException.class, () -> CudaBackend.get().synchronize());
                assertEquals(ge.getMessage(), gg.getMessage());
                assertEquals("gather: index -2 is out of range for dim 1 of size 5", gg.getMessage());
            }
        }
    }

    @Test
    void theFirstFailedOpIsReportedOnceAndLaterOpsWork() {
        try (Scope s = Scope.open()) {
            Tensor x = random(18, DType.F32, SHAPE), xd = x.to(CUDA);
            Tensor bad = Tensor.fromLongs(new long[] {0, 7, 2}, 3).to(CUDA), worse = Tensor.fromLongs(new long[] {-4}, 1).to(CUDA);
            gpu().indexSelect(xd, 2, bad, Tensor.empty(DType.F32, CUDA, 4, 5, 3));  // the first to fail
            gpu().indexSelect(xd, 0, worse, Tensor.empty(DType.F32, CUDA, 1, 5, 6));
            IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> CudaBackend.get().synchronize());
            assertEquals("indexSelect: index 7 is out of range for dim 2 of size 6", g.getMessage());
            CudaBackend.get().synchronize();  // reported once: the error word is clear again

            Tensor idx = indices(19, DType.I64, 6, 9);
            Tensor expect = Tensor.empty(DType.F32, Device.CPU, 4, 5, 9);
            cpu().indexSelect(x, 2, idx, expect);
            Tensor got = Tensor.full(Double.NaN, DType.F32, CUDA, 4, 5, 9);
            gpu().indexSelect(xd, 2, idx.to(CUDA), got);
            assertSame(expect, got, "indexSelect after a reported failure");
        }
    }

    @Test
    void theFirstBadPositionWinsAcrossBlocks() {
        // 1001 indices span four blocks of the check; bad values in blocks 3 and 1: the one in block 1 comes first.
        long[] v = new long[1001];
        for (int i = 0; i < v.length; i++) v[i] = i % 5;
        v[900] = 50;
        v[300] = 40;
        v[301] = -1;
        try (Scope s = Scope.open()) {
            Tensor idx = Tensor.fromLongs(v, v.length).to(CUDA);
            Tensor x = random(20, DType.F32, 5, 3).to(CUDA);
            gpu().indexSelect(x, 0, idx, Tensor.empty(DType.F32, CUDA, v.length, 3));
            IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> CudaBackend.get().synchronize());
            assertEquals("indexSelect: index 40 is out of range for dim 0 of size 5", g.getMessage());
        }
    }

    @Test
    void indexOpsInRangeNeverMakeTheHostWait() {
        CudaBackend b = CudaBackend.get();
        Assumptions.assumeTrue(b.driver().isEmulated(), "call counts exist only under the emulated driver");
        try (Scope s = Scope.open()) {
            Tensor x = random(21, DType.F32, SHAPE).to(CUDA), idx = indices(22, DType.I64, 5, 7).to(CUDA);
            Tensor idx3 = indices(23, DType.I32, 5, 4, 5, 6).to(CUDA), src = random(24, DType.F32, 4, 7, 6).to(CUDA);
            Tensor out = Tensor.empty(DType.F32, CUDA, 4, 7, 6), g = Tensor.empty(DType.F32, CUDA, 4, 5, 6);
            b.synchronize();
            CallCounts before = b.driver().callCounts();
            gpu().indexSelect(x, 1, idx, out);
            gpu().indexAdd(x, 1, idx, src);
            gpu().gather(x, 1, idx3, g);
            gpu().scatterAdd(x, 1, idx3, g);
            CallCounts d = b.driver().callCounts().since(before);
            assertEquals(0, d.hostWaits(), "no host wait: " + d);
            assertEquals(0, d.copiesDtoH(), "nothing read back: " + d);
            assertEquals(8, d.launches(), "a check and the op per call: " + d);
        }
    }

    @Test
    void twoRunsGiveIdenticalBits() {
        try (Scope s = Scope.open()) {
            Tensor dst = random(15, DType.F32, 40, 33), src = random(16, DType.F32, 40, 65);
            Tensor idx = indices(17, DType.I64, 33, 65).to(CUDA);
            Tensor a = dst.to(CUDA), b = dst.to(CUDA);
            gpu().indexAdd(a, 1, idx, src.to(CUDA));
            gpu().indexAdd(b, 1, idx, src.to(CUDA));
            assertArrayEquals(a.to(Device.CPU).toFloats(), b.to(Device.CPU).toFloats());
        }
    }
}
