package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.LinearAlgebra;
import dev.lumen.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MacCounterTest {

    @Test
    void convAndLinearByHand() {
        // stem 3 -> 8, 3x3, stride 2, pad 1 on 16x16: output 8 x 8 x 8, each output 3*3*3 MACs; fc 8 -> 10
        try (TinyClassifier m = new TinyClassifier(3, 8, 1, 10)) {
            Map<String, Long> by = MacCounter.breakdown(m, 1, 3, 16, 16);
            assertEquals(8L * 8 * 8 * 27, by.get("conv2d"));
            assertEquals(80L, by.get("linear"));
            assertEquals(8L * 8 * 8 * 27 + 80, MacCounter.count(m, 1, 3, 16, 16));
            // batch 2 doubles everything; an odd 17x17 input gives a 9x9 map
            assertEquals(2 * (8L * 8 * 8 * 27 + 80), MacCounter.count(m, 2, 3, 16, 16));
            assertEquals(9L * 9 * 8 * 27 + 80, MacCounter.count(m, 1, 3, 17, 17));
            assertEquals(true, m.isTraining(), "the counter restores training mode");
        }
    }

    @Test
    void groupedConvCountsPerGroup() {
        // 4 -> 8 channels in 2 groups: each output reads 2 input channels, 2*3*3 = 18 MACs
        try (TinyClassifier m = new TinyClassifier(4, 8, 2, 3)) {
            assertEquals(8L * 8 * 8 * 18 + 24, MacCounter.count(m, 1, 4, 16, 16));
        }
    }

    @Test
    void matmulAndBmmOnTheTape() {
        try (Scope s = Scope.open(); GradMode g = GradMode.enableGrad()) {
            Tensor a = Tensor.ones(2, 4, 5).requiresGrad(true);
            Tensor b = Tensor.ones(2, 5, 3);
            Tensor w = Tensor.ones(7, 3);
            Tensor y = LinearAlgebra.linear(LinearAlgebra.bmm(a, b), w, null);      // [2,4,3] -> [2,4,7]
            Tensor z = LinearAlgebra.matmul(y, Tensor.ones(7, 2)).sum();             // [2,4,2]
            Map<String, Long> by = MacCounter.breakdown(z);
            assertEquals(2L * 4 * 3 * 5 + 2L * 4 * 2 * 7, by.get("matmul"));
            assertEquals(2L * 4 * 7 * 3, by.get("linear"));
            assertEquals(120L + 112 + 168, MacCounter.countGraph(z));
        }
    }
}
