package dev.lumen.app.data.transform;

import dev.lumen.app.data.Draws;
import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * A random height x width window after zero padding every side by {@code padding}, as
 * torchvision's RandomCrop(size, padding) (the CIFAR-style "pad 4 and crop" augmentation).
 */
public record RandomCrop(int height, int width, int padding) implements Transform {
    public RandomCrop {
        if (height < 1 || width < 1 || padding < 0) {
            throw new IllegalArgumentException("RandomCrop: bad size " + height + "x" + width + " or padding " + padding);
        }
    }

    public static RandomCrop square(int size, int padding) { return new RandomCrop(size, size, padding); }

    @Override
    public Image apply(Image img, Generator rng) {
        int ph = img.height() + 2 * padding, pw = img.width() + 2 * padding;
        if (ph < height || pw < width) {
            throw new IllegalArgumentException("RandomCrop: crop " + height + "x" + width + " is larger than the padded image "
                    + ph + "x" + pw + "; resize first");
        }
        int top = Draws.randint(rng, 0, ph - height + 1), left = Draws.randint(rng, 0, pw - width + 1);
        return ImageOps.crop(img, top - padding, left - padding, height, width);
    }
}
