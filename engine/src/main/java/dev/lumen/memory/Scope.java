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
    }

    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private final Scope parent;
    private final Thread thread;
    private ArrayList<Resource> owned = new ArrayList<>();

    private Scope(Scope parent) {
        this.parent = parent;
        this.thread = Thread.currentThread();
    }

    public static Scope open() {
        Scope s = new Scope(CURRENT.get());
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
            if (r.owner() == this) r.close();
        }
    }
}
