package dev.lumen.app;

import dev.lumen.app.train.TrainException;
import dev.lumen.io.Printable;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * How every lumen command reports failure: one line on stderr, {@code lumen <command>: what},
 * with control characters from files escaped ({@link Printable}); exit code 2 for a bad
 * command line (followed by one line pointing at --help, not the whole usage) and 1 for a run
 * that failed. Exceptions no command turned into a sentence still get one line, naming the
 * exception; LUMEN_DEBUG=1 adds the stack trace.
 */
final class CliErrors implements CommandLine.IParameterExceptionHandler, CommandLine.IExecutionExceptionHandler {
    static final int RUNTIME = 1, USAGE = 2;

    /** Installs the handlers on cl and its subcommands. */
    static CommandLine install(CommandLine cl) {
        CliErrors h = new CliErrors();
        cl.setParameterExceptionHandler(h);
        cl.setExecutionExceptionHandler(h);
        return cl;
    }

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        String name = cmd.getCommandSpec().qualifiedName();
        err.println(name + ": " + Printable.of(ex.getMessage()));
        err.println("Try '" + name + " --help' for more information.");
        err.flush();
        return USAGE;
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, ParseResult parsed) {
        return report(cmd.getErr(), cmd.getCommandSpec().qualifiedName(), ex);
    }

    /** Prints the one line for an error that escaped a command; returns the exit code. */
    static int report(PrintWriter err, String name, Throwable ex) {
        err.println(name + ": " + Printable.of(describe(ex)));
        if (System.getenv("LUMEN_DEBUG") != null) ex.printStackTrace(err);
        err.flush();
        return RUNTIME;
    }

    /** The message of an expected failure, else the exception's kind and message (a bug, or a file nothing checked). */
    static String describe(Throwable ex) {
        boolean expected = ex instanceof IOException || ex instanceof UncheckedIOException || ex instanceof TrainException
                || ex instanceof IllegalArgumentException;
        if (expected && ex.getMessage() != null) return ex.getMessage();
        if (ex instanceof StackOverflowError) return "input nested too deeply (stack overflow)";
        if (ex instanceof OutOfMemoryError) return "out of memory (" + ex.getMessage() + "); raise the heap with LUMEN_JAVA_OPTS=-Xmx...";
        return "internal error: " + ex.getClass().getSimpleName() + (ex.getMessage() == null ? "" : ": " + ex.getMessage())
                + " (LUMEN_DEBUG=1 prints the stack trace)";
    }
}
