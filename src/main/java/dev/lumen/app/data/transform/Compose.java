package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** Transforms applied in order, as torchvision's Compose. */
public record Compose(List<Transform> steps) implements Transform {
    public Compose {
        steps = List.copyOf(steps);
    }

    /** Flattens nested Compose steps so toString lists the real pipeline. */
    public static Compose of(Transform... steps) {
        List<Transform> flat = new ArrayList<>();
        for (Transform t : steps) {
            if (t instanceof Compose c) flat.addAll(c.steps);
            else flat.add(t);
        }
        return new Compose(flat);
    }

    @Override
    public Image apply(Image image, Generator rng) {
        for (Transform t : steps) image = t.apply(image, rng);
        return image;
    }

    @Override
    public String toString() { return steps.stream().map(Object::toString).collect(Collectors.joining(", ", "Compose[", "]")); }
}
