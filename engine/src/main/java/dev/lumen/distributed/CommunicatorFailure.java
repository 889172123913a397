package dev.lumen.distributed;

/**
 * A collective could not complete because a rank failed or the transport broke. The message is
 * one line that names the rank and, where known, the host ("rank 3 on node-b stopped responding
 * (no heartbeat for 30 s)").
 */
public class CommunicatorFailure extends RuntimeException {
    public CommunicatorFailure(String message) { super(message); }

    public CommunicatorFailure(String message, Throwable cause) { super(message, cause); }
}
