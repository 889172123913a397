package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The cuDNN binding itself: loading, the one-line reason when the library is missing, version
 * and error text, descriptor round trips, and errors that name the call and cuDNN's status. Run
 * against the selected cuDNN (the emulated one in CI) and, where NVIDIA's libcudnn.so.9 loads on
 * this machine, against it too (its descriptor and version functions need no GPU).
 */
class CudnnTest {
    private static Cudnn selected() {
        CudaTestSupport.context();
        return Cudnn.get();
    }

    @Test
    void aMissingLibraryGivesOneLineReason() {
        CudaException e = assertThrows(CudaException.class, () -> Cudnn.load(List.of("/nonexistent/libcudnn.so.9")));
        assertEquals("cuDNN unavailable: /nonexistent/libcudnn.so.9 not found", e.getMessage());
    }

    @Test
    void selectedLibraryDescribesAndRejectsLikeCudnn() {
        Cudnn dnn = selected();
        if (CudaContext.get().driver().isEmulated()) assertTrue(dnn.library().endsWith("libcudnn_emu.so"), dnn.library());
        descriptorsRoundTrip(dnn);
        // A handle exists and is bound to the compute stream.
        assertTrue(dnn.handle().address() != 0);
    }

    @Test
    void nvidiaLibraryWhereItLoads() {
        String named = System.getProperty("lumen.cudnn.nvidia");   // a file, for machines where it is elsewhere
        List<String> candidates = named != null ? List.of(named) : Cudnn.nvidiaCandidates();
        Cudnn dnn;
        try {
            dnn = Cudnn.load(candidates);
        } catch (CudaException e) {
            Assumptions.abort("NVIDIA's cuDNN does not load here: " + e.getMessage());
            return;
        }
        descriptorsRoundTrip(dnn);
    }

    private static void descriptorsRoundTrip(Cudnn dnn) {
        assertEquals(9, dnn.version() / 10000, "cuDNN major version of " + dnn.library());
        assertEquals("CUDNN_STATUS_BAD_PARAM", dnn.errorString(Cudnn.STATUS_BAD_PARAM));

        MemorySegment t = dnn.tensor(Cudnn.DATA_HALF, 2, 3, 5, 7, 3 * 5 * 7 * 2, 5 * 7, 7, 1);
        MemorySegment f = dnn.filter(Cudnn.DATA_HALF, 4, 3, 3, 3);
        MemorySegment c = dnn.convolution(1, 1, 2, 2, 1, 1, Cudnn.DATA_FLOAT, 1, Cudnn.TENSOR_OP_MATH);
        try {
            assertArrayEquals(new int[] {Cudnn.DATA_HALF, 2, 3, 5, 7, 210, 35, 7, 1}, dnn.describeTensor(t));
            assertArrayEquals(new int[] {Cudnn.DATA_HALF, Cudnn.TENSOR_NCHW, 4, 3, 3, 3}, dnn.describeFilter(f));
            assertArrayEquals(new int[] {2, 4, 3, 4}, dnn.forwardOutputDim(c, t, f));   // (5+2-3)/2+1, (7+2-3)/2+1
        } finally {
            dnn.destroyConvolution(c);
            dnn.destroyFilter(f);
            dnn.destroyTensor(t);
        }
        CudaException e = assertThrows(CudaException.class, () -> dnn.tensor(Cudnn.DATA_FLOAT, 0, 3, 5, 7));
        assertEquals(Cudnn.STATUS_BAD_PARAM, e.code(), e.getMessage());
        assertTrue(e.getMessage().startsWith("cudnnSetTensor4dDescriptorEx(0x3x5x7) failed: CUDNN_STATUS_BAD_PARAM"), e.getMessage());
    }
}
