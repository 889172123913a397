package dev.lumen.cuda;

/** A CUDA driver call that failed: the call, the CUresult name and its description. */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The CUresult value (CUDA_ERROR_*), or -1 when the failure is not a driver result. */
    public int code() { return code; }
}
