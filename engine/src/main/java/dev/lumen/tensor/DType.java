package dev.lumen.tensor;

/**
 * Element types. F32 and F64 are compute types; F16 and BF16 are storage types that ops
 * convert from and to F32; I32, I64 and BOOL hold labels, indices and masks.
 */
public enum DType {
    F32(4, true, "F32"),
    F64(8, true, "F64"),
    F16(2, true, "F16"),
    BF16(2, true, "BF16"),
    I32(4, false, "I32"),
    I64(8, false, "I64"),
    BOOL(1, false, "BOOL");

    private final int byteSize;
    private final boolean floating;
    private final String safetensorsName;

    DType(int byteSize, boolean floating, String safetensorsName) {
        this.byteSize = byteSize;
        this.floating = floating;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() { return byteSize; }

    public boolean isFloating() { return floating; }

    /** True for the types kernels compute in (the others are converted first). */
    public boolean isCompute() { return this == F32 || this == F64; }

    /** The dtype name used in safetensors headers. */
    public String safetensorsName() { return safetensorsName; }

    public static DType fromSafetensors(String name) {
        for (DType t : values()) if (t.safetensorsName.equals(name)) return t;
        throw new IllegalArgumentException("unsupported safetensors dtype '" + name + "'");
    }

    /** The type a binary op between a and b computes in, as PyTorch promotes them. */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if (a == F64 || b == F64) return F64;
        if (a.floating || b.floating) return F32;
        if (a == I64 || b == I64) return I64;
        if (a == I32 || b == I32) return I32;
        return a;
    }
}
