package dev.lumen.models.vmamba;

import dev.lumen.autograd.GradMode;
import dev.lumen.models.GroupMatcher;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.nn.Chain;
import dev.lumen.nn.Identity;
import dev.lumen.nn.Init;
import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm2d;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * VMamba (Liu et al., "VMamba: Visual State Space Model", NeurIPS 2024).
 *
 * <p>VMamba brings Mamba's selective state-space model to images. A 1-D selective scan
 * reads a sequence once, in linear time, with a hidden state whose update (step dt, input
 * and output maps B and C) depends on the current input, so it can keep or forget context.
 * An image has no order, so the 2-D selective scan (SS2D) unfolds the feature map along four
 * routes (row-major, column-major and both reversed), scans each and sums the results at
 * each position: every position sees context from all four directions, a global receptive
 * field at linear cost. The network is hierarchical like Swin: a stride-4 stem, four stages
 * of VSS blocks (SS2D, plus an MLP in v2) at widths C, 2C, 4C, 8C, downsampling between
 * stages, then LayerNorm, global average pooling and a linear head.
 *
 * <p>Layout and parameter names follow the official MzeroMiko/VMamba
 * classification/models/vmamba.py (VSSM): patch_embed.{0,2[,5,7]}, layers.i.blocks.j.{norm,
 * op.{in_proj, conv2d, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds, out_norm,
 * out_proj}, norm2, mlp.fc1, mlp.fc2}, layers.i.downsample, classifier.norm and
 * classifier.head, so the published checkpoints load by name ({@link #convertOfficial}
 * also maps the key names of the first v0 release). Maps stay channel-first throughout (the
 * official "ln2d" layout of the v2 models); the v0 models were trained channel-last ("ln"),
 * which is the same arithmetic, since every norm and linear layer acts per position.
 *
 * <p>Variants and the official configurations they are:
 * <ul>
 * <li>vmamba_tiny = vssm1_tiny_0230s ("VMamba-T[s1l8]"): dims 96, depths [2, 2, 8, 2],
 *     d_state 1, ssm_ratio 1.0, dt_rank auto, forward_type v05_noz, 3x3 conv without bias,
 *     mlp_ratio 4, patch embed v2, downsample v3, norm ln2d.
 * <li>vmamba_small = vssm1_small_0229 ("VMamba-S[s2l15]", configs/vssm/vmambav2_small_224.yaml):
 *     as tiny with ssm_ratio 2.0 and depths [2, 2, 15, 2].
 * <li>vmamba_base = vssm1_base_0229 ("VMamba-B[s2l15]", vmambav2_base_224.yaml): as small with dims 128.
 * <li>vmamba_tiny_v0 / vmamba_small_v0 / vmamba_base_v0 = vssm_tiny / vssm_small / vssm_base
 *     (the arXiv v1 models, vmambav0_*_224.yaml): dims 96 / 96 / 128, depths [2, 2, 9, 2] /
 *     [2, 2, 27, 2] / [2, 2, 27, 2], d_state 16, ssm_ratio 2.0, forward_type v0 (SiLU-gated z
 *     branch), 3x3 conv with bias, no MLP, patch embed v1, PatchMerging2D downsample, norm ln.
 * </ul>
 *
 * <p>Small inputs: with the published stem (stride 4) and three stride-2 downsamples, 32x32
 * gives 8x8, 4x4, 2x2, 1x1 maps and 28x28 gives 7x7, 4x4, 2x2, 1x1 (the v1 merge pads odd
 * sides, the v2 convs round up), so small images run as they are. The option
 * {@code stem_stride} (4, 2 or 1; {@code small_input_stem} = true means 1) runs the stem at a
 * smaller stride with the same weights (see {@link PatchEmbed}): at 32x32 and stride 1 the
 * stages see 32, 16, 8 and 4.
 */
public final class VMamba extends ImageClassifier {

    /** The stem: a 4x4 patch conv (v1) or two 3x3 stride-2 convs (v2). */
    public enum PatchEmbedVersion { V1, V2 }

    /** Between stages: PatchMerging2D (v1) or a 3x3 stride-2 conv + norm (v3). */
    public enum DownsampleVersion { V1, V3 }

    /**
     * One architecture, in the official VSSM arguments.
     *
     * @param official   the official configuration name (checkpoint prefix)
     * @param dim        width of the first stage (dims[0]); stage i has dim * 2^i
     * @param depths     VSS blocks per stage
     * @param dState     ssm_d_state N
     * @param ssmRatio   d_inner = ssmRatio * width
     * @param ssmDtRank  the dt bottleneck rank; 0 for "auto" = ceil(width / 16)
     * @param ssmConv    the depth-wise conv kernel (3)
     * @param convBias   ssm_conv_bias
     * @param gated      the z branch of forward_type v0 (v05_noz has none)
     * @param mlpRatio   MLP hidden = mlpRatio * width; 0 for no MLP (v0)
     */
    public record Config(String name, String official, int dim, int[] depths, int dState, double ssmRatio, int ssmDtRank, int ssmConv,
                         boolean convBias, boolean gated, double mlpRatio, PatchEmbedVersion patchEmbed, DownsampleVersion downsample) {
        public Config {
            if (depths == null || depths.length != 4 || Arrays.stream(depths).anyMatch(n -> n < 1)) {
                throw new IllegalArgumentException("VMamba.Config " + name + ": depths must be four counts >= 1, got " + Arrays.toString(depths));
            }
            if (dim < 2 || dState < 1 || !(ssmRatio > 0) || ssmDtRank < 0 || mlpRatio < 0) {
                throw new IllegalArgumentException("VMamba.Config " + name + ": dim " + dim + ", d_state " + dState + ", ssm_ratio " + ssmRatio
                        + ", dt_rank " + ssmDtRank + ", mlp_ratio " + mlpRatio);
            }
            depths = depths.clone();
        }

        @Override
        public int[] depths() { return depths.clone(); }

        /** The dt rank at a stage of width dModel. */
        public int dtRank(int dModel) { return ssmDtRank > 0 ? ssmDtRank : (dModel + 15) / 16; }

        /** A v2 configuration: forward_type v05_noz, conv 3 without bias, MLP, patch embed v2, downsample v3. */
        public static Config v2(String name, String official, int dim, int[] depths, int dState, double ssmRatio, double mlpRatio) {
            return new Config(name, official, dim, depths, dState, ssmRatio, 0, 3, false, false, mlpRatio, PatchEmbedVersion.V2,
                    DownsampleVersion.V3);
        }

        /** A v0 configuration: forward_type v0 (gated), conv 3 with bias, no MLP, patch embed v1, PatchMerging2D. */
        public static Config v0(String name, String official, int dim, int[] depths, int dState, double ssmRatio) {
            return new Config(name, official, dim, depths, dState, ssmRatio, 0, 3, true, true, 0, PatchEmbedVersion.V1,
                    DownsampleVersion.V1);
        }

        public static Config vmambaTiny() { return v2("vmamba_tiny", "vssm1_tiny_0230s", 96, new int[] {2, 2, 8, 2}, 1, 1.0, 4.0); }

        public static Config vmambaSmall() { return v2("vmamba_small", "vssm1_small_0229", 96, new int[] {2, 2, 15, 2}, 1, 2.0, 4.0); }

        public static Config vmambaBase() { return v2("vmamba_base", "vssm1_base_0229", 128, new int[] {2, 2, 15, 2}, 1, 2.0, 4.0); }

        public static Config vmambaTinyV0() { return v0("vmamba_tiny_v0", "vssm_tiny", 96, new int[] {2, 2, 9, 2}, 16, 2.0); }

        public static Config vmambaSmallV0() { return v0("vmamba_small_v0", "vssm_small", 96, new int[] {2, 2, 27, 2}, 16, 2.0); }

        public static Config vmambaBaseV0() { return v0("vmamba_base_v0", "vssm_base", 128, new int[] {2, 2, 27, 2}, 16, 2.0); }

        /** The published configurations. */
        public static List<Config> presets() {
            return List.of(vmambaTiny(), vmambaSmall(), vmambaBase(), vmambaTinyV0(), vmambaSmallV0(), vmambaBaseV0());
        }
    }

    /** layers.i: its blocks and the downsample to the next stage (none after the last). */
    private static final class Stage extends Module implements Layer {
        private final Sequential blocks;
        private final Layer downsample;

        Stage(Sequential blocks, Module downsample) {
            this.blocks = registerModule("blocks", blocks);
            this.downsample = downsample == null ? null : (Layer) registerModule("downsample", downsample);
        }

        @Override
        public Tensor forward(Tensor x) {
            x = blocks.forward(x);
            return downsample == null ? x : downsample.forward(x);
        }
    }

    /** classifier: norm over the last stage's channels, then (after pooling) head. */
    private static final class Classifier extends Module {
        Classifier(int features, Module head) {
            registerModule("norm", new LayerNorm2d(features, 1e-5));
            registerModule("head", head);
        }
    }

    private final Config config;
    private final Generator gen;
    private final double dropRate;
    private final int numFeatures;
    private int numClasses;
    private final PatchEmbed patchEmbed;
    private final List<Stage> stages;
    private final Classifier classifier;

    public VMamba(Config config, ModelOptions options) { this(config, options, Generator.global()); }

    public VMamba(Config config, ModelOptions options, Generator gen) {
        this.config = config;
        this.gen = gen;
        this.dropRate = options.dropRate();
        this.numClasses = options.numClasses();
        int stemStride = options.intOption("stem_stride", options.flag("small_input_stem", false) ? 1 : 4);
        patchEmbed = registerModule("patch_embed",
                new PatchEmbed(config.patchEmbed() == PatchEmbedVersion.V2, options.inChannels(), config.dim(), stemStride, gen));
        int[] depths = config.depths();
        int total = Arrays.stream(depths).sum(), index = 0;
        ModuleList<Stage> layers = new ModuleList<>();
        for (int i = 0; i < 4; i++) {
            int width = config.dim() << i;
            Sequential blocks = new Sequential();
            for (int j = 0; j < depths[i]; j++, index++) {
                // stochastic depth rises linearly over all blocks, as torch.linspace(0, rate, total)
                double dp = total > 1 ? options.dropPathRate() * index / (total - 1) : 0;
                blocks.add(new VSSBlock(width, config, dp, gen));
            }
            Module down = i == 3 ? null
                    : config.downsample() == DownsampleVersion.V3 ? new Downsample(width, 2 * width, gen)
                    : new PatchMerging2D(width, 2 * width, gen);
            layers.add(new Stage(blocks, down));
        }
        registerModule("layers", layers);
        List<Stage> built = new java.util.ArrayList<>();
        for (Stage s : layers) built.add(s);
        stages = List.copyOf(built);
        numFeatures = config.dim() << 3;
        classifier = registerModule("classifier", new Classifier(numFeatures, head(numClasses)));
    }

    /** A position-wise linear layer with VSSM._init_weights: weight trunc_normal(std 0.02), bias 0. */
    static Linear2d linear(int in, int out, boolean bias, Generator gen) {
        Linear2d l = new Linear2d(in, out, bias, gen);
        initLinear(l, gen);
        return l;
    }

    private static void initLinear(Linear l, Generator gen) {
        try (GradMode ng = GradMode.noGrad()) {
            Init.truncNormal(l.weight(), 0.02, gen);
            if (l.bias() != null) Init.zeros(l.bias());
        }
    }

    private Module head(int n) {
        if (n == 0) return new Identity();
        Linear l = new Linear(numFeatures, n, true, gen);
        initLinear(l, gen);
        return l;
    }

    public Config config() { return config; }

    @Override
    public Tensor forwardFeatures(Tensor x) {
        if (x.dim() != 4) throw new IllegalArgumentException(config.name() + ": expects images [N, C, H, W], got " + Arrays.toString(x.shape()));
        List<Layer> steps = new ArrayList<>();
        steps.add(patchEmbed);
        steps.addAll(stages);
        return Chain.forward(x, steps);
    }

    @Override
    public Tensor forwardHead(Tensor features, boolean preLogits) {
        Tensor y = ((Layer) classifier.child("norm")).forward(features);
        Tensor pooled = Pooling.globalAvgPool2d(y).flatten(1, 3);
        if (dropRate > 0) pooled = Regularization.dropout(pooled, dropRate, isTraining(), gen);
        return preLogits ? pooled : ((Layer) classifier.child("head")).forward(pooled);
    }

    @Override
    public void resetClassifier(int n) {
        if (n < 0) throw new IllegalArgumentException("resetClassifier: numClasses must be >= 0, got " + n);
        replaceChild("classifier.head", head(n));
        numClasses = n;
    }

    @Override
    public int numClasses() { return numClasses; }

    @Override
    public int numFeatures() { return numFeatures; }

    @Override
    public int defaultImgSize() { return 224; }

    /**
     * timm's rule applied to VMamba (timm has no VMamba): the patch embedding, one layer per VSS
     * block; a stage's downsample joins its last block and the final norm the last one.
     */
    @Override
    public GroupMatcher groupMatcher() {
        return new GroupMatcher().group().rule("^patch_embed")
                .group().rule("^layers\\.(\\d+)\\.blocks\\.(\\d+)").rule("^layers\\.(\\d+)\\.downsample", GroupMatcher.MATCH_PREV_GROUP)
                .rule("^classifier\\.norm", GroupMatcher.MATCH_PREV_GROUP);
    }

    @Override
    public String headPrefix() { return "classifier.head"; }

    /** A block key of the first v0 release (layers.i.blocks.j.ln_1 / self_attention). */
    private static final Pattern LEGACY_BLOCK = Pattern.compile("^(layers\\.\\d+\\.blocks\\.\\d+\\.)(ln_1|self_attention)\\.");

    /**
     * A state dict from an official checkpoint with this model's key names and shapes: the
     * first v0 release's names (patch_embed.proj / .norm, blocks' ln_1 and self_attention,
     * top-level norm and head) become patch_embed.0 / .2, norm and op, classifier.norm and
     * classifier.head, as the official VSSM._load_from_state_dict renames them; and position-wise
     * linear weights saved as 1x1 convs ([out, in, 1, 1]) are viewed as [out, in]. Tensors are
     * shared with state, not copied.
     */
    public static Map<String, Tensor> convertOfficial(Map<String, Tensor> state) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : state.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("patch_embed.proj.")) k = "patch_embed.0." + k.substring("patch_embed.proj.".length());
            else if (k.startsWith("patch_embed.norm.")) k = "patch_embed.2." + k.substring("patch_embed.norm.".length());
            else if (k.startsWith("norm.") || k.startsWith("head.")) k = "classifier." + k;
            k = LEGACY_BLOCK.matcher(k).replaceFirst(m -> m.group(1) + (m.group(2).equals("ln_1") ? "norm" : "op") + ".");
            Tensor t = e.getValue();
            boolean pointwise = k.endsWith("in_proj.weight") || k.endsWith("out_proj.weight") || k.endsWith("fc1.weight")
                    || k.endsWith("fc2.weight") || k.endsWith("reduction.weight");
            if (pointwise && t.dim() == 4 && t.shape(2) == 1 && t.shape(3) == 1) t = t.view(t.shape(0), t.shape(1));
            out.put(k, t);
        }
        return out;
    }
}
