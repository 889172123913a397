package dev.lumen.bench;

import dev.lumen.tensor.Tensor;

/** What one call must do at least: compulsory bytes moved and floating-point operations. */
public record Work(double bytes, double flops) {
    /** The compulsory traffic of tensors read or written once each. */
    public static Work traffic(Tensor... tensors) {
        double b = 0;
        for (Tensor t : tensors) b += (double) t.numel() * t.dtype().byteSize();
        return new Work(b, 0);
    }

    public Work plusFlops(double f) { return new Work(bytes, flops + f); }
}
