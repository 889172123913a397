package dev.lumen.app.train;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The live view of an epoch: a progress bar on a terminal (me.tongfei's, on stderr), plain
 * lines elsewhere (CI logs, pipes: about ten per epoch and at least one every 30 s), or
 * nothing. Each shows the running loss, top-1, lr and images/s.
 */
public abstract class Progress {
    /** A bar when stderr is a terminal, else plain lines on err. */
    public static Progress auto(PrintStream err) {
        java.io.Console c = System.console();
        return c != null && c.isTerminal() ? new Bar(err) : new Lines(err);
    }

    public static Progress lines(PrintStream err) { return new Lines(err); }

    public static Progress none() {
        return new Progress() {
            @Override
            public void start(String task, int batches) {}

            @Override
            public void update(int done, double loss, double top1, double lr, double imagesPerSecond) {}

            @Override
            public void finish() {}
        };
    }

    public abstract void start(String task, int batches);

    public abstract void update(int done, double loss, double top1, double lr, double imagesPerSecond);

    public abstract void finish();

    static String message(double loss, double top1, double lr, double ips) {
        return String.format(Locale.ROOT, "loss %.4f  top1 %.2f%%  lr %.3e  %.0f img/s", loss, top1, lr, ips);
    }

    private static final class Bar extends Progress {
        private final PrintStream err;
        private ProgressBar bar;

        Bar(PrintStream err) { this.err = err; }

        @Override
        public void start(String task, int batches) {
            bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(batches).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250).setConsumer(new ConsoleProgressBarConsumer(err)).setUnit(" batches", 1).build();
        }

        @Override
        public void update(int done, double loss, double top1, double lr, double ips) {
            bar.stepTo(done);
            bar.setExtraMessage(" " + message(loss, top1, lr, ips));
        }

        @Override
        public void finish() {
            if (bar != null) bar.close();
            bar = null;
        }
    }

    private static final class Lines extends Progress {
        private final PrintStream err;
        private String task;
        private int batches;
        private int nextLine;
        private long lastNanos;

        Lines(PrintStream err) { this.err = err; }

        @Override
        public void start(String task, int batches) {
            this.task = task;
            this.batches = batches;
            this.nextLine = Math.max(1, batches / 10);
            this.lastNanos = System.nanoTime();
        }

        @Override
        public void update(int done, double loss, double top1, double lr, double ips) {
            long now = System.nanoTime();
            if (done < nextLine && now - lastNanos < 30_000_000_000L) return;
            while (nextLine <= done) nextLine += Math.max(1, batches / 10);
            lastNanos = now;
            err.println(task + " [" + done + "/" + batches + "] " + message(loss, top1, lr, ips));
            err.flush();
        }

        @Override
        public void finish() {}
    }
}
