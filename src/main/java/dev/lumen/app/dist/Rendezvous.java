package dev.lumen.app.dist;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The meeting of the nodes of a job, over TCP at --master-addr, and the watch over them while
 * the job runs. Node 0 listens; every other node connects and says who it is (node rank, node
 * count, GPU count, host name); once all have come, node 0 answers each with the world layout and
 * the NCCL unique id. Nothing else passes through: the tensors go through NCCL.
 *
 * <p>The connections stay open as a star around node 0 and carry a heartbeat. A node that closes
 * its connection without saying it finished (it died) or stays silent longer than the timeout is
 * a failure; so is a failure a node reports about itself. Node 0 passes a failure on to every
 * other node, and each node hands the one-line message, naming the ranks and the host, to its
 * onFailure callback (which aborts its communicators). The protocol is lines of UTF-8 text.
 */
public final class Rendezvous implements AutoCloseable {
    static final String HELLO = "LUMEN-RDZV 1";
    private static final long RETRY_MS = 200;

    private final World world;
    private final byte[] uniqueId;
    private final long timeoutMs;
    private final Consumer<String> onFailure;
    /** Node 0: the link to each other node (index = node rank, null at 0); other nodes: the link to node 0 at index 0. */
    private final Link[] links;
    private final ServerSocket server;
    private final Object lock = new Object();
    private String failure;
    private volatile boolean closing;
    private Thread beater;

    private Rendezvous(World world, byte[] uniqueId, long timeoutMs, Consumer<String> onFailure, Link[] links, ServerSocket server) {
        this.world = world;
        this.uniqueId = uniqueId;
        this.timeoutMs = timeoutMs;
        this.onFailure = onFailure;
        this.links = links;
        this.server = server;
    }

    /**
     * Meets the other nodes of plan (a single node meets nobody) and starts the watch. uniqueId is
     * called once, on node 0, after every node has come. Throws {@link RendezvousException} with a
     * one-line message on a timeout or a node that does not fit.
     */
    public static Rendezvous start(LaunchPlan plan, String hostname, Supplier<byte[]> uniqueId, Consumer<String> onFailure) {
        long timeoutMs = Math.max(1, Math.round(plan.timeoutSeconds() * 1000));
        if (plan.nnodes() == 1) {
            return new Rendezvous(new World(List.of(new World.Node(hostname, plan.devices().size())), 0), null, timeoutMs, onFailure, new Link[0], null);
        }
        Rendezvous r = plan.nodeRank() == 0 ? host(plan, hostname, uniqueId, timeoutMs, onFailure) : join(plan, hostname, timeoutMs, onFailure);
        r.startWatch();
        return r;
    }

    public World world() { return world; }

    /** The NCCL unique id node 0 made; null for a single node (its GPUs meet through ncclCommInitAll). */
    public byte[] uniqueId() { return uniqueId == null ? null : uniqueId.clone(); }

    /** The first failure seen, or null. */
    public String failure() {
        synchronized (lock) {
            return failure;
        }
    }

    /** A rank of this node failed: tells every other node (through node 0) and this node's callback. */
    public void reportFailure(String message) {
        fail(message, -1);
    }

    /**
     * This node finished cleanly: says so, and on node 0 waits (at most the timeout) until every
     * other node has said so too, so that closing node 0 does not look like its death.
     */
    public void finish() {
        if (links.length == 0) return;
        if (world.nodeRank() != 0) {
            closing = true;
            links[0].send("DONE");
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        for (Link l : links) {
            if (l == null) continue;
            try {
                l.done.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        closing = true;
    }

    @Override
    public void close() {
        closing = true;
        if (beater != null) beater.interrupt();
        for (Link l : links) if (l != null) l.close();
        if (server != null) {
            try {
                server.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    // ------------------------------------------------------------------------------ meeting

    private static Rendezvous host(LaunchPlan plan, String hostname, Supplier<byte[]> uniqueId, long timeoutMs, Consumer<String> onFailure) {
        String where = "rendezvous at " + plan.master();
        ServerSocket ss;
        try {
            ss = new ServerSocket();
            ss.setReuseAddress(true);
            ss.bind(new InetSocketAddress(plan.masterPort()));
        } catch (IOException e) {
            throw new RendezvousException(where + ": node 0 cannot listen on port " + plan.masterPort() + " (" + e.getMessage() + "); pick another --master-addr port");
        }
        Link[] links = new Link[plan.nnodes()];
        World.Node[] nodes = new World.Node[plan.nnodes()];
        nodes[0] = new World.Node(hostname, plan.devices().size());
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        try {
            for (int joined = 1; joined < plan.nnodes(); ) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) throw timedOut(where, plan, nodes, timeoutMs);
                Socket s;
                try {
                    ss.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
                    s = ss.accept();
                } catch (SocketTimeoutException e) {
                    throw timedOut(where, plan, nodes, timeoutMs);
                }
                Link l;
                String[] hello;
                try {
                    s.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
                    s.setTcpNoDelay(true);
                    l = new Link(s, -1);
                    String line = l.in.readLine();
                    hello = line == null ? null : line.split(" ");
                    if (hello == null || hello.length != 7 || !(hello[0] + " " + hello[1]).equals(HELLO)) {
                        l.send("ERROR not a Lumen rendezvous message");
                        l.close();
                        continue; // a stray connection (a port scanner, another program) is no node
                    }
                } catch (IOException e) {
                    s.close();
                    continue;
                }
                int rank, nn, devices;
                try {
                    rank = Integer.parseInt(hello[2]);
                    nn = Integer.parseInt(hello[3]);
                    devices = Integer.parseInt(hello[4]);
                } catch (NumberFormatException e) {
                    l.send("ERROR malformed hello");
                    l.close();
                    continue;
                }
                String peerHost = hello[5];
                String error = null;
                if (nn != plan.nnodes()) error = "node " + rank + " on " + peerHost + " was started with --nnodes " + nn + " but node 0 on " + hostname + " with " + plan.nnodes();
                else if (rank <= 0 || rank >= plan.nnodes()) error = "a node on " + peerHost + " claims --node-rank " + rank + ", outside [1, " + (plan.nnodes() - 1) + "] (node 0 is " + hostname + ")";
                else if (nodes[rank] != null) error = "node rank " + rank + " is claimed by both " + nodes[rank].host() + " and " + peerHost + "; give each node its own --node-rank";
                else if (devices != plan.devices().size()) error = "node " + rank + " on " + peerHost + " drives " + devices + " GPUs but node 0 on " + hostname + " drives "
                        + plan.devices().size() + "; every node must use the same number of GPUs (--devices)";
                if (error != null) {
                    l.send("ERROR " + error);
                    l.close();
                    for (Link o : links) if (o != null) o.send("ERROR " + error);
                    throw new RendezvousException(where + ": " + error);
                }
                links[rank] = new Link(l, rank);
                nodes[rank] = new World.Node(peerHost, devices);
                joined++;
            }
            byte[] uid = uniqueId.get();
            StringBuilder sb = new StringBuilder("WORLD ").append(Base64.getEncoder().encodeToString(uid)).append(' ').append(plan.nnodes());
            for (World.Node n : nodes) sb.append(' ').append(n.host()).append(' ').append(n.devices());
            for (Link l : links) {
                if (l == null) continue;
                l.send(sb.toString());
                l.socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeoutMs));
            }
            return new Rendezvous(new World(Arrays.asList(nodes), 0), uid, timeoutMs, onFailure, links, ss);
        } catch (IOException | RuntimeException e) {
            for (Link l : links) if (l != null) l.close();
            try {
                ss.close();
            } catch (IOException ignored) {
                // failing anyway
            }
            if (e instanceof RendezvousException re) throw re;
            throw new RendezvousException(where + ": " + e.getMessage(), e);
        }
    }

    private static RendezvousException timedOut(String where, LaunchPlan plan, World.Node[] nodes, long timeoutMs) {
        List<Integer> missing = new ArrayList<>();
        for (int i = 0; i < nodes.length; i++) if (nodes[i] == null) missing.add(i);
        int joined = nodes.length - missing.size();
        return new RendezvousException(String.format(Locale.ROOT, "%s: timed out after %s s waiting for node%s %s (%d of %d nodes came; --dist-timeout)",
                where, seconds(timeoutMs), missing.size() == 1 ? "" : "s", missing.toString().replaceAll("[\\[\\]]", ""), joined, plan.nnodes()));
    }

    private static Rendezvous join(LaunchPlan plan, String hostname, long timeoutMs, Consumer<String> onFailure) {
        String where = "rendezvous at " + plan.master();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        Socket s = null;
        IOException lastError = null;
        while (s == null) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                throw new RendezvousException(where + ": node 0 not reachable within " + seconds(timeoutMs) + " s (" + (lastError == null ? "no answer" : lastError.getMessage())
                        + "; is node 0 started, and --master-addr its address?)");
            }
            Socket t = new Socket();
            try {
                t.connect(new InetSocketAddress(plan.masterHost(), plan.masterPort()), (int) Math.min(Integer.MAX_VALUE, left));
                s = t;
            } catch (UnknownHostException e) {
                throw new RendezvousException(where + ": unknown host " + plan.masterHost());
            } catch (ConnectException | NoRouteToHostException | SocketTimeoutException e) {
                lastError = e;
                closeQuietly(t);
                sleep(Math.min(RETRY_MS, Math.max(1, left)));
            } catch (IOException e) {
                closeQuietly(t);
                throw new RendezvousException(where + ": " + e.getMessage());
            }
        }
        try {
            s.setTcpNoDelay(true);
            Link l = new Link(s, 0);
            l.send(HELLO + " " + plan.nodeRank() + " " + plan.nnodes() + " " + plan.devices().size() + " " + hostname + " -");
            s.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
            String line;
            try {
                line = l.in.readLine();
            } catch (SocketTimeoutException e) {
                l.close();
                throw new RendezvousException(where + ": timed out after " + seconds(timeoutMs) + " s waiting for node 0 to gather every node (--dist-timeout)");
            }
            if (line == null) {
                l.close();
                throw new RendezvousException(where + ": node 0 closed the connection before the job started");
            }
            if (line.startsWith("ERROR ")) {
                l.close();
                throw new RendezvousException(where + ": " + line.substring(6));
            }
            String[] w = line.split(" ");
            if (!w[0].equals("WORLD") || w.length < 3) {
                l.close();
                throw new RendezvousException(where + ": unexpected answer from node 0");
            }
            byte[] uid = Base64.getDecoder().decode(w[1]);
            int n = Integer.parseInt(w[2]);
            List<World.Node> nodes = new ArrayList<>();
            for (int i = 0; i < n; i++) nodes.add(new World.Node(w[3 + 2 * i], Integer.parseInt(w[4 + 2 * i])));
            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeoutMs));
            return new Rendezvous(new World(nodes, plan.nodeRank()), uid, timeoutMs, onFailure, new Link[] {l}, null);
        } catch (IOException | RuntimeException e) {
            closeQuietly(s);
            if (e instanceof RendezvousException re) throw re;
            throw new RendezvousException(where + ": " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------ watch

    private void startWatch() {
        for (Link l : links) {
            if (l == null) continue;
            Thread t = new Thread(() -> watch(l), "lumen-rdzv-watch-" + l.node);
            t.setDaemon(true);
            t.start();
        }
        long every = Math.max(10, timeoutMs / 4);
        beater = new Thread(() -> {
            while (!closing) {
                for (Link l : links) if (l != null) l.send("BEAT");
                try {
                    Thread.sleep(every);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "lumen-rdzv-heartbeat");
        beater.setDaemon(true);
        beater.start();
    }

    /** Reads one peer's lines until it finishes, fails or goes silent. */
    private void watch(Link l) {
        String lost;
        try {
            while (true) {
                String line = l.in.readLine();
                if (line == null) {
                    lost = "lost its connection (the process died or the network failed)";
                    break;
                }
                if (line.equals("DONE")) l.done.countDown();
                else if (line.startsWith("FAIL ")) {
                    fail(line.substring(5), l.node);
                    return;
                }
            }
        } catch (SocketTimeoutException e) {
            lost = "stopped responding (no heartbeat for " + seconds(timeoutMs) + " s, --dist-timeout)";
        } catch (IOException e) {
            lost = "lost its connection (" + e.getMessage() + ")";
        }
        if (closing || l.done.getCount() == 0) return;
        // Told to the silent node too: one that only hangs (not dead) then aborts instead of waiting forever.
        fail(world.describeNode(l.node) + " " + lost, DETECTED);
    }

    /** The source of a failure this node's watch noticed itself. */
    private static final int DETECTED = Integer.MIN_VALUE;

    /**
     * Records the first failure, passes it on (node 0: to every node but the one that reported it;
     * others: to node 0 when it is their own, sourceNode -1) and calls back.
     */
    private void fail(String message, int sourceNode) {
        synchronized (lock) {
            if (failure != null) return;
            failure = message;
        }
        if (world.nodeRank() == 0) {
            for (Link l : links) if (l != null && l.node != sourceNode) l.send("FAIL " + message);
        } else if (sourceNode < 0 && links.length > 0) {
            links[0].send("FAIL " + message);
        }
        onFailure.accept(message);
    }

    // ------------------------------------------------------------------------------ test hooks

    /** As if this process were killed: the connections drop without a word. */
    void simulateDeath() {
        closing = true;
        if (beater != null) beater.interrupt();
        for (Link l : links) if (l != null) l.close();
    }

    /** As if this process hung: the heartbeat stops, the connections stay open. */
    void simulateHang() {
        if (beater != null) beater.interrupt();
    }

    // ------------------------------------------------------------------------------ plumbing

    private static String seconds(long ms) {
        return ms % 1000 == 0 ? Long.toString(ms / 1000) : String.format(Locale.ROOT, "%.1f", ms / 1000.0);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RendezvousException("rendezvous: interrupted");
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            if (s != null) s.close();
        } catch (IOException ignored) {
            // nothing to save
        }
    }

    /** One connection: line reader, synchronized line writer. */
    private static final class Link {
        final Socket socket;
        final BufferedReader in;
        final OutputStream out;
        final int node;
        final CountDownLatch done = new CountDownLatch(1);

        Link(Socket socket, int node) throws IOException {
            this.socket = socket;
            this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            this.out = socket.getOutputStream();
            this.node = node;
        }

        /** The same connection, now known as node's. */
        Link(Link l, int node) {
            this.socket = l.socket;
            this.in = l.in;
            this.out = l.out;
            this.node = node;
        }

        /** Best effort: a broken connection shows up on the reading side. */
        synchronized void send(String line) {
            try {
                out.write((line.replace('\n', ' ') + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException ignored) {
                // the watch reports the lost peer
            }
        }

        void close() { closeQuietly(socket); }
    }
}
