package dev.lumen.models.vit;

import dev.lumen.models.GroupMatcher;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.nn.Chain;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Dropout;
import dev.lumen.nn.Identity;
import dev.lumen.nn.Init;
import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.nn.Sequential;
import dev.lumen.nn.Tanh;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for
 * Image Recognition at Scale", ICLR 2021).
 *
 * <p>The image is cut into non-overlapping patches, each linearly embedded (a conv with
 * kernel = stride = patch), a learned class token is prepended and a learned absolute
 * position embedding added; a stack of pre-norm transformer blocks (multi-head
 * self-attention and an MLP, each residual) mixes all tokens globally from the first layer,
 * and the class token's final state, layer-normed, feeds the classifier. The original
 * ImageNet-21k models put a representation layer (Linear + tanh, "pre_logits") before it.
 *
 * <p>Layout and parameter names are timm's VisionTransformer (patch_embed.proj, cls_token,
 * pos_embed, blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm,
 * pre_logits.fc, head), so timm checkpoints load by name. Init is timm's: truncated normal
 * (std .02) for the position embedding, the class token and every Linear weight, zero biases,
 * LayerNorm ones / zeros, PyTorch's default for the patch conv. Drop path rises linearly
 * over the blocks from 0 to dropPathRate.
 *
 * <p>Input sizes: the patch grid is imgSize / patch (floored, as a strided conv), and the
 * position embedding is made for that grid, so a model built with imgSize 32 and patch 16
 * runs on a 2x2 grid. Weights made for another grid are adapted when loaded
 * ({@link #adaptStateDict}: bicubic resampling of the position embedding, class token kept).
 * For tiny images the option {@code patch_size} overrides the patch (28x28 with patch 4 or
 * 7 gives a 7x7 or 4x4 grid); the patch conv then has another kernel, so a published
 * checkpoint's patch_embed.proj.weight no longer fits (it is reported as a shape mismatch;
 * everything else loads). Options (ModelOptions extras): {@code patch_size},
 * {@code representation_size} (0: none), {@code pos_drop_rate}, {@code proj_drop_rate},
 * {@code attn_drop_rate}, {@code antialias_pos_embed} (default true, as timm >= 0.9;
 * false: plain bicubic as older timm). dropRate is the dropout before the head (timm's
 * head_drop).
 */
public final class VisionTransformer extends ImageClassifier {

    /** timm builds ViT with LayerNorm(eps = 1e-6). */
    static final double LN_EPS = 1e-6;

    /**
     * One architecture.
     *
     * @param patchSize          side of the square patches
     * @param embedDim           token width
     * @param depth              number of transformer blocks
     * @param numHeads           attention heads per block
     * @param mlpRatio           MLP hidden width / embedDim
     * @param qkvBias            whether the qkv projection has a bias
     * @param representationSize width of the pre-logits layer (0: none)
     * @param imgSize            the input side length it was trained at
     */
    public record Config(String name, int patchSize, int embedDim, int depth, int numHeads, double mlpRatio, boolean qkvBias,
                         int representationSize, int imgSize) {
        public Config {
            if (patchSize < 1 || embedDim < 1 || depth < 1 || numHeads < 1 || embedDim % numHeads != 0 || !(mlpRatio > 0)
                    || representationSize < 0 || imgSize < 1) {
                throw new IllegalArgumentException("VisionTransformer.Config " + name + ": bad config patch " + patchSize + ", dim "
                        + embedDim + ", depth " + depth + ", heads " + numHeads + " (must divide dim), mlpRatio " + mlpRatio
                        + ", representationSize " + representationSize + ", imgSize " + imgSize);
            }
        }

        static Config vit(String name, int patch, int dim, int depth, int heads) {
            return new Config(name, patch, dim, depth, heads, 4, true, 0, 224);
        }

        public static Config vitTinyPatch16() { return vit("vit_tiny_patch16_224", 16, 192, 12, 3); }

        public static Config vitSmallPatch16() { return vit("vit_small_patch16_224", 16, 384, 12, 6); }

        public static Config vitBasePatch16() { return vit("vit_base_patch16_224", 16, 768, 12, 12); }

        public static Config vitLargePatch16() { return vit("vit_large_patch16_224", 16, 1024, 24, 16); }

        public static Config vitBasePatch32() { return vit("vit_base_patch32_224", 32, 768, 12, 12); }

        public static Config vitLargePatch32() { return vit("vit_large_patch32_224", 32, 1024, 24, 16); }

        public static Config vitHugePatch14() { return vit("vit_huge_patch14_224", 14, 1280, 32, 16); }

        /** The published configurations, by timm name. */
        public static List<Config> presets() {
            return List.of(vitTinyPatch16(), vitSmallPatch16(), vitBasePatch16(), vitLargePatch16(), vitBasePatch32(), vitLargePatch32(),
                    vitHugePatch14());
        }

        public int mlpHidden() { return (int) (embedDim * mlpRatio); }

        /**
         * Parameters of this architecture for numClasses, inChannels and a gridH x gridW patch
         * grid, without building it: patch conv, class token, position embedding, per block
         * two LayerNorms, qkv, proj, fc1 and fc2, the final norm, pre-logits and the head.
         */
        public long countParameters(int numClasses, int inChannels, int gridH, int gridW) {
            long d = embedDim, h = mlpHidden();
            long patch = (long) inChannels * patchSize * patchSize * d + d;
            long tokens = d + (1L + (long) gridH * gridW) * d;
            long block = 4 * d + (3 * d * d + 3 * (qkvBias ? d : 0)) + (d * d + d) + (d * h + h) + (h * d + d);
            long rep = representationSize > 0 ? d * representationSize + representationSize : 0;
            long features = representationSize > 0 ? representationSize : d;
            long head = numClasses > 0 ? features * numClasses + numClasses : 0;
            return patch + tokens + depth * block + 2 * d + rep + head;
        }
    }

    private final Config config;
    private final Generator gen;
    private final int patchSize, gridH, gridW, embedDim, numFeatures;
    private final boolean antialias;
    private int numClasses;
    private final Conv2d patchProj;
    private final Dropout posDrop, headDrop;
    private final Sequential blocks;
    private final LayerNorm norm;
    private final Layer preLogits;

    public VisionTransformer(Config config, ModelOptions options) { this(config, options, Generator.global()); }

    public VisionTransformer(Config config, ModelOptions options, Generator gen) {
        this.config = config;
        this.gen = gen;
        this.numClasses = options.numClasses();
        this.embedDim = config.embedDim();
        this.patchSize = options.intOption("patch_size", config.patchSize());
        int img = options.imgSizeOr(config.imgSize());
        if (patchSize < 1 || patchSize > img) {
            throw new IllegalArgumentException("VisionTransformer " + config.name() + ": patch_size " + patchSize + " must be in [1, imgSize "
                    + img + "]");
        }
        this.gridH = img / patchSize;
        this.gridW = img / patchSize;
        this.antialias = options.flag("antialias_pos_embed", true);
        int rep = options.intOption("representation_size", config.representationSize());
        if (rep < 0) throw new IllegalArgumentException("VisionTransformer: representation_size must be >= 0, got " + rep);
        this.numFeatures = rep > 0 ? rep : embedDim;

        patchProj = registerModule("patch_embed", new PatchEmbed(new Conv2d(options.inChannels(), embedDim, new int[] {patchSize, patchSize},
                new int[] {patchSize, patchSize}, new int[] {0, 0}, new int[] {1, 1}, 1, true, gen))).proj;
        registerParameter("cls_token", truncNormal(Tensor.empty(DType.F32, Device.CPU, 1, 1, embedDim), 0.02, gen));
        registerParameter("pos_embed", truncNormal(Tensor.empty(DType.F32, Device.CPU, 1, 1 + gridH * gridW, embedDim), 0.02, gen));
        posDrop = registerModule("pos_drop", new Dropout(options.doubleOption("pos_drop_rate", 0), gen));
        double projDrop = options.doubleOption("proj_drop_rate", 0), attnDrop = options.doubleOption("attn_drop_rate", 0);
        blocks = registerModule("blocks", new Sequential());
        int depth = config.depth();
        for (int i = 0; i < depth; i++) {
            // torch.linspace(0, drop_path_rate, depth)[i]
            double dp = depth > 1 ? options.dropPathRate() * i / (depth - 1) : 0;
            blocks.add(new Block(embedDim, config.numHeads(), config.mlpHidden(), config.qkvBias(), projDrop, attnDrop, dp, gen));
        }
        norm = registerModule("norm", new LayerNorm(embedDim, LN_EPS));
        if (rep > 0) {
            preLogits = registerModule("pre_logits", new PreLogits(new Linear(embedDim, rep, true, gen)));
        } else {
            preLogits = registerModule("pre_logits", new Identity());
        }
        headDrop = registerModule("head_drop", new Dropout(options.dropRate(), gen));
        registerModule("head", numClasses > 0 ? new Linear(numFeatures, numClasses, true, gen) : new Identity());
        initWeights();
    }

    /** timm's init_weights_vit_timm: every Linear gets trunc_normal(std .02) weights and zero biases. */
    private void initWeights() {
        for (Module m : namedModules().values()) {
            if (m instanceof Linear l) {
                truncNormal(l.weight(), 0.02, gen);
                if (l.bias() != null) Init.zeros(l.bias());
            }
        }
    }

    /**
     * timm's trunc_normal_(t, std) (bounds -2, 2). For std <= 2 / 9 the bounds lie beyond 9
     * standard deviations, further than any Box-Muller draw of the generator reaches
     * (|z| <= sqrt(-2 ln 2^-53) < 8.6), so the truncated normal is exactly the plain normal,
     * which costs a tenth of the inverse-CDF draw (230 ns per value): it matters at 632M
     * parameters.
     */
    static Tensor truncNormal(Tensor t, double std, Generator gen) {
        return 2 / std >= 9 ? Init.normal(t, 0, std, gen) : Init.truncNormal(t, std, gen);
    }

    public Config config() { return config; }

    /** The patch grid [rows, cols] this model's position embedding is made for. */
    public int[] gridSize() { return new int[] {gridH, gridW}; }

    public int patchSize() { return patchSize; }

    public Tensor clsToken() { return param("cls_token"); }

    public Tensor posEmbed() { return param("pos_embed"); }

    /** The drop-path rate of each block, in order. */
    public double[] dropPathRates() {
        double[] r = new double[blocks.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Block) blocks.get(i)).dropPathRate();
        return r;
    }

    /** Images [B, C, H, W] to the normed tokens [B, 1 + gridH * gridW, embedDim], class token first. */
    @Override
    public Tensor forwardFeatures(Tensor x) {
        if (x.dim() != 4 || x.shape(2) / patchSize != gridH || x.shape(3) / patchSize != gridW) {
            throw new IllegalArgumentException("VisionTransformer " + config.name() + ": input " + Arrays.toString(x.shape())
                    + " does not give the " + gridH + "x" + gridW + " grid of patch " + patchSize + " the model was built for; build it with imgSize "
                    + (x.dim() == 4 ? x.shape(2) : "H") + " (loading weights resamples the position embedding)");
        }
        return Chain.forward(x, this::embed, posDrop, blocks, norm);
    }

    /** Patch tokens after the class token, position embedding added: [B, 1 + gridH * gridW, embedDim]. */
    private Tensor embed(Tensor x) {
        Tensor tokens = patchProj.forward(x).flatten(2, 3).transpose(1, 2);
        Tensor cls = clsToken().expand(x.shape(0), 1, embedDim);
        return Shaping.cat(List.of(cls, tokens), 1).add(posEmbed());
    }

    /** The class token's state through pre_logits, head dropout and the head. */
    @Override
    public Tensor forwardHead(Tensor features, boolean preLogitsOnly) {
        Tensor pooled = headDrop.forward(preLogits.forward(features.select(1, 0)));
        return preLogitsOnly ? pooled : ((Layer) child("head")).forward(pooled);
    }

    @Override
    public void resetClassifier(int n) {
        if (n < 0) throw new IllegalArgumentException("resetClassifier: numClasses must be >= 0, got " + n);
        // timm's reset_classifier makes a fresh nn.Linear with PyTorch's default init
        replaceChild("head", n > 0 ? new Linear(numFeatures, n, true, gen) : new Identity());
        numClasses = n;
    }

    @Override
    public int numClasses() { return numClasses; }

    @Override
    public int numFeatures() { return numFeatures; }

    @Override
    public int defaultImgSize() { return config.imgSize(); }

    /** timm's VisionTransformer.group_matcher: embeddings, then one layer per block; the final norm joins the last block. */
    @Override
    public GroupMatcher groupMatcher() {
        return new GroupMatcher().group().rule("^cls_token|pos_embed|patch_embed")
                .group().rule("^blocks\\.(\\d+)").rule("^norm", GroupMatcher.MATCH_PREV_GROUP);
    }

    @Override
    public String headPrefix() { return "head"; }

    /**
     * A checkpoint's state dict made to fit this model, as timm's checkpoint_filter_fn: a
     * pos_embed for another (square) grid is resampled to this model's grid (see
     * {@link PositionEmbeddings#resample}, class token kept), and pre_logits.* keys are
     * dropped when this model has no representation layer (as timm does for the original
     * ImageNet-21k weights). The input map is not changed; tensors made here are new.
     */
    @Override
    public Map<String, Tensor> adaptStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> out = new LinkedHashMap<>(state);
        Tensor pe = state.get("pos_embed");
        if (pe != null && pe.dim() == 3 && pe.shape(0) == 1 && pe.shape(2) == embedDim && pe.shape(1) != 1 + gridH * gridW) {
            int side = PositionEmbeddings.squareSide(pe.shape(1) - 1, "pos_embed " + Arrays.toString(pe.shape()));
            out.put("pos_embed", PositionEmbeddings.resample(pe, gridH, gridW, side, side, 1, antialias));
        }
        if (!(preLogits instanceof PreLogits)) out.keySet().removeIf(k -> k.startsWith("pre_logits."));
        return out;
    }

    /** timm's PatchEmbed: holds the patch conv as "proj". */
    static final class PatchEmbed extends Module {
        final Conv2d proj;

        PatchEmbed(Conv2d proj) { this.proj = registerModule("proj", proj); }
    }

    /** The representation layer of the original ViT: pre_logits.fc then tanh. */
    static final class PreLogits extends Module implements Layer {
        private final Linear fc;
        private final Tanh act;

        PreLogits(Linear fc) {
            this.fc = registerModule("fc", fc);
            this.act = registerModule("act", new Tanh());
        }

        @Override
        public Tensor forward(Tensor x) { return act.forward(fc.forward(x)); }
    }
}
