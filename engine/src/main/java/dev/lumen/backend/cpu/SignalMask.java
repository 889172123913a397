package dev.lumen.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Keeps asynchronous signals away from native code that cannot take one: libdnnl2's f32 GEMM
 * kernels (dnnl_sgemm and the gemm-based convolutions) point the stack register into a heap
 * buffer while they run, so a signal handler entered there writes its frame over the C heap
 * (oneDNN issue 4845, fixed upstream in 3.11.2, present in Debian's 2.6). The JVM signals
 * threads that are in native code: JFR's sampler suspends them with SIGUSR2, profilers use
 * SIGPROF, and process signals (SIGINT, SIGTERM, SIGQUIT) land on any thread that does not
 * block them. While blocked, such a signal waits and is taken once the call returns; the
 * JVM's suspend protocol times out and skips that sample. OpenMP workers that oneDNN starts
 * inherit the caller's mask, so they never take one.
 *
 * <p>Faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) stay unblocked: the kernel delivers a
 * blocked fault anyway by killing the process, and the JVM's handler gives a report.
 */
final class SignalMask implements AutoCloseable {
    private static final int SIG_BLOCK = 0, SIG_SETMASK = 2;
    private static final int[] FAULTS = {4 /* SIGILL */, 5 /* SIGTRAP */, 7 /* SIGBUS */, 8 /* SIGFPE */, 11 /* SIGSEGV */};
    /** sizeof(sigset_t) in glibc (1024 bits), aligned as it. */
    private static final long SIGSET_BYTES = 128;
    private static final MethodHandle PTHREAD_SIGMASK;
    /** Every signal but the faults; glibc's sigfillset already leaves out its own internal ones. */
    private static final MemorySegment ASYNCHRONOUS;
    /** Per thread: the mask it had before its outermost block, and how many blocks are open. */
    private static final class ThreadState {
        final MemorySegment saved = Arena.ofAuto().allocate(SIGSET_BYTES, 8);
        int depth;
    }

    private static final ThreadLocal<ThreadState> STATE = ThreadLocal.withInitial(ThreadState::new);

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        ValueLayout i = ValueLayout.JAVA_INT, p = ValueLayout.ADDRESS;
        PTHREAD_SIGMASK = linker.downcallHandle(find(libc, "pthread_sigmask"), FunctionDescriptor.of(i, i, p, p));
        MethodHandle fill = linker.downcallHandle(find(libc, "sigfillset"), FunctionDescriptor.of(i, p));
        MethodHandle remove = linker.downcallHandle(find(libc, "sigdelset"), FunctionDescriptor.of(i, p, i));
        ASYNCHRONOUS = Arena.global().allocate(SIGSET_BYTES, 8);
        try {
            check((int) fill.invokeExact(ASYNCHRONOUS), "sigfillset");
            for (int s : FAULTS) check((int) remove.invokeExact(ASYNCHRONOUS, s), "sigdelset " + s);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("signal mask: " + e, e);
        }
    }

    private final ThreadState state;
    private boolean closed;

    private SignalMask(ThreadState state) { this.state = state; }

    private static MemorySegment find(java.lang.foreign.SymbolLookup libc, String name) {
        return libc.find(name).orElseThrow(() -> new IllegalStateException("libc has no symbol " + name));
    }

    private static void check(int status, String call) {
        if (status != 0) throw new IllegalStateException(call + " failed with " + status);
    }

    /**
     * Blocks every asynchronous signal on the calling thread until {@link #close}, which restores
     * the previous mask. Blocks nest: only the outermost one saves and restores the mask, so an
     * inner close leaves the signals blocked for the outer call.
     */
    static SignalMask blockAsynchronous() {
        ThreadState state = STATE.get();
        if (state.depth == 0) setMask(SIG_BLOCK, ASYNCHRONOUS, state.saved, "pthread_sigmask(SIG_BLOCK)");
        state.depth++;
        return new SignalMask(state);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (--state.depth == 0) setMask(SIG_SETMASK, state.saved, MemorySegment.NULL, "pthread_sigmask(SIG_SETMASK)");
    }

    private static void setMask(int how, MemorySegment set, MemorySegment old, String call) {
        try {
            check((int) PTHREAD_SIGMASK.invokeExact(how, set, old), call);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(call + ": " + e, e);
        }
    }
}
