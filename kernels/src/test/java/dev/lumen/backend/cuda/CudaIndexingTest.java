package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.backend.Backends;
import dev.lumen.backend.IndexKernels;
import dev.lumen.cuda.CudaException;
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
 * outputs, and the CPU's IllegalArgumentException (same message, dst untouched) for an index out
 * of range.
 */
class CudaIndexingTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] DATA = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64};
    static final DType[] INDEX = {DType.I32, DType.I64};
    static final int[] SHAPE = {4, 5, 6};

    @BeforeAll
    static void cuda() {
        String why = Backends.cudaStatus();
        if (why != null && Boolean.getBoolean("lumen.cuda.required")) throw new CudaException(why, -1);
        Assumptions.assumeTrue(why == null, why);
    }

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

    /** Runs op on the CPU and the device with the same bad index: same exception message, device dst untouched. */
    static void assertSameError(Tensor deviceDst, Consumer<IndexKernels> op) {
        double[] before = deviceDst.to(Device.CPU).toDoubles();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> op.accept(cpu()));
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> op.accept(gpu()));
        assertEquals(e.getMessage(), g.getMessage());
        assertArrayEquals(before, deviceDst.to(Device.CPU).toDoubles(), 0.0, "dst is untouched");
    }

    @Test
    void anIndexOutOfRangeIsTheCpusIllegalArgumentException() {
        for (DType it : INDEX) {
            try (Scope s = Scope.open()) {
                Tensor x = random(11, DType.F32, SHAPE);
                Tensor bad = Tensor.fromLongs(new long[] {1, 0, 5, -1, 9}, 5).to(it);  // 5 is the first bad one for size 5
                Tensor badHost = bad;
                Tensor xd = x.to(CUDA), badDev = bad.to(CUDA);
                Tensor out = Tensor.empty(DType.F32, CUDA, 4, 5, 6);
                Tensor outHost = Tensor.empty(DType.F32, Device.CPU, 4, 5, 6);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu().indexSelect(x, 1, badHost, outHost.narrow(1, 0, 5)));
                IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> gpu().indexSelect(xd, 1, badDev, out.narrow(1, 0, 5)));
                assertEquals(e.getMessage(), g.getMessage());
                assertEquals("indexSelect: index 5 is out of range for dim 1 of size 5", g.getMessage());

                Tensor src = random(12, DType.F32, 4, 5, 6);
                Tensor dstHost = random(13, DType.F32, SHAPE), dstDev = dstHost.to(CUDA), srcDev = src.to(CUDA);
                assertSameError(dstDev, k -> {
                    boolean dev = k == gpu();
                    k.indexAdd(dev ? dstDev : dstHost, 1, dev ? badDev : badHost, dev ? srcDev : src);
                });

                Tensor idx3 = indices(14, it, 5, 4, 5, 6);
                double[] iv = idx3.toDoubles();
                iv[37] = -2;
                iv[80] = 5;
                Tensor bad3 = Tensor.fromDoubles(iv, it, 4, 5, 6), bad3Dev = bad3.to(CUDA);
                assertSameError(dstDev, k -> {
                    boolean dev = k == gpu();
                    k.scatterAdd(dev ? dstDev : dstHost, 1, dev ? bad3Dev : bad3, dev ? srcDev : src);
                });
                Tensor gout = Tensor.empty(DType.F32, CUDA, 4, 5, 6), goutHost = Tensor.empty(DType.F32, Device.CPU, 4, 5, 6);
                assertSameError(gout, k -> {
                    boolean dev = k == gpu();
                    k.gather(dev ? xd : x, 1, dev ? bad3Dev : bad3, dev ? gout : goutHost);
                });
            }
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
