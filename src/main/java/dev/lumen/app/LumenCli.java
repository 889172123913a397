package dev.lumen.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code lumen} command: the entry point that bin/lumen runs. */
@Command(name = "lumen", mixinStandardHelpOptions = true, versionProvider = LumenCli.Version.class,
        subcommands = {TrainCommand.class, EvalCommand.class, PredictCommand.class, SplitCommand.class, StatsCommand.class,
            ModelsCommand.class, DoctorCommand.class},
        description = "Lumen: train vision backbones on the JVM.")
public final class LumenCli implements Runnable {

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
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
