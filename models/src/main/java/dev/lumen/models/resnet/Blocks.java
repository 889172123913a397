package dev.lumen.models.resnet;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.ConvBnAct;
import dev.lumen.nn.Init;
import dev.lumen.nn.Sequential;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

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

    /** The shortcut of a block: x through its projection ({@link #downsample}, conv + BN), or x itself when it has none. */
    static Tensor shortcut(Sequential downsample, Tensor x) { return shortcut(downsample, x, false); }

    /** As {@link #shortcut(Sequential, Tensor)}, the folded projection's output channels-last when asked ({@link ConvBnAct}). */
    static Tensor shortcut(Sequential downsample, Tensor x, boolean channelsLast) {
        return downsample == null ? x : ConvBnAct.apply((Conv2d) downsample.get(0), (BatchNorm2d) downsample.get(1), false, x, channelsLast);
    }
}
