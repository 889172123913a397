package dev.lumen.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The {@code lumen} command: the entry point that bin/lumen runs. */
@Command(name = "lumen", mixinStandardHelpOptions = true, versionProvider = LumenCli.Version.class,
        subcommands = {TrainCommand.class, EvalCommand.class, PredictCommand.class, SplitCommand.class, StatsCommand.class,
            ModelsCommand.class, ExportCommand.class, DoctorCommand.class},
        description = "Lumen: train vision backbones on the JVM.")
public final class LumenCli implements Runnable {

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Also print log records (backend choices such as the GEMM library) on stderr; a run keeps them in lumen.log.")
    void verbose(boolean on) { Logs.install(on); }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        Logs.install(false);
        System.exit(new CommandLine(new LumenCli()).execute(args));
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
