package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * The central height x width window, as torchvision's CenterCrop: offsets round((size - crop) / 2)
 * with Python's round-half-even, and zero padding first when the crop is larger than the image.
 */
public record CenterCrop(int height, int width) implements Transform {
    public CenterCrop {
        if (height < 1 || width < 1) throw new IllegalArgumentException("CenterCrop: bad size " + height + "x" + width);
    }

    public static CenterCrop square(int size) { return new CenterCrop(size, size); }

    @Override
    public Image apply(Image img, Generator rng) {
        int h = img.height(), w = img.width();
        int padTop = height > h ? (height - h) / 2 : 0, padLeft = width > w ? (width - w) / 2 : 0;
        int ph = height > h ? height : h, pw = width > w ? width : w; // padded size
        int top = (int) Math.rint((ph - height) / 2.0) - padTop;
        int left = (int) Math.rint((pw - width) / 2.0) - padLeft;
        return ImageOps.crop(img, top, left, height, width);
    }
}
