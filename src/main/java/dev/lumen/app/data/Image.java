package dev.lumen.app.data;

import java.util.Arrays;

/**
 * A decoded image: float pixels in channel-major (CHW) order, values in [0, 1] until a
 * Normalize moves them. Transforms treat an image as immutable and return a new one.
 */
public record Image(int channels, int height, int width, float[] data) {
    public Image {
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("image: bad size " + channels + "x" + height + "x" + width);
        }
        if (data.length != channels * height * width) {
            throw new IllegalArgumentException("image: " + data.length + " values do not fill "
                    + channels + "x" + height + "x" + width);
        }
    }

    public static Image zeros(int channels, int height, int width) {
        return new Image(channels, height, width, new float[channels * height * width]);
    }

    public float get(int c, int y, int x) { return data[(c * height + y) * width + x]; }

    public int planeSize() { return height * width; }

    /** "3x224x224", for messages. */
    public String sizeString() { return channels + "x" + height + "x" + width; }

    @Override
    public boolean equals(Object o) {
        return o instanceof Image i && i.channels == channels && i.height == height && i.width == width
                && Arrays.equals(i.data, data);
    }

    @Override
    public int hashCode() { return 31 * Arrays.hashCode(new int[] {channels, height, width}) + Arrays.hashCode(data); }

    @Override
    public String toString() { return "Image[" + sizeString() + "]"; }
}
