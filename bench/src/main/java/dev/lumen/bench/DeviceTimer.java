package dev.lumen.bench;

import dev.lumen.cuda.CudaContext;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Device time of a CUDA benchmark, from two events on the compute stream around {@link BenchDevice#REPS}
 * back-to-back calls, so it excludes launch gaps and the host's wait. JMH reports the public
 * fields as secondary metrics summed over the measured iterations: deviceUs / calls is the
 * device time per call, bytes / deviceUs and flops / deviceUs the achieved rates
 * (tools/bench_gpu_table.py divides them). The primary JMH score stays the wall time per call
 * (an invocation is REPS calls and one host wait, hence @OperationsPerInvocation(REPS)).
 *
 * <p>The CUDA benchmarks warm up 2 x 0.5 s and measure 3 x 0.5 s: device kernels are steady
 * after their first calls, and all of them then fit in about five minutes of a lent GPU.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.EVENTS)
public class DeviceTimer {
    public double deviceUs;
    public long calls;
    /** Compulsory bytes (inputs read once, outputs written once) of the timed calls. */
    public double bytes;
    /** Floating-point operations of the timed calls (multiply and add counted as two). */
    public double flops;

    @Setup(Level.Iteration)
    public void reset() {
        deviceUs = 0;
        calls = 0;
        bytes = 0;
        flops = 0;
    }

    /** Queues BenchDevice.REPS calls between two events and waits for the second one. */
    public void time(Work work, Runnable call) {
        float ms = CudaContext.get().time(() -> {
            for (int i = 0; i < BenchDevice.REPS; i++) call.run();
        });
        deviceUs += ms * 1000.0;
        calls += BenchDevice.REPS;
        bytes += BenchDevice.REPS * work.bytes();
        flops += BenchDevice.REPS * work.flops();
    }
}
