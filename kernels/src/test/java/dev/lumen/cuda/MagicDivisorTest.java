package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The multiply-shift divisors the kernels split indices with (lumen_tensor.cuh's quotient),
 * checked on the host against exact division: every divisor shape (powers of two and their
 * neighbours, primes, the largest int) against the dividends where rounding could slip (multiples
 * of the divisor and their neighbours, the 2^31 limit of the 32-bit form, 2^32 and the 2^63 limit
 * of the 64-bit form).
 */
class MagicDivisorTest {
    static List<Integer> divisors() {
        List<Integer> ds = new ArrayList<>();
        for (int d = 1; d <= 4096; d++) ds.add(d);
        for (int b = 12; b <= 31; b++) {
            long p = 1L << b;
            for (long d = p - 3; d <= p + 3; d++) if (d >= 1 && d <= Integer.MAX_VALUE) ds.add((int) d);
        }
        // sizes the models use, and primes that give long magic numbers
        for (int d : new int[] {3136, 12544, 50176, 197, 768, 12608, 65535, 65537, 1_000_003, 2_147_483_629, 46_341}) ds.add(d);
        SplittableRandom r = new SplittableRandom(11);
        for (int i = 0; i < 2000; i++) ds.add(1 + r.nextInt(Integer.MAX_VALUE));
        return ds;
    }

    static List<Long> dividends(int d, long limit) {
        List<Long> ns = new ArrayList<>();
        long[] anchors = {0, 1, 2, d - 1L, d, d + 1L, 2L * d - 1, 2L * d, limit - 1, limit - 2, (1L << 31) - 1, 1L << 32, (1L << 32) + 1,
                (1L << 32) - 1, ((limit - 1) / d) * d, ((limit - 1) / d) * d - 1};
        for (long n : anchors) if (n >= 0 && n < limit) ns.add(n);
        SplittableRandom r = new SplittableRandom(d);
        for (int i = 0; i < 16; i++) {
            long q = r.nextLong((limit - 1) / d + 1);
            for (long n = q * d - 1; n <= q * d + 1; n++) if (n >= 0 && n < limit) ns.add(n);
            ns.add(r.nextLong(limit));
        }
        return ns;
    }

    @Test
    void the32BitFormIsExactBelow2To31() {
        for (int d : divisors()) {
            MagicDivisor m = MagicDivisor.of(d);
            for (long n : dividends(d, 1L << 31)) assertEquals(n / d, m.quotient32(n), () -> n + " / " + d);
        }
    }

    @Test
    void the64BitFormIsExactBelow2To63() {
        for (int d : divisors()) {
            MagicDivisor m = MagicDivisor.of(d);
            for (long n : dividends(d, Long.MAX_VALUE)) assertEquals(n / d, m.quotient64(n), () -> n + " / " + d);
        }
    }

    @Test
    void everyDividendOfSmallDivisorsUpToAFewMultiples() {
        for (int d = 1; d <= 300; d++) {
            MagicDivisor m = MagicDivisor.of(d);
            for (long n = 0; n < 40L * d; n++) {
                assertEquals(n / d, m.quotient32(n), d + " " + n);
                assertEquals(n / d, m.quotient64(n), d + " " + n);
            }
        }
    }

    @Test
    void aDivisorBelowOneIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> MagicDivisor.of(0));
        assertThrows(IllegalArgumentException.class, () -> MagicDivisor.of(-5));
    }
}
