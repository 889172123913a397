package dev.lumen.app.train;

/**
 * A run that cannot start or go on, with a one-line message for the user (what and where:
 * the folder, the model name, the checkpoint's keys, the step of a NaN loss).
 */
public class TrainException extends RuntimeException {
    public TrainException(String message) { super(message); }

    public TrainException(String message, Throwable cause) { super(message, cause); }
}
