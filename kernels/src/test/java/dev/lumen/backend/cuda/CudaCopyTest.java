package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.CallCounts;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's storage and copies: transfers both ways in every dtype, strided device
 * copies with dtype conversion, fills, and the caching allocator keeping steady-state work off
 * cuMemAlloc. Values are compared exactly: a copy or a cast must round like the CPU's.
 */
class CudaCopyTest {
    static final Device CUDA = Device.cuda(0);

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static Tensor random(DType t, int... shape) {
        Tensor f = Tensor.randn(new Generator(7), DType.F64, shape).mul(5.0);
        return f.to(t);
    }

    @Test
    void transfersRoundTripEveryDtype() {
        for (DType t : DType.values()) {
            try (Scope s = Scope.open()) {
                Tensor h = random(t, 3, 5, 7);
                Tensor d = h.to(CUDA);
                assertEquals(CUDA, d.device());
                assertArrayEquals(h.toDoubles(), d.to(Device.CPU).toDoubles(), 0.0, t.toString());
            }
        }
    }

    @Test
    void stridedCopiesConvertLikeTheCpu() {
        for (DType from : DType.values()) {
            for (DType to : DType.values()) {
                try (Scope s = Scope.open()) {
                    Tensor h = random(from, 4, 6, 5).permute(2, 0, 1).slice(1, 1, 4, 2);
                    Tensor expect = Tensor.empty(to, Device.CPU, h.shape());
                    Backends.cpu().copy(h, expect);
                    Tensor d = h.contiguous().to(CUDA).permute(0, 1, 2);
                    Tensor dstBig = Tensor.full(Double.NaN, to, CUDA, h.shape()[0], h.shape()[1] * 2, h.shape()[2]);
                    Tensor dst = dstBig.slice(1, 0, h.shape()[1] * 2, 2);
                    CudaBackend.get().copy(d, dst);
                    assertArrayEquals(expect.toDoubles(), dst.to(Device.CPU).toDoubles(), 0.0, from + " -> " + to);
                }
            }
        }
    }

    /**
     * The one-dim fast path (a contiguous or evenly strided pair, which the layout merges to one
     * dim, and a scalar with none) against the strided path on the same values: both are exact.
     */
    @Test
    void contiguousEvenlyStridedAndScalarCopiesConvertLikeTheCpu() {
        DType[][] pairs = {{DType.F32, DType.BF16}, {DType.F32, DType.F16}, {DType.BF16, DType.F32}, {DType.F64, DType.I32}, {DType.I64, DType.BOOL}};
        for (DType[] p : pairs) {
            try (Scope s = Scope.open()) {
                Tensor h = random(p[0], 3, 5, 7);
                Tensor d = h.to(CUDA);
                Tensor[] sources = {h, h.slice(2, 1, 7, 2), h.slice(0, 1, 2, 1).slice(1, 2, 3, 1).slice(2, 4, 5, 1)};
                Tensor[] devices = {d, d.slice(2, 1, 7, 2), d.slice(0, 1, 2, 1).slice(1, 2, 3, 1).slice(2, 4, 5, 1)};
                for (int k = 0; k < sources.length; k++) {
                    Tensor expect = Tensor.empty(p[1], Device.CPU, sources[k].shape());
                    Backends.cpu().copy(sources[k], expect);
                    Tensor dst = Tensor.full(Double.NaN, p[1], CUDA, sources[k].shape());
                    CudaBackend.get().copy(devices[k], dst);
                    assertArrayEquals(expect.toDoubles(), dst.to(Device.CPU).toDoubles(), 0.0, p[0] + " -> " + p[1] + " case " + k);
                }
                // a flat evenly strided destination: one dim, stride 2
                Tensor flat = h.reshape(105);
                Tensor expect = Tensor.empty(p[1], Device.CPU, 105);
                Backends.cpu().copy(flat, expect);
                Tensor big = Tensor.full(Double.NaN, p[1], CUDA, 210);
                CudaBackend.get().copy(d.reshape(105), big.slice(0, 0, 210, 2));
                assertArrayEquals(expect.toDoubles(), big.slice(0, 0, 210, 2).to(Device.CPU).toDoubles(), 0.0, p[0] + " -> " + p[1] + " stride 2");
            }
        }
    }

    @Test
    void fillsWriteEveryElementOfAView() {
        for (DType t : DType.values()) {
            try (Scope s = Scope.open()) {
                Tensor d = Tensor.full(3, t, CUDA, 5, 4);
                CudaBackend.get().fill(d.slice(1, 1, 4, 2), -1.5);
                double[] got = d.to(Device.CPU).toDoubles();
                double v = t.isFloating() ? -1.5 : (t == DType.BOOL ? 1 : -1);
                for (int i = 0; i < 20; i++) assertEquals((i % 4 == 1 || i % 4 == 3) ? v : (t == DType.BOOL ? 1 : 3), got[i], 0.0, t + " at " + i);
            }
        }
    }

    @Test
    void aSteadyLoopAllocatesNothingFromTheDriver() {
        CudaBackend b = CudaBackend.get();
        Tensor host = random(DType.F32, 64, 33);
        Runnable step = () -> {
            try (Scope s = Scope.open()) {
                Tensor d = host.to(CUDA);
                Tensor t = d.to(DType.F16).to(DType.F32);
                t.to(Device.CPU).toFloats();
            }
        };
        step.run();
        long live = b.liveBytes();
        CallCounts before = b.driver().isEmulated() ? b.driver().callCounts() : null;
        long allocs = b.driverAllocations();
        for (int i = 0; i < 20; i++) step.run();
        assertEquals(allocs, b.driverAllocations(), "steady state reuses cached blocks");
        // Flat, or lower: the GC's cleaner may free tensors earlier tests left behind meanwhile; a leak rises.
        assertTrue(b.liveBytes() <= live, "live device bytes rose from " + live + ": " + b.memoryStats());
        if (before != null) {
            CallCounts d = b.driver().callCounts().since(before);
            assertEquals(0, d.allocations(), "no cuMemAlloc in steady state: " + d);
            assertEquals(0, d.frees(), "no cuMemFree in steady state: " + d);
            assertTrue(d.hostWaits() <= 20, "one host wait per step (the copy down): " + d);
        }
    }

    @Test
    void uploadsOverlapWithoutHostWaitsOrAllocations() {
        CudaBackend b = CudaBackend.get();
        Tensor[] batches = {random(DType.F32, 4, 3, 9, 9), random(DType.I64, 4), random(DType.F32, 4, 3, 9, 9)};
        Runnable step = () -> {
            for (Tensor h : batches) {
                try (Tensor d = b.upload(h, CUDA); Scope s = Scope.open()) {
                    d.to(DType.F64);
                }
            }
        };
        for (Tensor h : batches) {
            try (Tensor d = b.upload(h, CUDA)) {
                assertArrayEquals(h.toDoubles(), d.to(Device.CPU).toDoubles(), 0.0, "uploaded values");
            }
        }
        step.run();
        step.run();
        if (!b.driver().isEmulated()) return;
        CallCounts before = b.driver().callCounts();
        for (int i = 0; i < 10; i++) step.run();
        CallCounts d = b.driver().callCounts().since(before);
        assertEquals(0, d.allocations(), "batch blocks and pinned staging are reused: " + d);
        assertEquals(0, d.hostWaits(), "an upload never makes the host wait: " + d);
        assertEquals(30, d.copiesHtoD(), "one async copy per batch: " + d);
    }
}
