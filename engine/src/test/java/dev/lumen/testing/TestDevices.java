package dev.lumen.testing;

import dev.lumen.backend.Backends;
import dev.lumen.tensor.Device;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * The devices the op, layer, optimizer and model tests run on, from the system property
 * lumen.test.devices ("cpu" by default, e.g. "cpu,cuda"). Each such test class is a
 * {@code @ParameterizedClass} over {@link #devices()}: its inputs are moved to the device,
 * and results are brought back to the host to be compared.
 */
public final class TestDevices {
    private TestDevices() {}

    public static final String PROPERTY = "lumen.test.devices";

    public static Stream<Device> devices() {
        String spec = System.getProperty(PROPERTY, "cpu");
        return Arrays.stream(spec.split(",")).filter(s -> !s.isBlank()).map(Device::parse).distinct();
    }

    /**
     * Skips the calling test on a device without a backend, with the reason; with
     * -Dlumen.cuda.required=true a missing CUDA backend fails instead.
     */
    public static void assumeAvailable(Device device) {
        if (device.kind() == Device.Kind.CPU) return;
        String why = Backends.cudaStatus();
        if (why != null && Boolean.getBoolean("lumen.cuda.required")) throw new IllegalStateException(why);
        Assumptions.assumeTrue(why == null, why);
    }

    /** True on the CPU: for tests of host-only behaviour (thread counts, host memory) in a device-parameterized class. */
    public static boolean isCpu(Device device) { return device.kind() == Device.Kind.CPU; }
}
