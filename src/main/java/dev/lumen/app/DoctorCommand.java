package dev.lumen.app;

import dev.lumen.cuda.CudaEnvironment;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * {@code lumen doctor}: one screen on what this machine gives Lumen (Java, cores, the CUDA
 * driver and devices, the kernels fatbin, cuBLAS and cuDNN), with the reason for anything
 * missing, so a bug report or a "why is --device cuda refused" starts from facts.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Show the Java runtime, CPU, CUDA driver, GPUs, kernels fatbin, cuBLAS and cuDNN Lumen finds, and why anything is missing.")
public final class DoctorCommand implements Callable<Integer> {
    PrintStream out = System.out;

    @Override
    public Integer call() {
        out.printf("%-16s %s%n", "java", "Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")");
        out.printf("%-16s %d cores, %s%n", "cpu", Runtime.getRuntime().availableProcessors(), System.getProperty("os.arch"));
        out.printf("%-16s %s%n", "onednn", dev.lumen.backend.cpu.OneDnnConv.status());
        boolean allOk = true;
        for (CudaEnvironment.Item i : CudaEnvironment.probe()) {
            out.printf("%-16s %s%n", i.name(), i.value());
            allOk &= i.ok();
        }
        out.println(allOk ? "--device cuda: usable" : "--device cuda: not usable here (see the lines above); --device cpu works");
        return 0;
    }
}
