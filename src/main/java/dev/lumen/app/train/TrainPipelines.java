package dev.lumen.app.train;

import dev.lumen.app.data.transform.Interpolation;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.data.transform.RandomErasing;

/**
 * The train and validation pipeline settings of a run, from timm's data options (--aa,
 * --color-jitter, --hflip, --vflip, --scale, --ratio, --reprob/--remode/--recount,
 * --train-interpolation, --interpolation, --crop-pct) and Lumen's --crop-padding and --cutout.
 * Errors name the option.
 */
final class TrainPipelines {
    private TrainPipelines() {}

    /** Checks the options that need no image size, so a typo fails before the data loads. */
    static void validate(TrainConfig cfg) {
        options(cfg, 224, new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.5f, 0.5f, 0.5f});
    }

    static Pipelines.Options options(TrainConfig cfg, int imgSize, float[] mean, float[] std) {
        Pipelines.Options po = Pipelines.Options.defaults(imgSize, mean, std);
        if (!(cfg.hflip >= 0 && cfg.hflip <= 1)) throw new TrainException("--hflip must be in [0, 1], got " + cfg.hflip);
        if (!(cfg.vflip >= 0 && cfg.vflip <= 1)) throw new TrainException("--vflip must be in [0, 1], got " + cfg.vflip);
        po = po.withHflip(cfg.hflip).withVflip(cfg.vflip);
        if (cfg.colorJitter != null) {
            double[] j = cfg.colorJitter;
            if (j.length != 1 && j.length != 3 && j.length != 4) {
                throw new TrainException("--color-jitter takes 1, 3 or 4 values (brightness,contrast,saturation[,hue]), got " + j.length);
            }
            for (double v : j) if (!(v >= 0)) throw new TrainException("--color-jitter values must be >= 0, got " + v);
            if (j.length == 4 && j[3] > 0.5) throw new TrainException("--color-jitter hue must be <= 0.5, got " + j[3]);
            po = j.length == 1 ? po.withJitter(j[0]) : po.withColorJitter(j[0], j[1], j[2], j.length == 4 ? j[3] : 0);
        }
        if (!(cfg.reprob >= 0 && cfg.reprob <= 1)) throw new TrainException("--reprob must be in [0, 1], got " + cfg.reprob);
        if (cfg.recount < 1) throw new TrainException("--recount must be >= 1, got " + cfg.recount);
        try {
            po = po.withErasing(cfg.reprob, RandomErasing.mode(cfg.remode), cfg.recount);
        } catch (IllegalArgumentException e) {
            throw new TrainException(e.getMessage());
        }
        if (cfg.cutout > 0) po = po.withCutout(cfg.cutout, Math.max(1, imgSize / 2));
        if (cfg.cropPadding != null) po = po.withPadding(cfg.cropPadding);
        if (cfg.scale != null || cfg.ratio != null) {
            if (cfg.cropPadding != null && cfg.cropPadding > 0 && imgSize <= 64) {
                throw new TrainException("--crop-padding (pad-and-crop) and --scale/--ratio (RandomResizedCrop) exclude each other; give one");
            }
            double[] s = cfg.scale != null ? cfg.scale : Pipelines.DEFAULT_SCALE, r = cfg.ratio != null ? cfg.ratio : Pipelines.DEFAULT_RATIO;
            if (!(s[0] > 0 && s[0] <= s[1] && s[1] <= 1)) throw new TrainException("--scale must be MIN MAX with 0 < MIN <= MAX <= 1, got " + s[0] + " " + s[1]);
            if (!(r[0] > 0 && r[0] <= r[1])) throw new TrainException("--ratio must be MIN MAX with 0 < MIN <= MAX, got " + r[0] + " " + r[1]);
            po = po.withRandomResizedCrop(s, r);
        }
        if (!(cfg.cropPct > 0 && cfg.cropPct <= 1)) throw new TrainException("--crop-pct must be in (0, 1], got " + cfg.cropPct);
        po = po.withCropPct(cfg.cropPct);
        try {
            Interpolation train = Interpolation.parse(cfg.trainInterpolation, "--train-interpolation");
            Interpolation eval = Interpolation.parse(cfg.interpolation, "--interpolation");
            po = po.withInterpolation(train, eval);
            if (cfg.aa != null && !cfg.aa.isBlank()) po = po.withAutoAugment(cfg.aa.trim());
        } catch (IllegalArgumentException e) {
            throw new TrainException(e.getMessage());
        }
        return po;
    }
}
