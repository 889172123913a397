package dev.lumen.memory;

import java.util.ArrayList;

/**
 * A region whose tensors are freed together when it closes, so that a training step's
 * activations and gradients never pile up waiting for the GC:
 * <pre>
 * try (var step = Scope.open()) {
 *     Tensor loss = ...;          // freed at the end of the block
 *     step.keep(stats);           // moved to the enclosing scope (or to no scope)
 * }
 * </pre>
 * Scopes nest per thread. Resources made outside every scope (parameters, optimizer state)
 * belong to no scope: they are freed by an explicit close, or when the GC finds them unreachable.
 */
public final class Scope implements AutoCloseable {
    /** Something a scope can own and free: a tensor. */
    public interface Resource {
        Scope owner();

        void setOwner(Scope scope);

        /** Frees the resource now; a second call does nothing. */
        void close();

        /**
         * Drops the owner's claim: freed now unless something else still needs it (a tensor saved
         * for backward), in which case whoever holds it frees it later. A second call does nothing.
         */
        default void release() { close(); }

        /** True once the resource's memory is gone. */
        boolean isClosed();
    }

    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private final Scope parent;
    private final Thread thread;
    private final boolean releasing;
    private ArrayList<Resource> owned = new ArrayList<>();

    private Scope(Scope parent, boolean releasing) {
        this.parent = parent;
        this.thread = Thread.currentThread();
        this.releasing = releasing;
    }

    public static Scope open() { return push(false); }

    /**
     * A scope for temporaries that nobody can reach after it closes (a layer's locals in a
     * container's forward, a gradient rule's scratch): on close each is released rather than
     * freed, so a tensor that autograd saved for backward lives on (moved to the enclosing scope,
     * which stays the safety net) and is freed when its node has run; the rest is freed at once.
     */
    public static Scope openReleasing() { return push(true); }

    private static Scope push(boolean releasing) {
        Scope s = new Scope(CURRENT.get(), releasing);
        CURRENT.set(s);
        return s;
    }

    /** The innermost open scope of this thread, or null. */
    public static Scope current() { return CURRENT.get(); }

    /** Called by a resource when it is created. */
    public static void adopt(Resource r) {
        Scope s = CURRENT.get();
        r.setOwner(s);
        if (s != null) s.owned.add(r);
    }

    /** Keeps r if this scope owns it (a result made here), else leaves it where it is; returns r. */
    public <R extends Resource> R keepIfOwned(R r) {
        return r != null && r.owner() == this ? keep(r) : r;
    }

    /** Moves r to the enclosing scope, or out of every scope if this is the outermost. */
    public <R extends Resource> R keep(R r) {
        if (r.owner() != this) {
            throw new IllegalArgumentException("keep: the resource does not belong to this scope");
        }
        r.setOwner(parent);
        if (parent != null) parent.owned.add(r);
        return r;
    }

    /** Moves r out of every scope: it lives until closed explicitly or collected. */
    public static <R extends Resource> R detachFromScopes(R r) {
        r.setOwner(null);
        return r;
    }

    @Override
    public void close() {
        if (owned == null) return;
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("a scope must be closed by the thread that opened it");
        }
        if (CURRENT.get() != this) {
            throw new IllegalStateException("scopes must be closed innermost first");
        }
        ArrayList<Resource> list = owned;
        owned = null;
        CURRENT.set(parent);
        for (int i = list.size() - 1; i >= 0; i--) {
            Resource r = list.get(i);
            if (r.owner() != this) continue;
            if (!releasing) {
                r.close();
                continue;
            }
            r.release();
            if (r.isClosed()) continue;
            r.setOwner(parent);
            if (parent != null) parent.owned.add(r);
        }
    }
}
