package dev.lumen.models.replknet;

import dev.lumen.models.GroupMatcher;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Chain;
import dev.lumen.nn.Identity;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.nn.ModuleList;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Pooling;
import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * RepLKNet (Ding et al., "Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in
 * CNNs", CVPR 2022).
 *
 * <p>Key idea: a few very large depth-wise kernels (31x31 down to 13x13) give a CNN the large
 * effective receptive field of a vision transformer at little cost, because depth-wise
 * convolutions are cheap. Large kernels are hard to optimize alone, so each is trained with a
 * parallel small kernel (5x5) and both are merged into one kernel after training (structural
 * re-parameterization), leaving a plain stack of convolutions for inference. Blocks are
 * pre-BN residual pairs: RepLKBlock (1x1, large depth-wise, 1x1) and ConvFFN (1x1 MLP).
 *
 * <p>Layout and parameter names are those of the official DingXiaoH/RepLKNet-pytorch
 * replknet.py (stem.i.conv/bn, stages.s.blocks.b.{prelkb_bn, pw1, large_kernel.lkb_origin,
 * large_kernel.small_conv, pw2} / {preffn_bn, pw1, pw2}, transitions.s.{0,1}, norm, head), so
 * its checkpoints load by name; with the option {@code small_kernel_merged} the model is built in
 * deploy form (large_kernel.lkb_reparam) for its re-parameterized checkpoints.
 *
 * <p>Re-parameterization: {@link #reparameterize()} is the official structural_reparam (only
 * the large-kernel branches are merged; keys then match small_kernel_merged checkpoints).
 * {@link #fuseBatchNorms()} goes on to what the official deep_fuse_BN leaves undone: every
 * remaining BN is folded into an adjacent conv or the head, leaving no BN.
 *
 * <p>Small inputs: the stem downsamples by 4 and each transition by 2 (32 in all), so 32x32
 * reaches a 1x1 map in the last stage (28x28 too, the stride-2 convs rounding up). Every
 * large kernel is padded by k / 2, so the map size is kept even when the kernel is larger
 * than the map (a 31x31 kernel on an 8x8 map reads zeros outside it, the same as a 15x15
 * crop of it would). The option {@code small_input_stem} (default off) runs both stride-2
 * stem convs at stride 1, keeping every weight's shape, for maps of 32, 16, 8 and 4 at
 * 32x32.
 */
public final class RepLKNet extends ImageClassifier {

    /**
     * One architecture, as the official create_RepLKNet* functions.
     *
     * @param largeKernels depth-wise kernel size per stage
     * @param layers       RepLKBlock + ConvFFN pairs per stage
     * @param channels     width per stage
     * @param smallKernel  the parallel small kernel (5), or 0 for none (XL)
     * @param dwRatio      depth-wise width over the stage width (1; 1.5 for XL)
     * @param ffnRatio     ConvFFN hidden width over the stage width (4)
     */
    public record Config(String name, int[] largeKernels, int[] layers, int[] channels, int smallKernel, double dwRatio, double ffnRatio) {
        public Config {
            int n = layers == null ? 0 : layers.length;
            if (n == 0 || largeKernels == null || channels == null || largeKernels.length != n || channels.length != n) {
                throw new IllegalArgumentException("RepLKNet.Config " + name + ": largeKernels " + Arrays.toString(largeKernels) + ", layers "
                        + Arrays.toString(layers) + " and channels " + Arrays.toString(channels) + " must have one entry per stage");
            }
            for (int s = 0; s < n; s++) {
                if (layers[s] < 1 || channels[s] < 1 || largeKernels[s] < 1 || largeKernels[s] % 2 == 0) {
                    throw new IllegalArgumentException("RepLKNet.Config " + name + ": stage " + s + " needs >= 1 blocks and channels and an odd kernel, got "
                            + layers[s] + ", " + channels[s] + ", " + largeKernels[s]);
                }
            }
            if (smallKernel < 0 || !(dwRatio > 0) || !(ffnRatio > 0)) {
                throw new IllegalArgumentException("RepLKNet.Config " + name + ": smallKernel " + smallKernel + ", dwRatio " + dwRatio + ", ffnRatio " + ffnRatio);
            }
            largeKernels = largeKernels.clone();
            layers = layers.clone();
            channels = channels.clone();
        }

        @Override
        public int[] largeKernels() { return largeKernels.clone(); }

        @Override
        public int[] layers() { return layers.clone(); }

        @Override
        public int[] channels() { return channels.clone(); }

        public static Config replknet_31b() {
            return new Config("replknet_31b", new int[] {31, 29, 27, 13}, new int[] {2, 2, 18, 2}, new int[] {128, 256, 512, 1024}, 5, 1, 4);
        }

        public static Config replknet_31l() {
            return new Config("replknet_31l", new int[] {31, 29, 27, 13}, new int[] {2, 2, 18, 2}, new int[] {192, 384, 768, 1536}, 5, 1, 4);
        }

        public static Config replknet_xl() {
            return new Config("replknet_xl", new int[] {27, 27, 27, 13}, new int[] {2, 2, 18, 2}, new int[] {256, 512, 1024, 2048}, 0, 1.5, 4);
        }

        public static List<Config> presets() { return List.of(replknet_31b(), replknet_31l(), replknet_xl()); }
    }

    private final Config config;
    private final Generator gen;
    private final double dropRate;
    private int numClasses;
    private final ModuleList<ConvBn> stem;
    private final ModuleList<RepLKNetStage> stages;
    private final ModuleList<Sequential> transitions;
    private BatchNorm2d norm;

    public RepLKNet(Config config, ModelOptions options) { this(config, options, Generator.global()); }

    public RepLKNet(Config config, ModelOptions options, Generator gen) {
        this.config = config;
        this.gen = gen;
        this.dropRate = options.dropRate();
        this.numClasses = options.numClasses();
        int stemStride = options.flag("small_input_stem", false) ? 1 : 2;
        boolean merged = options.flag("small_kernel_merged", false);
        int[] ch = config.channels(), layers = config.layers(), kernels = config.largeKernels();
        int c0 = ch[0];
        stem = registerModule("stem", new ModuleList<>(List.of(
                new ConvBn(options.inChannels(), c0, 3, stemStride, 1, true, gen),
                new ConvBn(c0, c0, 3, 1, c0, true, gen),
                new ConvBn(c0, c0, 1, 1, 1, true, gen),
                new ConvBn(c0, c0, 3, stemStride, c0, true, gen))));
        // stochastic depth rises linearly over the block pairs, torch.linspace(0, rate, sum(layers))
        int total = Arrays.stream(layers).sum(), index = 0;
        stages = registerModule("stages", new ModuleList<>());
        transitions = registerModule("transitions", new ModuleList<>());
        for (int s = 0; s < layers.length; s++) {
            double[] dp = new double[layers[s]];
            for (int b = 0; b < layers[s]; b++, index++) dp[b] = total > 1 ? options.dropPathRate() * index / (total - 1) : 0;
            stages.add(new RepLKNetStage(ch[s], dp, kernels[s], config.smallKernel(), config.dwRatio(), config.ffnRatio(), merged, gen));
            if (s < layers.length - 1) {
                transitions.add(new Sequential(new ConvBn(ch[s], ch[s + 1], 1, 1, 1, true, gen),
                        new ConvBn(ch[s + 1], ch[s + 1], 3, 2, ch[s + 1], true, gen)));
            }
        }
        norm = registerModule("norm", new BatchNorm2d(numFeatures()));
        registerModule("head", classifier(numClasses));
    }

    /** Linear(numFeatures, n) with PyTorch's default init; a pass-through for n = 0. */
    private Module classifier(int n) { return n > 0 ? new Linear(numFeatures(), n, true, gen) : new Identity(); }

    public Config config() { return config; }

    @Override
    public Tensor forwardFeatures(Tensor x) {
        List<Layer> steps = new ArrayList<>();
        for (ConvBn m : stem) steps.add(m);
        for (int s = 0; s < stages.size(); s++) {
            steps.add(stages.get(s));
            if (s < transitions.size()) steps.add(transitions.get(s));
        }
        return Chain.forward(x, steps);
    }

    /** norm (when not folded into the head), global average pool, dropout, head. */
    @Override
    public Tensor forwardHead(Tensor features, boolean preLogits) {
        Tensor y = norm == null ? features : norm.forward(features);
        Tensor pooled = Pooling.globalAvgPool2d(y).flatten(1, 3);
        if (dropRate > 0) pooled = Regularization.dropout(pooled, dropRate, isTraining(), gen);
        return preLogits ? pooled : ((Layer) child("head")).forward(pooled);
    }

    /**
     * The official structural_reparam: every ReparamLargeKernelConv merges its large and
     * small conv_bn branches into lkb_reparam. Outputs are unchanged in eval mode (up to
     * rounding); only these modules change, so the state dict keeps the official key names of
     * a small_kernel_merged model. Idempotent.
     */
    public void reparameterize() {
        for (Module m : namedModules().values()) if (m instanceof ReparamLargeKernelConv lk) lk.mergeKernel();
    }

    /**
     * Beyond the official code (whose deep_fuse_BN is left empty): after {@link
     * #reparameterize()}, folds every remaining BN. The BN of each conv_bn (stem.i,
     * transitions.s.i, pw1 and pw2 of every block) goes into its conv, which gains a bias; the
     * pre-BNs (prelkb_bn, preffn_bn) go into the following 1x1 pw1 conv; the final norm goes
     * into the head (it commutes with the average pool), unless the head was reset to none.
     * The model then holds no BN; outputs are unchanged in eval mode. Keys of the removed BNs
     * disappear and each conv gains .bias, so the result no longer loads official checkpoints.
     */
    public void fuseBatchNorms() {
        reparameterize();
        for (Module m : new ArrayList<>(namedModules().values())) {
            if (m instanceof ConvBn cb) cb.fuse();
            else if (m instanceof RepLKBlock b) b.fuseBatchNorms();
            else if (m instanceof ConvFFN f) f.fuseBatchNorms();
        }
        if (norm != null && child("head") instanceof Linear head) {
            Linear fused = new Linear(head.inFeatures(), head.outFeatures(), true, gen);
            Folded f = new Folded(head.weight().toDoubles(), head.bias() == null ? new double[head.outFeatures()] : head.bias().toDoubles(),
                    new int[] {head.outFeatures(), head.inFeatures(), 1, 1}).afterBn(norm);
            f.writeTo(fused.weight(), fused.bias());
            fused.train(isTraining());
            replaceChild("head", fused);
            Surgery.removeChild(this, "norm");
            norm = null;
        }
    }

    @Override
    public void resetClassifier(int n) {
        if (n < 0) throw new IllegalArgumentException("resetClassifier: numClasses must be >= 0, got " + n);
        if (norm == null) throw new IllegalStateException("resetClassifier: the norm was folded into the old head by fuseBatchNorms");
        replaceChild("head", classifier(n));
        numClasses = n;
    }

    @Override
    public int numClasses() { return numClasses; }

    @Override
    public int numFeatures() { return config.channels()[config.channels().length - 1]; }

    @Override
    public int defaultImgSize() { return 224; }

    /**
     * timm's rule applied to RepLKNet (timm has no RepLKNet): the stem, one layer per block; a
     * stage's transition joins its last block and the final norm the last one.
     */
    @Override
    public GroupMatcher groupMatcher() {
        return new GroupMatcher().group().rule("^stem")
                .group().rule("^stages\\.(\\d+)\\.blocks\\.(\\d+)").rule("^stages\\.(\\d+)", GroupMatcher.MATCH_PREV_GROUP)
                .rule("^transitions\\.(\\d+)", GroupMatcher.MATCH_PREV_GROUP).rule("^norm", GroupMatcher.MATCH_PREV_GROUP);
    }

    @Override
    public String headPrefix() { return "head"; }
}
