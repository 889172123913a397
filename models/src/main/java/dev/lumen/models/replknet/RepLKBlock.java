package dev.lumen.models.replknet;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.DropPath;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * x + drop_path(pw2(relu(large_kernel(pw1(prelkb_bn(x)))))): a pre-BN, a 1x1 conv_bn_relu to
 * the depth-wise width (channels * dw_ratio), the large depth-wise kernel, ReLU, and a 1x1
 * conv_bn back, on a residual path.
 */
final class RepLKBlock extends Module implements Layer {
    private final ConvBn pw1, pw2;
    private final ReparamLargeKernelConv largeKernel;
    private BatchNorm2d prelkbBn;
    private final DropPath dropPath;

    RepLKBlock(int channels, int dwChannels, int kernel, int smallKernel, double dropPath, boolean merged, Generator gen) {
        // registration order as the official __init__, so the state dict lists keys in its order
        pw1 = registerModule("pw1", new ConvBn(channels, dwChannels, 1, 1, 1, true, gen));
        pw2 = registerModule("pw2", new ConvBn(dwChannels, channels, 1, 1, 1, false, gen));
        largeKernel = registerModule("large_kernel", new ReparamLargeKernelConv(dwChannels, kernel, smallKernel, merged, gen));
        prelkbBn = registerModule("prelkb_bn", new BatchNorm2d(channels));
        this.dropPath = dropPath > 0 ? registerModule("drop_path", new DropPath(dropPath, true, gen)) : null;
    }

    /** Folds pw1's and pw2's BNs into their convs and the pre-BN into pw1 (exact: pw1 is 1x1 without padding). */
    void fuseBatchNorms() {
        pw2.fuse();
        if (prelkbBn != null) {
            pw1.absorbInputBn(prelkbBn);
            Surgery.removeChild(this, "prelkb_bn");
            prelkbBn = null;
        }
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = prelkbBn == null ? x : prelkbBn.forward(x);
        y = pw2.forward(Activations.reluInplace(largeKernel.forward(pw1.forward(y))));
        return x.add(dropPath == null ? y : dropPath.forward(y));
    }
}
