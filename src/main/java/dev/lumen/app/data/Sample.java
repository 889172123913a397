package dev.lumen.app.data;

/** One labelled example of a dataset. */
public record Sample(Image image, int label) {}
