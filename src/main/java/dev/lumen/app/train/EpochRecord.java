package dev.lumen.app.train;

/**
 * One epoch of a run: the metrics.csv row and the hook report writers read. Losses are means
 * over samples; accuracies are percentages; train top-1 compares with the original labels
 * (before MixUp/CutMix); lr is the first group's at the end of the epoch. The EMA columns are
 * NaN when no EMA is kept. The val columns are always the model's own weights, the ema_val
 * columns the EMA's.
 */
public record EpochRecord(int epoch, double trainLoss, double trainTop1, double valLoss, double valTop1, double valTop5,
                          double emaValLoss, double emaValTop1, double emaValTop5, double lr, double seconds, double imagesPerSecond) {
    public static final String CSV_HEADER =
            "epoch,train_loss,train_top1,val_loss,val_top1,val_top5,ema_val_loss,ema_val_top1,ema_val_top5,lr,seconds,images_per_second";

    public boolean hasEma() { return !Double.isNaN(emaValTop1); }

    /** False for an epoch that --val-interval skipped (no validation numbers at all). */
    public boolean validated() { return !Double.isNaN(valTop1); }

    /**
     * True when a validation pass of this epoch gave a non-finite loss (the trainer records NaN
     * when any output was non-finite): such an epoch never becomes the best one.
     */
    public boolean diverged() { return validated() && (!Double.isFinite(valLoss) || (hasEma() && !Double.isFinite(emaValLoss))); }

    public String csvRow() {
        return epoch + "," + num(trainLoss) + "," + num(trainTop1) + "," + num(valLoss) + "," + num(valTop1) + "," + num(valTop5) + ","
                + num(emaValLoss) + "," + num(emaValTop1) + "," + num(emaValTop5) + "," + num(lr) + "," + num(seconds) + "," + num(imagesPerSecond);
    }

    private static String num(double v) { return Double.isNaN(v) ? "" : Double.toString(v); }

    java.util.Map<String, Object> toMap() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("epoch", epoch);
        m.put("train_loss", trainLoss);
        m.put("train_top1", trainTop1);
        m.put("val_loss", valLoss);
        m.put("val_top1", valTop1);
        m.put("val_top5", valTop5);
        m.put("ema_val_loss", emaValLoss);
        m.put("ema_val_top1", emaValTop1);
        m.put("ema_val_top5", emaValTop5);
        m.put("lr", lr);
        m.put("seconds", seconds);
        m.put("images_per_second", imagesPerSecond);
        return m;
    }

    static EpochRecord fromMap(java.util.Map<?, ?> m) {
        return new EpochRecord(((Number) m.get("epoch")).intValue(), d(m, "train_loss"), d(m, "train_top1"), d(m, "val_loss"), d(m, "val_top1"),
                d(m, "val_top5"), d(m, "ema_val_loss"), d(m, "ema_val_top1"), d(m, "ema_val_top5"), d(m, "lr"), d(m, "seconds"),
                d(m, "images_per_second"));
    }

    /** JSON writes NaN as null. */
    private static double d(java.util.Map<?, ?> m, String k) {
        Object v = m.get(k);
        return v == null ? Double.NaN : ((Number) v).doubleValue();
    }
}
