package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import java.util.List;

/**
 * The boundary between images and the engine. Images are already float CHW in [0, 1] (what
 * torchvision's ToTensor produces), so this only copies them into F32 tensors. The tensors are
 * detached from every {@link Scope}: the caller owns them and closes them (or leaves them to the GC).
 */
public final class ToTensor {
    private ToTensor() {}

    /** One image as an F32 tensor [C, H, W]. */
    public static Tensor of(Image img) {
        return Scope.detachFromScopes(Tensor.fromFloats(img.data(), img.channels(), img.height(), img.width()));
    }

    /** Images of one size as an F32 tensor [B, C, H, W]; the message of a size mismatch names both sizes. */
    public static Tensor batch(List<Image> images) {
        if (images.isEmpty()) throw new IllegalArgumentException("ToTensor: empty batch");
        Image first = images.getFirst();
        int per = first.data().length;
        float[] all = new float[images.size() * per];
        for (int i = 0; i < images.size(); i++) {
            Image img = images.get(i);
            if (img.channels() != first.channels() || img.height() != first.height() || img.width() != first.width()) {
                throw new IllegalArgumentException("ToTensor: batch of " + first.sizeString() + " images gets a " + img.sizeString()
                        + " image; resize or crop every image to one size");
            }
            System.arraycopy(img.data(), 0, all, i * per, per);
        }
        return Scope.detachFromScopes(Tensor.fromFloats(all, images.size(), first.channels(), first.height(), first.width()));
    }
}
