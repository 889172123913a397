package dev.lumen.cuda;

import java.math.BigInteger;

/**
 * Division by a launch-invariant size as a multiply-high, an add and a shift (Granlund and
 * Montgomery's round-up method): kernels split flat indices into coordinates with it instead of
 * a hardware-less integer division (about 25 instructions on sm_90). Computed on the host once
 * per launch; {@link #quotient32} and {@link #quotient64} are the device formulas of
 * lumen_tensor.cuh, kept here so the numbers are tested against exact division.
 *
 * <p>With shift = ceil(log2 d) and magic = floor(2^N (2^shift - d) / d) + 1, the quotient
 * (mulhi_N(n, magic) + n) >> shift equals n / d for every n below 2^(N-1): the magic's error
 * term stays under 2^-N per unit of n, too small to cross an integer, and the add cannot carry
 * out of N bits.
 */
public record MagicDivisor(int divisor, long magic64, int magic32, int shift) {
    /** Largest divisor (a tensor size is an int). */
    public static final int MAX_DIVISOR = Integer.MAX_VALUE;

    public static MagicDivisor of(int d) {
        if (d < 1) throw new IllegalArgumentException("divisor " + d + " must be at least 1");
        int shift = 32 - Integer.numberOfLeadingZeros(d - 1);
        long excess = (1L << shift) - d;                       // below d, so every quotient fits N bits
        long m32 = ((1L << 32) * excess) / d + 1;              // below 2^63: excess < 2^31
        long m64 = BigInteger.valueOf(excess).shiftLeft(64).divide(BigInteger.valueOf(d)).add(BigInteger.ONE).longValue();
        return new MagicDivisor(d, m64, (int) m32, shift);
    }

    /** n / divisor as the device's 32-bit path computes it; n in [0, 2^31). */
    public long quotient32(long n) {
        long hi = (n * Integer.toUnsignedLong(magic32)) >>> 32;
        return (hi + n) >>> shift;
    }

    /** n / divisor as the device's 64-bit path computes it; n in [0, 2^63). */
    public long quotient64(long n) {
        return (Math.unsignedMultiplyHigh(n, magic64) + n) >>> shift;
    }
}
