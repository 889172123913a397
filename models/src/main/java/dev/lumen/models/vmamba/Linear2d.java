package dev.lumen.models.vmamba;

import dev.lumen.nn.Linear;
import dev.lumen.ops.LinearAlgebra;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * A Linear applied at every position of a channel-first map [B, in, H, W] -> [B, out, H, W],
 * as VMamba's Linear2d: the weight stays [out, in] (checkpoints of the channel-last and the
 * channel-first layouts load alike), and the product is one GEMM per image, weight @ x[b]
 * seen as [in, H*W], so the map is never permuted.
 */
final class Linear2d extends Linear {

    Linear2d(int in, int out, boolean bias, Generator gen) { super(in, out, bias, gen); }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() != 4 || x.shape(1) != inFeatures()) {
            throw new IllegalArgumentException("Linear2d(" + inFeatures() + ", " + outFeatures() + "): expects [B, " + inFeatures()
                    + ", H, W], got " + Arrays.toString(x.shape()));
        }
        int b = x.shape(0), h = x.shape(2), w = x.shape(3);
        Tensor y = LinearAlgebra.matmul(weight(), x.reshape(b, inFeatures(), h * w));
        if (bias() != null) y = y.add(bias().view(outFeatures(), 1));
        return y.view(b, outFeatures(), h, w);
    }

    @Override
    public String toString() { return "Linear2d(" + inFeatures() + ", " + outFeatures() + (bias() != null ? "" : ", bias=false") + ")"; }
}
