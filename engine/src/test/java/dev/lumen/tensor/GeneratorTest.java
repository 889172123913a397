package dev.lumen.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;

/** The default generator per thread: ranks on threads of one process draw as lone runs do, however they interleave. */
class GeneratorTest {
    static double[] draws(Generator g, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = g.nextUniform();
        return v;
    }

    @Test
    void eachThreadDrawsFromItsOwnDefaultAsALoneRunWould() throws Exception {
        int threads = 4, n = 2000;
        double[][] got = new double[threads][];
        CyclicBarrier start = new CyclicBarrier(threads);
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            int rank = t;
            ts[t] = new Thread(() -> {
                try (Generator.ThreadDefault own = Generator.useOnThisThread(new Generator(7 + rank))) {
                    start.await();
                    double[] v = new double[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = Generator.global().nextUniform();  // interleaved with the other threads' draws
                        if (i % 97 == 0) Thread.yield();
                    }
                    got[rank] = v;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        for (int t = 0; t < threads; t++) assertArrayEquals(draws(new Generator(7 + t), n), got[t], 0.0, "thread " + t);
    }

    @Test
    void closingTheScopeRestoresThePreviousDefault() {
        Generator process = Generator.global();
        Generator a = new Generator(1), b = new Generator(2);
        try (Generator.ThreadDefault outer = Generator.useOnThisThread(a)) {
            assertSame(a, Generator.global());
            try (Generator.ThreadDefault inner = Generator.useOnThisThread(b)) {
                assertSame(b, Generator.global());
            }
            assertSame(a, Generator.global());
        }
        assertSame(process, Generator.global());
        assertNotSame(a, Generator.global());
    }
}
