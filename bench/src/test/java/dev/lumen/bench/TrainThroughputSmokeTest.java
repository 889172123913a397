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
 * The training-throughput benchmark's step runs on cuda under the emulated driver (the options it
 * picks there: batch 2, 32x32, one step), so it cannot rot. The step is the same code for every
 * model, so two models cover it: a ViT (GEMMs, layer norm, softmax) and CAS-ViT (convolutions,
 * BatchNorm, the CATM hot op). All six take over six minutes here (RepLKNet-31B's alone over
 * four: 31x31 kernels and 80 M parameters in the emulation); `make bench-train-gpu` with
 * LUMEN_CUDA_DRIVER pointing at the emulated driver runs them all.
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
        return Stream.of("vit_small_patch16_224", "rcvit_xs").map(m -> DynamicTest.dynamicTest(m, () -> {
            TrainThroughput.Result r = TrainThroughput.measure(m, o);
            assertTrue(r.imagesPerSecond() > 0 && Double.isFinite(r.imagesPerSecond()), m + ": " + r);
        }));
    }
}
