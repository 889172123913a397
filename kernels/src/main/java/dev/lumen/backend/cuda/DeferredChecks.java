package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.cuda.DeviceBuffer;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * Range checks of index tensors that never make the host wait, as CUDA's device-side asserts
 * but with the CPU's messages (Backend.checkIndices). A check is one launch of range_check
 * (checks.cu), numbered by the host in queue order; the kernel records the first failing
 * (check, position) and its value in a device error word with an integer atomicMin, so the
 * result does not depend on thread order. Nothing reads the word then: {@link #waitForHost}
 * queues a 16-byte copy of it into a pinned host slot just before the stream synchronize a
 * host read does anyway, so the one wait covers both; if a check failed, it resets the word
 * and throws that check's IllegalArgumentException.
 *
 * <p>Check numbers restart at 0 after each wait that found no failure: every check queued
 * before it has run by then. Between two waits at most {@link #MAX_CHECKS} checks fit in the
 * key's 24 bits; the next one waits first (a host wait no training step comes near).
 */
final class DeferredChecks {
    /** The key's low bits: the failing position (checks.cu kPositionBits). */
    private static final int POSITION_BITS = 40;
    /** The key while nothing failed: all ones, which no (check, position) reaches. */
    private static final long NO_FAILURE = -1L;
    /** Checks numbered 0 .. MAX_CHECKS - 1 between waits; all-ones stays free for NO_FAILURE. */
    static final int MAX_CHECKS = (1 << (64 - POSITION_BITS)) - 1;
    /** key (u64), value (i64): what the host reads. */
    private static final long REPORT_BYTES = 16;
    /** The report, then the finished-block counter (u32, padded). */
    private static final long WORD_BYTES = 24;

    private final CudaContext ctx;
    /** outOfRange of each queued check since the last wait, by check number. */
    private final List<LongFunction<String>> queued = new ArrayList<>();
    /** The error word (device) and its landing slot (pinned host), made on first use and held for the process's life. */
    private DeviceBuffer word;
    private MemorySegment slot;

    DeferredChecks(CudaContext ctx) { this.ctx = ctx; }

    /** Queues the check that indices lie in [0, size); a failure throws outOfRange(value) at the next {@link #waitForHost}. */
    synchronized void check(Tensor indices, long size, LongFunction<String> outOfRange) {
        DType t = indices.dtype();
        if (t != DType.I32 && t != DType.I64 && t != DType.BOOL) {
            throw new IllegalArgumentException("checkIndices: indices must be I32, I64 or BOOL, got " + t);
        }
        long n = indices.numel();
        if (n == 0) return;
        if (n > 1L << POSITION_BITS) throw new IllegalArgumentException("checkIndices: " + n + " indices exceed the 2^40 a check can number");
        if (queued.size() == MAX_CHECKS) waitForHost();
        long w = word();
        long seq = queued.size();
        queued.add(outOfRange);
        CudaTensors.Layout l = CudaTensors.layout(indices.shape(), indices);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(indices)).view(l, 0).i64(size).i64(seq).ptr(w);
            Launch.elementwise(ctx, "range_check_" + CudaBackend.suffix(t), n, a);
        }
    }

    /**
     * The error word's key, for kernels that must not write once a check has failed: all ones
     * (as u64) while none has.
     */
    synchronized long failedKey() { return word(); }

    /**
     * Waits for the compute stream (the caller's copies to the host queued before it complete
     * with it), then throws the first failure recorded since the last wait, if any.
     */
    synchronized void waitForHost() {
        CudaDriver drv = ctx.bind().driver();
        boolean anyQueued = !queued.isEmpty();
        if (anyQueued) drv.copyDtoHAsync(slot, word.pointer(), REPORT_BYTES, ctx.stream());
        drv.streamSynchronize(ctx.stream());
        if (!anyQueued) return;
        long key = slot.get(ValueLayout.JAVA_LONG, 0);
        if (key == NO_FAILURE) {
            queued.clear();
            return;
        }
        long value = slot.get(ValueLayout.JAVA_LONG, 8);
        LongFunction<String> outOfRange = queued.get((int) (key >>> POSITION_BITS));
        queued.clear();
        drv.memsetD8Async(word.pointer(), (byte) 0xff, REPORT_BYTES, ctx.stream());
        throw new IllegalArgumentException(outOfRange.apply(value));
    }

    private long word() {
        if (word == null) {
            CudaDriver drv = ctx.bind().driver();
            slot = drv.memAllocHost(REPORT_BYTES);
            DeviceBuffer w = ctx.allocate(WORD_BYTES);
            drv.memsetD8Async(w.pointer(), (byte) 0xff, REPORT_BYTES, ctx.stream());
            drv.memsetD8Async(w.pointer() + REPORT_BYTES, (byte) 0, WORD_BYTES - REPORT_BYTES, ctx.stream());
            word = w;
        }
        return word.pointer();
    }
}
