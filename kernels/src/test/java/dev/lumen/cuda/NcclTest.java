package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The NCCL binding itself: where the library is looked for and the one-line reasons when it is
 * missing, the version, and a failing call reported with NCCL's own description, result name and
 * last-error text. The collectives are NcclCommunicatorTest's.
 */
class NcclTest {

    private static Nccl nccl() {
        CudaTestSupport.context();
        try {
            return Nccl.get();
        } catch (CudaException e) {
            if (Boolean.getBoolean("lumen.cuda.required")) throw e;
            Assumptions.abort(e.getMessage());
            throw e;
        }
    }

    @Test
    void versionAndLibraryAreReported() {
        Nccl n = nccl();
        int v = n.version();
        assertTrue(v >= 21800, "NCCL 2.18 or newer, got " + v);
        assertTrue(n.describe().startsWith("NCCL 2.") && n.describe().contains(n.library()), n.describe());
    }

    @Test
    void aFailingCallSaysWhatNcclSays() {
        Nccl n = nccl();
        byte[] notAnId = new byte[Nccl.UNIQUE_ID_BYTES];
        NcclException e = assertThrows(NcclException.class, () -> n.commInitRank(2, notAnId, 5));
        assertEquals(Nccl.INVALID_ARGUMENT, e.result());
        assertTrue(e.getMessage().startsWith("ncclCommInitRank(nranks=2, rank=5) failed: " + n.errorString(Nccl.INVALID_ARGUMENT)
                + " (ncclInvalidArgument)"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(!e.isPeerFailure());
        assertEquals("ncclRemoteError", Nccl.resultName(Nccl.REMOTE_ERROR));
        IllegalArgumentException shortId = assertThrows(IllegalArgumentException.class, () -> n.commInitRank(2, new byte[16], 0));
        assertTrue(shortId.getMessage().contains("16 bytes, expected 128"), shortId.getMessage());
    }

    @Test
    void missingNamedLibraryIsAOneLineReason() {
        CudaException e = assertThrows(CudaException.class, () -> NvidiaLibrary.NCCL.named("/nonexistent/libnccl.so.2"));
        assertEquals("NCCL unavailable: /nonexistent/libnccl.so.2 not found (named by lumen.nccl.library or LUMEN_NCCL_LIBRARY)",
                e.getMessage());
    }

    @Test
    void missingEmulatedNcclPointsAtTheBuild() {
        CudaException e = assertThrows(CudaException.class, () -> NvidiaLibrary.NCCL.besideEmulatedDriver("/nonexistent/emu/libcuda_emu.so"));
        assertEquals("NCCL unavailable: libnccl_emu.so not found (looked in /nonexistent/emu, the emulated driver's folder; "
                + "`make kernels` builds it)", e.getMessage());
    }
}
