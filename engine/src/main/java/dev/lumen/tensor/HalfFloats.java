package dev.lumen.tensor;

/** Exact round-to-nearest-even conversions between f32 and the 16-bit storage types. */
public final class HalfFloats {
    private HalfFloats() {}

    public static short toF16(float f) { return Float.floatToFloat16(f); }

    public static float fromF16(short h) { return Float.float16ToFloat(h); }

    /** bf16 is the top half of an f32; rounding adds half an ulp with ties to even. NaN stays quiet NaN. */
    public static short toBF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7fff + lsb) >>> 16);
    }

    public static float fromBF16(short b) { return Float.intBitsToFloat((b & 0xffff) << 16); }
}
