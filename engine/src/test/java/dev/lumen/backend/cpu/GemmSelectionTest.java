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
    void autoPrefersOpenBlasWhenItLoads() {
        Gemm auto = Gemm.Selection.choose("auto");
        assertSame(Gemm.openBlas() != null ? Gemm.openBlas() : Gemm.java(), auto);
    }

    @Test
    void openBlasIsAnErrorWhenMissingAndOtherValuesAreRejected() {
        if (Gemm.openBlas() == null) assertThrows(IllegalStateException.class, () -> Gemm.Selection.choose("openblas"));
        else assertSame(Gemm.openBlas(), Gemm.Selection.choose("openblas"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.Selection.choose("mkl"));
        assertTrue(e.getMessage().contains("lumen.blas"), e.getMessage());
    }
}
