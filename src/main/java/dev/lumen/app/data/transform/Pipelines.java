package dev.lumen.app.data.transform;

import java.util.ArrayList;
import java.util.List;

/**
 * The standard train and eval pipelines, following timm's create_transform and the usual
 * small-image recipe.
 * <ul>
 * <li>train, photos: RandomResizedCrop(imgSize), flip, optional ColorJitter, Normalize, optional
 *     RandomErasing and Cutout;</li>
 * <li>train, small images ({@link Options#small}, e.g. 28x28 or 32x32): Resize(imgSize) when the
 *     size differs, RandomCrop(imgSize, padding) unless padding is 0, flip, the same optional steps;</li>
 * <li>eval: Resize(shorter side imgSize / cropPct) and CenterCrop(imgSize) for photos, or
 *     Resize(imgSize x imgSize) for small images; then Normalize.</li>
 * </ul>
 */
public final class Pipelines {
    private Pipelines() {}

    /**
     * Pipeline settings; start from {@link #defaults} and change fields with the withers.
     *
     * @param small     pad-and-crop instead of RandomResizedCrop, plain resize for eval
     * @param padding   RandomCrop padding for small images
     * @param hflip     flip probability
     * @param jitter    ColorJitter strength for brightness, contrast and saturation (0: off)
     * @param reProb    RandomErasing probability (0: off), with reMode
     * @param cutout    Cutout holes (0: off) of side cutoutLength
     * @param cropPct   eval centre-crop fraction (timm's 0.875)
     */
    public record Options(int imgSize, float[] mean, float[] std, boolean small, int padding, double hflip, double jitter,
                          double reProb, RandomErasing.Mode reMode, int cutout, int cutoutLength, double cropPct) {
        public Options {
            if (imgSize < 1) throw new IllegalArgumentException("pipeline: img size must be >= 1, got " + imgSize);
            if (!(cropPct > 0 && cropPct <= 1)) throw new IllegalArgumentException("pipeline: crop pct must be in (0, 1], got " + cropPct);
            new Normalize(mean, std); // validates
        }

        /** timm's defaults; small images (imgSize &lt;= 64) pad by imgSize / 8 and crop. */
        public static Options defaults(int imgSize, float[] mean, float[] std) {
            return new Options(imgSize, mean, std, imgSize <= 64, Math.max(1, imgSize / 8), 0.5, 0, 0, RandomErasing.Mode.PIXEL,
                    0, Math.max(1, imgSize / 2), 0.875);
        }

        public Options withSmall(boolean v) { return new Options(imgSize, mean, std, v, padding, hflip, jitter, reProb, reMode, cutout, cutoutLength, cropPct); }

        public Options withPadding(int v) { return new Options(imgSize, mean, std, small, v, hflip, jitter, reProb, reMode, cutout, cutoutLength, cropPct); }

        public Options withHflip(double v) { return new Options(imgSize, mean, std, small, padding, v, jitter, reProb, reMode, cutout, cutoutLength, cropPct); }

        public Options withJitter(double v) { return new Options(imgSize, mean, std, small, padding, hflip, v, reProb, reMode, cutout, cutoutLength, cropPct); }

        public Options withErasing(double p, RandomErasing.Mode mode) { return new Options(imgSize, mean, std, small, padding, hflip, jitter, p, mode, cutout, cutoutLength, cropPct); }

        public Options withCutout(int holes, int length) { return new Options(imgSize, mean, std, small, padding, hflip, jitter, reProb, reMode, holes, length, cropPct); }

        public Options withCropPct(double v) { return new Options(imgSize, mean, std, small, padding, hflip, jitter, reProb, reMode, cutout, cutoutLength, v); }
    }

    public static Compose train(Options o) {
        List<Transform> t = new ArrayList<>();
        if (o.small()) {
            t.add(Resize.to(o.imgSize(), o.imgSize()));
            if (o.padding() > 0) t.add(RandomCrop.square(o.imgSize(), o.padding()));
        } else {
            t.add(RandomResizedCrop.square(o.imgSize()));
        }
        if (o.hflip() > 0) t.add(new RandomHorizontalFlip(o.hflip()));
        if (o.jitter() > 0) t.add(new ColorJitter(o.jitter(), o.jitter(), o.jitter(), 0));
        t.add(new Normalize(o.mean(), o.std()));
        if (o.reProb() > 0) t.add(RandomErasing.of(o.reProb(), o.reMode()));
        if (o.cutout() > 0) t.add(new Cutout(o.cutout(), o.cutoutLength()));
        return new Compose(t);
    }

    public static Compose eval(Options o) {
        List<Transform> t = new ArrayList<>();
        if (o.small()) {
            t.add(Resize.to(o.imgSize(), o.imgSize()));
        } else {
            t.add(Resize.shorterSide((int) Math.floor(o.imgSize() / o.cropPct())));
            t.add(CenterCrop.square(o.imgSize()));
        }
        t.add(new Normalize(o.mean(), o.std()));
        return new Compose(t);
    }
}
