package dev.lumen.autograd;

/**
 * Whether ops record themselves for backward on this thread.
 * <pre>try (var ng = GradMode.noGrad()) { ... }</pre>
 */
public final class GradMode implements AutoCloseable {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private final boolean previous;

    private GradMode(boolean enabled) {
        boolean[] flag = ENABLED.get();
        previous = flag[0];
        flag[0] = enabled;
    }

    public static GradMode noGrad() { return new GradMode(false); }

    public static GradMode enableGrad() { return new GradMode(true); }

    public static boolean isEnabled() { return ENABLED.get()[0]; }

    @Override
    public void close() { ENABLED.get()[0] = previous; }
}
