package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.Cublas;
import dev.lumen.cuda.CublasException;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.cuda.CudaException;
import dev.lumen.cuda.Cudnn;
import dev.lumen.cuda.DeviceBuffer;
import dev.lumen.memory.Scope;
import dev.lumen.nn.AdaptiveAvgPool2d;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Flatten;
import dev.lumen.nn.Linear;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Several devices in one process: under the emulated driver the build runs with
 * LUMEN_EMU_DEVICES=2 (kernels/pom.xml), on a machine with two GPUs the same tests run on them.
 * Each device has its own context, streams, module, cuBLAS and cuDNN handles, caching allocator
 * and backend; the same work gives the same bits on either; tensors move between them; two
 * threads train on two devices at once; and a missing ordinal or a mix of devices is a one-line
 * error.
 */
class MultiDeviceTest {
    private static final Device CUDA0 = Device.cuda(0), CUDA1 = Device.cuda(1);

    @BeforeAll
    static void twoDevices() {
        DeviceCheck.requireCuda();
        int n = CudaContext.deviceCount();
        // The build sets LUMEN_EMU_DEVICES=2: a required emulated run with fewer is a broken setup, not a skip.
        if (Boolean.getBoolean("lumen.cuda.required") && CudaDriver.get().isEmulated()) {
            assertTrue(n >= 2, "the emulated driver reports " + n + " device(s); the build runs it with LUMEN_EMU_DEVICES=2");
        }
        Assumptions.assumeTrue(n >= 2, "one CUDA device here");
    }

    @Test
    void eachDeviceHasItsOwnContextAndBackend() {
        CudaContext c0 = CudaContext.of(0), c1 = CudaContext.of(1);
        assertSame(c0, CudaContext.get());
        assertNotSame(c0, c1);
        assertEquals(1, c1.ordinal());
        assertTrue(c0.handle().address() != c1.handle().address(), "two devices share a CUcontext");
        assertTrue(c0.stream().address() != c1.stream().address());
        assertNotSame(c0.kernel("fill_f32"), c1.kernel("fill_f32"));
        assertSame(c1, Cublas.of(c1).context(), "cuda:1's cuBLAS handle");
        assertNotSame(Cublas.of(c0), Cublas.of(c1));
        assertTrue(Cudnn.of(c0).handle().address() != Cudnn.of(c1).handle().address(), "one cuDNN handle per device");
        CudaBackend b0 = CudaBackend.of(0), b1 = CudaBackend.of(1);
        assertSame(Backends.cuda(), b0);
        assertSame(Backends.of(CUDA1), b1);
        assertSame(c1, b1.context());
        assertEquals(CUDA1, b1.device());
        assertTrue(c1.describe().startsWith("cuda:1 "), c1.describe());
        assertEquals(CudaContext.deviceCount(), Backends.cudaDeviceCount(), "the engine's count of devices");
    }

    /** A forward and backward through cuBLAS, cuDNN and Lumen's kernels, on one device; its loss and gradients. */
    private static List<float[]> work(Device d) {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(11), DType.F32, 2, 3, 9, 9).to(d).requiresGrad(true);
            Tensor w = Tensor.randn(new Generator(12), DType.F32, 4, 3, 3, 3).to(d).requiresGrad(true);
            Tensor m = Tensor.randn(new Generator(13), DType.F32, 4 * 7 * 7, 5).to(d).requiresGrad(true);
            Tensor y = dev.lumen.ops.Convolution.conv2d(x, w, null).relu();
            Tensor logits = y.reshape(2, 4 * 7 * 7).matmul(m).softmax(1);
            Tensor loss = logits.mul(logits).sum();
            loss.backward();
            return List.of(loss.toFloats(), x.grad().toFloats(), w.grad().toFloats(), m.grad().toFloats());
        }
    }

    @Test
    void theSameWorkGivesTheSameBitsOnEitherDevice() {
        List<float[]> a = work(CUDA0), b = work(CUDA1);
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), 0f, "result " + i);
    }

    @Test
    void tensorsMoveBetweenDevicesAndBack() {
        try (Scope s = Scope.open()) {
            Tensor h = Tensor.randn(new Generator(5), DType.F32, 4, 6, 5);
            Tensor on0 = h.to(CUDA0);
            Tensor on1 = on0.to(CUDA1);
            assertEquals(CUDA1, on1.device());
            assertArrayEquals(h.toFloats(), on1.toFloats(), 0f);
            // A strided view and a dtype change travel too, each converted on the device that holds it.
            Tensor view = on1.permute(2, 0, 1).slice(1, 1, 4, 2);
            assertArrayEquals(h.permute(2, 0, 1).slice(1, 1, 4, 2).toFloats(), view.to(CUDA0).toFloats(), 0f);
            Tensor halfOn0 = Tensor.empty(DType.F64, CUDA0, 4, 6, 5);
            CudaBackend.of(0).copy(on1, halfOn0);
            assertArrayEquals(h.toDoubles(), halfOn0.toDoubles(), 0.0);
            // The copy is ordered after the source's producer and before the destination's consumer.
            Tensor doubled = on0.mul(2.0).to(CUDA1).add(1.0).to(CUDA0);
            assertArrayEquals(h.mul(2.0).add(1.0).toFloats(), doubled.toFloats(), 0f);
            // Gradients flow back to the device the tensor came from.
            Tensor leaf = h.to(CUDA0).requiresGrad(true);
            leaf.to(CUDA1).mul(3.0).sum().backward();
            assertEquals(CUDA0, leaf.grad().device());
            for (float g : leaf.grad().toFloats()) assertEquals(3f, g);
        }
    }

    @Test
    void memoryIsAccountedPerDevice() {
        CudaBackend b0 = CudaBackend.of(0), b1 = CudaBackend.of(1);
        long live0 = b0.liveBytes(), live1 = b1.liveBytes();
        try (Tensor t = Tensor.zeros(DType.F32, CUDA1, 1 << 20)) {
            assertTrue(b1.liveBytes() >= live1 + (4L << 20), b1.memoryStats());
            // Device 0's count may only fall meanwhile: the GC's cleaner frees tensors earlier tests left behind.
            assertTrue(b0.liveBytes() <= live0, "an allocation on cuda:1 shows on cuda:0: " + live0 + " bytes before, " + b0.memoryStats());
        }
        // The driver's own count: cuMemGetInfo in each device's context.
        CudaContext c0 = CudaContext.of(0), c1 = CudaContext.of(1);
        long free0 = c0.bind().driver().memInfo()[0], free1 = c1.bind().driver().memInfo()[0];
        try (DeviceBuffer big = c1.allocate(64L << 20)) {
            long after1 = c1.bind().driver().memInfo()[0], after0 = c0.bind().driver().memInfo()[0];
            if (CudaDriver.get().isEmulated()) {   // a real device's free memory also moves with other processes
                assertEquals(free1 - (64L << 20), after1, "cuda:1's free memory");
                assertTrue(after0 >= free0, "cuda:0's free memory fell from " + free0 + " to " + after0 + " after an allocation on cuda:1");
            }
        }
    }

    @Test
    void aMissingOrdinalIsOneLine() {
        int n = CudaContext.deviceCount();
        CudaException e = assertThrows(CudaException.class, () -> CudaContext.of(n + 3));
        assertEquals("cuda:" + (n + 3) + " requested but the driver reports " + n + " devices (cuda:0 to cuda:" + (n - 1) + ")", e.getMessage());
        IllegalStateException viaEngine = assertThrows(IllegalStateException.class, () -> Tensor.zeros(DType.F32, Device.cuda(n + 3), 2));
        assertEquals("CUDA backend unavailable: " + e.getMessage(), viaEngine.getMessage());
        assertEquals(viaEngine.getMessage(), Backends.cudaStatus(n + 3));
        assertEquals(null, Backends.cudaStatus(1));
    }

    @Test
    void opsMixingDevicesAreOneLineErrors() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(2, 3).to(CUDA0), b = Tensor.ones(2, 3).to(CUDA1);
            IllegalArgumentException add = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertEquals("add: operands on cuda:0 and cuda:1", add.getMessage());
            IllegalArgumentException mm = assertThrows(IllegalArgumentException.class, () -> a.matmul(b.reshape(3, 2)));
            assertTrue(mm.getMessage().contains("cuda:0") && mm.getMessage().contains("cuda:1"), mm.getMessage());
            // Each backend keeps to its own device.
            IllegalArgumentException up = assertThrows(IllegalArgumentException.class, () -> CudaBackend.of(1).upload(Tensor.ones(2), CUDA0));
            assertEquals("upload: the backend of cuda:1 cannot upload to cuda:0", up.getMessage());
            IllegalArgumentException alloc = assertThrows(IllegalArgumentException.class, () -> CudaBackend.of(0).allocate(64, CUDA1));
            assertEquals("the backend of cuda:0 cannot allocate on cuda:1", alloc.getMessage());
            try (Tensor uploaded = CudaBackend.of(1).upload(Tensor.ones(2), CUDA1)) {
                assertEquals(CUDA1, uploaded.device());
                assertArrayEquals(new float[] {1f, 1f}, uploaded.toFloats(), 0f);
            }
        }
    }

    /**
     * What a GPU would reject: a kernel of cuda:1 given cuda:0's memory (no peer access enabled).
     * Only the emulator can show it without crashing: a GPU faults asynchronously.
     */
    @Test
    void theEmulatorRejectsAKernelGivenAnotherDevicesMemory() {
        Assumptions.assumeTrue(CudaDriver.get().isEmulated(), "a GPU faults asynchronously; only the emulator reports it at the launch");
        try (Tensor on0 = Tensor.zeros(DType.F32, CUDA0, 8)) {
            CudaException e = assertThrows(CudaException.class, () -> CudaBackend.of(1).fill(on0, 1.0));
            assertTrue(e.getMessage().contains("fill_f32") && e.getMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS"), e.getMessage());
            for (float v : on0.toFloats()) assertEquals(0f, v, "the rejected kernel wrote");
        }
    }

    /** The emulated cuBLAS and cuDNN likewise refuse a handle of cuda:1 given cuda:0's memory. */
    @Test
    void theEmulatedLibrariesRejectAnotherDevicesMemory() {
        Assumptions.assumeTrue(CudaDriver.get().isEmulated(), "a GPU faults asynchronously; only the emulator reports it at the call");
        CudaContext c0 = CudaContext.of(0), c1 = CudaContext.of(1);
        Cublas blas1 = Cublas.of(c1);
        Cudnn dnn1 = Cudnn.of(c1);
        try (DeviceBuffer a = c0.allocate(64); DeviceBuffer b = c0.allocate(64); DeviceBuffer c = c0.allocate(64); DeviceBuffer own = c1.allocate(64)) {
            CublasException gemm = assertThrows(CublasException.class, () -> blas1.gemmEx(
                    Cublas.OP_N, Cublas.OP_N, 4, 4, 4, 1, a.pointer(), Cublas.R_32F, 4,
                    b.pointer(), Cublas.R_32F, 4, 0, c.pointer(), Cublas.R_32F, 4,
                    Cublas.COMPUTE_32F_PEDANTIC));
            assertTrue(gemm.getMessage().contains("CUBLAS_STATUS_EXECUTION_FAILED"), gemm.getMessage());
            MemorySegment desc = dnn1.tensor(Cudnn.DATA_FLOAT, 1, 1, 4, 4);
            var one = Cudnn.scalars(Cudnn.DATA_FLOAT).one();
            CudaException add = assertThrows(CudaException.class, () -> dnn1.addTensor(one, desc, a.pointer(), one, desc, own.pointer()));
            assertTrue(add.getMessage().contains("cudnnAddTensor"), add.getMessage());
            dnn1.addTensor(one, desc, own.pointer(), one, desc, own.pointer());   // its own memory: fine
            dnn1.destroyTensor(desc);
        }
    }

    /** A small conv net and its optimizer on one device, built from one seed. */
    private record Run(Sequential net, AdamW opt, Tensor x, Tensor labels) {
        static Run on(Device d) {
            Generator.global().manualSeed(77);
            Sequential net = new Sequential(new Conv2d(3, 8, 3, 1, 1), new BatchNorm2d(8), new ReLU(),
                    new AdaptiveAvgPool2d(1), new Flatten(), new Linear(8, 4));
            net.to(d);
            Tensor x = Tensor.randn(new Generator(78), DType.F32, 4, 3, 8, 8).to(d);
            Tensor labels = Tensor.fromLongs(new long[] {0, 1, 2, 3}, 4).to(d);
            return new Run(net, new AdamW(net.trainableParameters(), 1e-2, 0.01), x, labels);
        }

        /** steps training steps; the final weights, flattened. */
        List<float[]> train(int steps) {
            for (int i = 0; i < steps; i++) {
                try (Scope s = Scope.open()) {
                    opt.zeroGrad();
                    Losses.crossEntropy(net.forward(x), labels).backward();
                    opt.step();
                }
            }
            List<float[]> w = new ArrayList<>();
            for (Tensor p : net.parameters()) w.add(p.toFloats());
            for (Tensor b : net.namedBuffers().values()) if (b.dtype().isFloating()) w.add(b.toFloats());
            return w;
        }
    }

    @Test
    void twoThreadsTrainOnTwoDevicesAtOnce() throws Exception {
        int steps = 6;
        List<float[]> alone = Run.on(CUDA0).train(steps);
        // Models are built on this thread (the global generator is shared), then each thread drives its device.
        Run r0 = Run.on(CUDA0), r1 = Run.on(CUDA1);
        CyclicBarrier start = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<List<float[]>> f0 = pool.submit(() -> {
                start.await();
                return r0.train(steps);
            });
            Future<List<float[]>> f1 = pool.submit(() -> {
                start.await();
                return r1.train(steps);
            });
            List<float[]> w0 = f0.get(), w1 = f1.get();
            assertEquals(alone.size(), w0.size());
            for (int i = 0; i < alone.size(); i++) {
                assertArrayEquals(alone.get(i), w0.get(i), 0f, "cuda:0 beside cuda:1, tensor " + i);
                assertArrayEquals(alone.get(i), w1.get(i), 0f, "cuda:1 beside cuda:0, tensor " + i);
            }
            float[] first = alone.getFirst(), init = Run.on(Device.CPU).net.parameters().getFirst().toFloats();
            assertTrue(!java.util.Arrays.equals(first, init), "training did not move the weights");
        } finally {
            pool.shutdownNow();
        }
    }
}
