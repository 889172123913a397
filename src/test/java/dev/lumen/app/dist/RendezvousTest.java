package dev.lumen.app.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Several nodes simulated in one JVM (one thread each, loopback TCP): the layout and the NCCL id
 * they agree on, the one-line errors of a rendezvous that cannot complete, and the watch that
 * notices a node that died or hangs within --dist-timeout and tells every other node.
 */
class RendezvousTest {
    static final byte[] UID = new byte[128];
    static {
        for (int i = 0; i < UID.length; i++) UID[i] = (byte) (i * 31 + 7);
    }

    final List<Rendezvous> open = new ArrayList<>();
    /** One thread per simulated node (the common pool may have a single thread on a small machine). */
    final ExecutorService nodes = Executors.newCachedThreadPool();

    @AfterEach
    void closeAll() {
        open.forEach(Rendezvous::close);
        nodes.shutdownNow();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A node's failure callback: the first message and when it came. */
    static final class Seen {
        final AtomicReference<String> message = new AtomicReference<>();
        final CountDownLatch came = new CountDownLatch(1);
        final AtomicInteger calls = new AtomicInteger();

        void accept(String m) {
            calls.incrementAndGet();
            message.compareAndSet(null, m);
            came.countDown();
        }

        String await(long ms) throws InterruptedException {
            assertTrue(came.await(ms, TimeUnit.MILLISECONDS), "no failure reported within " + ms + " ms");
            return message.get();
        }
    }

    /** Starts nodes 0..n-1 (node i on host "host-i" with devices[i] GPUs), concurrently, node 0 last. */
    List<CompletableFuture<Rendezvous>> start(int port, double timeout, int[] devices, Seen[] seen, AtomicInteger uidCalls) {
        List<CompletableFuture<Rendezvous>> f = new ArrayList<>();
        int n = devices.length;
        for (int i = n - 1; i >= 0; i--) {
            int node = i;
            List<Integer> gpus = new ArrayList<>();
            for (int g = 0; g < devices[i]; g++) gpus.add(g);
            LaunchPlan plan = new LaunchPlan(n, node, "127.0.0.1", port, gpus, timeout, false);
            f.add(0, CompletableFuture.supplyAsync(() -> {
                Rendezvous r = Rendezvous.start(plan, "host-" + node, () -> {
                    uidCalls.incrementAndGet();
                    return UID;
                }, seen[node]::accept);
                synchronized (open) {
                    open.add(r);
                }
                return r;
            }, nodes));
        }
        return f;
    }

    static Seen[] seen(int n) {
        Seen[] s = new Seen[n];
        for (int i = 0; i < n; i++) s[i] = new Seen();
        return s;
    }

    @Test
    void threeNodesAgreeOnTheLayoutAndTheNcclId() throws Exception {
        int port = freePort();
        Seen[] seen = seen(3);
        AtomicInteger uidCalls = new AtomicInteger();
        List<CompletableFuture<Rendezvous>> f = start(port, 10, new int[] {2, 2, 2}, seen, uidCalls);
        List<Rendezvous> r = new ArrayList<>();
        for (var x : f) r.add(x.get(20, TimeUnit.SECONDS));
        assertEquals(1, uidCalls.get(), "node 0 makes the id once, after every node came");
        for (int i = 0; i < 3; i++) {
            World w = r.get(i).world();
            assertEquals(i, w.nodeRank());
            assertEquals(List.of(new World.Node("host-0", 2), new World.Node("host-1", 2), new World.Node("host-2", 2)), w.nodes());
            assertEquals(6, w.worldSize());
            assertEquals(2 * i, w.globalRank(0));
            assertArrayEquals(UID, r.get(i).uniqueId());
        }
        // all finish cleanly: nobody reports a failure, even after the heartbeat has run a while
        Thread.sleep(300);
        CompletableFuture<Void> node0 = CompletableFuture.runAsync(() -> r.get(0).finish(), nodes);
        r.get(1).finish();
        r.get(2).finish();
        node0.get(10, TimeUnit.SECONDS);
        r.forEach(Rendezvous::close);
        Thread.sleep(200);
        for (Seen s : seen) assertNull(s.message.get());
    }

    @Test
    void aSingleNodeMeetsNobody() {
        Seen s = new Seen();
        Rendezvous r = Rendezvous.start(new LaunchPlan(1, 0, "127.0.0.1", 1, List.of(0, 1, 2, 3), 1, false), "solo", () -> {
            throw new AssertionError("a single node needs no NCCL id: its GPUs meet through ncclCommInitAll");
        }, s::accept);
        open.add(r);
        assertEquals(4, r.world().worldSize());
        assertNull(r.uniqueId());
    }

    @Test
    void aMissingNodeTimesOutOnNodeZeroNamingIt() throws Exception {
        int port = freePort();
        long t0 = System.nanoTime();
        String m = assertThrows(RendezvousException.class, () -> Rendezvous.start(new LaunchPlan(3, 0, "127.0.0.1", port, List.of(0), 0.5, false),
                "host-0", () -> UID, x -> {})).getMessage();
        assertEquals("rendezvous at 127.0.0.1:" + port + ": timed out after 0.5 s waiting for nodes 1, 2 (1 of 3 nodes came; --dist-timeout)", m);
        assertTrue((System.nanoTime() - t0) / 1e9 < 5);
    }

    @Test
    void aNodeWithoutNodeZeroTimesOut() throws Exception {
        int port = freePort();
        String m = assertThrows(RendezvousException.class, () -> Rendezvous.start(new LaunchPlan(2, 1, "127.0.0.1", port, List.of(0), 0.5, false),
                "host-1", () -> UID, x -> {})).getMessage();
        assertTrue(m.startsWith("rendezvous at 127.0.0.1:" + port + ": node 0 not reachable within 0.5 s ("), m);
        assertTrue(m.endsWith("is node 0 started, and --master-addr its address?)"), m);
    }

    @Test
    void mismatchedDeviceCountsFailOnEveryNode() throws Exception {
        int port = freePort();
        List<CompletableFuture<Rendezvous>> f = start(port, 10, new int[] {4, 2}, seen(2), new AtomicInteger());
        String expected = "node 1 on host-1 drives 2 GPUs but node 0 on host-0 drives 4; every node must use the same number of GPUs (--devices)";
        for (var x : f) assertEquals("rendezvous at 127.0.0.1:" + port + ": " + expected, cause(x).getMessage());
    }

    @Test
    void aSecondNodeWithTheSameRankFails() throws Exception {
        int port = freePort();
        CompletableFuture<Rendezvous> node0 = CompletableFuture.supplyAsync(() -> Rendezvous.start(new LaunchPlan(3, 0, "127.0.0.1", port, List.of(0), 10, false),
                "host-0", () -> UID, x -> {}), nodes);
        List<CompletableFuture<Rendezvous>> twins = new ArrayList<>();
        for (String h : List.of("twin-a", "twin-b")) {
            twins.add(CompletableFuture.supplyAsync(() -> Rendezvous.start(new LaunchPlan(3, 1, "127.0.0.1", port, List.of(0), 10, false), h, () -> UID, x -> {}), nodes));
            Thread.sleep(300); // a before b
        }
        String m = cause(node0).getMessage();
        assertTrue(m.endsWith("node rank 1 is claimed by both twin-a and twin-b; give each node its own --node-rank"), m);
        for (var t : twins) assertEquals(m, cause(t).getMessage());
    }

    @Test
    void aNodeThatDiesIsNoticedByEveryOtherNodeNamingItsRanksAndHost() throws Exception {
        int port = freePort();
        Seen[] seen = seen(3);
        List<Rendezvous> r = new ArrayList<>();
        for (var x : start(port, 2, new int[] {2, 2, 2}, seen, new AtomicInteger())) r.add(x.get(20, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        r.get(2).simulateDeath();
        String expected = "ranks 4-5 on host-2 (node 2) lost its connection";
        assertTrue(seen[0].await(2000).startsWith(expected), seen[0].message.get());
        assertTrue(seen[1].await(2000).startsWith(expected), seen[1].message.get());
        // a closed connection is seen at once, long before the 2 s heartbeat timeout
        assertTrue((System.nanoTime() - t0) / 1e6 < 1500);
        assertNull(seen[2].message.get());
    }

    @Test
    void aNodeThatHangsIsNoticedWithinTheTimeout() throws Exception {
        int port = freePort();
        Seen[] seen = seen(2);
        List<Rendezvous> r = new ArrayList<>();
        for (var x : start(port, 0.6, new int[] {1, 1}, seen, new AtomicInteger())) r.add(x.get(20, TimeUnit.SECONDS));
        Thread.sleep(900); // longer than the timeout: the heartbeat keeps a live pair quiet
        assertNull(seen[0].message.get());
        long t0 = System.nanoTime();
        r.get(1).simulateHang();
        assertEquals("rank 1 on host-1 (node 1) stopped responding (no heartbeat for 0.6 s, --dist-timeout)", seen[0].await(3000));
        double s = (System.nanoTime() - t0) / 1e9;
        assertTrue(s < 0.6 + 0.5, "noticed after " + s + " s");
        // node 0 told node 1 as well (it hangs only in this simulation; a hung process would be aborted by it)
        assertEquals(seen[0].message.get(), seen[1].await(2000));
    }

    @Test
    void aFailureOneNodeReportsReachesEveryNodeOnce() throws Exception {
        int port = freePort();
        Seen[] seen = seen(3);
        List<Rendezvous> r = new ArrayList<>();
        for (var x : start(port, 5, new int[] {1, 1, 1}, seen, new AtomicInteger())) r.add(x.get(20, TimeUnit.SECONDS));
        r.get(1).reportFailure("rank 1 on host-1: CUDA out of memory");
        for (Seen s : seen) assertEquals("rank 1 on host-1: CUDA out of memory", s.await(2000));
        Thread.sleep(200);
        for (Seen s : seen) assertEquals(1, s.calls.get());
        assertEquals("rank 1 on host-1: CUDA out of memory", r.get(2).failure());
        assertFalse(r.get(0).failure() == null);
    }

    private static Throwable cause(CompletableFuture<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(20, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof RendezvousException, e.getCause()::toString);
        return e.getCause();
    }
}
