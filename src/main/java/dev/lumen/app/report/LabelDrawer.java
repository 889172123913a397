package dev.lumen.app.report;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/**
 * Draws a prediction onto a copy of an image: a dark, slightly transparent box in the top-left
 * corner with the label, or the top-k labels one per line, in white. Small images (Fashion-MNIST's 28x28) are enlarged first, so
 * the label stays readable: pixel-exact (nearest neighbour) from 4x up, smooth below.
 */
public final class LabelDrawer {
    private LabelDrawer() {}

    /** Images whose shorter side is below this are enlarged to it. */
    public static final int MIN_SIDE = 256;

    static {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    /** An RGB copy of img, enlarged when small, with text in a box at its top-left corner. */
    public static BufferedImage draw(BufferedImage img, String text) { return draw(img, java.util.List.of(text)); }

    /** As {@link #draw(BufferedImage, String)} with one line of the box per entry of lines (top-k, best first). */
    public static BufferedImage draw(BufferedImage img, java.util.List<String> lines) {
        String widest = lines.stream().reduce("", (a, b) -> b.length() > a.length() ? b : a);
        int w = img.getWidth(), h = img.getHeight();
        double scale = Math.max(1, (double) MIN_SIDE / Math.min(w, h));
        int ow = (int) Math.round(w * scale), oh = (int) Math.round(h * scale);
        BufferedImage out = new BufferedImage(ow, oh, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, scale >= 4
                    ? RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR : RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, ow, oh); // transparent pixels become white, not black
            g.drawImage(img, 0, 0, ow, oh, null);

            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            // About 1/16 of the shorter side, shrunk until the widest label fits the width and the lines half the height.
            int size = Math.max(12, Math.min(ow, oh) / 16);
            Font font = new Font(Font.SANS_SERIF, Font.BOLD, size);
            FontMetrics fm = g.getFontMetrics(font);
            while (size > 9 && (fm.stringWidth(widest) + size > ow || lines.size() * fm.getHeight() > oh / 2)) {
                font = font.deriveFont((float) --size);
                fm = g.getFontMetrics(font);
            }
            int pad = Math.max(3, size / 3);
            int line = fm.getAscent() + fm.getDescent();
            int bw = Math.min(ow, fm.stringWidth(widest) + 2 * pad), bh = lines.size() * line + 2 * pad;
            g.setColor(new Color(0, 0, 0, 190));
            g.fillRect(0, 0, bw, bh);
            g.setColor(Color.WHITE);
            g.setFont(font);
            for (int i = 0; i < lines.size(); i++) g.drawString(lines.get(i), pad, pad + i * line + fm.getAscent());
        } finally {
            g.dispose();
        }
        return out;
    }
}
