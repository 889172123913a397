package dev.lumen.app.train;

import java.io.PrintStream;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The live view of an epoch: one line redrawn in place on a terminal (fitted to its width,
 * COLUMNS or 80), plain lines elsewhere (CI logs, pipes: about ten per epoch and at least one
 * every 30 s, each with the wall-clock time, the elapsed time and the ETA), or nothing. Each
 * shows the running loss, top-1, lr and images/s; the ETA comes from the recent rate
 * ({@link RecentRate}), not from the warm-up.
 */
public abstract class Progress {
    /** A redrawn line when stderr is a terminal, else plain lines on err. */
    public static Progress auto(PrintStream err) {
        java.io.Console c = System.console();
        return c != null && c.isTerminal() ? new Bar(err, terminalWidth(), System::nanoTime) : new Lines(err, System::nanoTime);
    }

    public static Progress lines(PrintStream err) { return new Lines(err, System::nanoTime); }

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

    /** COLUMNS when the shell exports it, else the classic 80. */
    static int terminalWidth() {
        try {
            int w = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "80").trim());
            return w >= 40 ? w : 80;
        } catch (NumberFormatException e) {
            return 80;
        }
    }

    static String message(double loss, double top1, double lr, double ips) {
        return String.format(Locale.ROOT, "loss %.4f  top1 %.2f%%  lr %.3e  %.0f img/s", loss, top1, lr, ips);
    }

    /** The in-place line of a terminal; package-private with its clock, for tests. */
    static final class Bar extends Progress {
        private static final long REDRAW_NANOS = 250_000_000L;
        private final PrintStream err;
        private final int width;
        private final LongSupplier clock;
        private final RecentRate rate = new RecentRate();
        private String task;
        private int batches, done;
        private long start, lastDraw;
        private String last = "";

        Bar(PrintStream err, int width, LongSupplier clock) {
            this.err = err;
            this.width = width;
            this.clock = clock;
        }

        @Override
        public void start(String task, int batches) {
            this.task = task;
            this.batches = batches;
            this.done = 0;
            this.start = clock.getAsLong();
            this.lastDraw = Long.MIN_VALUE / 2;
            rate.reset(start);
        }

        @Override
        public void update(int done, double loss, double top1, double lr, double ips) {
            long now = clock.getAsLong();
            this.done = done;
            rate.record(now, done);
            if (now - lastDraw < REDRAW_NANOS && done < batches) return;
            lastDraw = now;
            last = render(now, loss, top1, lr, ips);
            err.print("\r" + last);
            err.flush();
        }

        /** The line, at most width - 1 columns (a full-width line wraps on some terminals). */
        String render(long now, double loss, double top1, double lr, double ips) {
            String counts = done + "/" + batches;
            String times = RecentRate.clock((now - start) / 1e9) + "<" + RecentRate.clock(rate.etaSeconds(done, batches));
            List<String> stats = new ArrayList<>(List.of(String.format(Locale.ROOT, "loss %.4f", loss), String.format(Locale.ROOT, "top1 %.1f%%", top1),
                    String.format(Locale.ROOT, "%.0f img/s", ips), String.format(Locale.ROOT, "lr %.2e", lr)));
            int max = width - 1;
            while (true) {
                String right = String.join(" ", stats);
                int fixed = task.length() + 1 + 2 + 1 + counts.length() + 1 + times.length() + (right.isEmpty() ? 0 : 1 + right.length());
                int bar = Math.min(30, max - fixed);
                if (bar >= 10 || stats.isEmpty()) {
                    String line = task + " " + bar(Math.max(bar, 0)) + " " + counts + " " + times + (right.isEmpty() ? "" : " " + right);
                    return line.length() > max ? line.substring(0, max) : line;
                }
                stats.remove(stats.size() - 1);
            }
        }

        private String bar(int inner) {
            int filled = batches == 0 ? inner : (int) ((long) inner * done / batches);
            return "[" + "#".repeat(filled) + ".".repeat(inner - filled) + "]";
        }

        @Override
        public void finish() {
            if (task == null) return;
            if (!last.isEmpty()) err.println();
            err.flush();
            task = null;
            last = "";
        }
    }

    /** Plain lines for logs and pipes; package-private with its clock, for tests. */
    static final class Lines extends Progress {
        private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");
        private final PrintStream err;
        private final LongSupplier clock;
        private final RecentRate rate = new RecentRate();
        private String task;
        private int batches;
        private int nextLine;
        private long start, lastNanos;

        Lines(PrintStream err, LongSupplier clock) {
            this.err = err;
            this.clock = clock;
        }

        @Override
        public void start(String task, int batches) {
            this.task = task;
            this.batches = batches;
            this.nextLine = Math.max(1, batches / 10);
            this.start = clock.getAsLong();
            this.lastNanos = start;
            rate.reset(start);
        }

        @Override
        public void update(int done, double loss, double top1, double lr, double ips) {
            long now = clock.getAsLong();
            rate.record(now, done);
            if (done < nextLine && now - lastNanos < 30_000_000_000L) return;
            while (nextLine <= done) nextLine += Math.max(1, batches / 10);
            lastNanos = now;
            err.println(line(now, done, message(loss, top1, lr, ips)));
            err.flush();
        }

        String line(long now, int done, String message) {
            return LocalTime.now().format(TIME) + " " + task + " [" + done + "/" + batches + "] " + RecentRate.clock((now - start) / 1e9)
                    + " elapsed, ETA " + RecentRate.clock(rate.etaSeconds(done, batches)) + "  " + message;
        }

        @Override
        public void finish() {}
    }
}
