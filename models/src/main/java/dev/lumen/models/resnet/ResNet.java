package dev.lumen.models.resnet;

import dev.lumen.models.GroupMatcher;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Chain;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Init;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Pooling;
import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ResNet (He et al., "Deep Residual Learning for Image Recognition", 2016) and Res2Net
 * (Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2021).
 *
 * <p>ResNet learns residuals: each block adds its output to its input, so a deep stack
 * starts near the identity and trains. Res2Net keeps the ResNet-50/101 skeleton and
 * replaces the 3x3 conv of every bottleneck by a hierarchy of small 3x3 convs over channel
 * groups, each seeing the previous group's output, which gives one block several receptive
 * fields ("scales"). Layout and parameter names are timm's (conv1, bn1, layer1.0.conv1, ...,
 * fc; Res2Net blocks add convs.i / bns.i), which are also those of the official Res2Net code,
 * so both load by name.
 *
 * <p>Small inputs: 28x28 and 32x32 work with the published stem (the last stage is 1x1).
 * The option {@code small_input_stem} (default off) keeps the stem's 7x7 conv, so weights
 * still load, but runs it at stride 1 and drops the max-pool, for 4x4 final maps at 32x32. With
 * it, {@code stem_stride} 2 halves the maps in the stem instead (14x14 first-stage maps at 28x28):
 * a quarter of the first stage's cost, for wider nets on small images.
 * The option {@code zero_init_last} (default off, as torchvision and the official Res2Net;
 * timm's default is on) zeroes each block's last BN weight.
 */
public final class ResNet extends ImageClassifier {

    /** Which bottleneck the stages use. */
    public enum Block { BOTTLENECK, BOTTLE2NECK }

    /**
     * One architecture.
     *
     * @param layers     blocks per stage ([3, 4, 6, 3] for the 50-layer nets)
     * @param block      the block type
     * @param stemWidth  channels of the 7x7 stem conv (64)
     * @param basePlanes planes of the first stage, doubled per stage (64)
     * @param baseWidth  Res2Net's width per group at 64 planes (26 in "26w")
     * @param scale      Res2Net's number of groups ("4s"); 1 for ResNet
     */
    public record Config(String name, int[] layers, Block block, int stemWidth, int basePlanes, int baseWidth, int scale) {
        public Config {
            if (layers == null || layers.length != 4 || Arrays.stream(layers).anyMatch(n -> n < 1)) {
                throw new IllegalArgumentException("ResNet.Config " + name + ": layers must be four counts >= 1, got " + Arrays.toString(layers));
            }
            layers = layers.clone();
        }

        @Override
        public int[] layers() { return layers.clone(); }

        static Config res2net(String name, int[] layers, int baseWidth, int scale) {
            return new Config(name, layers, Block.BOTTLE2NECK, 64, 64, baseWidth, scale);
        }

        public static Config resnet50() { return new Config("resnet50", new int[] {3, 4, 6, 3}, Block.BOTTLENECK, 64, 64, 64, 1); }

        public static Config res2net50_26w_4s() { return res2net("res2net50_26w_4s", new int[] {3, 4, 6, 3}, 26, 4); }

        public static Config res2net50_48w_2s() { return res2net("res2net50_48w_2s", new int[] {3, 4, 6, 3}, 48, 2); }

        public static Config res2net50_14w_8s() { return res2net("res2net50_14w_8s", new int[] {3, 4, 6, 3}, 14, 8); }

        public static Config res2net50_26w_6s() { return res2net("res2net50_26w_6s", new int[] {3, 4, 6, 3}, 26, 6); }

        public static Config res2net50_26w_8s() { return res2net("res2net50_26w_8s", new int[] {3, 4, 6, 3}, 26, 8); }

        public static Config res2net101_26w_4s() { return res2net("res2net101_26w_4s", new int[] {3, 4, 23, 3}, 26, 4); }

        /** The published configurations, by timm name. */
        public static List<Config> presets() {
            return List.of(res2net50_26w_4s(), res2net50_48w_2s(), res2net50_14w_8s(), res2net50_26w_6s(), res2net50_26w_8s(),
                    res2net101_26w_4s(), resnet50());
        }
    }

    private final Config config;
    private final int numFeatures;
    private final boolean smallStem;
    private final double dropRate;
    private final Generator gen;
    private int numClasses;
    private final Conv2d conv1;
    private final BatchNorm2d bn1;
    private final List<Sequential> stages;

    public ResNet(Config config, ModelOptions options) {
        this(config, options, Generator.global());
    }

    public ResNet(Config config, ModelOptions options, Generator gen) {
        this.config = config;
        this.gen = gen;
        this.smallStem = options.flag("small_input_stem", false);
        int stemStride = options.intOption("stem_stride", smallStem ? 1 : 2);
        if (stemStride < 1 || stemStride > 2) throw new IllegalArgumentException("ResNet " + config.name() + ": stem_stride must be 1 or 2, got " + stemStride);
        this.dropRate = options.dropRate();
        this.numClasses = options.numClasses();
        conv1 = registerModule("conv1", Blocks.conv(options.inChannels(), config.stemWidth(), 7, stemStride, 3, gen));
        bn1 = registerModule("bn1", Blocks.bn(config.stemWidth()));
        int[] layers = config.layers();
        int total = Arrays.stream(layers).sum();
        int inplanes = config.stemWidth(), index = 0;
        Sequential[] built = new Sequential[4];
        for (int s = 0; s < 4; s++) {
            int planes = config.basePlanes() << s;
            Sequential stage = new Sequential();
            for (int b = 0; b < layers[s]; b++) {
                int stride = s > 0 && b == 0 ? 2 : 1;
                // stochastic depth rises linearly over the blocks, as timm's drop_blocks schedule
                double dp = total > 1 ? options.dropPathRate() * index / (total - 1) : 0;
                stage.add(config.block() == Block.BOTTLENECK
                        ? new Bottleneck(inplanes, planes, stride, dp, gen)
                        : new Bottle2neck(inplanes, planes, stride, config.baseWidth(), config.scale(), dp, gen));
                inplanes = planes * Bottleneck.EXPANSION;
                index++;
            }
            built[s] = registerModule("layer" + (s + 1), stage);
        }
        stages = List.of(built);
        numFeatures = inplanes;
        registerModule("fc", classifier(numClasses));
        if (options.flag("zero_init_last", false)) {
            for (Module m : namedModules().values()) {
                if (m instanceof Bottleneck bt) Init.zeros(bt.lastBn().weight());
                if (m instanceof Bottle2neck bt) Init.zeros(bt.lastBn().weight());
            }
        }
    }

    /** Linear(numFeatures, n) with PyTorch's default init; an Identity-like pass-through for n = 0. */
    private Module classifier(int n) {
        return n > 0 ? new Linear(numFeatures, n, true, gen) : new dev.lumen.nn.Identity();
    }

    public Config config() { return config; }

    @Override
    public Tensor forwardFeatures(Tensor x) {
        List<Layer> steps = new ArrayList<>(List.<Layer>of(conv1, bn1::forwardRelu));
        if (!smallStem) steps.add(y -> Pooling.maxPool2d(y, new int[] {3}, new int[] {2}, new int[] {1}, false));
        steps.addAll(stages);
        return Chain.forward(x, steps);
    }

    @Override
    public Tensor forwardHead(Tensor features, boolean preLogits) {
        Tensor pooled = Pooling.globalAvgPool2d(features).flatten(1, 3);
        if (dropRate > 0) pooled = Regularization.dropout(pooled, dropRate, isTraining(), gen);
        return preLogits ? pooled : ((Layer) child("fc")).forward(pooled);
    }

    @Override
    public void resetClassifier(int n) {
        if (n < 0) throw new IllegalArgumentException("resetClassifier: numClasses must be >= 0, got " + n);
        replaceChild("fc", classifier(n));
        numClasses = n;
    }

    @Override
    public int numClasses() { return numClasses; }

    @Override
    public int numFeatures() { return numFeatures; }

    @Override
    public int defaultImgSize() { return 224; }

    /** timm's ResNet.group_matcher(coarse=False): the stem, then one layer per residual block. */
    @Override
    public GroupMatcher groupMatcher() {
        return new GroupMatcher().group().rule("^conv1|bn1|^stem").group().rule("^layer(\\d+)\\.(\\d+)");
    }

    @Override
    public String headPrefix() { return "fc"; }
}
