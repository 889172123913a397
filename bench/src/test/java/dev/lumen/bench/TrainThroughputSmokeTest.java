package dev.lumen.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.CudaException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The training-throughput benchmark's step runs for every model on cuda under the emulated driver
 * (the options it picks there: batch 2, 32x32, one step), so it cannot rot. A model whose ops
 * need a kernel family the CUDA backend does not have yet is skipped with the backend's reason.
 */
class TrainThroughputSmokeTest {
    @BeforeAll
    static void emulatedCuda() {
        String why = Backends.cudaStatus();
        if (why != null && Boolean.getBoolean("lumen.cuda.required")) throw new CudaException(why, -1);
        Assumptions.assumeTrue(why == null, why);
        Assumptions.assumeTrue(BenchDevice.emulated(), "full-size training steps belong to make bench-train-gpu, not to a unit test");
    }

    @TestFactory
    Stream<DynamicTest> oneTinyTrainingStepPerModel() {
        TrainThroughput.Options o = TrainThroughput.Options.parse(new String[0], true);
        return TrainThroughput.MODELS.stream().map(m -> DynamicTest.dynamicTest(m, () -> {
            TrainThroughput.Result r;
            try {
                r = TrainThroughput.measure(m, o);
            } catch (UnsupportedOperationException e) {
                Assumptions.abort("kernels not landed on this branch: " + e.getMessage());
                return;
            }
            assertTrue(r.imagesPerSecond() > 0 && Double.isFinite(r.imagesPerSecond()), m + ": " + r);
        }));
    }
}
