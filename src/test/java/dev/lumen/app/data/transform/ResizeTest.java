package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.lumen.app.data.Image;
import dev.lumen.app.data.TestImages;
import org.junit.jupiter.api.Test;

class ResizeTest {
    /** A 5x7 image, pixel i = i^1.5 / 60, as numpy float32. */
    private static final float[] SRC = {0.0f, 0.01666666753590107f, 0.0471404530107975f, 0.08660254627466202f, 0.13333334028720856f,
        0.18633899092674255f, 0.24494896829128265f, 0.3086709678173065f, 0.37712362408638f, 0.44999998807907104f, 0.527046263217926f,
        0.6080478429794312f, 0.6928203701972961f, 0.7812027335166931f, 0.8730533719062805f, 0.968245804309845f, 1.0666667222976685f,
        1.1682132482528687f, 1.2727922201156616f, 1.3803179264068604f, 1.4907119274139404f, 1.6039015054702759f, 1.719819188117981f,
        1.8384020328521729f, 1.9595917463302612f, 2.0833332538604736f, 2.2095751762390137f, 2.338268518447876f, 2.469367742538452f,
        2.6028294563293457f, 2.738612651824951f, 2.876678466796875f, 3.01698899269104f, 3.1595094203948975f, 3.304206132888794f};

    private static void assertClose(float[] expected, Image got, double tol) {
        assertEquals(expected.length, got.data().length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], got.data()[i], tol * Math.max(1, Math.abs(expected[i])), "element " + i);
        }
    }

    @Test
    void downscaleMatchesPilBilinearWithAntialias() {
        // PIL 9.4: Image.fromarray(src, "F").resize((3, 2), Image.BILINEAR)
        float[] pil = {0.45072129368782043f, 0.5999836921691895f, 0.7699713706970215f, 1.7531495094299316f, 2.0076541900634766f,
            2.2732105255126953f};
        assertClose(pil, ImageOps.resize(new Image(1, 5, 7, SRC), 2, 3), 1e-6);
    }

    @Test
    void mixedScalingMatchesPil() {
        // PIL: resize((4, 9)): shrinks the width, stretches the height
        float[] pil = {0.009387641213834286f, 0.05209508165717125f, 0.13084985315799713f, 0.21451537311077118f, 0.1211710199713707f,
            0.187062606215477f, 0.2880071997642517f, 0.3880366086959839f, 0.30747663974761963f, 0.41200849413871765f, 0.5499361157417297f,
            0.6772387027740479f, 0.6017742156982422f, 0.7318500876426697f, 0.8968523144721985f, 1.045276403427124f, 0.9230698347091675f,
            1.0754156112670898f, 1.2650152444839478f, 1.4330230951309204f, 1.3351128101348877f, 1.5049728155136108f, 1.7144145965576172f,
            1.8985515832901f, 1.7619293928146362f, 1.9487848281860352f, 2.1775197982788086f, 2.3773679733276367f, 2.247840166091919f,
            2.449615955352783f, 2.695448637008667f, 2.9093356132507324f, 2.539386749267578f, 2.7501144409179688f, 3.0062060356140137f,
            3.2285163402557373f};
        assertClose(pil, ImageOps.resize(new Image(1, 5, 7, SRC), 9, 4), 1e-6);
    }

    @Test
    void upscaleMatchesPil() {
        // PIL: resize((11, 8)), first two rows and the last
        Image out = ImageOps.resize(new Image(1, 5, 7, SRC), 8, 11);
        float[] row0 = {0.0f, 0.007575757801532745f, 0.01943701133131981f, 0.03882941976189613f, 0.06149030476808548f, 0.08660254627466202f,
            0.11634032428264618f, 0.14778943359851837f, 0.18152029812335968f, 0.21830807626247406f, 0.24494896829128265f};
        float[] row7 = {2.469367742538452f, 2.530032157897949f, 2.61517333984375f, 2.701580762863159f, 2.788818359375f, 2.876678466796875f,
            2.9659669399261475f, 3.0558581352233887f, 3.1465530395507812f, 3.2384347915649414f, 3.304206132888794f};
        for (int x = 0; x < 11; x++) {
            assertEquals(row0[x], out.get(0, 0, x), 1e-6);
            assertEquals(row7[x], out.get(0, 7, x), 3e-6);
        }
    }

    @Test
    void constantImageStaysConstant() {
        Image src = TestImages.filled(3, 37, 23, 0.3f);
        for (int[] size : new int[][] {{8, 5}, {50, 61}, {37, 10}, {1, 1}}) {
            Image out = Resize.to(size[0], size[1]).apply(src, null);
            assertEquals(3 * size[0] * size[1], out.data().length);
            for (float v : out.data()) assertEquals(0.3f, v, 1e-6);
        }
    }

    @Test
    void shorterSideKeepsTheAspectRatio() {
        Image tall = TestImages.filled(1, 100, 50, 1f), wide = TestImages.filled(1, 30, 45, 1f);
        Image a = Resize.shorterSide(20).apply(tall, null);
        assertEquals("1x40x20", a.sizeString());
        Image b = Resize.shorterSide(20).apply(wide, null);
        assertEquals("1x20x30", b.sizeString());
        Image c = Resize.shorterSide(7).apply(TestImages.filled(1, 10, 11, 1f), null);
        assertEquals("1x7x7", c.sizeString()); // int(7 * 11 / 10) = 7, as torchvision
        assertSame(wide, Resize.shorterSide(30).apply(wide, null));
        assertSame(wide, Resize.to(30, 45).apply(wide, null));
    }
}
