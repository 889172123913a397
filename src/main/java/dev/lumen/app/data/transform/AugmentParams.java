package dev.lumen.app.data.transform;

/**
 * timm's hparams of the AutoAugment / RandAugment ops.
 *
 * @param magnitudeStd  std of the Gaussian noise on each op's magnitude (0: fixed; infinite: uniform in [0, m])
 * @param magnitudeMax  upper clamp of the noisy magnitude (timm's mmax; 10 by default)
 * @param translateConst pixels of TranslateX/Y at magnitude 10 (timm: 0.45 x the smaller image side)
 * @param translatePct  fraction of the side of TranslateX/YRel at magnitude 10 (0.45)
 * @param fill          8-bit colour of pixels a warp brings in: the normalisation mean, as timm
 * @param interpolation the warps' filter; RANDOM draws bilinear or bicubic per op, as timm does
 *                      when the train interpolation is 'random'
 */
public record AugmentParams(double magnitudeStd, double magnitudeMax, double translateConst, double translatePct, int[] fill,
                            Interpolation interpolation) {
    public static final double LEVEL_DENOM = 10;

    public AugmentParams {
        if (!(magnitudeStd >= 0) || !(magnitudeMax > 0)) {
            throw new IllegalArgumentException("augment: magnitude std must be >= 0 and max > 0, got " + magnitudeStd + ", " + magnitudeMax);
        }
        fill = fill.clone();
    }

    @Override
    public int[] fill() { return fill.clone(); }

    /**
     * timm's create_transform values for an image side and a normalisation mean: translate
     * constant int(0.45 side), fill round(255 mean).
     */
    public static AugmentParams forImage(int imgSize, float[] mean, Interpolation interpolation) {
        int[] fill = new int[mean.length];
        for (int i = 0; i < mean.length; i++) fill[i] = (int) Math.min(255, Math.rint(255.0 * mean[i]));
        return new AugmentParams(0, LEVEL_DENOM, (int) (imgSize * 0.45), 0.45, fill, interpolation);
    }

    public AugmentParams withMagnitudeStd(double v) { return new AugmentParams(v, magnitudeMax, translateConst, translatePct, fill, interpolation); }

    public AugmentParams withMagnitudeMax(double v) { return new AugmentParams(magnitudeStd, v, translateConst, translatePct, fill, interpolation); }
}
