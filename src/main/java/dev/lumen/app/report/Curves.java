package dev.lumen.app.report;

import dev.lumen.app.train.EpochRecord;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * curves.png: three charts side by side, drawn with XChart off screen: loss and top-1 accuracy
 * per epoch (train; val of the model's own weights; val of the EMA weights when an EMA is kept,
 * so the plot shows the same numbers the report does) and the learning rate. Points that are
 * NaN (an epoch without validation, train accuracy under MixUp, no EMA) are left out of their
 * line.
 */
public final class Curves {
    private Curves() {}

    /** Width and height of each chart; the PNG is CHARTS times as wide. */
    public static final int CHART_WIDTH = 640, CHART_HEIGHT = 440, CHARTS = 3;

    public static final String FILE = "curves.png";

    private static final Color TRAIN = new Color(0x1f77b4), VAL = new Color(0xd62728), EMA = new Color(0x2ca02c), LR = new Color(0x9467bd);

    static {
        // No display is needed, or wanted, to draw into an image.
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    /** The charts as one image of CHARTS * CHART_WIDTH x CHART_HEIGHT. */
    public static BufferedImage render(List<EpochRecord> epochs, String title) {
        // Losses fall and accuracies rise: each legend goes to the corner its lines leave free.
        XYChart loss = chart(title == null ? "Loss" : title + ": loss", "loss", Styler.LegendPosition.InsideNE);
        add(loss, "train", epochs, EpochRecord::trainLoss, TRAIN);
        add(loss, "val (model)", epochs, EpochRecord::valLoss, VAL);
        add(loss, "val (EMA)", epochs, EpochRecord::emaValLoss, EMA);
        XYChart acc = chart(title == null ? "Top-1 accuracy" : title + ": top-1 accuracy", "top-1 accuracy (%)",
                Styler.LegendPosition.InsideSE);
        add(acc, "train", epochs, EpochRecord::trainTop1, TRAIN);
        add(acc, "val (model)", epochs, EpochRecord::valTop1, VAL);
        add(acc, "val (EMA)", epochs, EpochRecord::emaValTop1, EMA);
        XYChart lr = chart(title == null ? "Learning rate" : title + ": learning rate", "lr at the epoch's end", Styler.LegendPosition.InsideNE);
        lr.getStyler().setyAxisTickLabelsFormattingFunction(y -> String.format(Locale.ROOT, "%.2e", y));
        add(lr, "lr", epochs, EpochRecord::lr, LR);

        BufferedImage out = new BufferedImage(CHARTS * CHART_WIDTH, CHART_HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.drawImage(BitmapEncoder.getBufferedImage(loss), 0, 0, null);
            g.drawImage(BitmapEncoder.getBufferedImage(acc), CHART_WIDTH, 0, null);
            g.drawImage(BitmapEncoder.getBufferedImage(lr), 2 * CHART_WIDTH, 0, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /**
     * Writes the curves of epochs to png (temp file, then rename). Fails with an IOException
     * that says why when Java2D cannot draw (no fonts installed).
     */
    public static void write(List<EpochRecord> epochs, String title, Path png) throws IOException {
        BufferedImage img;
        try {
            img = render(epochs, title);
        } catch (InternalError | UnsatisfiedLinkError | NoClassDefFoundError e) {
            // What headless AWT throws when fontconfig or every font is missing.
            throw new IOException(png + ": cannot draw the curves (" + e + "); install fontconfig and a font such as fonts-dejavu-core", e);
        }
        Path parent = png.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve(png.getFileName() + ".tmp");
        try (OutputStream o = Files.newOutputStream(tmp)) {
            if (!ImageIO.write(img, "png", o)) throw new IOException(png + ": no PNG writer");
        }
        Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static XYChart chart(String title, String yTitle, Styler.LegendPosition legend) {
        XYChart c = new XYChartBuilder().width(CHART_WIDTH).height(CHART_HEIGHT).title(title).xAxisTitle("epoch").yAxisTitle(yTitle).build();
        var s = c.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotGridLinesColor(new Color(0xdddddd));
        s.setPlotBorderVisible(true);
        s.setChartTitleBoxVisible(false);
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        s.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
        s.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        s.setLegendPosition(legend);
        s.setLegendBorderColor(new Color(0xbbbbbb));
        s.setMarkerSize(6);
        s.setAntiAlias(true);
        // Epochs are whole numbers: label only the integer ticks, so no label repeats.
        s.setxAxisTickLabelsFormattingFunction(x -> Math.abs(x - Math.rint(x)) < 1e-9 ? String.valueOf(Math.round(x)) : "");
        s.setyAxisTickLabelsFormattingFunction(y -> String.format(Locale.ROOT, Math.abs(y) >= 10 ? "%.1f" : "%.3f", y));
        return c;
    }

    private static void add(XYChart c, String name, List<EpochRecord> epochs, ToDoubleFunction<EpochRecord> f, Color color) {
        List<Double> xs = new ArrayList<>(), ys = new ArrayList<>();
        for (EpochRecord e : epochs) {
            double y = f.applyAsDouble(e);
            if (Double.isFinite(y)) {
                xs.add((double) e.epoch());
                ys.add(y);
            }
        }
        if (xs.isEmpty()) return; // a series with no point would make XChart fail
        XYSeries s = c.addSeries(name, xs, ys);
        s.setLineColor(color);
        s.setMarkerColor(color);
        s.setMarker(SeriesMarkers.CIRCLE);
        s.setLineStyle(new BasicStroke(2f));
    }
}
