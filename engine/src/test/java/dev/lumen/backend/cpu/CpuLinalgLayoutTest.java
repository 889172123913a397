package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** Transposed and strided matrices reach the GEMM as flags and leading dims, not copies. */
class CpuLinalgLayoutTest {
    @Test
    void rowMajorAndTransposedViewsNeedNoCopy() {
        assertEquals(new CpuLinalg.Layout(false, 13), CpuLinalg.Layout.of(7, 13, 13, 1));
        // The transpose of a contiguous [13, 7] matrix: strides (1, 7).
        assertEquals(new CpuLinalg.Layout(true, 7), CpuLinalg.Layout.of(7, 13, 1, 7));
        // A column slice of a wider matrix keeps its row stride as lda.
        assertEquals(new CpuLinalg.Layout(false, 40), CpuLinalg.Layout.of(7, 13, 40, 1));
        // Degenerate dims: any stride works.
        assertEquals(new CpuLinalg.Layout(false, 13), CpuLinalg.Layout.of(1, 13, 0, 1));
        assertEquals(new CpuLinalg.Layout(false, 5), CpuLinalg.Layout.of(7, 1, 5, 99));
    }

    @Test
    void neitherDimUnitStrideNeedsACopy() {
        assertNull(CpuLinalg.Layout.of(7, 13, 26, 2));
        assertNull(CpuLinalg.Layout.of(7, 13, 0, 1));
    }
}
