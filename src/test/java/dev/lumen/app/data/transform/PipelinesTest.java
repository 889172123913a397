package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.Image;
import dev.lumen.app.data.TestImages;
import dev.lumen.tensor.Generator;
import org.junit.jupiter.api.Test;

class PipelinesTest {
    @Test
    void photoPipelinesFollowTimm() {
        var o = Pipelines.Options.defaults(224, Normalize.IMAGENET_MEAN, Normalize.IMAGENET_STD).withJitter(0.4)
                .withErasing(0.25, RandomErasing.Mode.PIXEL);
        Compose train = Pipelines.train(o);
        assertInstanceOf(RandomResizedCrop.class, train.steps().get(0));
        assertEquals(new RandomHorizontalFlip(0.5), train.steps().get(1));
        assertEquals(new ColorJitter(0.4, 0.4, 0.4, 0), train.steps().get(2));
        assertInstanceOf(Normalize.class, train.steps().get(3));
        assertInstanceOf(RandomErasing.class, train.steps().get(4));
        Image photo = TestImages.filled(3, 300, 200, 0.5f);
        assertEquals("3x224x224", train.apply(photo, new Generator(1)).sizeString());
        Compose eval = Pipelines.eval(o);
        assertEquals(Resize.shorterSide(256), eval.steps().get(0)); // floor(224 / 0.875)
        assertEquals(CenterCrop.square(224), eval.steps().get(1));
        Image out = eval.apply(photo, null);
        assertEquals("3x224x224", out.sizeString());
        assertEquals((0.5f - 0.485f) / 0.229f, out.get(0, 100, 100), 1e-5);
    }

    @Test
    void smallImagePipelinesPadAndCrop() {
        var o = Pipelines.Options.defaults(28, new float[] {0.286f}, new float[] {0.353f}).withCutout(1, 8);
        assertTrue(o.small());
        Compose train = Pipelines.train(o);
        assertEquals(RandomCrop.square(28, 3), train.steps().get(1));
        assertInstanceOf(Cutout.class, train.steps().getLast());
        Image digit = TestImages.filled(1, 28, 28, 0.5f);
        assertEquals("1x28x28", train.apply(digit, new Generator(2)).sizeString());
        assertEquals("1x28x28", Pipelines.eval(o).apply(TestImages.filled(1, 40, 30, 0.5f), null).sizeString());
        assertTrue(train.toString().startsWith("Compose[Resize(28x28), RandomCrop["), train.toString());
    }

    @Test
    void paddingZeroLeavesSmallImagesUncropped() {
        var o = Pipelines.Options.defaults(28, new float[] {0.286f}, new float[] {0.353f}).withPadding(0);
        Compose train = Pipelines.train(o);
        assertTrue(train.steps().stream().noneMatch(t -> t instanceof RandomCrop), train.toString());
        assertInstanceOf(RandomHorizontalFlip.class, train.steps().get(1));
    }
}
