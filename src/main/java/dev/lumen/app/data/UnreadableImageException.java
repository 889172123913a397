package dev.lumen.app.data;

/** A corrupt or unreadable image; the message names its path. Loaders report, skip and count it. */
public final class UnreadableImageException extends RuntimeException {
    private final String path;

    public UnreadableImageException(String path, String reason, Throwable cause) {
        super(path + ": unreadable image (" + reason + ")", cause);
        this.path = path;
    }

    public String path() { return path; }
}
