package dev.lumen.models.resnet;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Init;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Sequential;
import dev.lumen.tensor.Generator;

/** Layers the ResNet blocks share, initialized as timm's ResNet.init_weights does. */
final class Blocks {
    private Blocks() {}

    /** Conv without bias, weights He-normal with fan_out (timm and torchvision ResNets). */
    static Conv2d conv(int in, int out, int kernel, int stride, int padding, Generator gen) {
        Conv2d c = new Conv2d(in, out, new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding},
                new int[] {1, 1}, 1, false, gen);
        Init.kaimingNormal(c.weight(), 0, Init.FanMode.FAN_OUT, Init.Nonlinearity.RELU, gen);
        return c;
    }

    /** BatchNorm2d with PyTorch's eps 1e-5 and momentum 0.1, weight 1 and bias 0. */
    static BatchNorm2d bn(int channels) { return new BatchNorm2d(channels); }

    /** The projection shortcut: 1x1 conv (stride) + BN, as "downsample.0" / "downsample.1". */
    static Sequential downsample(int in, int out, int stride, Generator gen) {
        return new Sequential(conv(in, out, 1, stride, 0, gen), bn(out));
    }

    /** x through layer, or x itself when layer is null. */
    static dev.lumen.tensor.Tensor apply(Layer layer, dev.lumen.tensor.Tensor x) { return layer == null ? x : layer.forward(x); }
}
