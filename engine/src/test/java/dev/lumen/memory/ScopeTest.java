package dev.lumen.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ScopeTest {
    @Test
    void closingAScopeFreesItsTensorsButNotKeptOnes() {
        Tensor kept;
        Tensor dropped;
        Tensor view;
        try (Scope outer = Scope.open()) {
            try (Scope inner = Scope.open()) {
                dropped = Tensor.ones(4);
                view = dropped.narrow(0, 1, 2);
                kept = Tensor.ones(8).keep();
                assertSame(outer, kept.owner());
            }
            assertTrue(dropped.isClosed());
            assertTrue(view.isClosed());
            assertFalse(kept.isClosed());
            assertEquals(8, kept.toFloats().length);
        }
        assertTrue(kept.isClosed());
        assertThrows(IllegalStateException.class, dropped::toFloats);
    }

    @Test
    void aViewKeepsStorageAliveAfterItsBaseCloses() {
        try (Scope s = Scope.open()) {
            Tensor base = Tensor.fromFloats(new float[] {1, 2, 3, 4}, 4);
            Tensor v = base.narrow(0, 2, 2);
            base.close();
            assertEquals(3f, v.toFloats()[0]);
        }
    }

    @Test
    void allocatorReusesFreedBlocks() {
        CachingAllocator a = CachingAllocator.host();
        try (Scope s = Scope.open()) {
            Tensor.zeros(1000);
        }
        long live = a.liveBytes();
        for (int i = 0; i < 50; i++) {
            try (Scope s = Scope.open()) {
                Tensor.zeros(1000).add(1.0);
            }
        }
        assertEquals(live, a.liveBytes(), "every block of the 50 scopes came back");
    }

    @Test
    void theCacheStaysWithinItsLimit() {
        CachingAllocator a = new CachingAllocator(10_000);
        var blocks = new java.util.ArrayList<java.lang.foreign.MemorySegment>();
        for (int i = 0; i < 5; i++) blocks.add(a.allocate(4000));
        for (var b : blocks) a.free(b, 4000);
        assertEquals(0, a.liveBytes());
        assertTrue(a.cachedBytes() <= 10_000, "cached " + a.cachedBytes());
        assertEquals(8192, a.cachedBytes(), "two 4096-byte blocks fit under the limit; the rest went back to the C heap");
        a.releaseCached();
        assertEquals(0, a.cachedBytes());
    }

    @Test
    void scopesCloseInnermostFirst() {
        Scope outer = Scope.open();
        Scope inner = Scope.open();
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close();
        assertEquals(null, Scope.current());
    }

    @Test
    void sizeClassesBoundTheSlack() {
        for (long b : new long[] {1, 63, 64, 65, 1000, 4096, 5000, 1 << 20, (1 << 20) + 1, 123_456_789}) {
            long c = CachingAllocator.sizeClass(b);
            assertTrue(c >= b && c <= Math.max(64, b * 1.25 + 64), b + " -> " + c);
        }
    }
}
