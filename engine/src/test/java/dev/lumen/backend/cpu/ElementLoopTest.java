package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which ranges ElementLoop hands its body: one flat range per thread for dense operands of one layout, rows otherwise. */
class ElementLoopTest {
    private record Call(long[] base, int length, int[] step) {}

    private static List<Call> calls(int[] shape, Tensor... ts) {
        List<Call> seen = new ArrayList<>();
        ElementLoop.run(shape, (base, n, step) -> {
            synchronized (seen) {
                seen.add(new Call(base.clone(), n, step.clone()));
            }
        }, ts);
        return seen;
    }

    @Test
    void channelsLastOperandsRunAsOneFlatRange() {
        try (Scope s = Scope.open()) {
            int[] sh = {2, 48, 30, 30};
            Tensor a = ChannelsLast.empty(DType.F32, Device.CPU, 2, 48, 30, 30), b = ChannelsLast.empty(DType.F32, Device.CPU, 2, 48, 30, 30);
            List<Call> flat = calls(sh, a, b);
            long total = 0;
            for (Call c : flat) {
                assertEquals(1, c.step()[0]);
                assertEquals(1, c.step()[1]);
                assertEquals(c.base()[0] - a.offset(), c.base()[1] - b.offset(), "element i of one is element i of the other");
                total += c.length();
            }
            assertEquals(2L * 48 * 30 * 30, total);
            assertTrue(flat.size() <= Math.max(1, Parallel.threads()), flat.size() + " ranges");

            // One contiguous operand among channels-last ones: rows through the strides.
            Tensor c = Tensor.empty(DType.F32, Device.CPU, sh);
            List<Call> rows = calls(sh, a, c);
            assertTrue(rows.stream().allMatch(r -> r.step()[0] == 48 && r.step()[1] == 1), "a read along W, 48 floats apart");
            assertEquals(2L * 48 * 30 * 30, rows.stream().mapToLong(Call::length).sum());
        }
    }
}
