package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.Image;
import org.junit.jupiter.api.Test;

class NormalizeTest {
    @Test
    void subtractsMeanAndDividesByStdPerChannel() {
        Image img = new Image(2, 1, 2, new float[] {0.5f, 1f, 0.25f, 0f});
        Image out = new Normalize(new float[] {0.5f, 0.25f}, new float[] {0.25f, 0.5f}).apply(img, null);
        assertArrayEquals(new float[] {0f, 2f, 0f, -0.5f}, out.data());
        assertArrayEquals(new float[] {0.5f, 1f, 0.25f, 0f}, img.data()); // input unchanged
    }

    @Test
    void channelMismatchAndBadStdAreErrors() {
        Normalize n = new Normalize(Normalize.IMAGENET_MEAN, Normalize.IMAGENET_STD);
        var e = assertThrows(IllegalArgumentException.class, () -> n.apply(new Image(1, 1, 1, new float[1]), null));
        assertTrue(e.getMessage().contains("3 channel statistics for a 1-channel image"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Normalize(new float[] {0}, new float[] {0}));
        assertThrows(IllegalArgumentException.class, () -> new Normalize(new float[] {0, 0}, new float[] {1}));
    }
}
