package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Issue 11 item 5: every launch's grid, block and dynamic shared memory are checked against the
 * device's and the kernel's limits before the driver is called, with an error naming both.
 */
class LaunchLimitsTest {
    /** A glue kernel declared __launch_bounds__(256) (batchnorm.cu): its own limit is below the device's. */
    private static final String BOUNDED = "batchnorm_bwd_const_f32";

    @Test
    void deviceReportsTheH100Limits() {
        LaunchLimits l = CudaTestSupport.context().launchLimits();
        assertEquals(Integer.MAX_VALUE, l.maxGrid()[0]);
        assertEquals(65535, l.maxGrid()[1]);
        assertEquals(65535, l.maxGrid()[2]);
        assertEquals(1024, l.maxThreads());
        assertEquals(64, l.maxBlock()[2]);
    }

    @Test
    void gridYAndZAbove65535Fail() {
        assertFails(new int[] {1, 65536}, new int[] {32}, 0, "grid y = 65536 outside CUDA's limits [1, 65535]");
        assertFails(new int[] {1, 1, 65536}, new int[] {32}, 0, "grid z = 65536");
        assertFails(new int[] {0}, new int[] {32}, 0, "grid x = 0");
    }

    @Test
    void blocksAboveTheDeviceOrTheKernelLimitFail() {
        assertFails(new int[] {1}, new int[] {2048}, 0, "block x = 2048");
        assertFails(new int[] {1}, new int[] {64, 32}, 0, "2048 threads, above the device's limit of 1024");
        assertFails(new int[] {1}, new int[] {1, 1, 65}, 0, "block z = 65");
        assertFails(new int[] {1}, new int[] {512}, 0, "512 threads, above this kernel's limit of 256");
    }

    @Test
    void dynamicSharedAboveTheOptInLimitFails() {
        int optIn = CudaTestSupport.context().launchLimits().sharedOptIn();
        assertFails(new int[] {1}, new int[] {32}, optIn + 1, "exceed the device's opt-in limit of " + optIn);
        assertFails(new int[] {1}, new int[] {32}, -1, "-1 bytes of dynamic shared memory");
    }

    private static void assertFails(int[] grid, int[] block, int shared, String expected) {
        Kernel k = CudaTestSupport.context().kernel(BOUNDED);
        // No argument is packed: the check must refuse the launch before the driver could read them.
        try (KernelArgs none = new KernelArgs()) {
            var e = assertThrows(IllegalArgumentException.class, () -> k.launch(grid, block, shared, none));
            assertTrue(e.getMessage().startsWith(BOUNDED + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(expected), e.getMessage());
        }
    }
}
