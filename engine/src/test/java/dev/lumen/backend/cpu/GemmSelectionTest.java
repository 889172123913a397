package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The lumen.blas property: java, openblas or auto. */
class GemmSelectionTest {
    @Test
    void javaIsAlwaysAvailable() {
        assertSame(Gemm.java(), Gemm.Selection.choose("java"));
        assertTrue(Gemm.java().name().startsWith("Java"));
    }

    @Test
    void autoPrefersOneDnnThenOpenBlas() {
        Gemm auto = Gemm.Selection.choose("auto");
        boolean dnnOff = System.getProperty("lumen.onednn", System.getenv().getOrDefault("LUMEN_ONEDNN", OneDnnConv.DEFAULT_MODE)).equalsIgnoreCase("off");
        Gemm expected = Gemm.oneDnn() != null && !dnnOff ? Gemm.oneDnn() : Gemm.openBlas() != null ? Gemm.openBlas() : Gemm.java();
        assertSame(expected, auto);
    }

    @Test
    void oneDnnIsSelectableAndErrorsNameTheReason() {
        if (Gemm.oneDnn() == null) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Gemm.Selection.choose("onednn"));
            assertTrue(e.getMessage().contains("oneDNN is unavailable"), e.getMessage());
        } else {
            assertSame(Gemm.oneDnn(), Gemm.Selection.choose("onednn"));
            assertTrue(Gemm.oneDnn().name().startsWith("oneDNN"), Gemm.oneDnn().name());
        }
    }

    @Test
    void openBlasIsAnErrorWhenMissingAndOtherValuesAreRejected() {
        if (Gemm.openBlas() == null) assertThrows(IllegalStateException.class, () -> Gemm.Selection.choose("openblas"));
        else assertSame(Gemm.openBlas(), Gemm.Selection.choose("openblas"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.Selection.choose("mkl"));
        assertTrue(e.getMessage().contains("lumen.blas"), e.getMessage());
    }
}
