package dev.lumen.backend.cuda;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Moving bytes: copies between device views with a dtype conversion (copy.cu), fills, and
 * transfers between host and device or between two devices. A contiguous copy of one dtype is a
 * plain cuMemcpy; every other copy is one launch of copy_<src>_to_<dst> over both strided layouts.
 */
final class CudaCopy {
    private final CudaContext ctx;
    private final DeferredChecks checks;

    CudaCopy(CudaContext ctx, DeferredChecks checks) {
        this.ctx = ctx;
        this.checks = checks;
    }

    void copy(Tensor src, Tensor dst) {
        if (!Arrays.equals(src.shape(), dst.shape())) {
            throw new IllegalArgumentException("copy: shapes " + Arrays.toString(src.shape()) + " and " + Arrays.toString(dst.shape()) + " differ");
        }
        if (src.device().kind() != Device.Kind.CUDA || dst.device().kind() != Device.Kind.CUDA) {
            transfer(src, dst);
            return;
        }
        long n = dst.numel();
        if (n == 0) return;
        if (!src.device().equals(dst.device())) {
            betweenDevices(src, dst);
            return;
        }
        if (src.dtype() == dst.dtype() && src.isContiguous() && dst.isContiguous()) {
            ctx.bind().driver().copyDtoDAsync(CudaTensors.ptr(dst), CudaTensors.ptr(src), n * dst.dtype().byteSize(), ctx.stream());
            return;
        }
        CudaTensors.Layout l = CudaTensors.layout(dst.shape(), src, dst);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(src)).view(l, 0).ptr(CudaTensors.base(dst)).view(l, 1);
            Launch.elementwise(ctx, "copy_" + CudaBackend.suffix(src.dtype()) + "_to_" + CudaBackend.suffix(dst.dtype()), n, a);
        }
    }

    void fill(Tensor dst, double value) {
        long n = dst.numel();
        if (n == 0) return;
        if (value == 0 && dst.isContiguous() && !(1 / value < 0)) {
            // +0.0 is all-zero bytes in every dtype.
            ctx.bind().driver().memsetD8Async(CudaTensors.ptr(dst), (byte) 0, n * dst.dtype().byteSize(), ctx.stream());
            return;
        }
        CudaTensors.Layout l = CudaTensors.layout(dst.shape(), dst);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(dst)).view(l, 0).f64(value);
            Launch.elementwise(ctx, "fill_" + CudaBackend.suffix(dst.dtype()), n, a);
        }
    }

    /**
     * Host to device or device to host. Contiguous tensors of one dtype move as one async copy on
     * the compute stream; a copy to the host then waits for the stream (the one place the host
     * waits), a wait that also reports a failed index check (DeferredChecks). Anything else is
     * converted on the side that has the layout to change.
     */
    void transfer(Tensor src, Tensor dst) {
        boolean up = src.device().kind() == Device.Kind.CPU && dst.device().kind() == Device.Kind.CUDA;
        boolean down = src.device().kind() == Device.Kind.CUDA && dst.device().kind() == Device.Kind.CPU;
        if (!up && !down) {
            if (src.device().kind() == Device.Kind.CUDA) copy(src, dst);
            else Backends.cpu().copy(src, dst);
            return;
        }
        if (!Arrays.equals(src.shape(), dst.shape())) {
            throw new IllegalArgumentException("transfer: shapes " + Arrays.toString(src.shape()) + " and " + Arrays.toString(dst.shape()) + " differ");
        }
        long n = dst.numel();
        if (n == 0) return;
        long bytes = n * dst.dtype().byteSize();
        CudaDriver drv = ctx.bind().driver();
        if (up) {
            if (src.dtype() == dst.dtype() && src.isContiguous() && dst.isContiguous()) {
                // From pageable memory the driver stages the bytes before returning, so src may be freed at once.
                drv.copyHtoDAsync(CudaTensors.ptr(dst), hostSlice(src, bytes), bytes, ctx.stream());
                return;
            }
            try (Tensor h = Tensor.empty(dst.dtype(), Device.CPU, dst.shape())) {
                Backends.cpu().copy(src, h);
                if (dst.isContiguous()) {
                    drv.copyHtoDAsync(CudaTensors.ptr(dst), hostSlice(h, bytes), bytes, ctx.stream());
                } else {
                    try (Tensor d = Tensor.empty(dst.dtype(), dst.device(), dst.shape())) {
                        drv.copyHtoDAsync(CudaTensors.ptr(d), hostSlice(h, bytes), bytes, ctx.stream());
                        copy(d, dst);
                    }
                }
            }
            return;
        }
        if (src.dtype() == dst.dtype() && src.isContiguous() && dst.isContiguous()) {
            drv.copyDtoHAsync(hostSlice(dst, bytes), CudaTensors.ptr(src), bytes, ctx.stream());
            checks.waitForHost();
            return;
        }
        // Convert on the device (one launch), then one copy down.
        try (Tensor d = Tensor.empty(dst.dtype(), src.device(), src.shape())) {
            copy(src, d);
            if (dst.isContiguous()) {
                drv.copyDtoHAsync(hostSlice(dst, bytes), CudaTensors.ptr(d), bytes, ctx.stream());
                checks.waitForHost();
            } else {
                try (Tensor h = Tensor.empty(dst.dtype(), Device.CPU, dst.shape())) {
                    drv.copyDtoHAsync(hostSlice(h, bytes), CudaTensors.ptr(d), bytes, ctx.stream());
                    checks.waitForHost();
                    Backends.cpu().copy(h, dst);
                }
            }
        }
    }

    /**
     * A copy from one device to another, as PyTorch makes it: the source device's stream first
     * waits for the destination's (dst's block may still be read there), copies with
     * cuMemcpyPeerAsync, and the destination's stream waits for the copy, so later work on either
     * device is ordered after it without a host wait. A dtype change or a strided side is done on
     * the device that holds it.
     */
    private static void betweenDevices(Tensor src, Tensor dst) {
        if (src.dtype() != dst.dtype() || !src.isContiguous()) {
            try (Tensor packed = Tensor.empty(dst.dtype(), src.device(), src.shape())) {
                src.backend().copy(src, packed);
                betweenDevices(packed, dst);
            }
            return;
        }
        if (!dst.isContiguous()) {
            try (Tensor landed = Tensor.empty(dst.dtype(), dst.device(), dst.shape())) {
                betweenDevices(src, landed);
                dst.backend().copy(landed, dst);
            }
            return;
        }
        CudaContext from = CudaContext.of(src.device().index()), to = CudaContext.of(dst.device().index());
        CudaDriver drv = from.driver();
        // An event belongs to the context current when it is made, and is recorded on a stream of that context.
        to.bind();
        MemorySegment ready = drv.eventCreate(CudaDriver.EVENT_DISABLE_TIMING);
        drv.eventRecord(ready, to.stream());
        from.bind();
        MemorySegment copied = drv.eventCreate(CudaDriver.EVENT_DISABLE_TIMING);
        try {
            drv.streamWaitEvent(from.stream(), ready);
            drv.copyPeerAsync(CudaTensors.ptr(dst), to.handle(), CudaTensors.ptr(src), from.handle(),
                    dst.numel() * dst.dtype().byteSize(), from.stream());
            drv.eventRecord(copied, from.stream());
            to.bind();
            drv.streamWaitEvent(to.stream(), copied);
        } finally {
            // Destroying an event whose work is still queued is allowed: the waits already queued keep it.
            to.bind();
            drv.eventDestroy(ready);
            from.bind();
            drv.eventDestroy(copied);
        }
    }

    private static MemorySegment hostSlice(Tensor t, long bytes) {
        return t.storage().segment().asSlice(t.offset() * t.dtype().byteSize(), bytes);
    }
}
