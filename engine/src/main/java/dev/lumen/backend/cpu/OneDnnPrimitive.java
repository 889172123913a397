package dev.lumen.backend.cpu;

import dev.lumen.memory.Storage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * One oneDNN primitive whose arguments are given in Lumen's plain layouts (NCHW, OIHW). Where
 * the primitive chose another layout (format any: nChw16c and the like), the argument goes
 * through a reorder into scratch memory before the primitive (inputs) or after it (outputs).
 * Built once per shape; the memory objects get the call's buffers each time, so one instance
 * runs one call at a time.
 */
final class OneDnnPrimitive implements AutoCloseable {
    private static final long EXEC_ARG_BYTES = 16;
    private static final int ARG_FROM = 1, ARG_TO = 17;

    /**
     * An argument: where the caller's data is, and the reorder into the primitive's layout when
     * they differ (innerMd: that layout, copied out of the primitive descriptor).
     */
    private record Arg(int id, boolean output, MemorySegment user, MemorySegment inner, MemorySegment innerMd, MemorySegment reorder,
                       MemorySegment reorderArgs, long innerBytes) {}

    /**
     * Inputs reordered during one sequence of runs (a convolution's two backward passes both read
     * gradOut): a run that needs the same buffer in the same layout takes the copy made before
     * instead of reordering again. It owns the copies until closed; the runs it serves must not
     * write what a later one reads.
     */
    static final class Reordered implements AutoCloseable {
        private record Copy(long address, MemorySegment md, Storage data) {}

        private final OneDnn dnn;
        private final List<Copy> copies = new ArrayList<>();

        Reordered(OneDnn dnn) { this.dnn = dnn; }

        /** The copy of the buffer at address in layout md, or null. */
        private MemorySegment find(long address, MemorySegment md) throws Throwable {
            for (Copy c : copies) {
                if (c.address() == address && dnn.mdEqual(c.md(), md)) return c.data().segment();
            }
            return null;
        }

        @Override
        public void close() {
            for (Copy c : copies) c.data().release();
            copies.clear();
        }
    }

    /**
     * What an argument is: its oneDNN id, the query (and index: bias is weights 1) for the
     * layout the primitive chose, input or output, and the plain layout.
     */
    record Spec(int id, int query, int index, boolean output, MemorySegment plainMd) {}

    private final OneDnn dnn;
    private final String what;
    private final MemorySegment primitive, args;
    /** The primitive's scratchpad memory object (null when it needs none) and its bytes, given per call. */
    private MemorySegment scratchpad;
    private long scratchpadBytes;
    /** Each reorder's scratchpad, parallel to list (null where none is needed). */
    private final List<MemorySegment> reorderScratch = new ArrayList<>();
    private final List<Long> reorderScratchBytes = new ArrayList<>();
    private final List<Arg> list = new ArrayList<>();
    private final String implementation;
    /** Reorders run so far (tests check that a shared input is reordered once). */
    private long reordersRun;
    private final Arena arena = Arena.ofShared();
    private boolean closed;

    /** Takes pd (destroys it): creates the primitive, memory objects and reorders for specs. */
    OneDnnPrimitive(OneDnn dnn, MemorySegment pd, String what, List<Spec> specs) throws Throwable {
        this.dnn = dnn;
        this.what = what;
        try {
            implementation = dnn.implementation(pd);
            MemorySegment padMd = dnn.queryMd(pd, OneDnn.QUERY_SCRATCHPAD_MD, 0);
            scratchpadBytes = dnn.mdSize(padMd);
            if (scratchpadBytes > 0) scratchpad = dnn.memory(padMd);
            args = arena.allocate(EXEC_ARG_BYTES * (specs.size() + 1), 8);
            for (int k = 0; k < specs.size(); k++) {
                Spec s = specs.get(k);
                MemorySegment chosen = dnn.queryMd(pd, s.query(), s.index());
                MemorySegment user = dnn.memory(s.plainMd());
                MemorySegment inner = null, innerMd = null, reorder = null, reorderArgs = null;
                long innerBytes = 0;
                if (!dnn.mdEqual(chosen, s.plainMd())) {
                    inner = dnn.memory(chosen);
                    innerBytes = dnn.mdSize(chosen);
                    innerMd = arena.allocate(OneDnn.MD_BYTES, 8).copyFrom(chosen);
                    MemorySegment rpd = s.output() ? dnn.reorderDesc(chosen, s.plainMd()) : dnn.reorderDesc(s.plainMd(), chosen);
                    MemorySegment rPad = null;
                    long rPadBytes;
                    try {
                        reorder = dnn.primitive(rpd);
                        MemorySegment rPadMd = dnn.queryMd(rpd, OneDnn.QUERY_SCRATCHPAD_MD, 0);
                        rPadBytes = dnn.mdSize(rPadMd);
                        if (rPadBytes > 0) rPad = dnn.memory(rPadMd);
                    } finally {
                        dnn.destroyDesc(rpd);
                    }
                    reorderArgs = arena.allocate(EXEC_ARG_BYTES * 3, 8);
                    putArg(reorderArgs, 0, ARG_FROM, s.output() ? inner : user);
                    putArg(reorderArgs, 1, ARG_TO, s.output() ? user : inner);
                    if (rPad != null) putArg(reorderArgs, 2, OneDnn.ARG_SCRATCHPAD, rPad);
                    reorderScratch.add(rPad);
                    reorderScratchBytes.add(rPadBytes);
                } else {
                    reorderScratch.add(null);
                    reorderScratchBytes.add(0L);
                }
                putArg(args, k, s.id(), inner != null ? inner : user);
                if (k == specs.size() - 1 && scratchpad != null) putArg(args, specs.size(), OneDnn.ARG_SCRATCHPAD, scratchpad);
                list.add(new Arg(s.id(), s.output(), user, inner, innerMd, reorder, reorderArgs, innerBytes));
            }
            primitive = dnn.primitive(pd);
        } catch (Throwable e) {
            close();
            throw e;
        } finally {
            dnn.destroyDesc(pd);
        }
    }

    private static void putArg(MemorySegment args, int k, int id, MemorySegment mem) {
        args.set(ValueLayout.JAVA_INT, k * EXEC_ARG_BYTES, id);
        args.set(ValueLayout.ADDRESS, k * EXEC_ARG_BYTES + 8, mem);
    }

    /** The implementation oneDNN chose (for reports and tests). */
    String implementation() { return implementation; }

    /** Whether any argument is reordered (the primitive works in a blocked layout). */
    boolean reorders() { return list.stream().anyMatch(a -> a.reorder() != null); }

    /** Runs on the caller's buffers, one per spec, in spec order; outputs are fully written. */
    void run(MemorySegment... data) { run(null, data); }

    /** As {@link #run(MemorySegment...)}, taking reordered inputs from shared and leaving its own there (shared may be null). */
    void run(Reordered shared, MemorySegment... data) {
        synchronized (OneDnn.EXECUTION) {
            runAlone(shared, data);
        }
    }

    /** The reorders this primitive has run. */
    long reordersRun() { return reordersRun; }

    private void runAlone(Reordered shared, MemorySegment... data) {
        if (closed) throw new IllegalStateException("oneDNN " + what + ": primitive already released");
        List<Storage> held = new ArrayList<>();
        try {
            for (int k = 0; k < list.size(); k++) {
                Arg a = list.get(k);
                dnn.setHandle(a.user(), data[k]);
                if (a.inner() == null) continue;
                MemorySegment ready = shared == null || a.output() ? null : shared.find(data[k].address(), a.innerMd());
                if (ready != null) {
                    dnn.setHandle(a.inner(), ready);
                    continue;
                }
                Storage copy = Storage.host(a.innerBytes());
                if (shared != null && !a.output()) shared.copies.add(new Reordered.Copy(data[k].address(), a.innerMd(), copy));
                else held.add(copy);
                dnn.setHandle(a.inner(), copy.segment());
                if (reorderScratch.get(k) != null) dnn.setHandle(reorderScratch.get(k), scratch(held, reorderScratchBytes.get(k)));
                if (!a.output()) reorder(k, a);
            }
            if (scratchpad != null) dnn.setHandle(scratchpad, scratch(held, scratchpadBytes));
            dnn.execute(primitive, list.size() + (scratchpad != null ? 1 : 0), args, what);
            for (int k = 0; k < list.size(); k++) {
                Arg a = list.get(k);
                if (a.output() && a.inner() != null) reorder(k, a);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN " + what + ": " + e, e);
        } finally {
            for (Storage s : held) s.release();
        }
    }

    private void reorder(int k, Arg a) throws Throwable {
        dnn.execute(a.reorder(), reorderScratch.get(k) != null ? 3 : 2, a.reorderArgs(), "reorder " + what);
        reordersRun++;
    }

    /** Scratch memory for this call, released when it ends. */
    private static MemorySegment scratch(List<Storage> held, long bytes) {
        Storage s = Storage.host(bytes);
        held.add(s);
        return s.segment();
    }

    @Override
    public void close() {
        synchronized (OneDnn.EXECUTION) {
            release();
        }
    }

    private void release() {
        if (closed) return;
        closed = true;
        try {
            for (Arg a : list) {
                dnn.destroyMemory(a.user());
                if (a.inner() != null) dnn.destroyMemory(a.inner());
                if (a.reorder() != null) dnn.destroyPrimitive(a.reorder());
            }
            list.clear();
            for (MemorySegment m : reorderScratch) if (m != null) dnn.destroyMemory(m);
            if (scratchpad != null) dnn.destroyMemory(scratchpad);
            if (primitive != null) dnn.destroyPrimitive(primitive);
            if (arena.scope().isAlive()) arena.close();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN release " + what + ": " + e, e);
        }
    }
}
