package dev.lumen.app.dist;

/** The nodes of a job could not meet; the message is one line saying why. */
public final class RendezvousException extends RuntimeException {
    public RendezvousException(String message) { super(message); }

    public RendezvousException(String message, Throwable cause) { super(message, cause); }
}
