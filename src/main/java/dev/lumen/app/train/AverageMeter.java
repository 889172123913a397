package dev.lumen.app.train;

/** A running mean weighted by sample counts, as the AverageMeter of timm's and PyTorch's example scripts. */
public final class AverageMeter {
    private double last;
    private double sum;
    private long count;

    /** Adds value, the mean over n samples. */
    public void update(double value, long n) {
        last = value;
        sum += value * n;
        count += n;
    }

    public double last() { return last; }

    /** The mean over every sample so far (0 before the first). */
    public double avg() { return count == 0 ? 0 : sum / count; }

    public long count() { return count; }

    /** The weighted sum the mean divides. */
    public double sum() { return sum; }

    public void reset() {
        last = 0;
        sum = 0;
        count = 0;
    }
}
