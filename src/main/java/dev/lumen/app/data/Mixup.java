package dev.lumen.app.data;

import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import java.util.Locale;

/**
 * MixUp and CutMix with the semantics of timm's {@code timm.data.Mixup}.
 *
 * <p>Per batch (mode BATCH), per pair (PAIR: element i and B-1-i share one draw and mix with
 * each other) or per element (ELEM), with probability {@code prob} a lambda is drawn from
 * Beta(alpha, alpha): from the CutMix alpha with probability {@code switchProb} when both are
 * on, else from whichever is on. MixUp blends x[i] with x[B-1-i] (the batch flipped); CutMix
 * pastes a box of the flipped batch, whose side is sqrt(1 - lambda) of the image's (or, with
 * cutmixMinmax, a uniform fraction in that range), and with {@code correctLam} (always with
 * minmax) lambda becomes the kept area after clipping the box to the image. Targets are
 * lambda * onehot(y) + (1 - lambda) * onehot(flip(y)) with label smoothing (off = s / K, on =
 * 1 - s + off), so each row sums to 1.
 *
 * <p>Unlike timm only PAIR needs an even batch: BATCH and ELEM also take the odd last batch
 * (its middle element mixes with itself). Draws come from a {@link Generator} whose state a
 * checkpoint can save, so a resumed run mixes exactly as an uninterrupted one.
 */
public final class Mixup {
    public enum Mode {
        BATCH, PAIR, ELEM;

        public static Mode parse(String s) { return valueOf(s.toUpperCase(Locale.ROOT)); }
    }

    /**
     * @param mixupAlpha   MixUp is on when &gt; 0
     * @param cutmixAlpha  CutMix is on when &gt; 0 (forced to 1 when cutmixMinmax is given)
     * @param cutmixMinmax null, or {min, max} box side fractions
     */
    public record Config(double mixupAlpha, double cutmixAlpha, double[] cutmixMinmax, double prob, double switchProb, Mode mode,
                         boolean correctLam, double labelSmoothing, int numClasses) {
        public Config {
            if (cutmixMinmax != null) {
                if (cutmixMinmax.length != 2 || !(cutmixMinmax[0] >= 0 && cutmixMinmax[0] < cutmixMinmax[1] && cutmixMinmax[1] <= 1)) {
                    throw new IllegalArgumentException("mixup: cutmix minmax must be {min, max} with 0 <= min < max <= 1, got "
                            + Arrays.toString(cutmixMinmax));
                }
                cutmixMinmax = cutmixMinmax.clone();
                cutmixAlpha = 1.0;
            }
            if (mixupAlpha < 0 || cutmixAlpha < 0 || !(mixupAlpha > 0 || cutmixAlpha > 0)) {
                throw new IllegalArgumentException("mixup: one of mixup alpha and cutmix alpha must be > 0 (and neither < 0), got "
                        + mixupAlpha + ", " + cutmixAlpha);
            }
            if (!(prob >= 0 && prob <= 1) || !(switchProb >= 0 && switchProb <= 1)) {
                throw new IllegalArgumentException("mixup: prob and switch prob must be in [0, 1], got " + prob + ", " + switchProb);
            }
            if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
                throw new IllegalArgumentException("mixup: label smoothing must be in [0, 1), got " + labelSmoothing);
            }
            if (numClasses < 1) throw new IllegalArgumentException("mixup: num classes must be >= 1, got " + numClasses);
        }

        /** timm's defaults: prob 1, switch prob 0.5, mode batch, corrected lambda, smoothing 0.1. */
        public static Config of(double mixupAlpha, double cutmixAlpha, int numClasses) {
            return new Config(mixupAlpha, cutmixAlpha, null, 1.0, 0.5, Mode.BATCH, true, 0.1, numClasses);
        }
    }

    /** Mixed images F32 [B, C, H, W] and soft targets F32 [B, numClasses]. */
    public record Result(Tensor images, Tensor targets) implements AutoCloseable {
        @Override
        public void close() {
            images.close();
            targets.close();
        }
    }

    /** A box [yl, yh) x [xl, xh). */
    public record Box(int yl, int yh, int xl, int xh) {
        public int area() { return (yh - yl) * (xh - xl); }
    }

    /** A CutMix box and the lambda to use with it. */
    public record BoxLam(Box box, double lam) {}

    private final Config config;
    private final Generator rng;
    private volatile boolean enabled = true;

    public Mixup(Config config, Generator rng) {
        this.config = config;
        this.rng = rng;
    }

    public Config config() { return config; }

    /** The generator; save its state() with a checkpoint. */
    public Generator generator() { return rng; }

    /** Turns mixing off (targets are then smoothed one-hot), as timm's mixup_off_epoch. */
    public void setEnabled(boolean on) { enabled = on; }

    public boolean enabled() { return enabled; }

    /**
     * Mixes a batch. The inputs are left unchanged; the result is new tensors made in the
     * caller's current scope.
     *
     * @param images F32 [B, C, H, W]
     * @param labels I64 [B] class indices
     */
    public Result apply(Tensor images, Tensor labels) {
        if (images.dim() != 4) throw new IllegalArgumentException("mixup: images must be [B, C, H, W], got " + Arrays.toString(images.shape()));
        int b = images.shape(0);
        if (labels.dim() != 1 || labels.shape(0) != b) {
            throw new IllegalArgumentException("mixup: labels " + Arrays.toString(labels.shape()) + " do not match images " + Arrays.toString(images.shape()));
        }
        if (config.mode == Mode.PAIR && b % 2 != 0) throw new IllegalArgumentException("mixup: pair mode needs an even batch size, got " + b);
        int[] shape = images.shape();
        float[] x = images.toFloats();
        long[] y = labels.toLongs();
        double[] lam = switch (config.mode) {
            case BATCH -> mixBatch(x, shape);
            case PAIR -> mixPair(x, shape);
            case ELEM -> mixElem(x, shape);
        };
        return new Result(Tensor.fromFloats(x, shape), targets(y, config.numClasses, lam, config.labelSmoothing));
    }

    /** timm's mixup_target: lam[i] * onehot(y[i]) + (1 - lam[i]) * onehot(y[B-1-i]), smoothed; F32 [B, K]. */
    public static Tensor targets(long[] labels, int numClasses, double[] lam, double smoothing) {
        int b = labels.length;
        double off = smoothing / numClasses, on = 1 - smoothing + off;
        float[] t = new float[b * numClasses];
        for (int i = 0; i < b; i++) {
            long y1 = labels[i], y2 = labels[b - 1 - i];
            if (y1 < 0 || y1 >= numClasses) throw new IllegalArgumentException("mixup: label " + y1 + " is outside [0, " + numClasses + ")");
            double l = lam.length == 1 ? lam[0] : lam[i];
            for (int k = 0; k < numClasses; k++) {
                double v1 = k == y1 ? on : off, v2 = k == y2 ? on : off;
                t[i * numClasses + k] = (float) (v1 * l + v2 * (1 - l));
            }
        }
        return Tensor.fromFloats(t, b, numClasses);
    }

    /** timm's rand_bbox: a box of side sqrt(1 - lam) times the image's, centre uniform, clipped. */
    public static Box randBbox(int h, int w, double lam, double margin, Generator rng) {
        double ratio = Math.sqrt(1 - lam);
        int cutH = (int) (h * ratio), cutW = (int) (w * ratio);
        int marginY = (int) (margin * cutH), marginX = (int) (margin * cutW);
        int cy = Draws.randint(rng, marginY, h - marginY), cx = Draws.randint(rng, marginX, w - marginX);
        return new Box(clip(cy - cutH / 2, h), clip(cy + cutH / 2, h), clip(cx - cutW / 2, w), clip(cx + cutW / 2, w));
    }

    /** timm's rand_bbox_minmax: box sides uniform in [min, max) of the image's, placed inside it. */
    public static Box randBboxMinmax(int h, int w, double[] minmax, Generator rng) {
        int cutH = Draws.randint(rng, (int) (h * minmax[0]), (int) (h * minmax[1]));
        int cutW = Draws.randint(rng, (int) (w * minmax[0]), (int) (w * minmax[1]));
        int yl = Draws.randint(rng, 0, h - cutH), xl = Draws.randint(rng, 0, w - cutW);
        return new Box(yl, yl + cutH, xl, xl + cutW);
    }

    /** timm's cutmix_bbox_and_lam: the box, and lambda = 1 - box area / image area when corrected. */
    public static BoxLam cutmixBboxAndLam(int h, int w, double lam, double[] minmax, boolean correctLam, Generator rng) {
        Box box = minmax != null ? randBboxMinmax(h, w, minmax, rng) : randBbox(h, w, lam, 0, rng);
        if (correctLam || minmax != null) lam = 1.0 - box.area() / (double) (h * w);
        return new BoxLam(box, lam);
    }

    private static int clip(int v, int hi) { return Math.max(0, Math.min(v, hi)); }

    /** A lambda and whether it is a CutMix one. */
    private record Draw(double lam, boolean cutmix) {}

    private double betaOf(double alpha) { return Draws.beta(rng, alpha, alpha); }

    /** timm's _params_per_batch. */
    private Draw paramsPerBatch() {
        if (!enabled || !(rng.nextUniform() < config.prob)) return new Draw(1.0, false);
        boolean both = config.mixupAlpha > 0 && config.cutmixAlpha > 0;
        boolean cutmix = both ? rng.nextUniform() < config.switchProb : config.cutmixAlpha > 0;
        return new Draw(betaOf(cutmix ? config.cutmixAlpha : config.mixupAlpha), cutmix);
    }

    /** timm's _params_per_elem: n draws; lambda stays 1 for an element that is not mixed. */
    private Draw[] paramsPerElem(int n) {
        Draw[] d = new Draw[n];
        for (int i = 0; i < n; i++) d[i] = paramsPerBatch();
        return d;
    }

    private double[] mixBatch(float[] x, int[] shape) {
        Draw d = paramsPerBatch();
        if (d.lam == 1.0) return new double[] {1.0};
        int b = shape[0], per = x.length / b;
        float[] orig = x.clone();
        double lam = d.lam;
        if (d.cutmix) {
            BoxLam bl = cutmixBboxAndLam(shape[2], shape[3], lam, config.cutmixMinmax, config.correctLam, rng);
            for (int i = 0; i < b; i++) pasteBox(x, orig, i, b - 1 - i, shape, bl.box);
            lam = bl.lam;
        } else {
            for (int i = 0; i < b; i++) blend(x, orig, i, b - 1 - i, per, lam);
        }
        return new double[] {lam};
    }

    private double[] mixElem(float[] x, int[] shape) {
        int b = shape[0], per = x.length / b;
        Draw[] d = paramsPerElem(b);
        float[] orig = x.clone();
        double[] lam = new double[b];
        for (int i = 0; i < b; i++) {
            lam[i] = d[i].lam;
            if (d[i].lam == 1.0) continue;
            if (d[i].cutmix) {
                BoxLam bl = cutmixBboxAndLam(shape[2], shape[3], d[i].lam, config.cutmixMinmax, config.correctLam, rng);
                pasteBox(x, orig, i, b - 1 - i, shape, bl.box);
                lam[i] = bl.lam;
            } else {
                blend(x, orig, i, b - 1 - i, per, d[i].lam);
            }
        }
        return lam;
    }

    private double[] mixPair(float[] x, int[] shape) {
        int b = shape[0], per = x.length / b;
        Draw[] d = paramsPerElem(b / 2);
        float[] orig = x.clone();
        double[] lam = new double[b];
        for (int i = 0; i < b / 2; i++) {
            int j = b - 1 - i;
            lam[i] = d[i].lam;
            if (d[i].lam != 1.0) {
                if (d[i].cutmix) {
                    BoxLam bl = cutmixBboxAndLam(shape[2], shape[3], d[i].lam, config.cutmixMinmax, config.correctLam, rng);
                    pasteBox(x, orig, i, j, shape, bl.box);
                    pasteBox(x, orig, j, i, shape, bl.box);
                    lam[i] = bl.lam;
                } else {
                    blend(x, orig, i, j, per, d[i].lam);
                    blend(x, orig, j, i, per, d[i].lam);
                }
            }
            lam[j] = lam[i];
        }
        return lam;
    }

    /** x[dst] = lam * orig[dst] + (1 - lam) * orig[src]. */
    private static void blend(float[] x, float[] orig, int dst, int src, int per, double lam) {
        float a = (float) lam, c = (float) (1 - lam);
        for (int k = 0; k < per; k++) x[dst * per + k] = orig[dst * per + k] * a + orig[src * per + k] * c;
    }

    /** x[dst][:, box] = orig[src][:, box]. */
    private static void pasteBox(float[] x, float[] orig, int dst, int src, int[] shape, Box box) {
        int c = shape[1], h = shape[2], w = shape[3], per = c * h * w, len = box.xh - box.xl;
        if (len <= 0) return;
        for (int ch = 0; ch < c; ch++) {
            for (int y = box.yl; y < box.yh; y++) {
                int off = ch * h * w + y * w + box.xl;
                System.arraycopy(orig, src * per + off, x, dst * per + off, len);
            }
        }
    }
}
