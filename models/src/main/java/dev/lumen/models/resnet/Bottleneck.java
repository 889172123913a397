package dev.lumen.models.resnet;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.ConvBnAct;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Activations;
import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * ResNet's bottleneck (v1.5, the stride on the 3x3 conv as in timm and torchvision):
 * 1x1 reduce to planes, 3x3, 1x1 expand to 4 * planes, plus the (projected) shortcut.
 */
final class Bottleneck extends Module implements Layer {
    static final int EXPANSION = 4;

    private final Conv2d conv1, conv2, conv3;
    private final BatchNorm2d bn1, bn2, bn3;
    private final Sequential downsample;
    private final double dropPath;
    private final Generator gen;

    Bottleneck(int inplanes, int planes, int stride, double dropPath, Generator gen) {
        int out = planes * EXPANSION;
        this.dropPath = dropPath;
        this.gen = gen;
        conv1 = registerModule("conv1", Blocks.conv(inplanes, planes, 1, 1, 0, gen));
        bn1 = registerModule("bn1", Blocks.bn(planes));
        conv2 = registerModule("conv2", Blocks.conv(planes, planes, 3, stride, 1, gen));
        bn2 = registerModule("bn2", Blocks.bn(planes));
        conv3 = registerModule("conv3", Blocks.conv(planes, out, 1, 1, 0, gen));
        bn3 = registerModule("bn3", Blocks.bn(out));
        downsample = stride != 1 || inplanes != out ? registerModule("downsample", Blocks.downsample(inplanes, out, stride, gen)) : null;
    }

    /** The BN whose weight zero_init_last zeroes, so the block starts as the identity. */
    BatchNorm2d lastBn() { return bn3; }

    /**
     * At inference with folded BatchNorm every step here reads any layout at full speed, so the
     * convolutions keep the activations channels-last from block to block, as oneDNN computes
     * them: no reorder around each convolution. Training and every other backend run NCHW.
     */
    @Override
    public Tensor forward(Tensor x) {
        Tensor y = ConvBnAct.apply(conv1, bn1, true, x, true);
        y = ConvBnAct.apply(conv2, bn2, true, y, true);
        y = ConvBnAct.apply(conv3, bn3, false, y, true);
        if (dropPath > 0) y = Regularization.dropPath(y, dropPath, isTraining(), gen, true);
        return Activations.addRelu(y, Blocks.shortcut(downsample, x, true));
    }
}
