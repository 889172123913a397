package dev.lumen.app;

import picocli.CommandLine;
import dev.lumen.io.InputLimits;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** The {@code lumen} command: the entry point that bin/lumen runs. */
@Command(name = "lumen", mixinStandardHelpOptions = true, versionProvider = LumenCli.Version.class,
        subcommands = {TrainCommand.class, EvalCommand.class, PredictCommand.class, SplitCommand.class, StatsCommand.class,
            ModelsCommand.class, ExportCommand.class, DoctorCommand.class, BenchmarkCommand.class,
            CommandLine.HelpCommand.class},
        description = "Lumen: train vision backbones on the JVM.")
public final class LumenCli implements Runnable {
    @Spec CommandSpec spec;

    @Option(names = "--max-image-pixels", paramLabel = "N", scope = ScopeType.INHERIT,
            description = "Refuse (skip) images whose header declares more pixels than this (default: PIL's 89478485).")
    void maxImagePixels(long pixels) {
        try {
            InputLimits.setMaxImagePixels(pixels);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Option(names = "--max-entry-bytes", paramLabel = "N", scope = ScopeType.INHERIT,
            description = "Largest compressed entry of a .pth file, once inflated (default: 1 GiB).")
    void maxEntryBytes(long bytes) {
        try {
            InputLimits.setMaxEntryBytes(bytes);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Also print log records (backend choices such as the GEMM library) on stderr; a run keeps them in lumen.log.")
    void verbose(boolean on) { Logs.install(on); }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        Logs.install(false);
        int code;
        try {
            code = commandLine().execute(args);
        } catch (StackOverflowError | OutOfMemoryError e) {
            // picocli passes Errors through; a hostile input must still end in one line
            code = CliErrors.report(new java.io.PrintWriter(System.err, true), "lumen", e);
        }
        System.exit(code);
    }

    /** The command line with lumen's error handling (one line per error, exit 1 or 2); see {@link CliErrors}. */
    public static CommandLine commandLine() {
        return CliErrors.install(new CommandLine(new LumenCli()));
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = LumenCli.class.getPackage().getImplementationVersion();
            return new String[] {"lumen " + (v == null ? "0.1.0-SNAPSHOT" : v),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")"};
        }
    }
}
