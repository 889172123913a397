package dev.lumen.app.data.transform;

import java.util.ArrayList;
import java.util.List;

/**
 * The standard train and eval pipelines, in the order of timm's create_transform.
 * <ul>
 * <li>train, photos: RandomResizedCrop(imgSize, scale, ratio), flips, then AutoAugment /
 *     RandAugment when asked (which replaces ColorJitter, as in timm) or ColorJitter, Normalize,
 *     RandomErasing and Cutout when asked;</li>
 * <li>train, small images ({@link Options#small}, e.g. 28x28 or 32x32): Resize(imgSize) when the
 *     size differs, RandomCrop(imgSize, padding) unless padding is 0, the same other steps; an
 *     explicit scale or ratio selects RandomResizedCrop here too;</li>
 * <li>eval: Resize(shorter side floor(imgSize / cropPct)) and CenterCrop(imgSize) for photos, or
 *     Resize(imgSize x imgSize) for small images; then Normalize.</li>
 * </ul>
 */
public final class Pipelines {
    private Pipelines() {}

    /** timm's RandomResizedCrop defaults. */
    public static final double[] DEFAULT_SCALE = {0.08, 1.0}, DEFAULT_RATIO = {3.0 / 4, 4.0 / 3};

    /**
     * Pipeline settings; start from {@link #defaults} and change them with the withers. Accessors:
     * small (pad-and-crop instead of RandomResizedCrop, plain resize for eval), padding, hflip and
     * vflip probabilities, jitter (brightness, contrast, saturation, hue; zeros: off), reProb /
     * reMode / reCount (RandomErasing), cutout holes of side cutoutLength, cropPct (eval centre
     * crop, timm's 0.875), scale and ratio (RandomResizedCrop; null: timm's defaults),
     * autoAugment (an --aa string or null), trainInterpolation and interpolation (eval).
     */
    public static final class Options {
        private final int imgSize;
        private final float[] mean, std;
        private boolean small;
        private int padding, reCount = 1, cutout, cutoutLength;
        private double hflip = 0.5, vflip, reProb, cropPct = 0.875;
        private double[] jitter = new double[4], scale, ratio;
        private RandomErasing.Mode reMode = RandomErasing.Mode.PIXEL;
        private String autoAugment;
        private Interpolation trainInterpolation = Interpolation.BILINEAR, interpolation = Interpolation.BILINEAR;

        private Options(int imgSize, float[] mean, float[] std) {
            if (imgSize < 1) throw new IllegalArgumentException("pipeline: img size must be >= 1, got " + imgSize);
            new Normalize(mean, std); // validates
            this.imgSize = imgSize;
            this.mean = mean.clone();
            this.std = std.clone();
        }

        /** timm's defaults with augmentations off but the flip; small images (imgSize &lt;= 64) pad by imgSize / 8 and crop. */
        public static Options defaults(int imgSize, float[] mean, float[] std) {
            Options o = new Options(imgSize, mean, std);
            o.small = imgSize <= 64;
            o.padding = Math.max(1, imgSize / 8);
            o.cutoutLength = Math.max(1, imgSize / 2);
            return o;
        }

        private Options copy() {
            Options o = new Options(imgSize, mean, std);
            o.small = small;
            o.padding = padding;
            o.reCount = reCount;
            o.cutout = cutout;
            o.cutoutLength = cutoutLength;
            o.hflip = hflip;
            o.vflip = vflip;
            o.reProb = reProb;
            o.cropPct = cropPct;
            o.jitter = jitter.clone();
            o.scale = scale;
            o.ratio = ratio;
            o.reMode = reMode;
            o.autoAugment = autoAugment;
            o.trainInterpolation = trainInterpolation;
            o.interpolation = interpolation;
            return o;
        }

        public int imgSize() { return imgSize; }
        public float[] mean() { return mean.clone(); }
        public float[] std() { return std.clone(); }
        public boolean small() { return small; }
        public int padding() { return padding; }
        public double hflip() { return hflip; }
        public double vflip() { return vflip; }
        public double[] jitter() { return jitter.clone(); }
        public double reProb() { return reProb; }
        public RandomErasing.Mode reMode() { return reMode; }
        public int reCount() { return reCount; }
        public int cutout() { return cutout; }
        public int cutoutLength() { return cutoutLength; }
        public double cropPct() { return cropPct; }
        public double[] scale() { return scale == null ? DEFAULT_SCALE.clone() : scale.clone(); }
        public double[] ratio() { return ratio == null ? DEFAULT_RATIO.clone() : ratio.clone(); }
        public String autoAugment() { return autoAugment; }
        public Interpolation trainInterpolation() { return trainInterpolation; }
        public Interpolation interpolation() { return interpolation; }

        public Options withSmall(boolean v) { Options o = copy(); o.small = v; return o; }

        public Options withPadding(int v) {
            if (v < 0) throw new IllegalArgumentException("pipeline: padding must be >= 0, got " + v);
            Options o = copy();
            o.padding = v;
            return o;
        }

        public Options withHflip(double v) { new RandomHorizontalFlip(v); Options o = copy(); o.hflip = v; return o; }

        public Options withVflip(double v) { new RandomVerticalFlip(v); Options o = copy(); o.vflip = v; return o; }

        /** The same strength for brightness, contrast and saturation, no hue (timm's single --color-jitter). */
        public Options withJitter(double v) { return withColorJitter(v, v, v, 0); }

        public Options withColorJitter(double brightness, double contrast, double saturation, double hue) {
            new ColorJitter(brightness, contrast, saturation, hue); // validates
            Options o = copy();
            o.jitter = new double[] {brightness, contrast, saturation, hue};
            return o;
        }

        public Options withErasing(double p, RandomErasing.Mode mode) { return withErasing(p, mode, 1); }

        public Options withErasing(double p, RandomErasing.Mode mode, int count) {
            RandomErasing.of(p, mode, count); // validates
            Options o = copy();
            o.reProb = p;
            o.reMode = mode;
            o.reCount = count;
            return o;
        }

        public Options withCutout(int holes, int length) {
            new Cutout(holes, length); // validates
            Options o = copy();
            o.cutout = holes;
            o.cutoutLength = length;
            return o;
        }

        public Options withCropPct(double v) {
            if (!(v > 0 && v <= 1)) throw new IllegalArgumentException("pipeline: crop pct must be in (0, 1], got " + v);
            Options o = copy();
            o.cropPct = v;
            return o;
        }

        /** RandomResizedCrop's area fraction and aspect-ratio ranges, each {min, max}; also for small images. */
        public Options withRandomResizedCrop(double[] scale, double[] ratio) {
            new RandomResizedCrop(imgSize, imgSize, scale[0], scale[1], ratio[0], ratio[1]); // validates
            Options o = copy();
            o.scale = scale.clone();
            o.ratio = ratio.clone();
            return o;
        }

        /** An --aa string (validated now, so a typo fails before training); null turns it off. */
        public Options withAutoAugment(String spec) {
            Options o = copy();
            o.autoAugment = spec;
            if (spec != null) o.augment();
            return o;
        }

        public Options withInterpolation(Interpolation train, Interpolation eval) {
            if (eval == Interpolation.RANDOM) throw new IllegalArgumentException("--interpolation random is for training only (--train-interpolation)");
            Options o = copy();
            o.trainInterpolation = train;
            o.interpolation = eval;
            return o;
        }

        Transform augment() {
            return AutoAugmentSpec.create(autoAugment, AugmentParams.forImage(imgSize, mean, trainInterpolation));
        }

        boolean jitterOn() { return jitter[0] > 0 || jitter[1] > 0 || jitter[2] > 0 || jitter[3] > 0; }
    }

    public static Compose train(Options o) {
        List<Transform> t = new ArrayList<>();
        int size = o.imgSize();
        if (o.small() && o.scale == null && o.ratio == null) {
            t.add(Resize.to(size, size).with(o.trainInterpolation()));
            if (o.padding() > 0) t.add(RandomCrop.square(size, o.padding()));
        } else {
            double[] s = o.scale(), r = o.ratio();
            t.add(new RandomResizedCrop(size, size, s[0], s[1], r[0], r[1], o.trainInterpolation()));
        }
        if (o.hflip() > 0) t.add(new RandomHorizontalFlip(o.hflip()));
        if (o.vflip() > 0) t.add(new RandomVerticalFlip(o.vflip()));
        if (o.autoAugment() != null) {
            t.add(o.augment()); // timm turns ColorJitter off under AutoAugment / RandAugment
        } else if (o.jitterOn()) {
            double[] j = o.jitter;
            t.add(new ColorJitter(j[0], j[1], j[2], j[3]));
        }
        t.add(new Normalize(o.mean(), o.std()));
        if (o.reProb() > 0) t.add(RandomErasing.of(o.reProb(), o.reMode(), o.reCount()));
        if (o.cutout() > 0) t.add(new Cutout(o.cutout(), o.cutoutLength()));
        return new Compose(t);
    }

    public static Compose eval(Options o) {
        List<Transform> t = new ArrayList<>();
        if (o.small()) {
            t.add(Resize.to(o.imgSize(), o.imgSize()).with(o.interpolation()));
        } else {
            t.add(Resize.shorterSide((int) Math.floor(o.imgSize() / o.cropPct())).with(o.interpolation()));
            t.add(CenterCrop.square(o.imgSize()));
        }
        t.add(new Normalize(o.mean(), o.std()));
        return new Compose(t);
    }
}
