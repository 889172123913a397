package dev.lumen.app.train;

import dev.lumen.autograd.Autocast;
import dev.lumen.tensor.DType;

/**
 * The --amp modes, as torch.autocast plus torch.cuda.amp.GradScaler: with BF16 or F16 the
 * training step runs the forward pass and the loss inside {@link #autocast()} and scales the
 * loss ({@link GradScaler}); the parameters, their gradients and the optimizer state stay F32.
 * Under autocast the linear layers, matmuls and convolutions compute in the 16-bit type and the
 * ops on PyTorch's F32 list (softmax, layer norm, losses ...) in F32 (see {@link Autocast}).
 * What that gives on each device, honestly: on a GPU the GEMMs run on tensor cores (cuBLAS with
 * 16-bit operands and F32 accumulation) and the convolutions through cuDNN on 16-bit tensors, and
 * their 16-bit activations halve the memory they keep for backward. On the CPU the same values
 * come out (16-bit operands, F32 sums, rounded to 16 bits) but the kernels widen to F32 to
 * compute them, so it is slower than F32, not faster; the mode exists there so that a recipe with
 * --amp behaves the same (rounding, loss scaling, skipped steps) on the CPU as on a GPU.
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

    /** The region for the forward pass and the loss: autocast to the 16-bit type when on, autocast off when OFF. */
    public Autocast autocast() { return on() ? Autocast.enable(dtype) : Autocast.disable(); }
}
