package dev.lumen.app.dist;

import dev.lumen.app.train.DistributedRank;
import dev.lumen.app.train.Progress;
import dev.lumen.app.train.TrainConfig;
import dev.lumen.app.train.TrainException;
import dev.lumen.app.train.TrainListener;
import dev.lumen.app.train.TrainResult;
import dev.lumen.app.train.Trainer;
import dev.lumen.backend.Backends;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.distributed.Communicator;
import dev.lumen.distributed.CommunicatorFailure;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One node's part of a data-parallel run: meets the other nodes ({@link Rendezvous}), gets one
 * communicator per local GPU, and runs one {@link Trainer} per GPU on its own thread as one rank.
 * Global rank 0 alone writes the run folder and prints; the others are silent.
 *
 * <p>Failure: the first failure, of a local rank or of another node (reported by it, or seen by
 * the heartbeat), aborts every local communicator, so no rank waits in a collective for a rank
 * that will never come; it is passed on to the other nodes, and the run ends with that one
 * line, naming the rank and the host.
 */
public final class DataParallelRun {
    /** How long a rank whose collective failed waits for the heartbeat to name the peer that caused it. */
    private static final long CAUSE_WAIT_MS = 5000;

    private final LaunchPlan plan;
    private final Communicators comms;
    private final String host;
    private final List<Communicator> live = new CopyOnWriteArrayList<>();
    private final Object lock = new Object();
    private String failure;
    private Rendezvous session;

    public DataParallelRun(LaunchPlan plan, Communicators comms, String host) {
        this.plan = plan;
        this.comms = comms;
        this.host = host;
    }

    /** This machine's name, as the other nodes and the messages see it. */
    public static String localHost() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            String h = System.getenv("HOSTNAME");
            return h != null ? h : "localhost";
        }
    }

    /** The number of GPUs the CUDA driver sees; an IllegalStateException with the reason where there is no driver. */
    public static int driverDeviceCount() {
        try {
            return CudaDriver.get().deviceCount();
        } catch (RuntimeException | LinkageError e) {
            throw new IllegalStateException("CUDA driver unavailable: " + e.getMessage());
        }
    }

    /** Why these GPUs cannot train data-parallel here (no CUDA backend, no NCCL, a GPU the driver lacks), or null. */
    public static String unavailableReason(List<Integer> devices, Communicators comms) {
        String why;
        try {
            why = Backends.cudaStatus();
        } catch (java.util.ServiceConfigurationError e) {
            why = "CUDA backend unavailable: " + e.getMessage();
        }
        if (why != null) return why;
        why = comms.unavailableReason();
        if (why != null) return why;
        int count;
        try {
            count = driverDeviceCount();
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
        for (int d : devices) if (d >= count) return "there is no GPU " + d + ": the CUDA driver sees " + count + " (cuda:0 .. cuda:" + (count - 1) + ")";
        return null;
    }

    /**
     * Trains cfg on this node's GPUs as its share of the job. Returns global rank 0's result on
     * node 0, null on the other nodes; throws a {@link TrainException} with the first failure.
     */
    public TrainResult run(TrainConfig cfg, boolean overwrite, PrintStream out, PrintStream err, Progress progress, List<TrainListener> listeners) {
        List<Integer> devices = plan.devices();
        int local = devices.size();
        try {
            session = Rendezvous.start(plan, host, comms::uniqueId, this::remoteFailure);
        } catch (RendezvousException e) {
            throw new TrainException(e.getMessage());
        }
        World world = session.world();
        List<Communicator> initAll = null;
        TrainResult[] results = new TrainResult[local];
        try {
            if (world.nodes().size() == 1) {
                initAll = new ArrayList<>(comms.initAll(devices.stream().map(Device::cuda).toList()));
                live.addAll(initAll);
            }
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < local; i++) {
                int index = i, rank = world.globalRank(i);
                Communicator given = initAll == null ? null : initAll.get(i);
                Thread t = new Thread(() -> {
                    // Each rank draws from its own generator (seeded by the Trainer), never from another rank's.
                    try (Generator.ThreadDefault own = Generator.useOnThisThread(new Generator(cfg.seed))) {
                        Communicator c = given;
                        if (c == null) {
                            c = comms.initRank(session.uniqueId(), world.worldSize(), rank, Device.cuda(devices.get(index)));
                            live.add(c);
                            if (failure() != null) c.abort();
                        }
                        TrainConfig mine = TrainConfig.fromMap(cfg.toMap());
                        mine.resume = cfg.resume;
                        mine.device = c.device().toString();
                        boolean first = rank == 0;
                        Trainer trainer = new Trainer(mine, first ? out : silent(), err, first ? progress : Progress.none()).overwrite(overwrite)
                                .distributed(new DistributedRank(rank, world.worldSize(), world.host(), c, plan.syncBn()));
                        if (first) listeners.forEach(trainer::addListener);
                        results[index] = trainer.run();
                    } catch (Throwable e) {
                        localFailure(rank, e);
                    }
                }, "lumen-rank-" + rank);
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            localFailure(world.globalRank(0), e);
        } catch (RuntimeException e) {
            localFailure(world.globalRank(0), e);
        } finally {
            String f = failure();
            if (f == null) session.finish();
            session.close();
            for (Communicator c : live) {
                try {
                    if (f != null) c.abort();
                    else c.close();
                } catch (RuntimeException ignored) {
                    // an aborted communicator may refuse a second goodbye
                }
            }
        }
        String f = failure();
        if (f != null) throw new TrainException(f + "; every rank stopped");
        return world.offset(world.nodeRank()) == 0 ? results[0] : null;
    }

    /** The first failure, or null. */
    String failure() {
        synchronized (lock) {
            return failure;
        }
    }

    /** Another node failed (it said so, or the heartbeat noticed): stop every local rank. */
    private void remoteFailure(String message) {
        if (record(message)) abortAll();
    }

    /** A local rank stopped with an error: unless it is the echo of a failure already known, it becomes the run's failure. */
    private void localFailure(int rank, Throwable e) {
        if (e instanceof CommunicatorFailure) {
            // A collective failed because some peer did: give the heartbeat a moment to name that peer.
            long until = System.currentTimeMillis() + Math.min(CAUSE_WAIT_MS, Math.round(plan.timeoutSeconds() * 1000));
            while (failure() == null && System.currentTimeMillis() < until) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        String what = e.getMessage() == null ? e.toString() : e.getMessage();
        String message = "rank " + rank + " on " + host + ": " + what.replace('\n', ' ');
        if (!record(message)) return;
        abortAll();
        if (session != null) session.reportFailure(message);
    }

    private boolean record(String message) {
        synchronized (lock) {
            if (failure != null) return false;
            failure = message;
            return true;
        }
    }

    private void abortAll() {
        for (Communicator c : live) {
            try {
                c.abort();
            } catch (RuntimeException ignored) {
                // aborting is best effort: the rank's next call fails either way
            }
        }
    }

    private static PrintStream silent() { return new PrintStream(OutputStream.nullOutputStream()); }
}
