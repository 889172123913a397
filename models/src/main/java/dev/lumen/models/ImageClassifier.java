package dev.lumen.models;

import dev.lumen.nn.Chain;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * An image classification backbone as timm shapes it: {@link #forwardFeatures} maps images
 * [N, C, H, W] to the backbone's features (a feature map or tokens), {@link #forwardHead}
 * pools them and applies the classifier, and {@link #resetClassifier} swaps the classifier
 * for fine-tuning on another class count.
 */
public abstract class ImageClassifier extends Module implements Layer {

    /** The backbone: images [N, inChannels, H, W] to unpooled features. */
    public abstract Tensor forwardFeatures(Tensor x);

    /**
     * Pooling and classifier: features to logits [N, numClasses]; with preLogits the pooled
     * features [N, numFeatures] before the classifier.
     */
    public abstract Tensor forwardHead(Tensor features, boolean preLogits);

    public Tensor forwardHead(Tensor features) { return forwardHead(features, false); }

    @Override
    public Tensor forward(Tensor x) { return Chain.forward(x, this::forwardFeatures, this::forwardHead); }

    /** Replaces the classifier by a freshly initialized one for numClasses (0: none, forward gives pooled features). */
    public abstract void resetClassifier(int numClasses);

    public abstract int numClasses();

    /** Width of the pooled features the classifier reads. */
    public abstract int numFeatures();

    /** The input side length the published configuration was trained at (224 for most). */
    public abstract int defaultImgSize();

    /** The name of the classifier module in the state dict ("fc", "head"). */
    public abstract String headPrefix();

    /**
     * Every classifier module that depends on the class count (the main head plus, where a
     * family has them, auxiliary or distillation heads such as "aux_head", "dist_head").
     */
    public List<String> headPrefixes() { return List.of(headPrefix()); }

    /**
     * A checkpoint's state dict made to fit this model before it is loaded by name, as timm's
     * checkpoint_filter_fn (ViT resamples a position embedding made for another patch grid).
     * Called by {@link Checkpoints#loadInto}; the default returns state unchanged. An
     * implementation must not change state or close its tensors; tensors it makes are new
     * and the caller closes them.
     */
    public Map<String, Tensor> adaptStateDict(Map<String, Tensor> state) { return state; }

    /**
     * How --layer-decay numbers this model's parameters from the input to the head (timm's
     * group_matcher(coarse=False)); null where the family has none.
     */
    public GroupMatcher groupMatcher() { return null; }

    /** True if the state-dict key belongs to one of the classifier modules. */
    public boolean isHeadKey(String key) {
        for (String p : headPrefixes()) if (key.equals(p) || key.startsWith(p + ".")) return true;
        return false;
    }

    /** Puts m in place of the child at a dotted path ("fc", "head.fc"); see {@link Module#replaceModule}. */
    protected void replaceChild(String path, Module m) { replaceModule(path, m); }
}
