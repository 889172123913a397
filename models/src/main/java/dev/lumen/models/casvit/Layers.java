package dev.lumen.models.casvit;

import dev.lumen.nn.Conv2d;
import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** Construction helpers the CAS-ViT modules share (PyTorch's default conv init, as the official code keeps it). */
final class Layers {
    private Layers() {}

    /** A square conv with torch's default init. */
    static Conv2d conv(int in, int out, int kernel, int stride, int padding, int groups, boolean bias, Generator gen) {
        return new Conv2d(in, out, new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding},
                new int[] {1, 1}, groups, bias, gen);
    }

    /** A depth-wise 3x3 conv with bias, padding 1 (dwc, proj, the gates' and LocalIntegration's). */
    static Conv2d dw3x3(int dim, Generator gen) { return conv(dim, dim, 3, 1, 1, dim, true, gen); }

    /** Dropout that is the identity when p is 0 or in eval. */
    static Tensor dropout(Tensor x, double p, boolean training, Generator gen) {
        return p > 0 && training ? Regularization.dropout(x, p, true, gen) : x;
    }
}
