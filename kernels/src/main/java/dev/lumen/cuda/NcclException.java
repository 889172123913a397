package dev.lumen.cuda;

/** A NCCL call that returned an error: the call, NCCL's description and name of the result, and its last-error text. */
public final class NcclException extends RuntimeException {
    private final int result;

    public NcclException(String message, int result) {
        super(message);
        this.result = result;
    }

    /** The ncclResult_t value ({@link Nccl#REMOTE_ERROR} when a peer failed). */
    public int result() { return result; }

    /** True when a peer or the transport failed rather than this caller's arguments. */
    public boolean isPeerFailure() {
        return result == Nccl.REMOTE_ERROR || result == Nccl.SYSTEM_ERROR || result == Nccl.TIMEOUT;
    }
}
