package dev.lumen.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.testing.DeviceTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Pooling layers and a small Sequential network against torch, with weights loaded by name. */
class PoolingLayersTest extends DeviceTest {
    private static final double TOL = 1e-5;

    @Test
    void pooling() {
        NnGolden.check(device, "maxpool2d", new MaxPool2d(3, 2, 1), TOL, TOL);
        NnGolden.check(device, "maxpool2d_ceil", new MaxPool2d(2, 2, 0, true), TOL, TOL);
        NnGolden.check(device, "avgpool2d", new AvgPool2d(3, 2, 1, false, false), TOL, TOL);
        NnGolden.check(device, "avgpool2d_pad", new AvgPool2d(2, 2, 1), TOL, TOL);
        NnGolden.check(device, "adaptiveavgpool2d", new AdaptiveAvgPool2d(3, 2), TOL, TOL);
        NnGolden.check(device, "flatten", new Flatten(), TOL, TOL);
    }

    @Test
    void sequentialNamesChildrenByIndex() {
        Sequential seq = new Sequential(new Conv2d(3, 4, 3, 1, 1, 1, 1, false), new BatchNorm2d(4), new ReLU(), new AdaptiveAvgPool2d(1),
                new Flatten(), new Linear(4, 5));
        assertEquals(List.of("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
                "5.weight", "5.bias"), List.copyOf(seq.stateDict().keySet()));
        NnGolden.check(device, "sequential", seq, TOL, TOL);
    }
}
