package dev.lumen.models.vit;

import dev.lumen.autograd.GradMode;
import dev.lumen.backend.ResizeKernels.Mode;
import dev.lumen.ops.LinearAlgebra;
import dev.lumen.ops.Resize;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * Resampling of learned absolute position embeddings to another patch grid, as timm's
 * resample_abs_pos_embed: the prefix tokens (the class token) are kept as they are, the grid
 * part [1, oldH * oldW, C] is resized as a C-channel image with bicubic interpolation
 * (align_corners false) and flattened back.
 *
 * <p>With antialias (timm's default since 0.9) the resize uses PyTorch's antialiased bicubic
 * filter (Keys' cubic with a = -0.5, widened by the scale when shrinking, weights normalized
 * per output pixel); it is separable, so it is applied as two small matrices, rows then
 * columns. Without antialias it is F.interpolate(mode='bicubic') (a = -0.75), as older timm's
 * resize_pos_embed.
 */
public final class PositionEmbeddings {
    private PositionEmbeddings() {}

    /**
     * posemb [1, numPrefix + oldH * oldW, C] resampled to [1, numPrefix + newH * newW, C].
     * Not recorded by autograd; a new tensor (posemb itself when the grid is unchanged).
     */
    public static Tensor resample(Tensor posemb, int newH, int newW, int oldH, int oldW, int numPrefix, boolean antialias) {
        if (posemb.dim() != 3 || posemb.shape(0) != 1 || posemb.shape(1) != numPrefix + (long) oldH * oldW) {
            throw new IllegalArgumentException("resamplePosEmbed: pos_embed " + Arrays.toString(posemb.shape()) + " does not hold "
                    + numPrefix + " prefix tokens and a " + oldH + "x" + oldW + " grid");
        }
        if (newH < 1 || newW < 1) throw new IllegalArgumentException("resamplePosEmbed: new grid " + newH + "x" + newW + " is empty");
        if (newH == oldH && newW == oldW) return posemb;
        int c = posemb.shape(2);
        DType orig = posemb.dtype();
        try (GradMode ng = GradMode.noGrad()) {
            Tensor p = orig == DType.F64 ? posemb : posemb.to(DType.F32);
            // [C, oldH, oldW], the grid as an image
            Tensor grid = p.narrow(1, numPrefix, oldH * oldW).reshape(oldH, oldW, c).permute(2, 0, 1).contiguous();
            Tensor resized;
            if (antialias) {
                Tensor rows = Tensor.fromDoubles(aaBicubicMatrix(oldH, newH), p.dtype(), newH, oldH);
                Tensor cols = Tensor.fromDoubles(aaBicubicMatrix(oldW, newW), p.dtype(), newW, oldW);
                resized = LinearAlgebra.matmul(LinearAlgebra.matmul(rows, grid), cols.transpose(0, 1));
            } else {
                resized = Resize.interpolate(grid.unsqueeze(0), newH, newW, Mode.BICUBIC, false).squeeze(0);
            }
            Tensor tokens = resized.permute(1, 2, 0).reshape(1, newH * newW, c);
            Tensor out = numPrefix > 0 ? Shaping.cat(List.of(p.narrow(1, 0, numPrefix), tokens), 1) : tokens.contiguous();
            return out.to(orig);
        }
    }

    /**
     * The [out, in] weights of PyTorch's antialiased bicubic resize along one axis
     * (align_corners false): output i is centred at scale * (i + 0.5) in input pixels, the
     * filter's support is 2 input pixels, or 2 * scale when shrinking (the filter is stretched
     * by the scale, which is what removes aliasing), and each row is normalized to sum 1.
     */
    static double[] aaBicubicMatrix(int in, int out) {
        double[] m = new double[out * in];
        double scale = (double) in / out;
        double support = scale >= 1 ? 2 * scale : 2;
        double invScale = scale >= 1 ? 1 / scale : 1;
        for (int i = 0; i < out; i++) {
            double center = scale * (i + 0.5);
            // as PyTorch, the bounds truncate toward zero before clamping
            int lo = Math.max((int) (center - support + 0.5), 0);
            int hi = Math.min((int) (center + support + 0.5), in);
            double total = 0;
            for (int j = lo; j < hi; j++) {
                double w = keysCubic((j - center + 0.5) * invScale);
                m[i * in + j] = w;
                total += w;
            }
            if (total != 0) for (int j = lo; j < hi; j++) m[i * in + j] /= total;
        }
        return m;
    }

    /** Keys' cubic convolution kernel with a = -0.5. */
    private static double keysCubic(double x) {
        final double a = -0.5;
        x = Math.abs(x);
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        return 0;
    }

    /** The side of a square grid of n tokens; an IllegalArgumentException when n is not a square. */
    static int squareSide(int n, String what) {
        int s = (int) Math.round(Math.sqrt(n));
        if (s * s != n) throw new IllegalArgumentException(what + ": " + n + " grid tokens are not a square grid; give the old grid size");
        return s;
    }
}
