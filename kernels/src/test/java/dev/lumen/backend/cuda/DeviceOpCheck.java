package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.cuda.CallCounts;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.Golden;
import org.junit.jupiter.api.Assumptions;

/**
 * What the device-op tests of the hot ops share beyond {@link DeviceCheck}: random inputs made on
 * the host, comparison with the CPU backend's result, and the steady-state check on the emulated
 * driver's call counts.
 */
final class DeviceOpCheck {
    static final Device CUDA = Device.cuda(0);

    private DeviceOpCheck() {}

    /** scale * N(0,1) + shift on the host, rounded to dtype. */
    static Tensor randn(Generator gen, DType dtype, double scale, double shift, int... shape) {
        double[] v = Tensor.randn(gen, DType.F64, shape).toDoubles();
        for (int i = 0; i < v.length; i++) v[i] = shift + scale * v[i];
        return Tensor.fromDoubles(v, dtype, shape);
    }

    /** A device tensor of NaN, so an element the kernel forgets to write fails the comparison. */

    /** A host tensor of NaN, for the CPU backend's outputs. */
    static Tensor hostPoisoned(DType dtype, int... shape) { return Tensor.full(Double.NaN, dtype, Device.CPU, shape); }

    static Tensor up(Tensor host) { return host.to(CUDA); }

    /** ||device - cpu|| / ||cpu|| within tol, recorded with the golden errors. */
    static void assertClose(String what, Tensor device, Tensor cpu, double tol) {
        Golden.assertClose("cuda-hot-ops", what, device.to(Device.CPU), cpu, tol);
    }

    /**
     * Runs step once to warm the caching allocator and the kernel cache, then again: the second
     * run may neither allocate device memory through the driver nor make the host wait.
     */
    static void assertSteadyState(String what, Runnable step) {
        step.run();
        var driver = CudaBackend.get().driver();
        Assumptions.assumeTrue(driver.isEmulated(), "call counts exist only under the emulated driver");
        CallCounts before = driver.callCounts();
        step.run();
        CallCounts d = driver.callCounts().since(before);
        assertEquals(0, d.allocations(), what + ": cuMemAlloc calls in a steady step: " + d);
        assertEquals(0, d.hostWaits(), what + ": host waits in a steady step: " + d);
        assertEquals(0, d.copiesDtoH(), what + ": copies to the host in a steady step: " + d);
        assertTrue(d.launches() > 0, what + ": launched nothing: " + d);
    }
}
