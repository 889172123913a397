package dev.lumen.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.memory.Scope;
import dev.lumen.testing.Golden;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** f16 and bf16 conversion must be bit-exact with PyTorch's round-to-nearest-even. */
class HalfFloatsTest {
    private static final Golden G = Golden.load("tensor");

    private static short[] bits(Tensor t) {
        return t.storage().segment().asSlice(t.offset() * 2, t.numel() * 2).toArray(ValueLayout.JAVA_SHORT);
    }

    private void checkExact(DType type, String key) {
        try (Scope s = Scope.open()) {
            Tensor f = G.get("convert.f32");
            short[] expected = bits(G.get(key));
            short[] actual = bits(f.to(type));
            float[] in = f.toFloats();
            for (int i = 0; i < expected.length; i++) {
                boolean bothNaN = type == DType.F16
                        ? Float.isNaN(HalfFloats.fromF16(expected[i])) && Float.isNaN(HalfFloats.fromF16(actual[i]))
                        : Float.isNaN(HalfFloats.fromBF16(expected[i])) && Float.isNaN(HalfFloats.fromBF16(actual[i]));
                if (!bothNaN) {
                    assertEquals(expected[i], actual[i], type + " of " + in[i] + " (bits " + Integer.toHexString(Float.floatToRawIntBits(in[i])) + ")");
                }
            }
        }
    }

    @Test void f16ConversionIsBitExactWithTorch() { checkExact(DType.F16, "convert.f16"); }

    @Test void bf16ConversionIsBitExactWithTorch() { checkExact(DType.BF16, "convert.bf16"); }

    @Test
    void widenedValuesRoundTrip() {
        try (Scope s = Scope.open()) {
            Tensor h = G.get("convert.bf16");
            Tensor back = h.to(DType.F32).to(DType.BF16);
            org.junit.jupiter.api.Assertions.assertArrayEquals(bits(h), bits(back));
        }
    }
}
