package dev.lumen.models.volo;

import dev.lumen.backend.ResizeKernels;
import dev.lumen.models.GroupMatcher;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.nn.Chain;
import dev.lumen.nn.Identity;
import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm;
import dev.lumen.nn.Module;
import dev.lumen.nn.ModuleList;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Reductions;
import dev.lumen.ops.Regularization;
import dev.lumen.ops.Resize;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * VOLO (Yuan et al., "VOLO: Vision Outlooker for Visual Recognition", TPAMI 2022).
 *
 * <p>Key idea: self-attention is good at global mixing but weak at encoding fine local
 * detail at the token resolution ViTs can afford. VOLO's first stage therefore runs
 * "outlookers" on a fine grid (1/8 of the image): outlook attention predicts, from each
 * anchor's own feature by a single linear layer, how the k x k positions of its window mix
 * (no query-key products), which is cheap enough for dense grids. After a 2x downsampling a
 * stage of ordinary transformer blocks mixes globally at 1/16, and two class-attention blocks
 * (CaiT) summarize the tokens into a class token. With token labeling (return_dense) an
 * auxiliary head also classifies every token; at inference the prediction is
 * head(cls) + 0.5 * max over tokens of aux_head(token).
 *
 * <p>Parameter names are those of the official sail-sg/volo code (and timm): patch_embed.conv.0..8
 * + patch_embed.proj, network.0 (outlookers), network.1 (downsample), network.2..4
 * (transformers), pos_embed [1, H/16, W/16, C], cls_token, post_network.0..1, aux_head, norm,
 * head. As in the official code the outlooker stage has no stochastic depth (only the
 * transformer stages get the drop-path schedule) and dropRate is the dropout after the
 * position embedding.
 *
 * <p>Outputs. {@link #forward} gives one logits tensor in both modes: head(cls) plus, with
 * return_dense, 0.5 * max_tokens(aux_head(tokens)) (timm's forward). Token-labeling training
 * reads both heads apart with {@link #forwardDense}, the official training-mode output
 * (class logits, per-token logits, MixToken box).
 *
 * <p>Options ({@link ModelOptions#extra()}): {@code return_dense} (default true: the aux_head
 * exists, as in the published checkpoints), {@code mix_token} (default false: MixToken in
 * forwardDense during training), {@code patch_size} (the official patch_size argument, 4, 8 or
 * 16; changes the proj kernel), {@code small_input_stem} (default false).
 *
 * <p>Small inputs. The stem divides the image by 8 and the downsampling by 2 more, so 32x32
 * gives a 4x4 outlooker grid and 2x2 tokens, and 28x28 a 3x3 grid and one token: both run as
 * published. {@code small_input_stem} runs the stem's first 7x7 conv at stride 1 instead of 2
 * (every weight keeps its shape, so checkpoints still load): 32x32 then gives 8x8 and 4x4
 * tokens. pos_embed is sized for the configured imgSize and resized (bicubic) when an input
 * of another size comes in.
 */
public final class Volo extends ImageClassifier {

    /**
     * One architecture, as the official constructors' arguments.
     *
     * @param layers        blocks of the outlooker stage and of the three transformer stages
     * @param embedDims     widths of the four stages (the outlooker stage's, then the rest)
     * @param numHeads      heads per stage
     * @param mlpRatios     MLP hidden width / width per stage
     * @param stemHiddenDim channels of the stem convs (64; 128 for D5)
     * @param patchSize     total stride of the stem (8)
     * @param postLayers    class-attention blocks (2)
     */
    public record Config(String name, int[] layers, int[] embedDims, int[] numHeads, double[] mlpRatios, int stemHiddenDim,
                         int patchSize, int postLayers) {
        public Config {
            if (layers == null || layers.length != 4 || Arrays.stream(layers).anyMatch(n -> n < 1)) {
                throw new IllegalArgumentException("Volo.Config " + name + ": layers must be four counts >= 1, got " + Arrays.toString(layers));
            }
            if (embedDims == null || embedDims.length != 4 || numHeads == null || numHeads.length != 4 || mlpRatios == null || mlpRatios.length != 4) {
                throw new IllegalArgumentException("Volo.Config " + name + ": embedDims, numHeads and mlpRatios need four entries");
            }
            for (int i = 1; i < 4; i++) {
                if (embedDims[i] != embedDims[1]) {
                    throw new IllegalArgumentException("Volo.Config " + name + ": the transformer stages share one width, got " + Arrays.toString(embedDims));
                }
            }
            layers = layers.clone();
            embedDims = embedDims.clone();
            numHeads = numHeads.clone();
            mlpRatios = mlpRatios.clone();
        }

        @Override
        public int[] layers() { return layers.clone(); }

        @Override
        public int[] embedDims() { return embedDims.clone(); }

        @Override
        public int[] numHeads() { return numHeads.clone(); }

        @Override
        public double[] mlpRatios() { return mlpRatios.clone(); }

        private static double[] ratios(double r) { return new double[] {r, r, r, r}; }

        public static Config volo_d1() {
            return new Config("volo_d1", new int[] {4, 4, 8, 2}, new int[] {192, 384, 384, 384}, new int[] {6, 12, 12, 12}, ratios(3), 64, 8, 2);
        }

        public static Config volo_d2() {
            return new Config("volo_d2", new int[] {6, 4, 10, 4}, new int[] {256, 512, 512, 512}, new int[] {8, 16, 16, 16}, ratios(3), 64, 8, 2);
        }

        public static Config volo_d3() {
            return new Config("volo_d3", new int[] {8, 8, 16, 4}, new int[] {256, 512, 512, 512}, new int[] {8, 16, 16, 16}, ratios(3), 64, 8, 2);
        }

        public static Config volo_d4() {
            return new Config("volo_d4", new int[] {8, 8, 16, 4}, new int[] {384, 768, 768, 768}, new int[] {12, 16, 16, 16}, ratios(3), 64, 8, 2);
        }

        public static Config volo_d5() {
            return new Config("volo_d5", new int[] {12, 12, 20, 4}, new int[] {384, 768, 768, 768}, new int[] {12, 16, 16, 16}, ratios(4), 128, 8, 2);
        }

        /** The published configurations, by official / timm name. */
        public static List<Config> presets() { return List.of(volo_d1(), volo_d2(), volo_d3(), volo_d4(), volo_d5()); }
    }

    /** Outlook attention window, padding and stride, and the downsampling factor between the stages (all variants). */
    static final int OUT_KERNEL = 3, OUT_PADDING = 1, OUT_STRIDE = 2, POOLING_SCALE = 2;

    /** The official training-mode output: class logits [B, K], per-token logits [B, N, K], and the MixToken box (null: none). */
    public record Dense(Tensor cls, Tensor aux, TokenMix.Box box) {}

    private final Config config;
    private final int dim, gridH, gridW;
    private final boolean returnDense, mixToken;
    private final double dropRate;
    private final Generator gen;
    private int numClasses;
    private final PatchEmbed patchEmbed;
    private final ModuleList<Module> network = new ModuleList<>();
    private final ModuleList<ClassBlock> postNetwork = new ModuleList<>();
    private final LayerNorm norm;

    public Volo(Config config, ModelOptions options) { this(config, options, Generator.global()); }

    public Volo(Config config, ModelOptions options, Generator gen) {
        this.config = config;
        this.gen = gen;
        this.returnDense = options.flag("return_dense", true);
        this.mixToken = options.flag("mix_token", false);
        if (mixToken && !returnDense) throw new IllegalArgumentException("Volo: mix_token needs return_dense (it reverses the mix on the token logits)");
        this.dropRate = options.dropRate();
        this.numClasses = options.numClasses();
        int[] layers = config.layers(), dims = config.embedDims(), heads = config.numHeads();
        double[] ratios = config.mlpRatios();
        this.dim = dims[3];
        int patch = options.intOption("patch_size", config.patchSize());
        int firstStride = options.flag("small_input_stem", false) ? 1 : PatchEmbed.STEM_STRIDE;
        patchEmbed = registerModule("patch_embed", new PatchEmbed(options.inChannels(), config.stemHiddenDim(), dims[0], patch, firstStride, gen));
        int imgSize = options.imgSizeOr(224);
        int embedded = patchEmbed.outSize(imgSize);
        if (embedded < POOLING_SCALE) {
            throw new IllegalArgumentException("Volo: a " + imgSize + "x" + imgSize + " input leaves a " + embedded + "x" + embedded
                    + " map after the stem, too small for the 2x2 downsampling; use the small_input_stem option or patch_size 4");
        }
        gridH = gridW = embedded / POOLING_SCALE;
        Tensor pos = Tensor.zeros(DType.F32, Device.CPU, 1, gridH, gridW, dim);
        registerParameter("pos_embed", Layers.truncNormal02(pos, gen));

        int total = Arrays.stream(layers).sum(), before = layers[0];
        Sequential outlookers = new Sequential();
        // the official code passes no drop-path rate to the outlooker stage
        for (int b = 0; b < layers[0]; b++) {
            outlookers.add(new Outlooker(dims[0], heads[0], ratios[0], OUT_KERNEL, OUT_PADDING, OUT_STRIDE, false, 0, gen));
        }
        network.add(outlookers);
        network.add(new Downsample(dims[0], dims[1], POOLING_SCALE, gen));
        for (int s = 1; s < 4; s++) {
            Sequential stage = new Sequential();
            for (int b = 0; b < layers[s]; b++) {
                double dpr = options.dropPathRate() * (b + before) / (total - 1);
                stage.add(new Transformer(dims[s], heads[s], ratios[s], false, dpr, gen));
            }
            before += layers[s];
            network.add(stage);
        }
        registerModule("network", network);
        for (int i = 0; i < config.postLayers(); i++) postNetwork.add(new ClassBlock(dim, heads[3], ratios[3], false, gen));
        registerModule("post_network", postNetwork);
        registerParameter("cls_token", Layers.truncNormal02(Tensor.zeros(DType.F32, Device.CPU, 1, 1, dim), gen));
        if (returnDense) registerModule("aux_head", classifier(numClasses));
        norm = registerModule("norm", new LayerNorm(dim));
        registerModule("head", classifier(numClasses));
    }

    private Module classifier(int n) { return n > 0 ? Layers.linear(dim, n, true, gen) : new Identity(); }

    public Config config() { return config; }

    /** True if the token-labeling aux_head is on. */
    public boolean returnDense() { return returnDense; }

    /** The position-embedding grid (tokens after the downsampling) of the configured input size. */
    public int[] tokenGrid() { return new int[] {gridH, gridW}; }

    /** Patch embedding, channels last: [B, C, H, W] to [B, H/8, W/8, C0]. */
    public Tensor forwardEmbeddings(Tensor x) {
        if (x.dim() != 4) throw new IllegalArgumentException("Volo: expects images [B, C, H, W], got " + Arrays.toString(x.shape()));
        return patchEmbed.forward(x).permute(0, 2, 3, 1);
    }

    /** The two stages on embeddings [B, H, W, C0]: tokens [B, N, C] (N = (H/2) * (W/2)). */
    public Tensor forwardTokens(Tensor x) {
        x = ((Layer) network.get(0)).forward(x);
        x = ((Layer) network.get(1)).forward(x);
        x = x.add(posEmbed(x.shape(1), x.shape(2)));
        if (dropRate > 0) x = Regularization.dropout(x, dropRate, isTraining(), gen);
        int b = x.shape(0);
        x = x.reshape(b, -1, dim);
        List<Layer> rest = new ArrayList<>();
        for (int i = 2; i < network.size(); i++) rest.add((Layer) network.get(i));
        return Chain.forward(x, rest);
    }

    /** pos_embed at an h x w grid: as is when the sizes agree, else resized bicubically. */
    private Tensor posEmbed(int h, int w) {
        Tensor p = param("pos_embed");
        if (p.shape(1) == h && p.shape(2) == w) return p;
        return Resize.interpolate(p.permute(0, 3, 1, 2), h, w, ResizeKernels.Mode.BICUBIC, false).permute(0, 2, 3, 1);
    }

    /** Class token prepended, the class-attention blocks, then norm: [B, 1 + N, C]. */
    private Tensor forwardCls(Tensor tokens) {
        int b = tokens.shape(0);
        Tensor x = Shaping.cat(List.of(param("cls_token").expand(b, 1, dim), tokens), 1);
        List<Layer> steps = new ArrayList<>(postNetwork.size() + 1);
        for (ClassBlock blk : postNetwork) steps.add(blk);
        steps.add(norm);
        return Chain.forward(x, steps);
    }

    /** Normalized tokens [B, 1 + N, C], the class token first. */
    @Override
    public Tensor forwardFeatures(Tensor x) { return Chain.forward(x, this::forwardEmbeddings, this::forwardTokens, this::forwardCls); }

    /**
     * head(cls) (+ 0.5 * max over tokens of aux_head(tokens) with return_dense); with
     * preLogits, or without classes, the normalized class token [B, C].
     */
    @Override
    public Tensor forwardHead(Tensor features, boolean preLogits) {
        Tensor cls = features.select(1, 0);
        if (preLogits || numClasses == 0) return cls;
        Tensor out = ((Layer) child("head")).forward(cls);
        if (!returnDense) return out;
        Tensor aux = ((Layer) child("aux_head")).forward(features.narrow(1, 1, features.shape(1) - 1));
        return out.add(Reductions.max(aux, 1, false).values().mul(0.5));
    }

    /**
     * The official training-mode forward with return_dense: class logits, per-token logits,
     * and the MixToken box, which is drawn (with this model's generator) only when mix_token
     * is on and the model is training.
     */
    public Dense forwardDense(Tensor x) {
        Tensor e = forwardEmbeddings(x);
        TokenMix.Box box = null;
        if (mixToken && isTraining()) box = TokenMix.randomBox(gen, e.shape(1) / POOLING_SCALE, e.shape(2) / POOLING_SCALE);
        return dense(e, box);
    }

    /** As {@link #forwardDense(Tensor)} with the given MixToken box on the token grid (null: no mixing). */
    public Dense forwardDense(Tensor x, TokenMix.Box box) { return dense(forwardEmbeddings(x), box); }

    private Dense dense(Tensor e, TokenMix.Box box) {
        if (!returnDense) throw new IllegalStateException("Volo: forwardDense needs return_dense (built without aux_head)");
        if (numClasses == 0) throw new IllegalStateException("Volo: forwardDense needs a classifier (numClasses is 0)");
        int ph = e.shape(1) / POOLING_SCALE, pw = e.shape(2) / POOLING_SCALE;
        if (box != null) e = TokenMix.mix(e, box, POOLING_SCALE);
        Tensor x = forwardCls(forwardTokens(e));
        Tensor cls = ((Layer) child("head")).forward(x.select(1, 0));
        Tensor aux = ((Layer) child("aux_head")).forward(x.narrow(1, 1, x.shape(1) - 1));
        if (box != null) {
            int b = aux.shape(0), k = aux.shape(2);
            // the tokens of the box came from the flipped batch: flip their logits back
            aux = TokenMix.mix(aux.reshape(b, ph, pw, k), box, 1).reshape(b, ph * pw, k);
        }
        return new Dense(cls, aux, box);
    }

    @Override
    public void resetClassifier(int n) {
        if (n < 0) throw new IllegalArgumentException("resetClassifier: numClasses must be >= 0, got " + n);
        replaceChild("head", classifier(n));
        if (returnDense) replaceChild("aux_head", classifier(n));
        numClasses = n;
    }

    @Override
    public int numClasses() { return numClasses; }

    @Override
    public int numFeatures() { return dim; }

    @Override
    public int defaultImgSize() { return 224; }

    /** timm's VOLO.group_matcher: embeddings, each outlooker/transformer block and downsample, the class-attention blocks, the final norm with the last. */
    @Override
    public GroupMatcher groupMatcher() {
        return new GroupMatcher().group().rule("^cls_token|pos_embed|patch_embed")
                .group().rule("^network\\.(\\d+)\\.(\\d+)").rule("^network\\.(\\d+)", 0)
                .group().rule("^cls_token", 0).rule("^post_network\\.(\\d+)").rule("^norm", GroupMatcher.MATCH_PREV_GROUP);
    }

    @Override
    public String headPrefix() { return "head"; }

    @Override
    public List<String> headPrefixes() { return returnDense ? List.of("head", "aux_head") : List.of("head"); }
}
