package dev.lumen.app.data;

import java.util.List;

/**
 * A labelled image dataset with random access. {@link #get} decodes one image; it may be called
 * from several loader threads at once, so implementations must be thread-safe.
 */
public interface Dataset {
    int size();

    /** Class names; label i names classNames().get(i). */
    List<String> classNames();

    default int numClasses() { return classNames().size(); }

    /** The label of sample index, without decoding the image. */
    int label(int index);

    /**
     * Decodes sample index.
     *
     * @throws UnreadableImageException when the image cannot be decoded; loaders skip such samples
     */
    Sample get(int index);

    /** Where sample index comes from (a file path, or "train[17]"), for messages. */
    String describe(int index);
}
