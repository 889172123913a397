package dev.lumen.app.train;

import dev.lumen.app.report.TensorBoardWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * metrics.csv (one row per epoch, {@link EpochRecord#CSV_HEADER}) and the TensorBoard scalars of
 * a run folder. A resumed run rewrites metrics.csv from the history in its checkpoint, so rows of
 * epochs after that checkpoint (from a run killed later) do not linger.
 */
final class MetricsLog implements AutoCloseable {
    private final Path csv;
    private final TensorBoardWriter tb;

    MetricsLog(Path runDir, List<EpochRecord> history) throws IOException {
        Files.createDirectories(runDir);
        csv = runDir.resolve("metrics.csv");
        StringBuilder sb = new StringBuilder(EpochRecord.CSV_HEADER).append('\n');
        for (EpochRecord r : history) sb.append(r.csvRow()).append('\n');
        Files.writeString(csv, sb, StandardCharsets.UTF_8);
        tb = new TensorBoardWriter(runDir);
    }

    Path csv() { return csv; }

    Path eventFile() { return tb.file(); }

    void epoch(EpochRecord r) throws IOException {
        Files.writeString(csv, r.csvRow() + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        long step = r.epoch();
        tb.scalar("train/loss", r.trainLoss(), step);
        tb.scalar("train/top1", r.trainTop1(), step);
        if (!Double.isNaN(r.valTop1())) { // an epoch --val-interval skips has no validation numbers
            tb.scalar("val/loss", r.valLoss(), step);
            tb.scalar("val/top1", r.valTop1(), step);
            tb.scalar("val/top5", r.valTop5(), step);
        }
        if (r.hasEma()) {
            tb.scalar("ema/loss", r.emaValLoss(), step);
            tb.scalar("ema/top1", r.emaValTop1(), step);
            tb.scalar("ema/top5", r.emaValTop5(), step);
        }
        tb.scalar("lr", r.lr(), step);
    }

    /** The running training loss and lr at an update, for a finer curve than per epoch. */
    void step(long globalStep, double loss, double lr) throws IOException {
        tb.scalar("step/loss", loss, globalStep);
        tb.scalar("step/lr", lr, globalStep);
    }

    @Override
    public void close() throws IOException { tb.close(); }
}
