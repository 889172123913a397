package dev.lumen.testing;

import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Base of the test classes that run once per device of {@link TestDevices#devices()}: every
 * test method of a subclass runs on each, with {@link #device} set. Subclasses move their
 * inputs there ({@link #on}) and compare results brought back to the host.
 */
@ParameterizedClass(name = "{0}")
@MethodSource("dev.lumen.testing.TestDevices#devices")
public abstract class DeviceTest {
    @Parameter
    protected Device device;

    @BeforeEach
    public void deviceAvailable() { TestDevices.assumeAvailable(device); }

    /** Skips the calling test on devices other than the CPU, with the reason. */
    protected void onlyOnCpu(String why) {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestDevices.isCpu(device), why);
    }

    /** t on this test's device (t itself on the CPU). */
    protected Tensor on(Tensor t) { return t == null ? null : t.to(device); }
}
