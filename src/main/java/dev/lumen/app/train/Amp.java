package dev.lumen.app.train;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;

/**
 * The --amp modes. With BF16 or F16 the training step scales the loss ({@link GradScaler}) and
 * rounds the input batch to the 16-bit type before the model, as autocast would hand it to the
 * first convolution. What this does on the CPU backend, honestly: the kernels compute in F32
 * (16-bit types are storage types there), and conv2d keeps an F32 copy of its input for
 * backward, so no memory is saved and every other activation stays F32. The mode exists so a
 * recipe with --amp behaves the same (loss scaling, skipped steps) on the CPU as on a GPU.
 */
public enum Amp {
    OFF(null), BF16(DType.BF16), F16(DType.F16);

    private final DType dtype;

    Amp(DType dtype) { this.dtype = dtype; }

    /** The 16-bit type, or null when off. */
    public DType dtype() { return dtype; }

    public boolean on() { return this != OFF; }

    /** null or "off" give OFF; "bf16"/"bfloat16" and "f16"/"fp16"/"float16" the others. */
    public static Amp parse(String s) {
        String t = TrainConfig.norm(s);
        if (t == null || t.equals("off") || t.equals("none")) return OFF;
        return switch (t) {
            case "bf16", "bfloat16" -> BF16;
            case "f16", "fp16", "float16" -> F16;
            default -> throw new IllegalArgumentException("--amp must be bf16 or f16, got '" + s + "'");
        };
    }

    /** The images as the model sees them: rounded to the 16-bit type when on, else unchanged. */
    public Tensor castInput(Tensor images) { return on() ? images.to(dtype) : images; }
}
