package dev.lumen.app;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Where the log records of the engine and its backends go (System.Logger, as "GEMM: OpenBLAS"):
 * not to the terminal, which is for results, but to the run folder's lumen.log once a run has
 * one (records from before are kept until then), and to stderr as well with --verbose.
 */
public final class Logs {
    public static final String FILE = "lumen.log";
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());
    private static final Keeper KEEPER = new Keeper();

    private Logs() {}

    /** Replaces the JDK's console handler by Lumen's: records kept for the run's log, on stderr only when verbose. */
    public static synchronized void install(boolean verbose) {
        Logger root = LogManager.getLogManager().getLogger("");
        for (Handler h : root.getHandlers()) root.removeHandler(h);
        KEEPER.reset();
        root.addHandler(KEEPER);
        root.setLevel(verbose ? Level.FINE : Level.INFO);
        KEEPER.verbose = verbose;
    }

    /** Writes the kept records and every later one to dir/lumen.log (appending). */
    public static synchronized void toRunFolder(Path dir) {
        KEEPER.open(dir.resolve(FILE));
    }

    /** One line: time, level, logger, message. */
    static String format(LogRecord r) {
        String msg = r.getMessage();
        if (r.getParameters() != null && msg != null && msg.contains("{")) msg = java.text.MessageFormat.format(msg, r.getParameters());
        String line = TIME.format(r.getInstant()) + " " + r.getLevel().getName() + " " + r.getLoggerName() + ": " + msg;
        return r.getThrown() == null ? line : line + " (" + r.getThrown() + ")";
    }

    private static final class Keeper extends Handler {
        private static final int KEEP = 200;
        private final List<String> kept = new ArrayList<>();
        private Writer file;
        volatile boolean verbose;

        @Override
        public synchronized void publish(LogRecord r) {
            if (!isLoggable(r)) return;
            String line = format(r);
            if (verbose) System.err.println(line);
            if (file != null) write(line);
            else if (kept.size() < KEEP) kept.add(line);
        }

        /** Forgets kept records and the run's log file: a fresh start. */
        synchronized void reset() {
            close();
            file = null;
            kept.clear();
        }

        synchronized void open(Path path) {
            try {
                if (file != null) file.close();
                file = Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                file.write("# lumen " + TIME.format(Instant.now()) + "\n");
                for (String l : kept) write(l);
                file.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(path + ": cannot write the log: " + e.getMessage(), e);
            }
        }

        private void write(String line) {
            try {
                file.write(line + "\n");
                file.flush();
            } catch (IOException e) {
                reportError(e.getMessage(), e, 0);
            }
        }

        @Override
        public void flush() {}

        @Override
        public synchronized void close() {
            try {
                if (file != null) file.close();
            } catch (IOException ignored) {
                // closing at exit: nothing left to tell
            }
        }
    }
}
