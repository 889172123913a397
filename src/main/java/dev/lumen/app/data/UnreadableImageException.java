package dev.lumen.app.data;

import dev.lumen.io.Printable;

/**
 * A corrupt or unreadable image; the message names its path (control characters escaped, so it
 * prints safely). Loaders report, skip and count it.
 */
public final class UnreadableImageException extends RuntimeException {
    private final String path;

    public UnreadableImageException(String path, String reason, Throwable cause) {
        super(Printable.of(path) + ": unreadable image (" + Printable.of(reason) + ")", cause);
        this.path = path;
    }

    public String path() { return path; }
}
