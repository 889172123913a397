package dev.lumen.app;

import dev.lumen.app.data.transform.Interpolation;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.app.report.CheckpointModel;
import picocli.CommandLine.Option;

/**
 * timm's validation resize options (validate.py's --crop-pct and --interpolation) for
 * {@code lumen eval} and {@code lumen predict}. Unlike the model settings, these are free to
 * change at evaluation: the command line wins, then the run's config, then timm's 0.875 and
 * Lumen's bilinear.
 */
final class EvalResizeOptions {
    @Option(names = "--crop-pct", paramLabel = "F",
            description = "Centre crop fraction: resize to img-size / F, crop img-size (images above 64 px); default: the run's, else 0.875.")
    Double cropPct;

    @Option(names = "--interpolation", paramLabel = "NAME", description = "Resize filter: bilinear, bicubic or nearest; default: the run's, else bilinear.")
    String interpolation;

    /** The eval pipeline settings with the resize these options and the run choose. */
    Pipelines.Options apply(Pipelines.Options o, CheckpointModel ck) {
        Object runPct = ck.config().get("crop-pct");
        double pct = cropPct != null ? cropPct : runPct instanceof Number n ? n.doubleValue() : 0.875;
        if (!(pct > 0 && pct <= 1)) throw new IllegalArgumentException("--crop-pct must be in (0, 1], got " + pct);
        String name = interpolation != null ? interpolation : ck.configString("interpolation") != null ? ck.configString("interpolation") : "bilinear";
        return o.withCropPct(pct).withInterpolation(o.trainInterpolation(), Interpolation.parse(name, "--interpolation"));
    }
}
