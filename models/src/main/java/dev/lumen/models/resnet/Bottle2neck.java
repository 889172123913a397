package dev.lumen.models.resnet;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.ConvBnAct;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.ModuleList;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Activations;
import dev.lumen.ops.Pooling;
import dev.lumen.ops.Regularization;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Res2Net's bottleneck: the 1x1 conv's output (scale * width channels) is split into scale
 * groups of width channels; group i > 0 goes through a 3x3 conv after adding the previous
 * group's output (a hierarchy of receptive fields inside one block); the last group passes
 * as is. In the first block of a stage (stride or projection) the groups are not chained
 * and the last one is average-pooled (3x3, the block's stride) to keep the shapes aligned.
 * Names as the official code and timm: conv1, bn1, convs.i, bns.i, conv3, bn3, downsample.
 */
final class Bottle2neck extends Module implements Layer {
    private final int width, scale;
    private final int stride;
    private final boolean first;
    private final Conv2d conv1, conv3;
    private final BatchNorm2d bn1, bn3;
    private final ModuleList<Conv2d> convs = new ModuleList<>();
    private final ModuleList<BatchNorm2d> bns = new ModuleList<>();
    private final Sequential downsample;
    private final double dropPath;
    private final Generator gen;

    Bottle2neck(int inplanes, int planes, int stride, int baseWidth, int scale, double dropPath, Generator gen) {
        if (scale < 1) throw new IllegalArgumentException("Bottle2neck: scale must be >= 1, got " + scale);
        int out = planes * Bottleneck.EXPANSION;
        this.width = (int) Math.floor(planes * (baseWidth / 64.0));
        if (width < 1) throw new IllegalArgumentException("Bottle2neck: width floor(" + planes + " * " + baseWidth + " / 64) is 0");
        this.scale = scale;
        this.stride = stride;
        this.dropPath = dropPath;
        this.gen = gen;
        boolean project = stride != 1 || inplanes != out;
        this.first = project;
        conv1 = registerModule("conv1", Blocks.conv(inplanes, width * scale, 1, 1, 0, gen));
        bn1 = registerModule("bn1", Blocks.bn(width * scale));
        int branches = Math.max(1, scale - 1);
        for (int i = 0; i < branches; i++) {
            convs.add(Blocks.conv(width, width, 3, stride, 1, gen));
            bns.add(Blocks.bn(width));
        }
        registerModule("convs", convs);
        registerModule("bns", bns);
        conv3 = registerModule("conv3", Blocks.conv(width * scale, out, 1, 1, 0, gen));
        bn3 = registerModule("bn3", Blocks.bn(out));
        downsample = project ? registerModule("downsample", Blocks.downsample(inplanes, out, stride, gen)) : null;
    }

    BatchNorm2d lastBn() { return bn3; }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = ConvBnAct.apply(conv1, bn1, true, x);
        List<Tensor> parts = Shaping.split(y, width, 1);
        List<Tensor> outs = new ArrayList<>(scale);
        Tensor sp = null;
        for (int i = 0; i < convs.size(); i++) {
            sp = i == 0 || first ? parts.get(i) : sp.add(parts.get(i));
            sp = ConvBnAct.apply(convs.get(i), bns.get(i), true, sp);
            outs.add(sp);
        }
        if (scale > 1) {
            Tensor last = parts.get(scale - 1);
            // count_include_pad stays on, as in the official code (the published weights were trained so)
            outs.add(first ? Pooling.avgPool2d(last, new int[] {3}, new int[] {stride}, new int[] {1}, false, true) : last);
        }
        y = outs.size() == 1 ? outs.get(0) : Shaping.cat(outs, 1);
        y = ConvBnAct.apply(conv3, bn3, false, y);
        if (dropPath > 0) y = Regularization.dropPath(y, dropPath, isTraining(), gen, true);
        return Activations.addRelu(y, Blocks.shortcut(downsample, x));
    }
}
