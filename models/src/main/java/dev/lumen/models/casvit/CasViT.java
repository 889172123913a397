package dev.lumen.models.casvit;

import dev.lumen.models.GroupMatcher;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.MacCounter;
import dev.lumen.models.ModelOptions;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Chain;
import dev.lumen.nn.Identity;
import dev.lumen.nn.Init;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.nn.ModuleList;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Pooling;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * CAS-ViT (Zhang et al., "CAS-ViT: Convolutional Additive Self-attention Vision Transformers
 * for Efficient Mobile Applications", 2024), the RCViT classifier of the official code
 * (Tianfang-Zhang/CAS-ViT, classification/model/rcvit.py).
 *
 * <p>Key idea: self-attention without the N x N token matrix. q and k each pass a spatial and
 * a channel gate (sigmoid attention maps from cheap convs), are added, mixed by a depth-wise
 * conv and multiply v: the "convolutional additive" token mixer, linear in the number of
 * tokens and made only of convs and element-wise ops, which mobile hardware runs well. The
 * network is a four-stage pyramid (stem /4, then three stride-2 embeddings) of blocks with a
 * local-perception branch, the additive mixer and a conv MLP, all with BatchNorm.
 *
 * <p>Parameter names are the official ones: patch_embed.{0,1,3,4}, network.{0,2,4,6}.B (blocks:
 * local_perception.network.*, norm1, attn.{qkv, oper_q, oper_k, dwc, proj}, norm2,
 * mlp.{fc1, fc2}), network.{1,3,5} (embeddings: proj, norm), norm, head, dist_head.
 * The published counts (rcvit_xs 3.20M ...) include the distillation head.
 *
 * <p>Options: {@code distillation} (default on, as the official model): a second linear head,
 * dist_head; {@link #forward} returns the mean of the two heads, in training too (as timm's
 * distilled models do unless distilled training is set; the official forward returns the
 * pair in training), and {@link #forwardHeads} returns the pair for a distillation loss.
 * {@code small_input_stem} (default off): the first stem conv runs at stride 1, so the
 * network reduces by 16 instead of 32 (28x28 gives stage maps 14, 7, 4, 2 instead of 7, 4, 2,
 * 1); the weights keep their shapes, so published checkpoints still load. Without it 28x28
 * and 32x32 also work (the last stage is 1x1). {@code fused_attention} (default on): the
 * token mixer's core runs as the fused {@link dev.lumen.ops.AdditiveAttention} op; off runs
 * the modules one by one (same math). dropRate is the official drop_rate: dropout inside the
 * MLPs and after the mixer's proj (not before the head); dropPathRate rises linearly over
 * the blocks as in the official Stage.
 */
public final class CasViT extends ImageClassifier {

    static {
        // the fused mixer counts as its convs would (fvcore): per gate a dw 3x3 conv, a 1x1 conv to one
        // channel and a CxC 1x1 conv on the pooled means; then dwc, a dw 3x3 conv
        MacCounter.register("additive_attention", (out, in) -> {
            Tensor q = in.get(0);
            long b = q.shape(0), c = q.shape(1), hw = (long) q.shape(2) * q.shape(3);
            return 2 * (10 * b * c * hw + b * c * c) + 9 * b * c * hw;
        });
    }

    /**
     * One architecture.
     *
     * @param layers    blocks per stage
     * @param embedDims widths of the four stages
     * @param mlpRatio  MLP hidden width / width
     */
    public record Config(String name, int[] layers, int[] embedDims, double mlpRatio) {
        public Config {
            if (layers == null || layers.length != 4 || Arrays.stream(layers).anyMatch(n -> n < 1)) {
                throw new IllegalArgumentException("CasViT.Config " + name + ": layers must be four counts >= 1, got " + Arrays.toString(layers));
            }
            if (embedDims == null || embedDims.length != 4 || Arrays.stream(embedDims).anyMatch(n -> n < 2)) {
                throw new IllegalArgumentException("CasViT.Config " + name + ": embedDims must be four widths >= 2, got " + Arrays.toString(embedDims));
            }
            if (!(mlpRatio > 0)) throw new IllegalArgumentException("CasViT.Config " + name + ": mlpRatio must be positive, got " + mlpRatio);
            layers = layers.clone();
            embedDims = embedDims.clone();
        }

        @Override
        public int[] layers() { return layers.clone(); }

        @Override
        public int[] embedDims() { return embedDims.clone(); }

        public static Config rcvit_xs() { return new Config("rcvit_xs", new int[] {2, 2, 4, 2}, new int[] {48, 56, 112, 220}, 4); }

        public static Config rcvit_s() { return new Config("rcvit_s", new int[] {3, 3, 6, 3}, new int[] {48, 64, 128, 256}, 4); }

        public static Config rcvit_m() { return new Config("rcvit_m", new int[] {3, 3, 6, 3}, new int[] {64, 96, 192, 384}, 4); }

        public static Config rcvit_t() { return new Config("rcvit_t", new int[] {3, 3, 6, 3}, new int[] {96, 128, 256, 512}, 4); }

        /** The published configurations, by official name. */
        public static List<Config> presets() { return List.of(rcvit_xs(), rcvit_s(), rcvit_m(), rcvit_t()); }
    }

    /** The two classifier outputs of a distilled model: the main head and the distillation head. */
    public record Heads(Tensor head, Tensor distHead) {}

    private final Config config;
    private final boolean distillation, smallStem;
    private final int numFeatures;
    private final Generator gen;
    private int numClasses;
    private final Sequential patchEmbed;
    private final ModuleList<Module> network = new ModuleList<>();
    private final BatchNorm2d norm;

    public CasViT(Config config, ModelOptions options) { this(config, options, Generator.global()); }

    public CasViT(Config config, ModelOptions options, Generator gen) {
        this.config = config;
        this.gen = gen;
        this.distillation = options.flag("distillation", true);
        this.smallStem = options.flag("small_input_stem", false);
        boolean fused = options.flag("fused_attention", true);
        this.numClasses = options.numClasses();
        int[] dims = config.embedDims(), layers = config.layers();
        int half = dims[0] / 2;
        patchEmbed = registerModule("patch_embed", new Sequential(
                Layers.conv(options.inChannels(), half, 3, smallStem ? 1 : 2, 1, 1, true, gen), new BatchNorm2d(half), new ReLU(true),
                Layers.conv(half, dims[0], 3, 2, 1, 1, true, gen), new BatchNorm2d(dims[0]), new ReLU(true)));
        int total = Arrays.stream(layers).sum(), index = 0;
        for (int s = 0; s < 4; s++) {
            Sequential stage = new Sequential();
            for (int b = 0; b < layers[s]; b++, index++) {
                double dp = total > 1 ? options.dropPathRate() * index / (total - 1) : 0;
                stage.add(new AdditiveBlock(dims[s], config.mlpRatio(), options.dropRate(), dp, fused, gen));
            }
            network.add(stage);
            if (s < 3) network.add(new Embedding(dims[s], dims[s + 1], gen));
        }
        registerModule("network", network);
        numFeatures = dims[3];
        norm = registerModule("norm", new BatchNorm2d(numFeatures));
        registerModule("head", classifier(numClasses));
        if (distillation) registerModule("dist_head", classifier(numClasses));
    }

    /** Linear(numFeatures, n), weight truncated normal std 0.02 and bias 0 (the official init); Identity for n = 0. */
    private Module classifier(int n) {
        if (n == 0) return new Identity();
        Linear l = new Linear(numFeatures, n, true, gen);
        Init.truncNormal(l.weight(), 0.02, gen);
        Init.zeros(l.bias());
        return l;
    }

    public Config config() { return config; }

    public boolean distillation() { return distillation; }

    public boolean smallInputStem() { return smallStem; }

    /** Stem, the four stages with their embeddings, then the final BatchNorm: [N, C, H/32, W/32] (H/16 with the small stem). */
    @Override
    public Tensor forwardFeatures(Tensor x) {
        List<Layer> steps = new ArrayList<>();
        steps.add(patchEmbed);
        for (Module m : network) steps.add((Layer) m);
        steps.add(norm);
        return Chain.forward(x, steps);
    }

    @Override
    public Tensor forwardHead(Tensor features, boolean preLogits) {
        Tensor pooled = pool(features);
        if (preLogits || numClasses == 0) return pooled;
        Tensor out = head("head").forward(pooled);
        return distillation ? out.add(head("dist_head").forward(pooled)).mul(0.5) : out;
    }

    /** Both heads' logits on images x, for a distillation loss (the official training-mode output). */
    public Heads forwardHeads(Tensor x) {
        if (!distillation) throw new IllegalStateException("forwardHeads: this CasViT was built without the distillation head (distillation=false)");
        if (numClasses == 0) throw new IllegalStateException("forwardHeads: the classifier was reset to 0 classes");
        Tensor pooled = pool(forwardFeatures(x));
        return new Heads(head("head").forward(pooled), head("dist_head").forward(pooled));
    }

    private static Tensor pool(Tensor features) { return Pooling.globalAvgPool2d(features).flatten(1, 3); }

    private Layer head(String name) { return (Layer) child(name); }

    @Override
    public void resetClassifier(int n) {
        if (n < 0) throw new IllegalArgumentException("resetClassifier: numClasses must be >= 0, got " + n);
        replaceChild("head", classifier(n));
        if (distillation) replaceChild("dist_head", classifier(n));
        numClasses = n;
    }

    @Override
    public int numClasses() { return numClasses; }

    @Override
    public int numFeatures() { return numFeatures; }

    @Override
    public int defaultImgSize() { return 224; }

    /**
     * timm's VOLO rule applied to CAS-ViT (same network.STAGE.BLOCK layout; timm has no CAS-ViT):
     * the stem, one layer per block and per downsampling embedding, the final norm with the last.
     */
    @Override
    public GroupMatcher groupMatcher() {
        return new GroupMatcher().group().rule("^patch_embed")
                .group().rule("^network\\.(\\d+)\\.(\\d+)").rule("^network\\.(\\d+)", 0).rule("^norm", GroupMatcher.MATCH_PREV_GROUP);
    }

    @Override
    public String headPrefix() { return "head"; }

    @Override
    public List<String> headPrefixes() { return distillation ? List.of("head", "dist_head") : List.of("head"); }
}
