package dev.lumen.app;

import dev.lumen.app.train.TrainListener;
import java.io.PrintStream;
import java.util.List;
import picocli.CommandLine;

/** Runs TrainCommand with captured streams and listeners, for the tests of dev.lumen.app.train. */
public final class TrainCommandAccess {
    private TrainCommandAccess() {}

    public static int execute(List<String> args, PrintStream out, PrintStream err, List<TrainListener> listeners) {
        TrainCommand cmd = new TrainCommand();
        cmd.out = out;
        cmd.err = err;
        cmd.listeners.addAll(listeners);
        CommandLine cl = new CommandLine(cmd);
        cl.setErr(new java.io.PrintWriter(err, true));
        cl.setOut(new java.io.PrintWriter(out, true));
        return cl.execute(args.toArray(String[]::new));
    }
}
