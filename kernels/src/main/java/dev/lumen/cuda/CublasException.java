package dev.lumen.cuda;

/** A cuBLAS call that returned an error: the call, the cublasStatus_t name and its description. */
public final class CublasException extends RuntimeException {
    private final int status;

    public CublasException(String message, int status) {
        super(message);
        this.status = status;
    }

    /** The cublasStatus_t value (CUBLAS_STATUS_*). */
    public int status() { return status; }
}
