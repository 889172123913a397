package dev.lumen.models;

import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.ops.Convolution;
import dev.lumen.ops.LinearAlgebra;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * A conv + global-average + linear classifier built from ops, for the infrastructure tests:
 * conv "stem" (inChannels -> width, 3x3, stride 2, padding 1, groups), classifier "fc".
 */
final class TinyClassifier extends ImageClassifier {
    private final int width;
    private final int groups;
    private int numClasses;

    static final class Fc extends Module implements Layer {
        Fc(int in, int out, Generator gen) {
            registerParameter("weight", Tensor.randn(gen, dev.lumen.tensor.DType.F32, out, in).mul(0.1));
            registerParameter("bias", Tensor.zeros(out));
        }

        @Override
        public Tensor forward(Tensor x) { return LinearAlgebra.linear(x, param("weight"), param("bias")); }
    }

    static final class Stem extends Module implements Layer {
        private final int groups;

        Stem(int in, int out, int groups, Generator gen) {
            this.groups = groups;
            registerParameter("weight", Tensor.randn(gen, dev.lumen.tensor.DType.F32, out, in / groups, 3, 3).mul(0.2));
            registerParameter("bias", Tensor.zeros(out));
        }

        @Override
        public Tensor forward(Tensor x) {
            return Convolution.conv2d(x, param("weight"), param("bias"), new int[] {2}, new int[] {1}, new int[] {1}, groups);
        }
    }

    TinyClassifier(int inChannels, int width, int groups, int numClasses) {
        this.width = width;
        this.groups = groups;
        this.numClasses = numClasses;
        Generator gen = new Generator(7);
        registerModule("stem", new Stem(inChannels, width, groups, gen));
        registerModule("fc", new Fc(width, numClasses, gen));
    }

    @Override
    public Tensor forwardFeatures(Tensor x) { return Activations.relu(((Stem) child("stem")).forward(x)); }

    @Override
    public Tensor forwardHead(Tensor f, boolean preLogits) {
        int hw = f.shape(2) * f.shape(3);
        Tensor pooled = f.reshape(f.shape(0), f.shape(1), hw).sum(2).mul(1.0 / hw);
        return preLogits ? pooled : ((Fc) child("fc")).forward(pooled);
    }

    @Override
    public void resetClassifier(int n) {
        replaceChild("fc", new Fc(width, n, new Generator(11)));
        numClasses = n;
    }

    @Override
    public int numClasses() { return numClasses; }

    @Override
    public int numFeatures() { return width; }

    @Override
    public int defaultImgSize() { return 16; }

    @Override
    public String headPrefix() { return "fc"; }
}
