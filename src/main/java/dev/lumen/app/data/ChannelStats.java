package dev.lumen.app.data;

import dev.lumen.app.data.transform.Transform;
import dev.lumen.tensor.Generator;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * Per-channel mean and standard deviation of a dataset's pixels, for Normalize. Each image's
 * channel mean and sum of squared deviations are computed exactly in double (two passes), then
 * merged in index order with Chan's parallel formula, so the result does not depend on the
 * thread count. The std is the population std over all pixels (as numpy's std()).
 */
public final class ChannelStats {
    private ChannelStats() {}

    /** The statistics, the counts behind them, and the images that could not be read. */
    public record Result(double[] mean, double[] std, int channels, int images, long pixels, List<String> unreadable) {}

    /**
     * @param transform applied to each image first (e.g. a Resize), or null
     * @param threads   decoding threads (&gt;= 1)
     * @param onUnreadable called once per unreadable image, which is then left out
     */
    public static Result compute(Dataset data, Transform transform, int threads, Consumer<UnreadableImageException> onUnreadable) {
        int n = data.size();
        double[][] per = new double[n][]; // per image: count, then mean and M2 per channel
        UnreadableImageException[] bad = new UnreadableImageException[n];
        Runnable work = () -> IntStream.range(0, n).parallel().forEach(i -> {
            try {
                Image img = data.get(i).image();
                if (transform != null) img = transform.apply(img, new Generator(i));
                per[i] = imageMoments(img);
            } catch (UnreadableImageException e) {
                bad[i] = e;
            }
        });
        ForkJoinPool pool = new ForkJoinPool(Math.max(1, threads));
        try {
            pool.submit(work).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("stats: interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException("stats: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        List<String> unreadable = new ArrayList<>();
        int channels = -1, images = 0;
        double count = 0;
        double[] mean = null, m2 = null;
        for (int i = 0; i < n; i++) {
            if (bad[i] != null) {
                unreadable.add(bad[i].path());
                onUnreadable.accept(bad[i]);
                continue;
            }
            double[] p = per[i];
            int c = (p.length - 1) / 2;
            if (channels < 0) {
                channels = c;
                mean = new double[c];
                m2 = new double[c];
            } else if (c != channels) {
                throw new IllegalArgumentException("stats: " + data.describe(i) + " has " + c + " channels, earlier images " + channels);
            }
            double nb = p[0], total = count + nb;
            for (int ch = 0; ch < c; ch++) {
                double delta = p[1 + 2 * ch] - mean[ch];
                mean[ch] += delta * nb / total;
                m2[ch] += p[2 + 2 * ch] + delta * delta * count * nb / total;
            }
            count = total;
            images++;
        }
        if (images == 0) throw new IllegalArgumentException("stats: no readable image in " + (n > 0 ? data.describe(0) + " ..." : "the dataset"));
        double[] std = new double[channels];
        for (int ch = 0; ch < channels; ch++) std[ch] = Math.sqrt(m2[ch] / count);
        return new Result(mean, std, channels, images, (long) count, unreadable);
    }

    /** {pixels, mean_0, M2_0, mean_1, M2_1, ...} of one image. */
    static double[] imageMoments(Image img) {
        int c = img.channels(), n = img.planeSize();
        float[] d = img.data();
        double[] out = new double[1 + 2 * c];
        out[0] = n;
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int i = ch * n; i < (ch + 1) * n; i++) sum += d[i];
            double m = sum / n, sq = 0;
            for (int i = ch * n; i < (ch + 1) * n; i++) {
                double dv = d[i] - m;
                sq += dv * dv;
            }
            out[1 + 2 * ch] = m;
            out[2 + 2 * ch] = sq;
        }
        return out;
    }
}
